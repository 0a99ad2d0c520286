/* AVX-512 VBMI product-quantisation list search (IVF_PQ). The query's table is quantised to bytes
 * (osp_pq_quantize); a 256-entry byte table is four 64-byte registers, so two byte permutes and a
 * blend look up one sub-quantizer for 64 codes at once, summed in 16-bit lanes. That estimate,
 * minus a bound on its error, decides which vectors can still enter the heap; only those get the
 * exact float distance, so the result is the float scan's. Layout in osprey_kernels.h. */
#include "pq_internal.h"
#if OSP_HAVE_HASWELL
#include <immintrin.h>

#define VBMI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi,avx2,fma")))

#if OSP_PQ_BLOCK != 64
#error "the VBMI search looks up one block of 64 codes per register"
#endif

/* Offers the vectors of a group of sixteen whose lower bound `low` does not exceed the heap's worst:
 * each is re-checked with its float code distance. `slot_of[i]` is the slot in the block of lane i
 * (`lanes` holds the same as integers). Many candidates (a heap still filling) are computed for the
 * whole group with gathers, few one by one; both sum in the scan kernels' order. */
VBMI static inline void offer(const osp_pq_query *q, const uint8_t *blk, __m512 low, const uint32_t *slot_of, __m512i lanes,
                              __m512i byteLanes, size_t first, size_t count, const float *bias, const uint32_t *ids,
                              float base, const uint64_t *allowed, osp_pq_heap *heap) {
    float worst = osp_pq_heap_worst(heap);
    uint32_t cand = _mm512_cmp_ps_mask(low, _mm512_set1_ps(worst), _CMP_LE_OQ);
    if (cand == 0) return;
    float exact[16];
    int grouped = __builtin_popcount(cand) > 3;
    if (grouped) {
        /* base + bias, then each sub-quantizer's entry, lane by lane: the bits of osp_pq_exact_one. */
        __m512 acc = _mm512_set1_ps(base);
        if (bias) acc = _mm512_add_ps(acc, _mm512_i32gather_ps(lanes, bias + first, 4));
        for (size_t j = 0; j < q->m; j++) {
            /* The group's sixteen codes of sub-quantizer j, picked out of the block's 64-byte row. */
            __m512i row = _mm512_loadu_si512(blk + j * OSP_PQ_BLOCK);
            __m512i codes = _mm512_cvtepu8_epi32(_mm512_castsi512_si128(_mm512_permutexvar_epi8(byteLanes, row)));
            acc = _mm512_add_ps(acc, _mm512_i32gather_ps(codes, q->lut + j * 256, 4));
        }
        _mm512_storeu_ps(exact, acc);
    }
    while (cand) {
        int lane = __builtin_ctz(cand);
        cand &= cand - 1;
        size_t v = slot_of[lane], slot = first + v;
        if (slot >= count) continue;
        uint32_t id = ids[slot];
        if (!osp_pq_allowed(allowed, id)) continue;
        float d = grouped ? exact[lane] : osp_pq_exact_one(q->lut, blk, v, q->m, base, bias ? bias + slot : NULL);
        if (d <= worst) {
            osp_pq_heap_push(heap, d, id);
            worst = osp_pq_heap_worst(heap);
        }
    }
}

VBMI void osp_pq_search_vbmi(const osp_pq_query *q, const uint8_t *codes, const float *bias, const uint32_t *ids, size_t count,
                             float base, float slack, const uint64_t *allowed, osp_pq_heap *heap) {
    const size_t m = q->m, bb = m * OSP_PQ_BLOCK;
    const size_t nblocks = (count + OSP_PQ_BLOCK - 1) / OSP_PQ_BLOCK;
    const __m512 vdelta = _mm512_set1_ps(q->delta);
    /* The lowest exact distance a vector with byte sum S can have: base + bias + offset + delta * S - slack. */
    const __m512 vlow = _mm512_set1_ps(base + q->offset - slack);
    const __m512i lowByte = _mm512_set1_epi16(0x00FF);
    /* Byte sums are kept in 16-bit lanes, even vectors in one register and odd ones in another
     * (no cross-lane shuffles in the loop); these are the slots of the four groups of sixteen. */
    static const uint32_t evenLo[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    static const uint32_t evenHi[16] = {32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62};
    static const uint32_t oddLo[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    static const uint32_t oddHi[16] = {33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63};
    const __m512i pickEven = _mm512_loadu_si512(evenLo), pickOdd = _mm512_loadu_si512(oddLo);
    const __m512i laneEvenHi = _mm512_loadu_si512(evenHi), laneOddHi = _mm512_loadu_si512(oddHi);
    /* The same slots as bytes, for picking codes out of a 64-byte row. */
    const __m512i bytesEvenLo = _mm512_zextsi128_si512(_mm512_cvtepi32_epi8(pickEven));
    const __m512i bytesOddLo = _mm512_zextsi128_si512(_mm512_cvtepi32_epi8(pickOdd));
    const __m512i bytesEvenHi = _mm512_zextsi128_si512(_mm512_cvtepi32_epi8(laneEvenHi));
    const __m512i bytesOddHi = _mm512_zextsi128_si512(_mm512_cvtepi32_epi8(laneOddHi));
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = codes + b * bb;
        __m512i even = _mm512_setzero_si512(), odd = _mm512_setzero_si512();
        /* The next block is one cache line per sub-quantizer: fetch it while this one is summed. */
        const uint8_t *next = b + 1 < nblocks ? blk + bb : blk;
        for (size_t j = 0; j < m; j++) {
            _mm_prefetch((const char *)(next + j * OSP_PQ_BLOCK), _MM_HINT_T0);
            __m512i idx = _mm512_loadu_si512(blk + j * OSP_PQ_BLOCK);
            const uint8_t *t = q->qlut + j * 256;
            __m512i lo = _mm512_permutex2var_epi8(_mm512_loadu_si512(t), idx, _mm512_loadu_si512(t + 64));
            __m512i hi = _mm512_permutex2var_epi8(_mm512_loadu_si512(t + 128), idx, _mm512_loadu_si512(t + 192));
            __m512i r = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi);
            even = _mm512_add_epi16(even, _mm512_and_si512(r, lowByte));
            odd = _mm512_add_epi16(odd, _mm512_srli_epi16(r, 8));
        }
        size_t first = b * OSP_PQ_BLOCK;
        __m512 e0 = vlow, e1 = vlow, o0 = vlow, o1 = vlow;
        if (bias) {
            const float *e = bias + first;
            __m512 x0 = _mm512_loadu_ps(e), x1 = _mm512_loadu_ps(e + 16), x2 = _mm512_loadu_ps(e + 32), x3 = _mm512_loadu_ps(e + 48);
            e0 = _mm512_add_ps(e0, _mm512_permutex2var_ps(x0, pickEven, x1));
            o0 = _mm512_add_ps(o0, _mm512_permutex2var_ps(x0, pickOdd, x1));
            e1 = _mm512_add_ps(e1, _mm512_permutex2var_ps(x2, pickEven, x3));
            o1 = _mm512_add_ps(o1, _mm512_permutex2var_ps(x2, pickOdd, x3));
        }
        e0 = _mm512_fmadd_ps(vdelta, _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(even))), e0);
        e1 = _mm512_fmadd_ps(vdelta, _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(even, 1))), e1);
        o0 = _mm512_fmadd_ps(vdelta, _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(odd))), o0);
        o1 = _mm512_fmadd_ps(vdelta, _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(odd, 1))), o1);
        offer(q, blk, e0, evenLo, pickEven, bytesEvenLo, first, count, bias, ids, base, allowed, heap);
        offer(q, blk, o0, oddLo, pickOdd, bytesOddLo, first, count, bias, ids, base, allowed, heap);
        offer(q, blk, e1, evenHi, laneEvenHi, bytesEvenHi, first, count, bias, ids, base, allowed, heap);
        offer(q, blk, o1, oddHi, laneOddHi, bytesOddHi, first, count, bias, ids, base, allowed, heap);
    }
}

/* osp_pq_quantize, sixteen entries per instruction; the same bytes, step and sums as the serial
 * version (minimum and maximum are exact, and the per-row results are combined in row order). */
VBMI void osp_pq_quantize_vbmi(const float *lut, size_t m, uint8_t *qlut, float *delta, float *offset, float *magnitude) {
    float range = 0.0f, off = 0.0f, mag = 0.0f;
    float mins[256];
    for (size_t j = 0; j < m; j++) {
        const float *t = lut + j * 256;
        __m512 lo = _mm512_loadu_ps(t), hi = lo, am = _mm512_abs_ps(lo);
        for (int c = 16; c < 256; c += 16) {
            __m512 v = _mm512_loadu_ps(t + c);
            lo = _mm512_min_ps(lo, v);
            hi = _mm512_max_ps(hi, v);
            am = _mm512_max_ps(am, _mm512_abs_ps(v));
        }
        float l = _mm512_reduce_min_ps(lo), h = _mm512_reduce_max_ps(hi);
        if (j < 256) mins[j] = l;
        range = h - l > range ? h - l : range;
        off += l;
        mag += _mm512_reduce_max_ps(am);
    }
    float step = range / 255.0f;
    float inv = step > 0 ? 1.0f / step : 0.0f;
    const __m512 vinv = _mm512_set1_ps(inv), half = _mm512_set1_ps(0.5f), top = _mm512_set1_ps(255.0f);
    for (size_t j = 0; j < m; j++) {
        const float *t = lut + j * 256;
        float l;
        if (j < 256) {
            l = mins[j];
        } else {
            __m512 lo = _mm512_loadu_ps(t);
            for (int c = 16; c < 256; c += 16) lo = _mm512_min_ps(lo, _mm512_loadu_ps(t + c));
            l = _mm512_reduce_min_ps(lo);
        }
        __m512 vlo = _mm512_set1_ps(l);
        for (int c = 0; c < 256; c += 16) {
            __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(t + c), vlo), vinv), half);
            v = _mm512_max_ps(_mm512_min_ps(v, top), _mm512_setzero_ps());
            _mm_storeu_si128((__m128i *)(qlut + j * 256 + c), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v)));
        }
    }
    *delta = step;
    *offset = off;
    *magnitude = mag;
}
#endif
