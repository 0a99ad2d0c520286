/* Shared declarations between the serial and Haswell kernel files and the dispatcher. */
#ifndef OSPREY_KERNELS_INTERNAL_H
#define OSPREY_KERNELS_INTERNAL_H
#include "include/osprey_kernels.h"

/* Serial (portable) kernels, indexed [type][metric]; NULL where unsupported. */
extern const osp_pair_fn osp_serial_pair[5][5];
extern const osp_many_fn osp_serial_many[5][5];
/* The gathered form from a pair kernel, one vector at a time. */
void osp_gather_with(osp_pair_fn pair, const void *q, const void *base, const uint32_t *ids, size_t count,
                     size_t stride, size_t dim, float *out);
extern const osp_gather_fn osp_serial_gather[5][5];
void osp_sq8_l2_serial(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0, float *out);
void osp_sq8_ip_serial(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0, float *out);
void osp_pq_tables_serial(const float *x, const float *codebook_t, size_t m, size_t dsub, float scale, const float *bias,
                          float *out);
void osp_pq_encode_serial(const float *x, const float *codebook_t, const float *cnorms, size_t m, size_t dsub, uint8_t *code);
void osp_pq_scan_serial(const float *lut, const uint8_t *codes, const float *bias, float base, size_t nblocks, size_t m,
                        float *out);
void osp_pq_search_serial(const osp_pq_query *q, const uint8_t *codes, const float *bias, const uint32_t *ids, size_t count,
                          float base, float slack, const uint64_t *allowed, osp_pq_heap *heap);
void osp_panel_l2_serial(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_panel_ip_serial(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_panel_l2_f16_serial(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_panel_ip_f16_serial(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_gemm_serial(const float *q, size_t nq, const float *b, size_t nb, size_t dim, float *out, size_t ldo);

#if defined(__x86_64__)
#define OSP_HAVE_HASWELL 1
extern const osp_pair_fn osp_haswell_pair[5][5];
extern const osp_many_fn osp_haswell_many[5][5];
extern const osp_gather_fn osp_haswell_gather[5][5];
void osp_sq8_l2_haswell(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0, float *out);
void osp_sq8_ip_haswell(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0, float *out);
void osp_sq8_l2_skylake(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0, float *out);
void osp_sq8_ip_skylake(const float *q, const uint8_t *codes, size_t count, size_t dim, const float *scale, float c0, float *out);
void osp_panel_l2_haswell(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_panel_ip_haswell(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_panel_l2_f16_haswell(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_panel_ip_f16_haswell(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_panel_l2_skylake(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_panel_ip_skylake(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_panel_l2_f16_skylake(const float *q, const void *panels, size_t count, size_t dim, float *out);
void osp_panel_ip_f16_skylake(const float *q, const void *panels, size_t count, size_t dim, float *out);
extern const osp_pair_fn osp_skylake_pair[5][5];
extern const osp_many_fn osp_skylake_many[5][5];
extern const osp_gather_fn osp_skylake_gather[5][5];
void osp_pq_tables_haswell(const float *x, const float *codebook_t, size_t m, size_t dsub, float scale, const float *bias,
                           float *out);
void osp_pq_encode_haswell(const float *x, const float *codebook_t, const float *cnorms, size_t m, size_t dsub, uint8_t *code);
void osp_pq_scan_haswell(const float *lut, const uint8_t *codes, const float *bias, float base, size_t nblocks, size_t m,
                         float *out);
void osp_pq_search_haswell(const osp_pq_query *q, const uint8_t *codes, const float *bias, const uint32_t *ids, size_t count,
                           float base, float slack, const uint64_t *allowed, osp_pq_heap *heap);
void osp_pq_tables_skylake(const float *x, const float *codebook_t, size_t m, size_t dsub, float scale, const float *bias,
                           float *out);
void osp_pq_scan_skylake(const float *lut, const uint8_t *codes, const float *bias, float base, size_t nblocks, size_t m,
                         float *out);
void osp_pq_search_skylake(const osp_pq_query *q, const uint8_t *codes, const float *bias, const uint32_t *ids, size_t count,
                           float base, float slack, const uint64_t *allowed, osp_pq_heap *heap);
void osp_pq_search_vbmi(const osp_pq_query *q, const uint8_t *codes, const float *bias, const uint32_t *ids, size_t count,
                        float base, float slack, const uint64_t *allowed, osp_pq_heap *heap);
void osp_pq_quantize_vbmi(const float *lut, size_t m, uint8_t *qlut, float *delta, float *offset, float *magnitude);
void osp_gemm_haswell(const float *q, size_t nq, const float *b, size_t nb, size_t dim, float *out, size_t ldo);
#else
#define OSP_HAVE_HASWELL 0
#endif
#endif
