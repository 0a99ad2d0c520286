import COspreyKernels
import OspreyCore
import OspreyIndex
import OspreyTestSupport
import Testing

/// Sub-quantizer shapes the PQ kernels are checked at: every `m` from 1 to 16 and the sizes real
/// indexes use, each with sub-vector widths from 1 to 16 (tails of the 8-wide loops matter).
let pqShapes: [(m: Int, dsub: Int)] = {
    var s: [(Int, Int)] = []
    for m in Array(1...16) + [32, 64, 96] {
        for dsub in [1, 2, 3, 4, 5, 8, 12, 16] where m * dsub <= 1536 { s.append((m, dsub)) }
    }
    return s
}()

/// PQ kernel levels this CPU runs: the distance kernels' levels, plus VBMI where available.
let pqLevels: [Int32] = [Int32(OSP_ISA_SERIAL), Int32(OSP_ISA_HASWELL), Int32(OSP_ISA_SKYLAKE), Int32(OSP_PQ_ISA_VBMI)]
    .filter { $0 <= osp_pq_best_isa() }

/// A random transposed codebook (`(j·dsub + d)·256 + c`).
func randomCodebook(m: Int, dsub: Int, rng: inout VectorRNG) -> [Float] {
    (0..<(m * dsub * 256)).map { _ in rng.gaussian() }
}

@Suite("PQ kernels")
struct IVFPQKernelTests {
    @Test("distance tables match a double-precision reference at every ISA level")
    func tables() {
        let seed: UInt64 = 0x9151
        print("PQ tables seed \(seed)")
        var rng = VectorRNG(seed: seed)
        for isa in KernelISA.available {
            var k = osp_pq_kernels()
            #expect(osp_pq_select(isa.rawValue, &k) == 0)
            for (m, dsub) in pqShapes {
                let cb = randomCodebook(m: m, dsub: dsub, rng: &rng)
                let x = (0..<(m * dsub)).map { _ in rng.gaussian() }
                let bias = (0..<(m * 256)).map { _ in rng.gaussian() }
                for useBias in [false, true] {
                    var out = [Float](repeating: .nan, count: m * 256)
                    bias.withUnsafeBufferPointer { b in k.tables(x, cb, m, dsub, -2, useBias ? b.baseAddress : nil, &out) }
                    var worst = 0.0
                    for j in 0..<m {
                        for c in 0..<256 {
                            var dot = 0.0, mag = 0.0
                            for d in 0..<dsub {
                                let p = Double(x[j * dsub + d]) * Double(cb[(j * dsub + d) * 256 + c])
                                dot += p; mag += abs(p)
                            }
                            let ref = (useBias ? Double(bias[j * 256 + c]) : 0) - 2 * dot
                            worst = Swift.max(worst, abs(Double(out[j * 256 + c]) - ref) - 1e-5 * (2 * mag + 1))
                        }
                    }
                    #expect(worst <= 0, "tables \(isa) m \(m) dsub \(dsub) bias \(useBias)")
                }
            }
        }
    }

    @Test("encoding picks a nearest centroid of every sub-vector at every ISA level")
    func encode() {
        let seed: UInt64 = 0x9152
        print("PQ encode seed \(seed)")
        var rng = VectorRNG(seed: seed)
        for isa in KernelISA.available {
            var k = osp_pq_kernels()
            #expect(osp_pq_select(isa.rawValue, &k) == 0)
            for (m, dsub) in pqShapes {
                let cb = randomCodebook(m: m, dsub: dsub, rng: &rng)
                var norms = [Float](repeating: 0, count: m * 256)
                for j in 0..<m { for d in 0..<dsub { for c in 0..<256 { norms[j * 256 + c] += cb[(j * dsub + d) * 256 + c] * cb[(j * dsub + d) * 256 + c] } } }
                for _ in 0..<1 {
                    let x = (0..<(m * dsub)).map { _ in rng.gaussian() }
                    var code = [UInt8](repeating: 0, count: m)
                    k.encode(x, cb, norms, m, dsub, &code)
                    for j in 0..<m {
                        func dist(_ c: Int) -> Double {
                            (0..<dsub).reduce(0.0) { s, d in
                                let t = Double(x[j * dsub + d]) - Double(cb[(j * dsub + d) * 256 + c])
                                return s + t * t
                            }
                        }
                        let best = (0..<256).map(dist).min()!
                        // float32 rounding may swap centroids whose distances differ in the last bits only.
                        #expect(dist(Int(code[j])) <= best + 1e-4 * (1 + best), "encode \(isa) m \(m) dsub \(dsub) sub \(j)")
                    }
                }
            }
        }
    }

    @Test("list scans equal the sum of table entries, padded blocks and per-vector terms included")
    func scan() {
        let seed: UInt64 = 0x9153
        print("PQ scan seed \(seed)")
        var rng = VectorRNG(seed: seed)
        let bs = Int(OSP_PQ_BLOCK)
        var serial = osp_pq_kernels()
        #expect(osp_pq_select(Int32(OSP_ISA_SERIAL), &serial) == 0)
        for isa in KernelISA.available {
            var k = osp_pq_kernels()
            #expect(osp_pq_select(isa.rawValue, &k) == 0)
            #expect(Int(k.isa) == Int(isa.rawValue))
            for m in Array(1...17) + [32, 48, 64, 128] {
                for nblocks in 1...5 {
                    let lut = (0..<(m * 256)).map { _ in rng.gaussian() }
                    let codes = (0..<(nblocks * m * bs)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    let bias = (0..<(nblocks * bs)).map { _ in rng.gaussian() }
                    let base = rng.gaussian()
                    for useBias in [false, true] {
                        var out = [Float](repeating: .nan, count: nblocks * bs)
                        var ref = [Float](repeating: .nan, count: nblocks * bs)
                        bias.withUnsafeBufferPointer { b in
                            k.scan(lut, codes, useBias ? b.baseAddress : nil, base, nblocks, m, &out)
                            serial.scan(lut, codes, useBias ? b.baseAddress : nil, base, nblocks, m, &ref)
                        }
                        for i in 0..<(nblocks * bs) {
                            let blk = i / bs, v = i % bs
                            var want = Double(base) + (useBias ? Double(bias[i]) : 0), mag = abs(want)
                            for j in 0..<m {
                                let t = Double(lut[j * 256 + Int(codes[blk * m * bs + j * bs + v])])
                                want += t; mag += abs(t)
                            }
                            #expect(abs(Double(out[i]) - want) <= 1e-5 * mag + 1e-6, "scan \(isa) m \(m) slot \(i)")
                        }
                        // Every level adds the entries in the same order, so the sums agree bit for bit.
                        #expect(out == ref, "scan \(isa) m \(m) blocks \(nblocks) differs from the serial kernel")
                    }
                }
            }
        }
    }

    @Test("quantised tables stay within half a step of the float table")
    func quantize() {
        var rng = VectorRNG(seed: 0x9154)
        for m in [1, 2, 7, 32, 64] {
            let lut = (0..<(m * 256)).map { _ in rng.gaussian() * Float(1 + m % 5) }
            var q = [UInt8](repeating: 0, count: m * 256)
            var delta: Float = 0, offset: Float = 0, magnitude: Float = 0
            osp_pq_quantize(lut, m, &q, &delta, &offset, &magnitude)
            #expect(delta > 0)
            var minSum: Float = 0, mag: Float = 0
            for j in 0..<m {
                let row = lut[(j * 256)..<((j + 1) * 256)]
                let lo = row.min()!
                minSum += lo
                mag += row.map(abs).max()!
                for c in 0..<256 {
                    let back = lo + delta * Float(q[j * 256 + c])
                    #expect(abs(back - lut[j * 256 + c]) <= delta * 0.5001 + 1e-5, "m \(m) sub \(j) entry \(c)")
                }
            }
            #expect(abs(offset - minSum) <= 1e-4 * Float(m))
            #expect(abs(magnitude - mag) <= 1e-4 * Float(m))
            // Every level's quantiser writes the same bytes and sums.
            for level in pqLevels {
                var k = osp_pq_kernels()
                #expect(osp_pq_select(level, &k) == 0)
                var q2 = [UInt8](repeating: 0, count: m * 256)
                var d2: Float = 0, o2: Float = 0, g2: Float = 0
                k.quantize(lut, m, &q2, &d2, &o2, &g2)
                #expect(q2 == q && d2 == delta && o2 == offset && g2 == magnitude, "level \(level) m \(m)")
            }
        }
    }

    @Test("list searches keep the k best allowed vectors by code distance at every level, the quantised one included")
    func search() {
        let seed: UInt64 = 0x9155
        print("PQ search seed \(seed), levels \(pqLevels)")
        var rng = VectorRNG(seed: seed)
        let bs = Int(OSP_PQ_BLOCK)
        var serial = osp_pq_kernels()
        #expect(osp_pq_select(Int32(OSP_ISA_SERIAL), &serial) == 0)
        for m in [1, 3, 8, 16, 32, 64] {
            for count in [1, 15, 31, 32, 33, 64, 65, 100, 200] {
                let nblocks = (count + bs - 1) / bs
                // Tables with a spread like real ones, so that the byte estimate prunes.
                let lut = (0..<(m * 256)).map { _ in rng.gaussian() }
                let codes = (0..<(nblocks * m * bs)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let bias = (0..<(nblocks * bs)).map { _ in rng.gaussian() * 3 }
                let ids = (0..<(nblocks * bs)).map { UInt32(($0 * 7919) % 1000) }
                var allowedBits = Bitset(count: 1000)
                for r in 0..<1000 where r % 3 != 0 { allowedBits.set(r) }
                let base = rng.gaussian()
                var qlut = [UInt8](repeating: 0, count: m * 256)
                var delta: Float = 0, offset: Float = 0, magnitude: Float = 0
                osp_pq_quantize(lut, m, &qlut, &delta, &offset, &magnitude)
                let maxBias = bias.map(abs).max()!
                let slack = 0.51 * Float(m) * delta + Float(m + 8) * 0x1p-22 * (4 * magnitude + maxBias + abs(base))
                var full = [Float](repeating: 0, count: nblocks * bs)
                for useBias in [false, true] {
                    bias.withUnsafeBufferPointer { b in serial.scan(lut, codes, useBias ? b.baseAddress : nil, base, nblocks, m, &full) }
                    for useFilter in [false, true] {
                        for k in [1, 10, 50] {
                            // Reference: the k best (distance, row) of the allowed slots.
                            var want: [Neighbor] = []
                            for i in 0..<count where !useFilter || allowedBits.contains(Int(ids[i])) {
                                want.append(Neighbor(distance: full[i], row: RowID(Int(ids[i]))))
                            }
                            want = Array(want.sorted().prefix(k))
                            for level in pqLevels {
                                var kern = osp_pq_kernels()
                                #expect(osp_pq_select(level, &kern) == 0)
                                var hd = [Float](repeating: 0, count: k), hi = [UInt32](repeating: 0, count: k)
                                let got: [Neighbor] = hd.withUnsafeMutableBufferPointer { dp in
                                    hi.withUnsafeMutableBufferPointer { ip in
                                        var heap = osp_pq_heap(dist: dp.baseAddress, ids: ip.baseAddress, count: 0, k: k)
                                        lut.withUnsafeBufferPointer { l in
                                            qlut.withUnsafeBufferPointer { ql in
                                                var query = osp_pq_query(lut: l.baseAddress, qlut: ql.baseAddress, m: m, delta: delta, offset: offset)
                                                bias.withUnsafeBufferPointer { b in
                                                    allowedBits.withUnsafeWords { w in
                                                        kern.search(&query, codes, useBias ? b.baseAddress : nil, ids, count, base, slack,
                                                                    useFilter ? w.baseAddress : nil, &heap)
                                                    }
                                                }
                                            }
                                        }
                                        return (0..<heap.count).map { Neighbor(distance: dp[$0], row: RowID(Int(ip[$0]))) }.sorted()
                                    }
                                }
                                #expect(got == want, "level \(level) m \(m) count \(count) k \(k) bias \(useBias) filter \(useFilter)")
                            }
                        }
                    }
                }
            }
        }
    }
}
