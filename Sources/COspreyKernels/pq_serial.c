/* Portable product-quantisation kernels (IVF_PQ): distance tables, encoding, list scans.
 * The reference for the vectorised versions; layouts in osprey_kernels.h. */
#include "kernels_internal.h"

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
