/* AVX-512 product-quantisation kernels (IVF_PQ): distance tables sixteen centroids per register,
 * and the list scan, sixteen table entries gathered per instruction with a block's four groups of
 * sixteen in flight. Layout in osprey_kernels.h; reference in pq_serial.c. Encoding uses the AVX2
 * version. */
#include "pq_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>

#define SKX __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))

#if OSP_PQ_BLOCK != 64
#error "the AVX-512 scan keeps one block of 64 vectors in four registers"
#endif

SKX void osp_pq_tables_skylake(const float *x, const float *codebook_t, size_t m, size_t dsub, float scale, const float *bias,
                               float *out) {
    const __m512 s = _mm512_set1_ps(scale);
    for (size_t j = 0; j < m; j++) {
        const float *cb = codebook_t + j * dsub * 256;
        const float *xj = x + j * dsub;
        for (size_t c0 = 0; c0 < 256; c0 += 128) {
            __m512 acc[8];
            for (int r = 0; r < 8; r++) acc[r] = _mm512_setzero_ps();
            for (size_t d = 0; d < dsub; d++) {
                __m512 xd = _mm512_set1_ps(xj[d]);
                const float *row = cb + d * 256 + c0;
                for (int r = 0; r < 8; r++) acc[r] = _mm512_fmadd_ps(xd, _mm512_loadu_ps(row + 16 * r), acc[r]);
            }
            float *o = out + j * 256 + c0;
            for (int r = 0; r < 8; r++) {
                __m512 b = bias ? _mm512_loadu_ps(bias + j * 256 + c0 + 16 * r) : _mm512_setzero_ps();
                _mm512_storeu_ps(o + 16 * r, _mm512_fmadd_ps(s, acc[r], b));
            }
        }
    }
}

SKX static inline void scan_block(const float *lut, const uint8_t *blk, const float *e, __m512 base, size_t m, float *o) {
    __m512 a0 = base, a1 = base, a2 = base, a3 = base;
    if (e) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(e));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(e + 16));
        a2 = _mm512_add_ps(a2, _mm512_loadu_ps(e + 32));
        a3 = _mm512_add_ps(a3, _mm512_loadu_ps(e + 48));
    }
    for (size_t j = 0; j < m; j++) {
        const float *t = lut + j * 256;
        const uint8_t *c = blk + j * OSP_PQ_BLOCK;
        a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)c)), t, 4));
        a1 = _mm512_add_ps(a1, _mm512_i32gather_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(c + 16))), t, 4));
        a2 = _mm512_add_ps(a2, _mm512_i32gather_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(c + 32))), t, 4));
        a3 = _mm512_add_ps(a3, _mm512_i32gather_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(c + 48))), t, 4));
    }
    _mm512_storeu_ps(o, a0);
    _mm512_storeu_ps(o + 16, a1);
    _mm512_storeu_ps(o + 32, a2);
    _mm512_storeu_ps(o + 48, a3);
}

SKX void osp_pq_scan_skylake(const float *lut, const uint8_t *codes, const float *bias, float base, size_t nblocks, size_t m,
                             float *out) {
    const __m512 b0 = _mm512_set1_ps(base);
    for (size_t b = 0; b < nblocks; b++)
        scan_block(lut, codes + b * m * OSP_PQ_BLOCK, bias ? bias + b * OSP_PQ_BLOCK : NULL, b0, m, out + b * OSP_PQ_BLOCK);
}

SKX void osp_pq_search_skylake(const osp_pq_query *q, const uint8_t *codes, const float *bias, const uint32_t *ids, size_t count,
                               float base, float slack, const uint64_t *allowed, osp_pq_heap *heap) {
    (void)slack;
    const size_t m = q->m;
    const __m512 b0 = _mm512_set1_ps(base);
    float dist[OSP_PQ_BLOCK] __attribute__((aligned(64)));
    for (size_t b = 0; b * OSP_PQ_BLOCK < count; b++) {
        size_t left = count - b * OSP_PQ_BLOCK;
        scan_block(q->lut, codes + b * m * OSP_PQ_BLOCK, bias ? bias + b * OSP_PQ_BLOCK : NULL, b0, m, dist);
        osp_pq_push_block(dist, left < OSP_PQ_BLOCK ? left : OSP_PQ_BLOCK, ids + b * OSP_PQ_BLOCK, allowed, heap);
    }
}
#endif
