/* Portable many-against-many float32 dot products (the fallback for batched exact search). */
#include "kernels_internal.h"

void osp_gemm_serial(const float *q, size_t nq, const float *b, size_t nb, size_t dim, float *out, size_t ldo) {
    for (size_t i = 0; i < nq; i++) {
        const float *x = q + i * dim;
        for (size_t j = 0; j < nb; j++) {
            const float *y = b + j * dim;
            float s = 0.0f;
            for (size_t d = 0; d < dim; d++) s += x[d] * y[d];
            out[i * ldo + j] = s;
        }
    }
}
