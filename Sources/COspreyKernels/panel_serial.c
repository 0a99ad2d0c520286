/* Portable kernels for one query against vectors stored in panels (the IVF coarse step).
 *
 * A panel holds 16 vectors dimension-major: element i of vector l of panel p sits at
 * panels[(p * dim + i) * 16 + l]; the last panel is padded with zero vectors. Elements are float32,
 * or IEEE half precision for a panel set half the size. One query is compared with 16 vectors per
 * step without any horizontal sum. */
#include "kernels_internal.h"

void osp_panel_pack(const float *rows, size_t count, size_t dim, int half, void *panels) {
    size_t np = (count + 15) / 16;
    float *f = panels;
    uint16_t *h = panels;
    for (size_t p = 0; p < np; p++)
        for (size_t i = 0; i < dim; i++)
            for (size_t l = 0; l < 16; l++) {
                size_t r = p * 16 + l, at = (p * dim + i) * 16 + l;
                float v = r < count ? rows[r * dim + i] : 0.0f;
                if (half) h[at] = osp_f32_to_f16(v);
                else f[at] = v;
            }
}

static inline float element(const void *panels, size_t at, int half) {
    return half ? osp_f16_to_f32(((const uint16_t *)panels)[at]) : ((const float *)panels)[at];
}

static inline void run(const float *q, const void *panels, size_t count, size_t dim, float *out, int ip, int half) {
    for (size_t p = 0; p * 16 < count; p++) {
        float acc[16] = {0};
        for (size_t i = 0; i < dim; i++) {
            float x = q[i];
            for (size_t l = 0; l < 16; l++) {
                float c = element(panels, (p * dim + i) * 16 + l, half);
                if (ip) {
                    acc[l] += x * c;
                } else {
                    float d = x - c;
                    acc[l] += d * d;
                }
            }
        }
        for (size_t l = 0; l < 16 && p * 16 + l < count; l++) out[p * 16 + l] = ip ? -acc[l] : acc[l];
    }
}

void osp_panel_l2_serial(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 0, 0);
}
void osp_panel_ip_serial(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 1, 0);
}
void osp_panel_l2_f16_serial(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 0, 1);
}
void osp_panel_ip_f16_serial(const float *q, const void *panels, size_t count, size_t dim, float *out) {
    run(q, panels, count, dim, out, 1, 1);
}
