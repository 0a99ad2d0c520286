#ifndef OSPREY_KERNELS_H
#define OSPREY_KERNELS_H
/*
 * Distance kernels for Osprey (docs/index.md, "Kernels").
 *
 * Every kernel returns an internal distance where smaller is better:
 *   L2 -> squared Euclidean, IP -> -(a.b), COSINE -> -cos(a,b) (0 when either vector is zero),
 *   HAMMING -> differing bits, JACCARD -> 1 - |a&b| / |a|b| (0 when both are empty).
 * For binary vectors `dim` counts bits and must be a multiple of 8 (as in Milvus).
 *
 * Kernels are chosen once with osp_kernel_select, then called through plain function
 * pointers. Every function here is thread-safe (pure functions of their arguments).
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types (values match nothing outside this header). */
enum { OSP_TYPE_F32 = 0, OSP_TYPE_F16 = 1, OSP_TYPE_BF16 = 2, OSP_TYPE_I8 = 3, OSP_TYPE_BIN = 4 };
/* Metrics. */
enum { OSP_METRIC_L2 = 0, OSP_METRIC_IP = 1, OSP_METRIC_COSINE = 2, OSP_METRIC_HAMMING = 3, OSP_METRIC_JACCARD = 4 };
/* Instruction-set levels. OSP_ISA_BEST asks for the best the running CPU supports. */
enum { OSP_ISA_BEST = -1, OSP_ISA_SERIAL = 0, OSP_ISA_HASWELL = 1, OSP_ISA_SKYLAKE = 2 };

/* Distance between two vectors of `dim` elements. */
typedef float (*osp_pair_fn)(const void *a, const void *b, size_t dim);
/* Distances from one query to `count` vectors stored contiguously in `base`. */
typedef void (*osp_many_fn)(const void *query, const void *base, size_t count, size_t dim, float *out);
/* Distances from one query to `count` vectors at base + ids[j] * stride (graph nodes). */
typedef void (*osp_gather_fn)(const void *query, const void *base, const uint32_t *ids, size_t count,
                              size_t stride, size_t dim, float *out);
/* out[i * ldo + j] = dot(q_i, b_j) for nq float32 queries and nb float32 base vectors (row-major). */
typedef void (*osp_gemm_fn)(const float *q, size_t nq, const float *b, size_t nb, size_t dim,
                            float *out, size_t ldo);

/* A chosen kernel: the pair and one-against-many forms, and the ISA level they use. */
typedef struct {
    osp_pair_fn pair;
    osp_many_fn many;
    osp_gather_fn gather;
    int isa;
} osp_kernel;

/* The best ISA level the running CPU supports (AVX2 + FMA + F16C + POPCNT -> OSP_ISA_HASWELL;
 * additionally AVX-512 F/BW/DQ/VL -> OSP_ISA_SKYLAKE, which accelerates float32 L2 and IP and uses
 * the Haswell kernels for the rest). */
int osp_cpu_best_isa(void);

/* Fills `out` for (type, metric, isa); returns 0, or -1 when the pair is unsupported or the
 * requested ISA is unavailable on this CPU. */
int osp_kernel_select(int type, int metric, int isa, osp_kernel *out);

/* The blocked many-against-many float32 dot-product kernel for an ISA level (never NULL). */
osp_gemm_fn osp_gemm_select(int isa);

/* 8-bit scalar-quantised codes (one byte per dimension, x ~ vmin + code * scale):
 *   L2: out[j] = sum_i (qprep[i] - scale[i] * code_j[i])^2 with qprep = q - vmin;
 *   IP: out[j] = -(c0 + sum_i qprep[i] * code_j[i]) with qprep = q * scale, c0 = q . vmin.
 * `codes` holds `count` codes of `dim` bytes, contiguous. */
typedef void (*osp_sq8_fn)(const float *qprep, const uint8_t *codes, size_t count, size_t dim, const float *scale,
                           float c0, float *out);
/* The SQ8 kernel for OSP_METRIC_L2 or OSP_METRIC_IP at an ISA level (NULL for other metrics). */
osp_sq8_fn osp_sq8_select(int metric, int isa);

/* The SQ8 kernels above are bit-for-bit the same at OSP_ISA_HASWELL and OSP_ISA_SKYLAKE. */

/* Vectors in panels of 16, for one-query-against-many scans without horizontal sums: element i of
 * vector l of panel p is panels[(p * dim + i) * 16 + l], float32 or (half != 0) IEEE half
 * precision; the last panel is padded with zero vectors, so `panels` holds
 * ceil(count / 16) * 16 * dim elements, 64-byte aligned. */
void osp_panel_pack(const float *rows, size_t count, size_t dim, int half, void *panels);
/* out[j] for the `count` vectors of `panels`: L2 -> squared distance, IP -> -(q . v), summed in
 * float32 in another order than the pair kernels (each within (dim + 2) * 2^-24 of the exact sum
 * of the panel's values, relative to the sum of the magnitudes). */
typedef void (*osp_panel_fn)(const float *q, const void *panels, size_t count, size_t dim, float *out);
/* The panel kernel for OSP_METRIC_L2 or OSP_METRIC_IP, float32 or half panels, at an ISA level
 * (NULL for other metrics). */
osp_panel_fn osp_panel_select(int metric, int half, int isa);

/* A bounded max-heap of the k smallest (distance, id) pairs, ordered by distance then id, in
 * caller-owned arrays of k entries. Zero-initialise `count`. */
typedef struct {
    float *dist;
    uint32_t *ids;
    size_t count;
    size_t k;
} osp_topk;
/* Offers `count` candidates: distance dist[j], id ids[j] (or first + j when ids is NULL). While
 * the heap is not full a candidate enters if its distance is below +infinity, afterwards if it is
 * below the largest kept distance; NaN never enters. With a mask, a candidate whose id's bit is
 * not `mask_allows` (1: bit set means allowed, 0: bit set means excluded) is skipped. */
void osp_topk_offer(osp_topk *h, const float *dist, const uint32_t *ids, uint32_t first, size_t count,
                    const uint64_t *mask, int mask_allows);
/* Sorts the kept entries in place, smallest (distance, id) first; the heap is then spent. */
void osp_topk_sort(osp_topk *h);
/* Writes the indices j < count with values[j] <= bound to out, ascending; returns how many. */
size_t osp_select_at_most(const float *values, size_t count, float bound, uint32_t *out);

/* out[j] = pair(query, base + j * vbytes, dim) for j < count (the pair kernel's own bits), with the
 * vectors about 4 KiB ahead prefetched: a list scan that reads memory once, in order. */
void osp_scan_pairs(osp_pair_fn pair, const void *query, const void *base, size_t count, size_t dim, size_t vbytes,
                    float *out);
/* Asks the OS to back the whole 2 MiB pages inside [p, p + bytes) with transparent huge pages (Linux
 * madvise MADV_HUGEPAGE; no effect elsewhere). Call before the memory is first written. */
void osp_advise_huge_pages(void *p, size_t bytes);

/* Product quantisation with 8-bit codes (IVF_PQ). A vector of `m * dsub` floats is split into m
 * sub-vectors; sub-quantizer j has 256 centroids of dsub floats. Codebooks are stored transposed,
 * `codebook_t[(j * dsub + d) * 256 + c]` = component d of centroid c of sub-quantizer j, so that
 * one sub-vector against all 256 centroids is a run of contiguous multiply-adds.
 *
 * Lists of codes are stored in blocks of OSP_PQ_BLOCK vectors, sub-quantizer major inside a block:
 * byte `block * m * OSP_PQ_BLOCK + j * OSP_PQ_BLOCK + v` is the code of vector v of the block for
 * sub-quantizer j (a list's last block is padded). */
#define OSP_PQ_BLOCK 64
/* The PQ level above OSP_ISA_SKYLAKE: AVX-512 VBMI byte permutes look up 8-bit tables. */
enum { OSP_PQ_ISA_VBMI = 3 };

/* out[j * 256 + c] = (bias ? bias[j * 256 + c] : 0) + scale * (x_j . centroid c of sub-quantizer j),
 * for every j < m and c < 256: the distance tables of one query. */
typedef void (*osp_pq_tables_fn)(const float *x, const float *codebook_t, size_t m, size_t dsub, float scale,
                                 const float *bias, float *out);
/* code[j] = the c minimising cnorms[j * 256 + c] - 2 x_j . centroid c (the nearest centroid by
 * squared L2, cnorms holding the centroids' squared norms); the first such c on exact ties. */
typedef void (*osp_pq_encode_fn)(const float *x, const float *codebook_t, const float *cnorms, size_t m, size_t dsub,
                                 uint8_t *code);
/* For `nblocks` blocks of codes: out[i] = base + (bias ? bias[i] : 0) + sum_j lut[j * 256 + code_i[j]],
 * summed in that order, i < nblocks * OSP_PQ_BLOCK (padded slots included), with `lut` as written by
 * osp_pq_tables_fn. Every level returns the same bits. */
typedef void (*osp_pq_scan_fn)(const float *lut, const uint8_t *codes, const float *bias, float base, size_t nblocks,
                               size_t m, float *out);

/* A bounded max-heap of the k best (distance, id) pairs (smaller distance first, then smaller id)
 * in caller-owned arrays of k entries; start with count = 0. */
typedef struct {
    float *dist;
    uint32_t *ids;
    size_t count;
    size_t k;
} osp_pq_heap;

/* One query's tables for osp_pq_search_fn: `lut` (m x 256 floats) and, for the VBMI level, the same
 * table quantised to bytes by osp_pq_quantize. */
typedef struct {
    const float *lut;
    const uint8_t *qlut;
    size_t m;
    /* qlut[j * 256 + c] ~ (lut[j * 256 + c] - min_c lut[j * 256 + c]) / delta, rounded. */
    float delta;
    /* sum_j min_c lut[j * 256 + c]. */
    float offset;
} osp_pq_query;

/* Quantises a query's table to bytes: one step `delta` for every sub-quantizer (so that sums of
 * bytes compare), each row shifted by its minimum; each byte is within delta / 2 of its entry.
 * `magnitude` receives sum_j max_c |lut[j * 256 + c]| (for rounding bounds). */
void osp_pq_quantize(const float *lut, size_t m, uint8_t *qlut, float *delta, float *offset, float *magnitude);
typedef void (*osp_pq_quantize_fn)(const float *lut, size_t m, uint8_t *qlut, float *delta, float *offset, float *magnitude);

/* Pushes every allowed vector of one list into `heap` by its code distance
 * base + bias[i] + sum_j lut[j * 256 + code_i[j]] (bit for bit the value osp_pq_scan_fn computes).
 * `count` vectors in ceil(count / OSP_PQ_BLOCK) blocks at `codes`; ids[i] is vector i's row;
 * `allowed` is a bitset over rows or NULL. The VBMI level ranks vectors by the byte table first and
 * computes the exact distance only where base + bias + offset + delta * sum - slack could beat the
 * heap; `slack` must bound the gap between that estimate and the exact value (m * delta / 2 plus
 * rounding); it sums bytes in 16-bit lanes, so it needs m <= 256. Other levels ignore `qlut` and
 * `slack`. */
typedef void (*osp_pq_search_fn)(const osp_pq_query *q, const uint8_t *codes, const float *bias, const uint32_t *ids,
                                 size_t count, float base, float slack, const uint64_t *allowed, osp_pq_heap *heap);

/* The product-quantisation kernels of one level. */
typedef struct {
    osp_pq_tables_fn tables;
    osp_pq_encode_fn encode;
    osp_pq_scan_fn scan;
    osp_pq_search_fn search;
    /* Whether `search` reads the byte table (callers then fill osp_pq_query.qlut with `quantize`). */
    int quantized;
    osp_pq_quantize_fn quantize;
    int isa;
} osp_pq_kernels;

/* Fills `out` for a level (OSP_ISA_SERIAL, OSP_ISA_HASWELL, OSP_ISA_SKYLAKE, OSP_PQ_ISA_VBMI, or
 * OSP_ISA_BEST for the best available); returns 0, or -1 when the level is unavailable on this CPU. */
int osp_pq_select(int isa, osp_pq_kernels *out);
/* The best PQ level this CPU supports (OSP_PQ_ISA_VBMI with AVX-512 VBMI). */
int osp_pq_best_isa(void);

/* Squared norms of `count` float32 vectors. */
void osp_f32_norms_sq(const float *base, size_t count, size_t dim, float *out);

/* Half-precision conversions (portable, round-to-nearest-even on the way down). */
float osp_f16_to_f32(uint16_t h);
uint16_t osp_f32_to_f16(float f);
float osp_bf16_to_f32(uint16_t h);
uint16_t osp_f32_to_bf16(float f);

/* Hints the CPU to fetch the cache line at p. */
static inline void osp_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
/* Hints the CPU to fetch every cache line of [p, p + bytes). */
static inline void osp_prefetch_range(const void *p, size_t bytes) {
    const char *c = (const char *)p;
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 3);
}

/* A tiny spin lock over one 32-bit word (0 = free), for per-node locks in index builders. */
static inline void osp_spin_lock(uint32_t *word) {
    for (;;) {
        uint32_t expected = 0;
        if (__atomic_compare_exchange_n(word, &expected, 1u, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return;
        while (__atomic_load_n(word, __ATOMIC_RELAXED) != 0) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }
}
static inline void osp_spin_unlock(uint32_t *word) { __atomic_store_n(word, 0u, __ATOMIC_RELEASE); }
/* Atomic fetch-add on a 64-bit counter (relaxed). */
static inline uint64_t osp_atomic_fetch_add(uint64_t *word, uint64_t v) {
    return __atomic_fetch_add(word, v, __ATOMIC_RELAXED);
}
static inline uint32_t osp_atomic_load_u32(const uint32_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }
static inline void osp_atomic_store_u32(uint32_t *word, uint32_t v) { __atomic_store_n(word, v, __ATOMIC_RELEASE); }

#ifdef __cplusplus
}
#endif
#endif
