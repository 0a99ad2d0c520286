/* AVX-512 (F, BW, DQ, VL) float32 L2 and inner-product kernels ("Skylake-server" level), enabled per
 * function. Tails use masked loads. Other (type, metric) pairs use the Haswell kernels. */
#include "kernels_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>

#define SKX __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,popcnt")))

SKX static inline __mmask16 tail_mask(size_t r) { return (__mmask16)((1u << r) - 1u); }

SKX static float f32_l2(const void *pa, const void *pb, size_t dim) {
    const float *a = pa, *b = pb;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    for (; i + 16 <= dim; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < dim) {
        __mmask16 m = tail_mask(dim - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

SKX static float f32_ip(const void *pa, const void *pb, size_t dim) {
    const float *a = pa, *b = pb;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= dim; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < dim) {
        __mmask16 m = tail_mask(dim - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return -_mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

SKX static void f32_l2_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = f32_l2(q, (const float *)base + j * dim, dim);
}
SKX static void f32_ip_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = f32_ip(q, (const float *)base + j * dim, dim);
}

/* Four gathered vectors per pass, the query loaded once per 16-lane step. */
#define DEFINE_GATHER(NAME, STEP, SIGN, SINGLE)                                                        \
    SKX static void NAME(const void *q, const void *base, const uint32_t *ids, size_t count, size_t stride, \
                         size_t dim, float *out) {                                                     \
        const float *a = q;                                                                            \
        const char *b = base;                                                                          \
        size_t full = dim & ~(size_t)15, r = dim - full;                                               \
        __mmask16 m = tail_mask(r);                                                                    \
        size_t j = 0;                                                                                  \
        for (; j + 4 <= count; j += 4) {                                                               \
            const float *b0 = (const float *)(b + (size_t)ids[j] * stride);                            \
            const float *b1 = (const float *)(b + (size_t)ids[j + 1] * stride);                        \
            const float *b2 = (const float *)(b + (size_t)ids[j + 2] * stride);                        \
            const float *b3 = (const float *)(b + (size_t)ids[j + 3] * stride);                        \
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                                \
            size_t i = 0;                                                                              \
            for (; i < full; i += 16) {                                                                \
                __m512 x = _mm512_loadu_ps(a + i);                                                     \
                STEP(x, _mm512_loadu_ps(b0 + i), s0);                                                  \
                STEP(x, _mm512_loadu_ps(b1 + i), s1);                                                  \
                STEP(x, _mm512_loadu_ps(b2 + i), s2);                                                  \
                STEP(x, _mm512_loadu_ps(b3 + i), s3);                                                  \
            }                                                                                          \
            if (r) {                                                                                   \
                __m512 x = _mm512_maskz_loadu_ps(m, a + i);                                            \
                STEP(x, _mm512_maskz_loadu_ps(m, b0 + i), s0);                                         \
                STEP(x, _mm512_maskz_loadu_ps(m, b1 + i), s1);                                         \
                STEP(x, _mm512_maskz_loadu_ps(m, b2 + i), s2);                                         \
                STEP(x, _mm512_maskz_loadu_ps(m, b3 + i), s3);                                         \
            }                                                                                          \
            out[j] = SIGN * _mm512_reduce_add_ps(s0);                                                  \
            out[j + 1] = SIGN * _mm512_reduce_add_ps(s1);                                              \
            out[j + 2] = SIGN * _mm512_reduce_add_ps(s2);                                              \
            out[j + 3] = SIGN * _mm512_reduce_add_ps(s3);                                              \
        }                                                                                              \
        for (; j < count; j++) out[j] = SINGLE(q, b + (size_t)ids[j] * stride, dim);                   \
    }
#define L2_STEP(x, y, s) do { __m512 d_ = _mm512_sub_ps(x, y); s = _mm512_fmadd_ps(d_, d_, s); } while (0)
#define IP_STEP(x, y, s) do { s = _mm512_fmadd_ps(x, y, s); } while (0)
DEFINE_GATHER(f32_l2_gather, L2_STEP, 1.0f, f32_l2)
DEFINE_GATHER(f32_ip_gather, IP_STEP, -1.0f, f32_ip)

const osp_pair_fn osp_skylake_pair[5][5] = {{f32_l2, f32_ip, NULL, NULL, NULL}};
const osp_many_fn osp_skylake_many[5][5] = {{f32_l2_many, f32_ip_many, NULL, NULL, NULL}};
const osp_gather_fn osp_skylake_gather[5][5] = {{f32_l2_gather, f32_ip_gather, NULL, NULL, NULL}};
#endif
