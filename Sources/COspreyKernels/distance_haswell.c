/* AVX2 + FMA + F16C + POPCNT distance kernels (x86-64 "Haswell" level), enabled per function. */
#include "kernels_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define HSW __attribute__((target("avx2,fma,f16c,popcnt")))

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* A mask selecting the first r (1...7) of 8 lanes. */
HSW static inline __m256i first_lanes(size_t r) {
    return _mm256_loadu_si256((const __m256i *)(mask_table + 8 - r));
}

HSW static inline float hsum(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

HSW static inline float cosine_of(float dot, float na, float nb) {
    if (na == 0.0f || nb == 0.0f) return 0.0f;
    return -(float)((double)dot / sqrt((double)na * (double)nb));
}

/* Loaders of 8 elements as floats, and of the last r (< 8) elements zero-padded. */
#define LOAD8_F32(p, i) _mm256_loadu_ps((const float *)(p) + (i))
#define TAIL_F32(p, i, r) _mm256_maskload_ps((const float *)(p) + (i), first_lanes(r))
#define LOAD8_F16(p, i) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)(p) + (i))))
#define LOAD8_BF16(p, i) \
    _mm256_castsi256_ps(_mm256_slli_epi32( \
        _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)(p) + (i)))), 16))

HSW static inline __m256 tail_f16(const void *p, size_t i, size_t r) {
    uint16_t buf[8] = {0};
    memcpy(buf, (const uint16_t *)p + i, r * 2);
    return LOAD8_F16(buf, 0);
}
HSW static inline __m256 tail_bf16(const void *p, size_t i, size_t r) {
    uint16_t buf[8] = {0};
    memcpy(buf, (const uint16_t *)p + i, r * 2);
    return LOAD8_BF16(buf, 0);
}
#define TAIL_F16(p, i, r) tail_f16(p, i, r)
#define TAIL_BF16(p, i, r) tail_bf16(p, i, r)

#define DEFINE_FLOAT_KERNELS(NAME, LOAD8, TAIL, ELEM)                                          \
    HSW static float NAME##_l2(const void *a, const void *b, size_t dim) {                     \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                            \
        size_t i = 0;                                                                          \
        for (; i + 32 <= dim; i += 32) {                                                       \
            __m256 d0 = _mm256_sub_ps(LOAD8(a, i), LOAD8(b, i));                               \
            __m256 d1 = _mm256_sub_ps(LOAD8(a, i + 8), LOAD8(b, i + 8));                       \
            __m256 d2 = _mm256_sub_ps(LOAD8(a, i + 16), LOAD8(b, i + 16));                     \
            __m256 d3 = _mm256_sub_ps(LOAD8(a, i + 24), LOAD8(b, i + 24));                     \
            s0 = _mm256_fmadd_ps(d0, d0, s0);                                                  \
            s1 = _mm256_fmadd_ps(d1, d1, s1);                                                  \
            s2 = _mm256_fmadd_ps(d2, d2, s2);                                                  \
            s3 = _mm256_fmadd_ps(d3, d3, s3);                                                  \
        }                                                                                      \
        for (; i + 8 <= dim; i += 8) {                                                         \
            __m256 d = _mm256_sub_ps(LOAD8(a, i), LOAD8(b, i));                                \
            s0 = _mm256_fmadd_ps(d, d, s0);                                                    \
        }                                                                                      \
        if (i < dim) {                                                                         \
            __m256 d = _mm256_sub_ps(TAIL(a, i, dim - i), TAIL(b, i, dim - i));                \
            s1 = _mm256_fmadd_ps(d, d, s1);                                                    \
        }                                                                                      \
        return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));              \
    }                                                                                          \
    HSW static float NAME##_ip(const void *a, const void *b, size_t dim) {                     \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                            \
        size_t i = 0;                                                                          \
        for (; i + 32 <= dim; i += 32) {                                                       \
            s0 = _mm256_fmadd_ps(LOAD8(a, i), LOAD8(b, i), s0);                                \
            s1 = _mm256_fmadd_ps(LOAD8(a, i + 8), LOAD8(b, i + 8), s1);                        \
            s2 = _mm256_fmadd_ps(LOAD8(a, i + 16), LOAD8(b, i + 16), s2);                      \
            s3 = _mm256_fmadd_ps(LOAD8(a, i + 24), LOAD8(b, i + 24), s3);                      \
        }                                                                                      \
        for (; i + 8 <= dim; i += 8) s0 = _mm256_fmadd_ps(LOAD8(a, i), LOAD8(b, i), s0);       \
        if (i < dim) s1 = _mm256_fmadd_ps(TAIL(a, i, dim - i), TAIL(b, i, dim - i), s1);       \
        return -hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));             \
    }                                                                                          \
    HSW static float NAME##_cos(const void *a, const void *b, size_t dim) {                    \
        __m256 d0 = _mm256_setzero_ps(), d1 = d0, x0 = d0, x1 = d0, y0 = d0, y1 = d0;          \
        size_t i = 0;                                                                          \
        for (; i + 16 <= dim; i += 16) {                                                       \
            __m256 xa = LOAD8(a, i), ya = LOAD8(b, i), xb = LOAD8(a, i + 8), yb = LOAD8(b, i + 8); \
            d0 = _mm256_fmadd_ps(xa, ya, d0);                                                  \
            x0 = _mm256_fmadd_ps(xa, xa, x0);                                                  \
            y0 = _mm256_fmadd_ps(ya, ya, y0);                                                  \
            d1 = _mm256_fmadd_ps(xb, yb, d1);                                                  \
            x1 = _mm256_fmadd_ps(xb, xb, x1);                                                  \
            y1 = _mm256_fmadd_ps(yb, yb, y1);                                                  \
        }                                                                                      \
        for (; i < dim; i += 8) {                                                              \
            __m256 xa, ya;                                                                     \
            if (i + 8 <= dim) { xa = LOAD8(a, i); ya = LOAD8(b, i); }                          \
            else { xa = TAIL(a, i, dim - i); ya = TAIL(b, i, dim - i); }                       \
            d0 = _mm256_fmadd_ps(xa, ya, d0);                                                  \
            x0 = _mm256_fmadd_ps(xa, xa, x0);                                                  \
            y0 = _mm256_fmadd_ps(ya, ya, y0);                                                  \
        }                                                                                      \
        return cosine_of(hsum(_mm256_add_ps(d0, d1)), hsum(_mm256_add_ps(x0, x1)),              \
                         hsum(_mm256_add_ps(y0, y1)));                                         \
    }                                                                                          \
    HSW static void NAME##_l2_many(const void *q, const void *base, size_t n, size_t dim, float *out) { \
        for (size_t j = 0; j < n; j++) out[j] = NAME##_l2(q, (const ELEM *)base + j * dim, dim);        \
    }                                                                                          \
    HSW static void NAME##_ip_many(const void *q, const void *base, size_t n, size_t dim, float *out) { \
        for (size_t j = 0; j < n; j++) out[j] = NAME##_ip(q, (const ELEM *)base + j * dim, dim);        \
    }                                                                                          \
    HSW static void NAME##_cos_many(const void *q, const void *base, size_t n, size_t dim, float *out) { \
        for (size_t j = 0; j < n; j++) out[j] = NAME##_cos(q, (const ELEM *)base + j * dim, dim);       \
    }

DEFINE_FLOAT_KERNELS(f32, LOAD8_F32, TAIL_F32, float)
DEFINE_FLOAT_KERNELS(f16, LOAD8_F16, TAIL_F16, uint16_t)
DEFINE_FLOAT_KERNELS(bf16, LOAD8_BF16, TAIL_BF16, uint16_t)

/* int8: 16 elements widened to int16, multiplied and pair-summed into int32 lanes. */
HSW static inline __m256i load16_i8(const int8_t *p) { return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)); }
HSW static inline __m256i tail16_i8(const int8_t *p, size_t r) {
    int8_t buf[16] = {0};
    memcpy(buf, p, r);
    return load16_i8(buf);
}
HSW static inline int64_t hsum_i32(__m256i v) {
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, v);
    int64_t s = 0;
    for (int k = 0; k < 8; k++) s += lanes[k];
    return s;
}

/* Lanes stay below 2^31 for dim <= 32768 (2 * 255^2 per step, dim / 16 steps per lane). */
HSW static float i8_l2(const void *pa, const void *pb, size_t dim) {
    const int8_t *a = pa, *b = pb;
    __m256i s = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m256i d = _mm256_sub_epi16(load16_i8(a + i), load16_i8(b + i));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(d, d));
    }
    if (i < dim) {
        __m256i d = _mm256_sub_epi16(tail16_i8(a + i, dim - i), tail16_i8(b + i, dim - i));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(d, d));
    }
    return (float)hsum_i32(s);
}
HSW static float i8_ip(const void *pa, const void *pb, size_t dim) {
    const int8_t *a = pa, *b = pb;
    __m256i s = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) s = _mm256_add_epi32(s, _mm256_madd_epi16(load16_i8(a + i), load16_i8(b + i)));
    if (i < dim) s = _mm256_add_epi32(s, _mm256_madd_epi16(tail16_i8(a + i, dim - i), tail16_i8(b + i, dim - i)));
    return -(float)hsum_i32(s);
}
HSW static float i8_cos(const void *pa, const void *pb, size_t dim) {
    const int8_t *a = pa, *b = pb;
    __m256i s = _mm256_setzero_si256(), xs = s, ys = s;
    for (size_t i = 0; i < dim; i += 16) {
        __m256i x, y;
        if (i + 16 <= dim) { x = load16_i8(a + i); y = load16_i8(b + i); }
        else { x = tail16_i8(a + i, dim - i); y = tail16_i8(b + i, dim - i); }
        s = _mm256_add_epi32(s, _mm256_madd_epi16(x, y));
        xs = _mm256_add_epi32(xs, _mm256_madd_epi16(x, x));
        ys = _mm256_add_epi32(ys, _mm256_madd_epi16(y, y));
    }
    int64_t na = hsum_i32(xs), nb = hsum_i32(ys);
    if (na == 0 || nb == 0) return 0.0f;
    return -(float)((double)hsum_i32(s) / sqrt((double)na * (double)nb));
}
HSW static void i8_l2_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = i8_l2(q, (const int8_t *)base + j * dim, dim);
}
HSW static void i8_ip_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = i8_ip(q, (const int8_t *)base + j * dim, dim);
}
HSW static void i8_cos_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = i8_cos(q, (const int8_t *)base + j * dim, dim);
}

/* Binary: 64-bit words with the POPCNT instruction, then the remaining bytes. */
HSW static float bin_hamming(const void *pa, const void *pb, size_t dim) {
    const uint8_t *a = pa, *b = pb;
    size_t bytes = dim / 8, i = 0;
    uint64_t s = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        s += (uint64_t)_mm_popcnt_u64(x ^ y);
    }
    for (; i < bytes; i++) s += (uint64_t)_mm_popcnt_u32((uint32_t)(a[i] ^ b[i]));
    return (float)s;
}
HSW static float bin_jaccard(const void *pa, const void *pb, size_t dim) {
    const uint8_t *a = pa, *b = pb;
    size_t bytes = dim / 8, i = 0;
    uint64_t inter = 0, uni = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        inter += (uint64_t)_mm_popcnt_u64(x & y);
        uni += (uint64_t)_mm_popcnt_u64(x | y);
    }
    for (; i < bytes; i++) {
        inter += (uint64_t)_mm_popcnt_u32((uint32_t)(a[i] & b[i]));
        uni += (uint64_t)_mm_popcnt_u32((uint32_t)(a[i] | b[i]));
    }
    if (uni == 0) return 0.0f;
    return 1.0f - (float)inter / (float)uni;
}
HSW static void bin_hamming_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = bin_hamming(q, (const uint8_t *)base + j * (dim / 8), dim);
}
HSW static void bin_jaccard_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = bin_jaccard(q, (const uint8_t *)base + j * (dim / 8), dim);
}

/* [sum(a), sum(b), sum(c), sum(d)] */
HSW static inline __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* float32 L2 / IP against four gathered vectors at a time: the query is loaded once per step and
 * four independent accumulator chains keep both FMA ports busy while the loads stream in. */
#define DEFINE_F32_GATHER(NAME, STEP, SIGN, SINGLE)                                                  \
    HSW static void NAME(const void *q, const void *base, const uint32_t *ids, size_t count,           \
                         size_t stride, size_t dim, float *out) {                                      \
        const float *a = q;                                                                            \
        const char *b = base;                                                                          \
        size_t full = dim & ~(size_t)7, r = dim - full;                                                \
        __m256i tail = first_lanes(r == 0 ? 8 : r);                                                    \
        size_t j = 0;                                                                                  \
        for (; j + 4 <= count; j += 4) {                                                               \
            const float *b0 = (const float *)(b + (size_t)ids[j] * stride);                            \
            const float *b1 = (const float *)(b + (size_t)ids[j + 1] * stride);                        \
            const float *b2 = (const float *)(b + (size_t)ids[j + 2] * stride);                        \
            const float *b3 = (const float *)(b + (size_t)ids[j + 3] * stride);                        \
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                                \
            size_t i = 0;                                                                              \
            for (; i < full; i += 8) {                                                                 \
                __m256 x = _mm256_loadu_ps(a + i);                                                     \
                STEP(x, _mm256_loadu_ps(b0 + i), s0);                                                  \
                STEP(x, _mm256_loadu_ps(b1 + i), s1);                                                  \
                STEP(x, _mm256_loadu_ps(b2 + i), s2);                                                  \
                STEP(x, _mm256_loadu_ps(b3 + i), s3);                                                  \
            }                                                                                          \
            if (r) {                                                                                   \
                __m256 x = _mm256_maskload_ps(a + i, tail);                                            \
                STEP(x, _mm256_maskload_ps(b0 + i, tail), s0);                                         \
                STEP(x, _mm256_maskload_ps(b1 + i, tail), s1);                                         \
                STEP(x, _mm256_maskload_ps(b2 + i, tail), s2);                                         \
                STEP(x, _mm256_maskload_ps(b3 + i, tail), s3);                                         \
            }                                                                                          \
            _mm_storeu_ps(out + j, _mm_mul_ps(_mm_set1_ps(SIGN), reduce4(s0, s1, s2, s3)));            \
        }                                                                                              \
        for (; j < count; j++) out[j] = SINGLE(q, b + (size_t)ids[j] * stride, dim);                   \
    }
#define L2_STEP(x, y, s) do { __m256 d_ = _mm256_sub_ps(x, y); s = _mm256_fmadd_ps(d_, d_, s); } while (0)
#define IP_STEP(x, y, s) do { s = _mm256_fmadd_ps(x, y, s); } while (0)
DEFINE_F32_GATHER(f32_l2_gather, L2_STEP, 1.0f, f32_l2)
DEFINE_F32_GATHER(f32_ip_gather, IP_STEP, -1.0f, f32_ip)

#define GATHER(NAME)                                                                                  \
    HSW static void NAME##_gather(const void *q, const void *base, const uint32_t *ids, size_t count,   \
                                  size_t stride, size_t dim, float *out) {                             \
        const char *b = base;                                                                          \
        for (size_t j = 0; j < count; j++) out[j] = NAME(q, b + (size_t)ids[j] * stride, dim);         \
    }
GATHER(f32_cos)
GATHER(f16_l2) GATHER(f16_ip) GATHER(f16_cos)
GATHER(bf16_l2) GATHER(bf16_ip) GATHER(bf16_cos)
GATHER(i8_l2) GATHER(i8_ip) GATHER(i8_cos)
GATHER(bin_hamming) GATHER(bin_jaccard)

const osp_gather_fn osp_haswell_gather[5][5] = {
    {f32_l2_gather, f32_ip_gather, f32_cos_gather, NULL, NULL},
    {f16_l2_gather, f16_ip_gather, f16_cos_gather, NULL, NULL},
    {bf16_l2_gather, bf16_ip_gather, bf16_cos_gather, NULL, NULL},
    {i8_l2_gather, i8_ip_gather, i8_cos_gather, NULL, NULL},
    {NULL, NULL, NULL, bin_hamming_gather, bin_jaccard_gather},
};

const osp_pair_fn osp_haswell_pair[5][5] = {
    {f32_l2, f32_ip, f32_cos, NULL, NULL},
    {f16_l2, f16_ip, f16_cos, NULL, NULL},
    {bf16_l2, bf16_ip, bf16_cos, NULL, NULL},
    {i8_l2, i8_ip, i8_cos, NULL, NULL},
    {NULL, NULL, NULL, bin_hamming, bin_jaccard},
};
const osp_many_fn osp_haswell_many[5][5] = {
    {f32_l2_many, f32_ip_many, f32_cos_many, NULL, NULL},
    {f16_l2_many, f16_ip_many, f16_cos_many, NULL, NULL},
    {bf16_l2_many, bf16_ip_many, bf16_cos_many, NULL, NULL},
    {i8_l2_many, i8_ip_many, i8_cos_many, NULL, NULL},
    {NULL, NULL, NULL, bin_hamming_many, bin_jaccard_many},
};
#endif
