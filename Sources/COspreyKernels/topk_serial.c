/* Bounded top-k selection over blocks of distances (IVF list scans and probe choice).
 *
 * The heap keeps the k smallest (distance, id) pairs, largest on top, ordered by distance and then
 * by id. A candidate enters while the heap holds fewer than k entries if its distance is below
 * +infinity, and afterwards only if its distance is below the largest kept one: the same rule as
 * the Swift TopK with a `d < worstDistance` guard, so that results do not depend on which of the
 * two does the selection. NaN distances never enter. */
#include "include/osprey_kernels.h"
#include <math.h>

/* Whether (da, ia) sorts after (db, ib). */
static inline int after(float da, uint32_t ia, float db, uint32_t ib) {
    return da > db || (da == db && ia > ib);
}

static void sift_up(float *hd, uint32_t *hi, size_t i, float d, uint32_t id) {
    while (i > 0) {
        size_t p = (i - 1) >> 1;
        if (!after(d, id, hd[p], hi[p])) break;
        hd[i] = hd[p];
        hi[i] = hi[p];
        i = p;
    }
    hd[i] = d;
    hi[i] = id;
}

static void sift_down(float *hd, uint32_t *hi, size_t n, float d, uint32_t id) {
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n) break;
        size_t c = l;
        if (l + 1 < n && after(hd[l + 1], hi[l + 1], hd[l], hi[l])) c = l + 1;
        if (!after(hd[c], hi[c], d, id)) break;
        hd[i] = hd[c];
        hi[i] = hi[c];
        i = c;
    }
    hd[i] = d;
    hi[i] = id;
}

static inline int admitted(const uint64_t *mask, int mask_allows, uint32_t id) {
    return (int)((mask[id >> 6] >> (id & 63)) & 1) == mask_allows;
}

void osp_topk_offer(osp_topk *h, const float *dist, const uint32_t *ids, uint32_t first, size_t count,
                    const uint64_t *mask, int mask_allows) {
    size_t k = h->k, n = h->count;
    if (k == 0) return;
    float *hd = h->dist;
    uint32_t *hi = h->ids;
    float worst = n < k ? INFINITY : hd[0];
    for (size_t j = 0; j < count; j++) {
        float d = dist[j];
        if (!(d < worst)) continue;
        uint32_t id = ids ? ids[j] : first + (uint32_t)j;
        if (mask && !admitted(mask, mask_allows, id)) continue;
        if (n < k) {
            sift_up(hd, hi, n, d, id);
            n++;
            if (n == k) worst = hd[0];
        } else {
            sift_down(hd, hi, n, d, id);
            worst = hd[0];
        }
    }
    h->count = n;
}

void osp_topk_sort(osp_topk *h) {
    float *hd = h->dist;
    uint32_t *hi = h->ids;
    /* Heapsort: move the largest to the end, re-heap the rest. */
    for (size_t n = h->count; n > 1; n--) {
        float d = hd[n - 1];
        uint32_t id = hi[n - 1];
        hd[n - 1] = hd[0];
        hi[n - 1] = hi[0];
        sift_down(hd, hi, n - 1, d, id);
    }
}

size_t osp_select_at_most(const float *values, size_t count, float bound, uint32_t *out) {
    size_t m = 0;
    for (size_t j = 0; j < count; j++) {
        out[m] = (uint32_t)j;
        m += values[j] <= bound;
    }
    return m;
}
