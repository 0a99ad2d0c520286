/* AVX-512 product-quantisation list scan (IVF_PQ): sixteen table entries gathered per
 * instruction, two blocks of codes in flight. Layout in osprey_kernels.h; reference in
 * pq_serial.c. Tables and encoding use the AVX2 versions. */
#include "kernels_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>

#define SKX __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))

SKX static inline void scan_one(const float *lut, const uint8_t *blk, const float *e, __m512 base, size_t m, float *o) {
    __m512 a0 = base, a1 = base;
    if (e) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(e));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(e + 16));
    }
    for (size_t j = 0; j < m; j++) {
        const float *t = lut + j * 256;
        const uint8_t *c = blk + j * OSP_PQ_BLOCK;
        a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)c)), t, 4));
        a1 = _mm512_add_ps(a1, _mm512_i32gather_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(c + 16))), t, 4));
    }
    _mm512_storeu_ps(o, a0);
    _mm512_storeu_ps(o + 16, a1);
}

SKX void osp_pq_scan_skylake(const float *lut, const uint8_t *codes, const float *bias, float base, size_t nblocks, size_t m,
                             float *out) {
    const __m512 b0 = _mm512_set1_ps(base);
    const size_t bb = m * OSP_PQ_BLOCK;
    size_t b = 0;
    for (; b + 2 <= nblocks; b += 2) {
        const uint8_t *p = codes + b * bb, *q = p + bb;
        __m512 a0 = b0, a1 = b0, a2 = b0, a3 = b0;
        if (bias) {
            const float *e = bias + b * OSP_PQ_BLOCK;
            a0 = _mm512_add_ps(a0, _mm512_loadu_ps(e));
            a1 = _mm512_add_ps(a1, _mm512_loadu_ps(e + 16));
            a2 = _mm512_add_ps(a2, _mm512_loadu_ps(e + 32));
            a3 = _mm512_add_ps(a3, _mm512_loadu_ps(e + 48));
        }
        for (size_t j = 0; j < m; j++) {
            const float *t = lut + j * 256;
            const uint8_t *cp = p + j * OSP_PQ_BLOCK, *cq = q + j * OSP_PQ_BLOCK;
            a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)cp)), t, 4));
            a1 = _mm512_add_ps(a1, _mm512_i32gather_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(cp + 16))), t, 4));
            a2 = _mm512_add_ps(a2, _mm512_i32gather_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)cq)), t, 4));
            a3 = _mm512_add_ps(a3, _mm512_i32gather_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(cq + 16))), t, 4));
        }
        float *o = out + b * OSP_PQ_BLOCK;
        _mm512_storeu_ps(o, a0);
        _mm512_storeu_ps(o + 16, a1);
        _mm512_storeu_ps(o + 32, a2);
        _mm512_storeu_ps(o + 48, a3);
    }
    if (b < nblocks)
        scan_one(lut, codes + b * bb, bias ? bias + b * OSP_PQ_BLOCK : NULL, b0, m, out + b * OSP_PQ_BLOCK);
}
#endif
