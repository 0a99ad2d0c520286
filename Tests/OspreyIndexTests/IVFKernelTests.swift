import COspreyKernels
import OspreyCore
import OspreyIndex
import OspreyTestSupport
import Testing

/// Dimensions the IVF kernels are checked at: every tail up to 64 and the sizes models use.
let ivfKernelDims: [Int] = Array(1...64) + [127, 128, 129, 512, 768]

@Suite("IVF kernels: SQ8 levels, panels, top-k selection")
struct IVFKernelTests {
    @Test("the AVX-512 SQ8 kernels give the AVX2 kernels' distances bit for bit", arguments: [Metric.l2, .ip])
    func sq8SkylakeMatchesHaswell(metric: Metric) {
        guard KernelISA.available.contains(.skylake) else {
            print("no AVX-512 on this CPU: nothing to compare")
            return
        }
        let cMetric = Int32(metric == .l2 ? OSP_METRIC_L2 : OSP_METRIC_IP)
        let haswell = osp_sq8_select(cMetric, KernelISA.haswell.rawValue)!
        let skylake = osp_sq8_select(cMetric, KernelISA.skylake.rawValue)!
        let seed: UInt64 = 0x5E08
        print("SQ8 level test \(metric) seed \(seed)")
        var rng = VectorRNG(seed: seed)
        for dim in ivfKernelDims + [1536] {
            let scale = (0..<dim).map { _ in rng.unit() / 40 }
            let prep = (0..<dim).map { _ in rng.gaussian() }
            let c0 = rng.gaussian()
            // Five codes: the kernel's two-at-a-time loop and its single-code tail.
            let count = 5
            let codes = (0..<(count * dim)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var a = [Float](repeating: .nan, count: count), b = [Float](repeating: .nan, count: count)
            haswell(prep, codes, count, dim, scale, c0, &a)
            skylake(prep, codes, count, dim, scale, c0, &b)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(metric) dim \(dim): \(a) vs \(b)")
            // One code at a time gives the same values as the batch.
            for j in 0..<count {
                var one: Float = .nan
                codes.withUnsafeBufferPointer { skylake(prep, $0.baseAddress! + j * dim, 1, dim, scale, c0, &one) }
                #expect(one.bitPattern == b[j].bitPattern, "\(metric) dim \(dim) code \(j) alone")
            }
        }
    }

    @Test("prefetching list scans give the pair kernel's distances bit for bit", arguments: [Metric.l2, .ip, .cosine])
    func scanPairs(metric: Metric) {
        let seed: UInt64 = 0x5CA7
        print("scan test \(metric) seed \(seed)")
        var rng = VectorRNG(seed: seed)
        let cMetric = Int32(metric == .l2 ? OSP_METRIC_L2 : metric == .ip ? OSP_METRIC_IP : OSP_METRIC_COSINE)
        for isa in KernelISA.available {
            var k = osp_kernel()
            #expect(osp_kernel_select(Int32(OSP_TYPE_F32), cMetric, isa.rawValue, &k) == 0)
            for dim in ivfKernelDims + [1536] {
                // Enough rows that the prefetch runs ahead of the scan and stops at the end.
                let count = 3 + 9000 / dim
                let base = (0..<(count * dim)).map { _ in rng.gaussian() }, q = (0..<dim).map { _ in rng.gaussian() }
                var many = [Float](repeating: .nan, count: count), scanned = [Float](repeating: .nan, count: count)
                k.many(q, base, count, dim, &many)
                osp_scan_pairs(k.pair, q, base, count, dim, dim * 4, &scanned)
                #expect(many.map(\.bitPattern) == scanned.map(\.bitPattern), "\(metric) \(isa) dim \(dim)")
            }
        }
    }

    @Test("panel kernels match a double-precision reference at every level, float32 and half panels",
          arguments: [(Metric.l2, false), (.ip, false), (.l2, true), (.ip, true)])
    func panels(metric: Metric, half: Bool) {
        let seed: UInt64 = 0x9A7E1 + (metric == .l2 ? 0 : 1) + (half ? 2 : 0)
        print("panel kernel test \(metric) half \(half) seed \(seed)")
        var rng = VectorRNG(seed: seed)
        let cMetric = Int32(metric == .l2 ? OSP_METRIC_L2 : OSP_METRIC_IP)
        for dim in ivfKernelDims {
            // Counts around panel (16) and block (4 and 8 panels) boundaries.
            for count in [1, 15, 16, 17, 70, 129, 200] where dim <= 129 || count == 129 {
                let rows = (0..<(count * dim)).map { _ in rng.gaussian() }
                let q = (0..<dim).map { _ in rng.gaussian() }
                let padded = (count + 15) / 16 * 16 * dim
                let panels = UnsafeMutableRawPointer.allocate(byteCount: padded * (half ? 2 : 4), alignment: 64)
                defer { panels.deallocate() }
                osp_panel_pack(rows, count, dim, half ? 1 : 0, panels)
                // The values the panels hold (rounded to half precision when half).
                func element(_ j: Int, _ i: Int) -> Double {
                    let at = ((j / 16) * dim + i) * 16 + j % 16
                    return half ? Double(osp_f16_to_f32(panels.load(fromByteOffset: at * 2, as: UInt16.self)))
                        : Double(panels.load(fromByteOffset: at * 4, as: Float.self))
                }
                for j in [0, count / 2, count - 1] {
                    for i in [0, dim - 1] {
                        let v = Double(rows[j * dim + i])
                        #expect(half ? abs(element(j, i) - v) <= abs(v) / 1024 + 1e-7 : element(j, i) == v, "packing")
                    }
                }
                for isa in KernelISA.available {
                    let fn = osp_panel_select(cMetric, half ? 1 : 0, isa.rawValue)!
                    // One sentinel past the end: a kernel must write exactly `count` values.
                    var out = [Float](repeating: .nan, count: count + 1)
                    out[count] = 12345
                    fn(q, panels, count, dim, &out)
                    #expect(out[count] == 12345, "\(isa) wrote past count \(count)")
                    for j in 0..<count {
                        var ref = 0.0, mag = 0.0
                        for i in 0..<dim {
                            let c = element(j, i), x = Double(q[i])
                            let t = metric == .l2 ? (x - c) * (x - c) : -x * c
                            ref += t
                            mag += abs(t)
                        }
                        // float32 sums of dim terms: within (dim + 2)·2⁻²⁴ of the magnitudes summed.
                        let tolerance = Double(dim + 2) * 0x1p-24 * mag + 1e-6
                        #expect(abs(Double(out[j]) - ref) <= tolerance, "\(metric) half \(half) \(isa) dim \(dim) count \(count) row \(j)")
                    }
                }
            }
        }
    }

    @Test("bounded top-k selection keeps what TopK keeps, with masks of both polarities")
    func topK() {
        let seed: UInt64 = 0x70BC
        print("top-k test seed \(seed)")
        var rng = VectorRNG(seed: seed)
        for trial in 0..<300 {
            let count = 1 + Int(rng.next() % 300)
            let k = 1 + Int(rng.next() % 40)
            // Few distinct values, so that ties are common; a few infinities and NaNs.
            var dist = (0..<count).map { _ in Float(rng.next() % 20) / 4 }
            for _ in 0..<(count / 25) {
                let at = Int(rng.next() % UInt64(count))
                dist[at] = [Float.infinity, -.infinity, .nan][Int(rng.next() % 3)]
            }
            let ids = (0..<count).map { _ in UInt32(rng.next() % 1000) }.enumerated().map { UInt32($0.offset * 1000) + $0.element }
                .shuffled(using: &rng)
            var bits = Bitset(count: 300_000)
            for id in ids where rng.next() % 3 != 0 { bits.set(Int(id)) }
            for polarity in [nil, true, false] as [Bool?] {
                // Reference: TopK behind the `d < worstDistance` guard, in offer order.
                var top = TopK(k: k)
                for j in 0..<count {
                    if let polarity, bits.contains(Int(ids[j])) != polarity { continue }
                    if dist[j] < top.worstDistance { top.push(distance: dist[j], row: RowID(ids[j])) }
                }
                let want = top.sortedResults()
                var hd = [Float](repeating: 0, count: k), hi = [UInt32](repeating: 0, count: k)
                let got: [Neighbor] = hd.withUnsafeMutableBufferPointer { hdp in
                    hi.withUnsafeMutableBufferPointer { hip in
                        var heap = osp_topk(dist: hdp.baseAddress!, ids: hip.baseAddress!, count: 0, k: k)
                        bits.withUnsafeWords { words in
                            // Offered in uneven blocks, as list scans do.
                            var start = 0
                            while start < count {
                                let n = Swift.min(count - start, 1 + (start * 7 + trial) % 37)
                                dist.withUnsafeBufferPointer { d in
                                    ids.withUnsafeBufferPointer { i in
                                        osp_topk_offer(&heap, d.baseAddress! + start, i.baseAddress! + start, 0, n,
                                                       polarity == nil ? nil : words.baseAddress, polarity == true ? 1 : 0)
                                    }
                                }
                                start += n
                            }
                        }
                        osp_topk_sort(&heap)
                        return (0..<heap.count).map { Neighbor(distance: hdp[$0], row: RowID(hip[$0])) }
                    }
                }
                #expect(got == want, "trial \(trial) k \(k) count \(count) mask \(String(describing: polarity))")
            }
        }
    }

    @Test("ids counted from `first` when none are given, and selection of values at most a bound")
    func implicitIDsAndBound() {
        let values: [Float] = [5, 1, 3, 1, 9, 0, 3, .nan, 2]
        var hd = [Float](repeating: 0, count: 3), hi = [UInt32](repeating: 0, count: 3)
        hd.withUnsafeMutableBufferPointer { d in
            hi.withUnsafeMutableBufferPointer { i in
                var heap = osp_topk(dist: d.baseAddress!, ids: i.baseAddress!, count: 0, k: 3)
                osp_topk_offer(&heap, values, nil, 100, values.count, nil, 0)
                osp_topk_sort(&heap)
                #expect(heap.count == 3)
            }
        }
        #expect(hd == [0, 1, 1])
        #expect(hi == [105, 101, 103])
        var out = [UInt32](repeating: 0, count: values.count)
        let m = osp_select_at_most(values, values.count, 3, &out)
        #expect(Array(out[0..<m]) == [1, 2, 3, 5, 6, 8])
    }
}
