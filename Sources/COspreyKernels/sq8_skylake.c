/* AVX-512 kernels for 8-bit scalar-quantised vectors: sixteen codes widened to floats per step.
 *
 * Lanes 0-7 and 8-15 of the accumulator hold exactly what the two AVX2 accumulators of
 * sq8_haswell.c hold (dimensions 16t..16t+7 and 16t+8..16t+15), a lone block of eight goes into
 * lanes 0-7 only, the halves are added and reduced in the same order and the tail is the same
 * scalar code, so every distance is bit-for-bit the AVX2 one; only the instruction count halves.
 * Two codes are processed per pass so that their accumulation chains overlap, and the codes about
 * 4 KiB ahead are prefetched. */
#include "kernels_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>

#define SKX __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,popcnt")))

SKX static inline float hsum8(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

/* The AVX2 kernels' final sum of their two accumulators. */
SKX static inline float fold(__m512 acc) {
    return hsum8(_mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1)));
}

SKX static inline __m512 load16_codes(const uint8_t *p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

SKX static inline __m512 load8_codes(const uint8_t *p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

#define LOW8 ((__mmask16)0x00FF)

/* Codes `ahead(dim)` rows on from row j, prefetched while row j is scanned. */
static inline size_t ahead(size_t dim) { return dim >= 2048 ? 2 : 4096 / dim; }
static inline void prefetch_codes(const uint8_t *codes, size_t row, size_t rows, size_t count, size_t dim) {
    if (row + rows > count) return;
    const uint8_t *p = codes + row * dim;
    for (size_t o = 0; o < rows * dim; o += 64) __builtin_prefetch(p + o, 0, 3);
}

SKX static inline float l2_tail(const float *q, const uint8_t *c, size_t i, size_t dim, const float *scale, float s) {
    for (; i < dim; i++) {
        float d = q[i] - scale[i] * (float)c[i];
        s += d * d;
    }
    return s;
}

SKX static inline float ip_tail(const float *q, const uint8_t *c, size_t i, size_t dim, float s) {
    for (; i < dim; i++) s += q[i] * (float)c[i];
    return s;
}

SKX void osp_sq8_l2_skylake(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0,
                            float *out) {
    (void)c0;
    size_t full = dim & ~(size_t)7, f16 = dim & ~(size_t)15;
    size_t j = 0, a = ahead(dim);
    for (; j + 2 <= count; j += 2) {
        prefetch_codes(codes, j + a, 2, count, dim);
        const uint8_t *ca = codes + j * dim, *cb = ca + dim;
        __m512 sa = _mm512_setzero_ps(), sb = sa;
        size_t i = 0;
        for (; i < f16; i += 16) {
            __m512 qv = _mm512_loadu_ps(q + i), sv = _mm512_loadu_ps(scale + i);
            __m512 da = _mm512_fnmadd_ps(sv, load16_codes(ca + i), qv);
            __m512 db = _mm512_fnmadd_ps(sv, load16_codes(cb + i), qv);
            sa = _mm512_fmadd_ps(da, da, sa);
            sb = _mm512_fmadd_ps(db, db, sb);
        }
        if (i < full) {
            __m512 qv = _mm512_maskz_loadu_ps(LOW8, q + i), sv = _mm512_maskz_loadu_ps(LOW8, scale + i);
            __m512 da = _mm512_fnmadd_ps(sv, load8_codes(ca + i), qv);
            __m512 db = _mm512_fnmadd_ps(sv, load8_codes(cb + i), qv);
            sa = _mm512_mask3_fmadd_ps(da, da, sa, LOW8);
            sb = _mm512_mask3_fmadd_ps(db, db, sb, LOW8);
            i += 8;
        }
        out[j] = l2_tail(q, ca, i, dim, scale, fold(sa));
        out[j + 1] = l2_tail(q, cb, i, dim, scale, fold(sb));
    }
    for (; j < count; j++) {
        const uint8_t *c = codes + j * dim;
        __m512 s = _mm512_setzero_ps();
        size_t i = 0;
        for (; i < f16; i += 16) {
            __m512 d = _mm512_fnmadd_ps(_mm512_loadu_ps(scale + i), load16_codes(c + i), _mm512_loadu_ps(q + i));
            s = _mm512_fmadd_ps(d, d, s);
        }
        if (i < full) {
            __m512 d = _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(LOW8, scale + i), load8_codes(c + i),
                                        _mm512_maskz_loadu_ps(LOW8, q + i));
            s = _mm512_mask3_fmadd_ps(d, d, s, LOW8);
            i += 8;
        }
        out[j] = l2_tail(q, c, i, dim, scale, fold(s));
    }
}

SKX void osp_sq8_ip_skylake(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0,
                            float *out) {
    (void)scale;
    size_t full = dim & ~(size_t)7, f16 = dim & ~(size_t)15;
    size_t j = 0, a = ahead(dim);
    for (; j + 2 <= count; j += 2) {
        prefetch_codes(codes, j + a, 2, count, dim);
        const uint8_t *ca = codes + j * dim, *cb = ca + dim;
        __m512 sa = _mm512_setzero_ps(), sb = sa;
        size_t i = 0;
        for (; i < f16; i += 16) {
            __m512 qv = _mm512_loadu_ps(q + i);
            sa = _mm512_fmadd_ps(qv, load16_codes(ca + i), sa);
            sb = _mm512_fmadd_ps(qv, load16_codes(cb + i), sb);
        }
        if (i < full) {
            __m512 qv = _mm512_maskz_loadu_ps(LOW8, q + i);
            sa = _mm512_mask3_fmadd_ps(qv, load8_codes(ca + i), sa, LOW8);
            sb = _mm512_mask3_fmadd_ps(qv, load8_codes(cb + i), sb, LOW8);
            i += 8;
        }
        out[j] = -(c0 + ip_tail(q, ca, i, dim, fold(sa)));
        out[j + 1] = -(c0 + ip_tail(q, cb, i, dim, fold(sb)));
    }
    for (; j < count; j++) {
        const uint8_t *c = codes + j * dim;
        __m512 s = _mm512_setzero_ps();
        size_t i = 0;
        for (; i < f16; i += 16) s = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), load16_codes(c + i), s);
        if (i < full) {
            s = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(LOW8, q + i), load8_codes(c + i), s, LOW8);
            i += 8;
        }
        out[j] = -(c0 + ip_tail(q, c, i, dim, fold(s)));
    }
}
#endif
