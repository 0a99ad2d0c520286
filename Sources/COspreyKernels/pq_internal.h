/* Helpers shared by the product-quantisation kernel files (pq_*.c): the bounded top-k heap the
 * list searches push into, and the exact code distance of one vector of a block. */
#ifndef OSPREY_PQ_INTERNAL_H
#define OSPREY_PQ_INTERNAL_H
#include "kernels_internal.h"

/* Whether (d, id) ranks before (d2, id2): smaller distance, then smaller id. */
static inline int osp_pq_before(float d, uint32_t id, float d2, uint32_t id2) {
    return d < d2 || (d == d2 && id < id2);
}

/* The distance a candidate must beat to enter the heap (+inf while it is not full). */
static inline float osp_pq_heap_worst(const osp_pq_heap *h) {
    return h->count < h->k ? __builtin_inff() : h->dist[0];
}

/* Offers (d, id) to a max-heap of the k best (ordered by osp_pq_before). */
static inline void osp_pq_heap_push(osp_pq_heap *h, float d, uint32_t id) {
    float *hd = h->dist;
    uint32_t *hi = h->ids;
    size_t i;
    if (h->count < h->k) {
        i = h->count++;
        while (i > 0) {
            size_t p = (i - 1) >> 1;
            if (!osp_pq_before(hd[p], hi[p], d, id)) break;
            hd[i] = hd[p];
            hi[i] = hi[p];
            i = p;
        }
        hd[i] = d;
        hi[i] = id;
        return;
    }
    if (h->k == 0 || !osp_pq_before(d, id, hd[0], hi[0])) return;
    size_t n = h->count;
    i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float md = d;
        uint32_t mi = id;
        if (l < n && osp_pq_before(md, mi, hd[l], hi[l])) { m = l; md = hd[l]; mi = hi[l]; }
        if (r < n && osp_pq_before(md, mi, hd[r], hi[r])) { m = r; }
        if (m == i) break;
        hd[i] = hd[m];
        hi[i] = hi[m];
        i = m;
    }
    hd[i] = d;
    hi[i] = id;
}

/* Whether row `id` is allowed by the bitset (NULL allows every row). */
static inline int osp_pq_allowed(const uint64_t *allowed, uint32_t id) {
    return allowed == NULL || ((allowed[id >> 6] >> (id & 63)) & 1);
}

/* The code distance of vector v (< OSP_PQ_BLOCK) of the block at `blk`, summed in the same order
 * as every scan kernel: base, then the per-vector term, then sub-quantizers 0 ..< m. */
static inline float osp_pq_exact_one(const float *lut, const uint8_t *blk, size_t v, size_t m, float base, const float *bias) {
    float s = base + (bias ? *bias : 0.0f);
    for (size_t j = 0; j < m; j++) s += lut[j * 256 + blk[j * OSP_PQ_BLOCK + v]];
    return s;
}

/* Pushes the `n` distances of `dist` (slots first ..< first + n of a list) into the heap, skipping
 * rows that are not allowed. */
static inline void osp_pq_push_block(const float *dist, size_t n, const uint32_t *ids, const uint64_t *allowed, osp_pq_heap *h) {
    float worst = osp_pq_heap_worst(h);
    for (size_t v = 0; v < n; v++) {
        if (!(dist[v] <= worst)) continue;
        uint32_t id = ids[v];
        if (!osp_pq_allowed(allowed, id)) continue;
        osp_pq_heap_push(h, dist[v], id);
        worst = osp_pq_heap_worst(h);
    }
}
#endif
