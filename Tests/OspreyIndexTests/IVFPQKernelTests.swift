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
}
