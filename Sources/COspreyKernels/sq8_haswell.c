/* AVX2 + FMA kernels for 8-bit scalar-quantised vectors: eight codes widened to floats per step; the
 * codes about 4 KiB ahead are prefetched. */
#include "kernels_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>
#include <string.h>

#define HSW __attribute__((target("avx2,fma,f16c,popcnt")))

HSW static inline float hsum(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

static inline size_t ahead(size_t dim) { return dim >= 2048 ? 2 : 4096 / dim; }

HSW static inline __m256 load8_codes(const uint8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

HSW void osp_sq8_l2_haswell(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0,
                            float *out) {
    (void)c0;
    size_t full = dim & ~(size_t)7;
    size_t a = ahead(dim);
    for (size_t j = 0; j < count; j++) {
        if (j + a < count)
            for (size_t o = 0; o < dim; o += 64) __builtin_prefetch(codes + (j + a) * dim + o, 0, 3);
        const uint8_t *c = codes + j * dim;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        size_t i = 0;
        for (; i + 16 <= full; i += 16) {
            __m256 d0 = _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i), load8_codes(c + i), _mm256_loadu_ps(q + i));
            __m256 d1 = _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i + 8), load8_codes(c + i + 8), _mm256_loadu_ps(q + i + 8));
            s0 = _mm256_fmadd_ps(d0, d0, s0);
            s1 = _mm256_fmadd_ps(d1, d1, s1);
        }
        for (; i < full; i += 8) {
            __m256 d0 = _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i), load8_codes(c + i), _mm256_loadu_ps(q + i));
            s0 = _mm256_fmadd_ps(d0, d0, s0);
        }
        float s = hsum(_mm256_add_ps(s0, s1));
        for (; i < dim; i++) {
            float d = q[i] - scale[i] * (float)c[i];
            s += d * d;
        }
        out[j] = s;
    }
}

HSW void osp_sq8_ip_haswell(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0,
                            float *out) {
    (void)scale;
    size_t full = dim & ~(size_t)7;
    size_t a = ahead(dim);
    for (size_t j = 0; j < count; j++) {
        if (j + a < count)
            for (size_t o = 0; o < dim; o += 64) __builtin_prefetch(codes + (j + a) * dim + o, 0, 3);
        const uint8_t *c = codes + j * dim;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        size_t i = 0;
        for (; i + 16 <= full; i += 16) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8_codes(c + i), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load8_codes(c + i + 8), s1);
        }
        for (; i < full; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8_codes(c + i), s0);
        float s = hsum(_mm256_add_ps(s0, s1));
        for (; i < dim; i++) s += q[i] * (float)c[i];
        out[j] = -(c0 + s);
    }
}
#endif
