/* AVX2 + FMA product-quantisation kernels (IVF_PQ): distance tables and encoding run over the
 * transposed codebook eight centroids per register; list scans gather table entries for eight
 * codes per instruction. Layouts in osprey_kernels.h; reference in pq_serial.c. */
#include "pq_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>

#define HSW __attribute__((target("avx2,fma,f16c,popcnt")))

/* acc[0..8) (64 centroids from c0) = sum_d x_d * codebook_t[d][c0 ..< c0 + 64] for one sub-quantizer. */
HSW static inline void dots64(const float *x, const float *cb, size_t dsub, size_t c0, __m256 acc[8]) {
    for (int r = 0; r < 8; r++) acc[r] = _mm256_setzero_ps();
    for (size_t d = 0; d < dsub; d++) {
        __m256 xd = _mm256_set1_ps(x[d]);
        const float *row = cb + d * 256 + c0;
        for (int r = 0; r < 8; r++) acc[r] = _mm256_fmadd_ps(xd, _mm256_loadu_ps(row + 8 * r), acc[r]);
    }
}

HSW void osp_pq_tables_haswell(const float *x, const float *codebook_t, size_t m, size_t dsub, float scale, const float *bias,
                               float *out) {
    __m256 s = _mm256_set1_ps(scale);
    for (size_t j = 0; j < m; j++) {
        const float *cb = codebook_t + j * dsub * 256;
        for (size_t c0 = 0; c0 < 256; c0 += 64) {
            __m256 acc[8];
            dots64(x + j * dsub, cb, dsub, c0, acc);
            float *o = out + j * 256 + c0;
            for (int r = 0; r < 8; r++) {
                __m256 b = bias ? _mm256_loadu_ps(bias + j * 256 + c0 + 8 * r) : _mm256_setzero_ps();
                _mm256_storeu_ps(o + 8 * r, _mm256_fmadd_ps(s, acc[r], b));
            }
        }
    }
}

HSW void osp_pq_encode_haswell(const float *x, const float *codebook_t, const float *cnorms, size_t m, size_t dsub,
                               uint8_t *code) {
    const __m256 two = _mm256_set1_ps(2.0f);
    const __m256i step = _mm256_set1_epi32(8);
    for (size_t j = 0; j < m; j++) {
        const float *cb = codebook_t + j * dsub * 256;
        __m256 best = _mm256_set1_ps(__builtin_inff());
        __m256i bestIdx = _mm256_setzero_si256();
        __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (size_t c0 = 0; c0 < 256; c0 += 64) {
            __m256 acc[8];
            dots64(x + j * dsub, cb, dsub, c0, acc);
            for (int r = 0; r < 8; r++) {
                __m256 d = _mm256_fnmadd_ps(two, acc[r], _mm256_loadu_ps(cnorms + j * 256 + c0 + 8 * r));
                __m256 lt = _mm256_cmp_ps(d, best, _CMP_LT_OQ);
                best = _mm256_blendv_ps(best, d, lt);
                bestIdx = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bestIdx), _mm256_castsi256_ps(idx), lt));
                idx = _mm256_add_epi32(idx, step);
            }
        }
        float bv[8];
        int32_t bi[8];
        _mm256_storeu_ps(bv, best);
        _mm256_storeu_si256((__m256i *)bi, bestIdx);
        int c = bi[0];
        float v = bv[0];
        for (int l = 1; l < 8; l++)
            if (bv[l] < v || (bv[l] == v && bi[l] < c)) { v = bv[l]; c = bi[l]; }
        code[j] = (uint8_t)c;
    }
}

HSW void osp_pq_scan_haswell(const float *lut, const uint8_t *codes, const float *bias, float base, size_t nblocks, size_t m,
                             float *out) {
    const __m256 b0 = _mm256_set1_ps(base);
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = codes + b * m * OSP_PQ_BLOCK;
        float *o = out + b * OSP_PQ_BLOCK;
        /* Half a block (32 vectors, four registers) at a time. */
        for (size_t h = 0; h < OSP_PQ_BLOCK; h += 32) {
            __m256 a0 = b0, a1 = b0, a2 = b0, a3 = b0;
            if (bias) {
                const float *e = bias + b * OSP_PQ_BLOCK + h;
                a0 = _mm256_add_ps(a0, _mm256_loadu_ps(e));
                a1 = _mm256_add_ps(a1, _mm256_loadu_ps(e + 8));
                a2 = _mm256_add_ps(a2, _mm256_loadu_ps(e + 16));
                a3 = _mm256_add_ps(a3, _mm256_loadu_ps(e + 24));
            }
            for (size_t j = 0; j < m; j++) {
                const float *t = lut + j * 256;
                __m256i c = _mm256_loadu_si256((const __m256i *)(blk + j * OSP_PQ_BLOCK + h));
                __m128i lo = _mm256_castsi256_si128(c), hi = _mm256_extracti128_si256(c, 1);
                a0 = _mm256_add_ps(a0, _mm256_i32gather_ps(t, _mm256_cvtepu8_epi32(lo), 4));
                a1 = _mm256_add_ps(a1, _mm256_i32gather_ps(t, _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), 4));
                a2 = _mm256_add_ps(a2, _mm256_i32gather_ps(t, _mm256_cvtepu8_epi32(hi), 4));
                a3 = _mm256_add_ps(a3, _mm256_i32gather_ps(t, _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), 4));
            }
            _mm256_storeu_ps(o + h, a0);
            _mm256_storeu_ps(o + h + 8, a1);
            _mm256_storeu_ps(o + h + 16, a2);
            _mm256_storeu_ps(o + h + 24, a3);
        }
    }
}

HSW void osp_pq_search_haswell(const osp_pq_query *q, const uint8_t *codes, const float *bias, const uint32_t *ids, size_t count,
                               float base, float slack, const uint64_t *allowed, osp_pq_heap *heap) {
    (void)slack;
    size_t m = q->m;
    float dist[OSP_PQ_BLOCK] __attribute__((aligned(64)));
    for (size_t b = 0; b * OSP_PQ_BLOCK < count; b++) {
        size_t left = count - b * OSP_PQ_BLOCK, n = left < OSP_PQ_BLOCK ? left : OSP_PQ_BLOCK;
        osp_pq_scan_haswell(q->lut, codes + b * m * OSP_PQ_BLOCK, bias ? bias + b * OSP_PQ_BLOCK : NULL, base, 1, m, dist);
        osp_pq_push_block(dist, n, ids + b * OSP_PQ_BLOCK, allowed, heap);
    }
}
#endif
