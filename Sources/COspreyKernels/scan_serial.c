/* One query against contiguous vectors through a pair kernel, with software prefetch about 4 KiB
 * ahead (IVF list scans). A list scan reads each vector once, in order; prefetching ahead keeps
 * more memory requests in flight than the hardware prefetcher alone. Every distance is the pair
 * kernel's own result. */
#include "kernels_internal.h"

void osp_scan_pairs(osp_pair_fn pair, const void *query, const void *base, size_t count, size_t dim, size_t vbytes,
                    float *out) {
    const char *b = base;
    size_t ahead = vbytes >= 2048 ? 2 : 4096 / (vbytes ? vbytes : 1);
    size_t j = 0;
    for (; j + ahead < count; j++) {
        const char *p = b + (j + ahead) * vbytes;
        for (size_t o = 0; o < vbytes; o += 64) __builtin_prefetch(p + o, 0, 3);
        out[j] = pair(query, b + j * vbytes, dim);
    }
    for (; j < count; j++) out[j] = pair(query, b + j * vbytes, dim);
}
