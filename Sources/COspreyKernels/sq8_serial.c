/* Portable kernels for 8-bit scalar-quantised vectors (IVF_SQ8 list scans). */
#include "kernels_internal.h"

void osp_sq8_l2_serial(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0,
                       float *out) {
    (void)c0;
    for (size_t j = 0; j < count; j++) {
        const uint8_t *c = codes + j * dim;
        float s = 0.0f;
        for (size_t i = 0; i < dim; i++) {
            float d = q[i] - scale[i] * (float)c[i];
            s += d * d;
        }
        out[j] = s;
    }
}

void osp_sq8_ip_serial(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0,
                       float *out) {
    (void)scale;
    for (size_t j = 0; j < count; j++) {
        const uint8_t *c = codes + j * dim;
        float s = 0.0f;
        for (size_t i = 0; i < dim; i++) s += q[i] * (float)c[i];
        out[j] = -(c0 + s);
    }
}
