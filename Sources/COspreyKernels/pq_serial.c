/* Portable product-quantisation kernels (IVF_PQ): distance tables, encoding, list scans.
 * The reference for the vectorised versions; layouts in osprey_kernels.h. */
#include "pq_internal.h"

void osp_pq_tables_serial(const float *x, const float *codebook_t, size_t m, size_t dsub, float scale, const float *bias,
                          float *out) {
    for (size_t j = 0; j < m; j++) {
        float *row = out + j * 256;
        for (size_t c = 0; c < 256; c++) row[c] = 0.0f;
        for (size_t d = 0; d < dsub; d++) {
            float xd = x[j * dsub + d];
            const float *cd = codebook_t + (j * dsub + d) * 256;
            for (size_t c = 0; c < 256; c++) row[c] += xd * cd[c];
        }
        for (size_t c = 0; c < 256; c++) row[c] = (bias ? bias[j * 256 + c] : 0.0f) + scale * row[c];
    }
}

void osp_pq_encode_serial(const float *x, const float *codebook_t, const float *cnorms, size_t m, size_t dsub,
                          uint8_t *code) {
    float row[256];
    for (size_t j = 0; j < m; j++) {
        for (size_t c = 0; c < 256; c++) row[c] = 0.0f;
        for (size_t d = 0; d < dsub; d++) {
            float xd = x[j * dsub + d];
            const float *cd = codebook_t + (j * dsub + d) * 256;
            for (size_t c = 0; c < 256; c++) row[c] += xd * cd[c];
        }
        size_t best = 0;
        float bestD = cnorms[j * 256] - 2.0f * row[0];
        for (size_t c = 1; c < 256; c++) {
            float d = cnorms[j * 256 + c] - 2.0f * row[c];
            if (d < bestD) { bestD = d; best = c; }
        }
        code[j] = (uint8_t)best;
    }
}

void osp_pq_scan_serial(const float *lut, const uint8_t *codes, const float *bias, float base, size_t nblocks, size_t m,
                        float *out) {
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = codes + b * m * OSP_PQ_BLOCK;
        float acc[OSP_PQ_BLOCK];
        for (size_t v = 0; v < OSP_PQ_BLOCK; v++) acc[v] = base + (bias ? bias[b * OSP_PQ_BLOCK + v] : 0.0f);
        for (size_t j = 0; j < m; j++) {
            const float *t = lut + j * 256;
            const uint8_t *cj = blk + j * OSP_PQ_BLOCK;
            for (size_t v = 0; v < OSP_PQ_BLOCK; v++) acc[v] += t[cj[v]];
        }
        for (size_t v = 0; v < OSP_PQ_BLOCK; v++) out[b * OSP_PQ_BLOCK + v] = acc[v];
    }
}

void osp_pq_quantize(const float *lut, size_t m, uint8_t *qlut, float *delta, float *offset, float *magnitude) {
    float range = 0.0f, off = 0.0f, mag = 0.0f;
    for (size_t j = 0; j < m; j++) {
        const float *t = lut + j * 256;
        float lo = t[0], hi = t[0], am = 0.0f;
        for (size_t c = 0; c < 256; c++) {
            lo = t[c] < lo ? t[c] : lo;
            hi = t[c] > hi ? t[c] : hi;
            float a = t[c] < 0 ? -t[c] : t[c];
            am = a > am ? a : am;
        }
        range = hi - lo > range ? hi - lo : range;
        off += lo;
        mag += am;
    }
    float step = range / 255.0f;
    float inv = step > 0 ? 1.0f / step : 0.0f;
    for (size_t j = 0; j < m; j++) {
        const float *t = lut + j * 256;
        float lo = t[0];
        for (size_t c = 1; c < 256; c++) lo = t[c] < lo ? t[c] : lo;
        for (size_t c = 0; c < 256; c++) {
            float v = (t[c] - lo) * inv + 0.5f;
            qlut[j * 256 + c] = v >= 255.0f ? 255 : (v > 0 ? (uint8_t)v : 0);
        }
    }
    *delta = step;
    *offset = off;
    *magnitude = mag;
}

void osp_pq_search_serial(const osp_pq_query *q, const uint8_t *codes, const float *bias, const uint32_t *ids, size_t count,
                          float base, float slack, const uint64_t *allowed, osp_pq_heap *heap) {
    (void)slack;
    size_t m = q->m;
    for (size_t b = 0; b * OSP_PQ_BLOCK < count; b++) {
        const uint8_t *blk = codes + b * m * OSP_PQ_BLOCK;
        size_t n = count - b * OSP_PQ_BLOCK < OSP_PQ_BLOCK ? count - b * OSP_PQ_BLOCK : OSP_PQ_BLOCK;
        float dist[OSP_PQ_BLOCK];
        for (size_t v = 0; v < n; v++)
            dist[v] = osp_pq_exact_one(q->lut, blk, v, m, base, bias ? bias + b * OSP_PQ_BLOCK + v : NULL);
        osp_pq_push_block(dist, n, ids + b * OSP_PQ_BLOCK, allowed, heap);
    }
}
