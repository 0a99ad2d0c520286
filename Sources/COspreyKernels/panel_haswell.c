/* AVX2 + FMA + F16C panel kernels (layout in panel_serial.c): a 16-vector panel row is two 8-lane
 * registers; four panels per pass give eight independent accumulators, the query element
 * broadcast once. Half-precision panels are widened with F16C as they are loaded. */
#include "kernels_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>

#define HSW __attribute__((target("avx2,fma,f16c,popcnt")))
#define INLINE __attribute__((always_inline)) inline

/* Panel row at element offset `at`: lanes 0-7 and 8-15 as floats. */
HSW static INLINE void load_row(const void *panels, size_t at, int half, __m256 *lo, __m256 *hi) {
    if (half) {
        __m128i h0 = _mm_load_si128((const __m128i *)((const uint16_t *)panels + at));
        __m128i h1 = _mm_load_si128((const __m128i *)((const uint16_t *)panels + at + 8));
        *lo = _mm256_cvtph_ps(h0);
        *hi = _mm256_cvtph_ps(h1);
    } else {
        *lo = _mm256_load_ps((const float *)panels + at);
        *hi = _mm256_load_ps((const float *)panels + at + 8);
    }
}

/* G panels starting at panel p (G, ip, half constant after inlining). */
HSW static INLINE void block(const float *q, const void *panels, size_t p, size_t dim, float *out, size_t valid,
                             const int G, const int ip, const int half) {
    __m256 acc[8];
    for (int g = 0; g < 2 * G; g++) acc[g] = _mm256_setzero_ps();
    for (size_t i = 0; i < dim; i++) {
        __m256 x = _mm256_broadcast_ss(q + i);
        for (int g = 0; g < G; g++) {
            __m256 c0, c1;
            load_row(panels, ((p + g) * dim + i) * 16, half, &c0, &c1);
            if (ip) {
                acc[2 * g] = _mm256_fmadd_ps(x, c0, acc[2 * g]);
                acc[2 * g + 1] = _mm256_fmadd_ps(x, c1, acc[2 * g + 1]);
            } else {
                __m256 d0 = _mm256_sub_ps(x, c0), d1 = _mm256_sub_ps(x, c1);
                acc[2 * g] = _mm256_fmadd_ps(d0, d0, acc[2 * g]);
                acc[2 * g + 1] = _mm256_fmadd_ps(d1, d1, acc[2 * g + 1]);
            }
        }
    }
    __m256 sign = _mm256_set1_ps(ip ? -1.0f : 1.0f);
    for (int g = 0; g < G; g++) {
        __m256 a0 = _mm256_mul_ps(acc[2 * g], sign), a1 = _mm256_mul_ps(acc[2 * g + 1], sign);
        size_t left = valid - (size_t)g * 16;
        if (left >= 16) {
            _mm256_storeu_ps(out + g * 16, a0);
            _mm256_storeu_ps(out + g * 16 + 8, a1);
        } else {
            float t[16];
            _mm256_storeu_ps(t, a0);
            _mm256_storeu_ps(t + 8, a1);
            for (size_t l = 0; l < left; l++) out[g * 16 + l] = t[l];
        }
    }
}

HSW static INLINE void run(const float *q, const void *panels, size_t count, size_t dim, float *out, const int ip,
                           const int half) {
    size_t np = (count + 15) / 16, p = 0;
    for (; p + 4 <= np; p += 4) block(q, panels, p, dim, out + p * 16, count - p * 16, 4, ip, half);
    for (; p < np; p++) block(q, panels, p, dim, out + p * 16, count - p * 16, 1, ip, half);
}

HSW void osp_panel_l2_haswell(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 0, 0);
}
HSW void osp_panel_ip_haswell(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 1, 0);
}
HSW void osp_panel_l2_f16_haswell(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 0, 1);
}
HSW void osp_panel_ip_f16_haswell(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 1, 1);
}
#endif
