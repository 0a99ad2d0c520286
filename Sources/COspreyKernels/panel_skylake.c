/* AVX-512 panel kernels (layout in panel_serial.c): a 16-vector panel row is one register; eight
 * panels per pass keep eight accumulators in flight, the query element broadcast once.
 * Half-precision panels are widened as they are loaded. */
#include "kernels_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>

#define SKX __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,popcnt")))
#define INLINE __attribute__((always_inline)) inline

SKX static INLINE __m512 load_row(const void *panels, size_t at, int half) {
    if (half) return _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)((const uint16_t *)panels + at)));
    return _mm512_load_ps((const float *)panels + at);
}

/* G panels starting at panel p (G, ip, half constant after inlining). */
SKX static INLINE void block(const float *q, const void *panels, size_t p, size_t dim, float *out, size_t valid,
                             const int G, const int ip, const int half) {
    __m512 acc[8];
    for (int g = 0; g < G; g++) acc[g] = _mm512_setzero_ps();
    for (size_t i = 0; i < dim; i++) {
        __m512 x = _mm512_set1_ps(q[i]);
        for (int g = 0; g < G; g++) {
            __m512 c = load_row(panels, ((p + g) * dim + i) * 16, half);
            if (ip) {
                acc[g] = _mm512_fmadd_ps(x, c, acc[g]);
            } else {
                __m512 d = _mm512_sub_ps(x, c);
                acc[g] = _mm512_fmadd_ps(d, d, acc[g]);
            }
        }
    }
    for (int g = 0; g < G; g++) {
        __m512 a = ip ? _mm512_sub_ps(_mm512_setzero_ps(), acc[g]) : acc[g];
        size_t left = valid - (size_t)g * 16;
        if (left >= 16) _mm512_storeu_ps(out + g * 16, a);
        else _mm512_mask_storeu_ps(out + g * 16, (__mmask16)((1u << left) - 1u), a);
    }
}

SKX static INLINE void run(const float *q, const void *panels, size_t count, size_t dim, float *out, const int ip,
                           const int half) {
    size_t np = (count + 15) / 16, p = 0;
    for (; p + 8 <= np; p += 8) block(q, panels, p, dim, out + p * 16, count - p * 16, 8, ip, half);
    for (; p + 4 <= np; p += 4) block(q, panels, p, dim, out + p * 16, count - p * 16, 4, ip, half);
    for (; p < np; p++) block(q, panels, p, dim, out + p * 16, count - p * 16, 1, ip, half);
}

SKX void osp_panel_l2_skylake(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 0, 0);
}
SKX void osp_panel_ip_skylake(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 1, 0);
}
SKX void osp_panel_l2_f16_skylake(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 0, 1);
}
SKX void osp_panel_ip_f16_skylake(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 1, 1);
}
#endif
