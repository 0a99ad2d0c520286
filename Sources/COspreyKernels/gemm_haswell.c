/* AVX2 + FMA many-against-many float32 dot products: a 4x3 register-blocked micro-kernel over
 * base blocks sized to stay in L2. Used by FLAT's batched search (a blocked matrix product). */
#include "kernels_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>

#define HSW __attribute__((target("avx2,fma,f16c,popcnt")))

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* [sum(a), sum(b), sum(c), sum(d)] */
HSW static inline __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

HSW static inline float hsum(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

HSW static inline void store_col(float *out, size_t ldo, __m128 v) {
    float t[4];
    _mm_storeu_ps(t, v);
    out[0] = t[0];
    out[ldo] = t[1];
    out[2 * ldo] = t[2];
    out[3 * ldo] = t[3];
}

/* Four queries against three base vectors. */
HSW static void micro4x3(const float *q, const float *b, size_t dim, size_t full, __m256i tail, float *out, size_t ldo) {
    const float *q0 = q, *q1 = q + dim, *q2 = q + 2 * dim, *q3 = q + 3 * dim;
    const float *b0 = b, *b1 = b + dim, *b2 = b + 2 * dim;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    size_t i = 0;
    for (; i < full; i += 8) {
        __m256 y0 = _mm256_loadu_ps(b0 + i), y1 = _mm256_loadu_ps(b1 + i), y2 = _mm256_loadu_ps(b2 + i);
        __m256 x = _mm256_loadu_ps(q0 + i);
        c00 = _mm256_fmadd_ps(x, y0, c00); c01 = _mm256_fmadd_ps(x, y1, c01); c02 = _mm256_fmadd_ps(x, y2, c02);
        x = _mm256_loadu_ps(q1 + i);
        c10 = _mm256_fmadd_ps(x, y0, c10); c11 = _mm256_fmadd_ps(x, y1, c11); c12 = _mm256_fmadd_ps(x, y2, c12);
        x = _mm256_loadu_ps(q2 + i);
        c20 = _mm256_fmadd_ps(x, y0, c20); c21 = _mm256_fmadd_ps(x, y1, c21); c22 = _mm256_fmadd_ps(x, y2, c22);
        x = _mm256_loadu_ps(q3 + i);
        c30 = _mm256_fmadd_ps(x, y0, c30); c31 = _mm256_fmadd_ps(x, y1, c31); c32 = _mm256_fmadd_ps(x, y2, c32);
    }
    if (i < dim) {
        __m256 y0 = _mm256_maskload_ps(b0 + i, tail), y1 = _mm256_maskload_ps(b1 + i, tail);
        __m256 y2 = _mm256_maskload_ps(b2 + i, tail);
        __m256 x = _mm256_maskload_ps(q0 + i, tail);
        c00 = _mm256_fmadd_ps(x, y0, c00); c01 = _mm256_fmadd_ps(x, y1, c01); c02 = _mm256_fmadd_ps(x, y2, c02);
        x = _mm256_maskload_ps(q1 + i, tail);
        c10 = _mm256_fmadd_ps(x, y0, c10); c11 = _mm256_fmadd_ps(x, y1, c11); c12 = _mm256_fmadd_ps(x, y2, c12);
        x = _mm256_maskload_ps(q2 + i, tail);
        c20 = _mm256_fmadd_ps(x, y0, c20); c21 = _mm256_fmadd_ps(x, y1, c21); c22 = _mm256_fmadd_ps(x, y2, c22);
        x = _mm256_maskload_ps(q3 + i, tail);
        c30 = _mm256_fmadd_ps(x, y0, c30); c31 = _mm256_fmadd_ps(x, y1, c31); c32 = _mm256_fmadd_ps(x, y2, c32);
    }
    store_col(out, ldo, reduce4(c00, c10, c20, c30));
    store_col(out + 1, ldo, reduce4(c01, c11, c21, c31));
    store_col(out + 2, ldo, reduce4(c02, c12, c22, c32));
}

/* Four queries against one base vector. */
HSW static void micro4x1(const float *q, const float *b, size_t dim, size_t full, __m256i tail, float *out, size_t ldo) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    size_t i = 0;
    for (; i < full; i += 8) {
        __m256 y = _mm256_loadu_ps(b + i);
        c0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), y, c0);
        c1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + dim + i), y, c1);
        c2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 2 * dim + i), y, c2);
        c3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 3 * dim + i), y, c3);
    }
    if (i < dim) {
        __m256 y = _mm256_maskload_ps(b + i, tail);
        c0 = _mm256_fmadd_ps(_mm256_maskload_ps(q + i, tail), y, c0);
        c1 = _mm256_fmadd_ps(_mm256_maskload_ps(q + dim + i, tail), y, c1);
        c2 = _mm256_fmadd_ps(_mm256_maskload_ps(q + 2 * dim + i, tail), y, c2);
        c3 = _mm256_fmadd_ps(_mm256_maskload_ps(q + 3 * dim + i, tail), y, c3);
    }
    store_col(out, ldo, reduce4(c0, c1, c2, c3));
}

HSW static float dot1(const float *x, const float *y, size_t dim, size_t full, __m256i tail) {
    __m256 c = _mm256_setzero_ps();
    size_t i = 0;
    for (; i < full; i += 8) c = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), c);
    if (i < dim) c = _mm256_fmadd_ps(_mm256_maskload_ps(x + i, tail), _mm256_maskload_ps(y + i, tail), c);
    return hsum(c);
}

HSW void osp_gemm_haswell(const float *q, size_t nq, const float *b, size_t nb, size_t dim, float *out, size_t ldo) {
    if (dim == 0) {
        for (size_t i = 0; i < nq; i++) for (size_t j = 0; j < nb; j++) out[i * ldo + j] = 0.0f;
        return;
    }
    size_t full = dim & ~(size_t)7;
    size_t r = dim - full;
    __m256i tail = _mm256_loadu_si256((const __m256i *)(mask_table + 8 - (r == 0 ? 8 : r)));
    /* A base block of about 192 KiB stays in L2 while every query streams past it. */
    size_t block = (192 * 1024) / (dim * sizeof(float));
    block = block < 3 ? 3 : block - block % 3;
    for (size_t jb = 0; jb < nb; jb += block) {
        size_t je = jb + block < nb ? jb + block : nb;
        size_t i = 0;
        for (; i + 4 <= nq; i += 4) {
            const float *qi = q + i * dim;
            float *oi = out + i * ldo;
            size_t j = jb;
            for (; j + 3 <= je; j += 3) micro4x3(qi, b + j * dim, dim, full, tail, oi + j, ldo);
            for (; j < je; j++) micro4x1(qi, b + j * dim, dim, full, tail, oi + j, ldo);
        }
        for (; i < nq; i++)
            for (size_t j = jb; j < je; j++) out[i * ldo + j] = dot1(q + i * dim, b + j * dim, dim, full, tail);
    }
}
#endif
