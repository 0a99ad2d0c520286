/* Runtime CPU detection and kernel selection: done once per VectorDistance, then plain calls. */
#include "kernels_internal.h"

int osp_cpu_best_isa(void) {
#if OSP_HAVE_HASWELL
    static int cached = -2;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v != -2) return v;
    __builtin_cpu_init();
    v = (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c") && __builtin_cpu_supports("popcnt"))
            ? OSP_ISA_HASWELL
            : OSP_ISA_SERIAL;
    if (v == OSP_ISA_HASWELL && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        v = OSP_ISA_SKYLAKE;
    __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    return v;
#else
    return OSP_ISA_SERIAL;
#endif
}

int osp_kernel_select(int type, int metric, int isa, osp_kernel *out) {
    if (type < 0 || type > 4 || metric < 0 || metric > 4 || out == NULL) return -1;
    int best = osp_cpu_best_isa();
    if (isa == OSP_ISA_BEST) isa = best;
    if (isa > best || isa < OSP_ISA_SERIAL) return -1;
#if OSP_HAVE_HASWELL
    if (isa == OSP_ISA_SKYLAKE) {
        if (osp_haswell_pair[type][metric] == NULL) return -1;
        int fast = osp_skylake_pair[type][metric] != NULL;
        out->pair = fast ? osp_skylake_pair[type][metric] : osp_haswell_pair[type][metric];
        out->many = fast ? osp_skylake_many[type][metric] : osp_haswell_many[type][metric];
        out->gather = fast ? osp_skylake_gather[type][metric] : osp_haswell_gather[type][metric];
        out->isa = isa;
        return 0;
    }
    if (isa == OSP_ISA_HASWELL) {
        if (osp_haswell_pair[type][metric] == NULL) return -1;
        out->pair = osp_haswell_pair[type][metric];
        out->many = osp_haswell_many[type][metric];
        out->gather = osp_haswell_gather[type][metric];
        out->isa = isa;
        return 0;
    }
#endif
    if (osp_serial_pair[type][metric] == NULL) return -1;
    out->pair = osp_serial_pair[type][metric];
    out->many = osp_serial_many[type][metric];
    out->gather = osp_serial_gather[type][metric];
    out->isa = OSP_ISA_SERIAL;
    return 0;
}

osp_gemm_fn osp_gemm_select(int isa) {
    if (isa == OSP_ISA_BEST) isa = osp_cpu_best_isa();
#if OSP_HAVE_HASWELL
    if (isa >= OSP_ISA_HASWELL && osp_cpu_best_isa() >= OSP_ISA_HASWELL) return osp_gemm_haswell;
#endif
    return osp_gemm_serial;
}

osp_sq8_fn osp_sq8_select(int metric, int isa) {
    if (metric != OSP_METRIC_L2 && metric != OSP_METRIC_IP) return NULL;
    int best = osp_cpu_best_isa();
    if (isa == OSP_ISA_BEST || isa > best) isa = best;
#if OSP_HAVE_HASWELL
    if (isa >= OSP_ISA_SKYLAKE) return metric == OSP_METRIC_L2 ? osp_sq8_l2_skylake : osp_sq8_ip_skylake;
    if (isa >= OSP_ISA_HASWELL) return metric == OSP_METRIC_L2 ? osp_sq8_l2_haswell : osp_sq8_ip_haswell;
#endif
    return metric == OSP_METRIC_L2 ? osp_sq8_l2_serial : osp_sq8_ip_serial;
}

osp_panel_fn osp_panel_select(int metric, int half, int isa) {
    if (metric != OSP_METRIC_L2 && metric != OSP_METRIC_IP) return NULL;
    int ip = metric == OSP_METRIC_IP;
    int best = osp_cpu_best_isa();
    if (isa == OSP_ISA_BEST || isa > best) isa = best;
#if OSP_HAVE_HASWELL
    if (isa >= OSP_ISA_SKYLAKE)
        return half ? (ip ? osp_panel_ip_f16_skylake : osp_panel_l2_f16_skylake) : (ip ? osp_panel_ip_skylake : osp_panel_l2_skylake);
    if (isa >= OSP_ISA_HASWELL)
        return half ? (ip ? osp_panel_ip_f16_haswell : osp_panel_l2_f16_haswell) : (ip ? osp_panel_ip_haswell : osp_panel_l2_haswell);
#endif
    return half ? (ip ? osp_panel_ip_f16_serial : osp_panel_l2_f16_serial) : (ip ? osp_panel_ip_serial : osp_panel_l2_serial);
}

int osp_pq_best_isa(void) {
    int best = osp_cpu_best_isa();
#if OSP_HAVE_HASWELL
    static int vbmi = -1;
    int v = __atomic_load_n(&vbmi, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512vbmi") ? 1 : 0;
        __atomic_store_n(&vbmi, v, __ATOMIC_RELAXED);
    }
    if (best >= OSP_ISA_SKYLAKE && v) return OSP_PQ_ISA_VBMI;
#endif
    return best;
}

int osp_pq_select(int isa, osp_pq_kernels *out) {
    if (out == NULL) return -1;
    int best = osp_pq_best_isa();
    if (isa == OSP_ISA_BEST) isa = best;
    if (isa > best || isa < OSP_ISA_SERIAL) return -1;
    out->tables = osp_pq_tables_serial;
    out->encode = osp_pq_encode_serial;
    out->scan = osp_pq_scan_serial;
    out->search = osp_pq_search_serial;
    out->quantized = 0;
    out->quantize = osp_pq_quantize;
    out->isa = OSP_ISA_SERIAL;
#if OSP_HAVE_HASWELL
    if (isa >= OSP_ISA_HASWELL) {
        out->tables = osp_pq_tables_haswell;
        out->encode = osp_pq_encode_haswell;
        out->scan = osp_pq_scan_haswell;
        out->search = osp_pq_search_haswell;
        out->isa = OSP_ISA_HASWELL;
    }
    if (isa >= OSP_ISA_SKYLAKE) {
        out->tables = osp_pq_tables_skylake;
        out->scan = osp_pq_scan_skylake;
        out->search = osp_pq_search_skylake;
        out->isa = OSP_ISA_SKYLAKE;
    }
    if (isa >= OSP_PQ_ISA_VBMI) {
        out->search = osp_pq_search_vbmi;
        out->quantized = 1;
        out->quantize = osp_pq_quantize_vbmi;
        out->isa = OSP_PQ_ISA_VBMI;
    }
#endif
    return 0;
}
