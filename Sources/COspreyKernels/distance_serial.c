/* Portable distance kernels: the fallback on every CPU and the reference for the SIMD ones. */
#include "kernels_internal.h"
#include <math.h>
#include <string.h>

float osp_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; mant <<= 1; } while ((mant & 0x400u) == 0);
            mant &= 0x3FFu;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + (127 - 15)) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t osp_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7FFFFFFFu;
    if (absx >= 0x7F800000u) { /* inf or nan */
        return (uint16_t)(sign | 0x7C00u | (absx > 0x7F800000u ? 0x200u : 0u));
    }
    if (absx >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* overflow -> inf */
    if (absx < 0x38800000u) { /* subnormal or zero in half */
        float af;
        memcpy(&af, &absx, 4);
        /* half subnormals are multiples of 2^-24; the scaling is exact, nearbyintf rounds to even */
        return (uint16_t)(sign | (uint32_t)nearbyintf(af * 16777216.0f));
    }
    uint32_t r = absx + 0xC8000FFFu + ((absx >> 13) & 1u); /* rebias (-112 << 23) and round */
    return (uint16_t)(sign | (r >> 13));
}

float osp_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t osp_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7FFFu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

static inline float cosine_of(float dot, float na, float nb) {
    if (na == 0.0f || nb == 0.0f) return 0.0f;
    return -(float)((double)dot / sqrt((double)na * (double)nb));
}

/* Element loaders, so one template body serves every element type. */
#define LOAD_F32(p, i) (((const float *)(p))[i])
#define LOAD_F16(p, i) osp_f16_to_f32(((const uint16_t *)(p))[i])
#define LOAD_BF16(p, i) osp_bf16_to_f32(((const uint16_t *)(p))[i])
#define LOAD_I8(p, i) ((float)((const int8_t *)(p))[i])

#define DEFINE_FLOAT_KERNELS(NAME, LOAD, ELEM)                                               \
    static float NAME##_l2(const void *a, const void *b, size_t dim) {                       \
        float s = 0.0f;                                                                      \
        for (size_t i = 0; i < dim; i++) { float d = LOAD(a, i) - LOAD(b, i); s += d * d; }  \
        return s;                                                                            \
    }                                                                                        \
    static float NAME##_ip(const void *a, const void *b, size_t dim) {                       \
        float s = 0.0f;                                                                      \
        for (size_t i = 0; i < dim; i++) s += LOAD(a, i) * LOAD(b, i);                       \
        return -s;                                                                           \
    }                                                                                        \
    static float NAME##_cos(const void *a, const void *b, size_t dim) {                      \
        float s = 0.0f, na = 0.0f, nb = 0.0f;                                                \
        for (size_t i = 0; i < dim; i++) {                                                   \
            float x = LOAD(a, i), y = LOAD(b, i);                                            \
            s += x * y; na += x * x; nb += y * y;                                            \
        }                                                                                    \
        return cosine_of(s, na, nb);                                                         \
    }                                                                                        \
    static void NAME##_l2_many(const void *q, const void *base, size_t n, size_t dim, float *out) { \
        for (size_t j = 0; j < n; j++) out[j] = NAME##_l2(q, (const ELEM *)base + j * dim, dim);    \
    }                                                                                        \
    static void NAME##_ip_many(const void *q, const void *base, size_t n, size_t dim, float *out) { \
        for (size_t j = 0; j < n; j++) out[j] = NAME##_ip(q, (const ELEM *)base + j * dim, dim);    \
    }                                                                                        \
    static void NAME##_cos_many(const void *q, const void *base, size_t n, size_t dim, float *out) { \
        for (size_t j = 0; j < n; j++) out[j] = NAME##_cos(q, (const ELEM *)base + j * dim, dim);   \
    }

DEFINE_FLOAT_KERNELS(f32, LOAD_F32, float)
DEFINE_FLOAT_KERNELS(f16, LOAD_F16, uint16_t)
DEFINE_FLOAT_KERNELS(bf16, LOAD_BF16, uint16_t)

/* int8: exact integer arithmetic. */
static float i8_l2(const void *a, const void *b, size_t dim) {
    const int8_t *x = a, *y = b;
    int64_t s = 0;
    for (size_t i = 0; i < dim; i++) { int32_t d = (int32_t)x[i] - (int32_t)y[i]; s += d * d; }
    return (float)s;
}
static float i8_ip(const void *a, const void *b, size_t dim) {
    const int8_t *x = a, *y = b;
    int64_t s = 0;
    for (size_t i = 0; i < dim; i++) s += (int32_t)x[i] * (int32_t)y[i];
    return -(float)s;
}
static float i8_cos(const void *a, const void *b, size_t dim) {
    const int8_t *x = a, *y = b;
    int64_t s = 0, na = 0, nb = 0;
    for (size_t i = 0; i < dim; i++) {
        s += (int32_t)x[i] * (int32_t)y[i];
        na += (int32_t)x[i] * (int32_t)x[i];
        nb += (int32_t)y[i] * (int32_t)y[i];
    }
    if (na == 0 || nb == 0) return 0.0f;
    return -(float)((double)s / sqrt((double)na * (double)nb));
}
static void i8_l2_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = i8_l2(q, (const int8_t *)base + j * dim, dim);
}
static void i8_ip_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = i8_ip(q, (const int8_t *)base + j * dim, dim);
}
static void i8_cos_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = i8_cos(q, (const int8_t *)base + j * dim, dim);
}

/* Binary: bytewise popcount. */
static inline unsigned popcount8(unsigned v) {
    v = v - ((v >> 1) & 0x55u);
    v = (v & 0x33u) + ((v >> 2) & 0x33u);
    return (v + (v >> 4)) & 0x0Fu;
}
static float bin_hamming(const void *a, const void *b, size_t dim) {
    const uint8_t *x = a, *y = b;
    size_t bytes = dim / 8;
    unsigned long s = 0;
    for (size_t i = 0; i < bytes; i++) s += popcount8((unsigned)(x[i] ^ y[i]));
    return (float)s;
}
static float bin_jaccard(const void *a, const void *b, size_t dim) {
    const uint8_t *x = a, *y = b;
    size_t bytes = dim / 8;
    unsigned long inter = 0, uni = 0;
    for (size_t i = 0; i < bytes; i++) {
        inter += popcount8((unsigned)(x[i] & y[i]));
        uni += popcount8((unsigned)(x[i] | y[i]));
    }
    if (uni == 0) return 0.0f;
    return 1.0f - (float)inter / (float)uni;
}
static void bin_hamming_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = bin_hamming(q, (const uint8_t *)base + j * (dim / 8), dim);
}
static void bin_jaccard_many(const void *q, const void *base, size_t n, size_t dim, float *out) {
    for (size_t j = 0; j < n; j++) out[j] = bin_jaccard(q, (const uint8_t *)base + j * (dim / 8), dim);
}

const osp_pair_fn osp_serial_pair[5][5] = {
    {f32_l2, f32_ip, f32_cos, NULL, NULL},
    {f16_l2, f16_ip, f16_cos, NULL, NULL},
    {bf16_l2, bf16_ip, bf16_cos, NULL, NULL},
    {i8_l2, i8_ip, i8_cos, NULL, NULL},
    {NULL, NULL, NULL, bin_hamming, bin_jaccard},
};
const osp_many_fn osp_serial_many[5][5] = {
    {f32_l2_many, f32_ip_many, f32_cos_many, NULL, NULL},
    {f16_l2_many, f16_ip_many, f16_cos_many, NULL, NULL},
    {bf16_l2_many, bf16_ip_many, bf16_cos_many, NULL, NULL},
    {i8_l2_many, i8_ip_many, i8_cos_many, NULL, NULL},
    {NULL, NULL, NULL, bin_hamming_many, bin_jaccard_many},
};

void osp_f32_norms_sq(const float *base, size_t count, size_t dim, float *out) {
    for (size_t j = 0; j < count; j++) {
        const float *v = base + j * dim;
        float s = 0.0f;
        for (size_t i = 0; i < dim; i++) s += v[i] * v[i];
        out[j] = s;
    }
}

void osp_gather_with(osp_pair_fn pair, const void *q, const void *base, const uint32_t *ids, size_t count,
                     size_t stride, size_t dim, float *out) {
    for (size_t j = 0; j < count; j++) out[j] = pair(q, (const char *)base + (size_t)ids[j] * stride, dim);
}

#define GATHER(NAME)                                                                                  \
    static void NAME##_gather(const void *q, const void *base, const uint32_t *ids, size_t count,       \
                              size_t stride, size_t dim, float *out) {                                 \
        osp_gather_with(NAME, q, base, ids, count, stride, dim, out);                                  \
    }
GATHER(f32_l2) GATHER(f32_ip) GATHER(f32_cos)
GATHER(f16_l2) GATHER(f16_ip) GATHER(f16_cos)
GATHER(bf16_l2) GATHER(bf16_ip) GATHER(bf16_cos)
GATHER(i8_l2) GATHER(i8_ip) GATHER(i8_cos)
GATHER(bin_hamming) GATHER(bin_jaccard)

const osp_gather_fn osp_serial_gather[5][5] = {
    {f32_l2_gather, f32_ip_gather, f32_cos_gather, NULL, NULL},
    {f16_l2_gather, f16_ip_gather, f16_cos_gather, NULL, NULL},
    {bf16_l2_gather, bf16_ip_gather, bf16_cos_gather, NULL, NULL},
    {i8_l2_gather, i8_ip_gather, i8_cos_gather, NULL, NULL},
    {NULL, NULL, NULL, bin_hamming_gather, bin_jaccard_gather},
};
