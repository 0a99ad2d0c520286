import COspreyKernels
import OspreyCore
import OspreyIndex
import OspreyTestSupport
import Testing

/// Dimensions every kernel is checked at: all tails up to 64, and the sizes real models use.
let kernelDims: [Int] = Array(1...64) + [127, 128, 129, 512, 768, 1536]

/// Vector types with the metrics that apply to them.
let kernelCases: [(DataType, Metric)] = [
    (.floatVector, .l2), (.floatVector, .ip), (.floatVector, .cosine),
    (.float16Vector, .l2), (.float16Vector, .ip), (.float16Vector, .cosine),
    (.bfloat16Vector, .l2), (.bfloat16Vector, .ip), (.bfloat16Vector, .cosine),
    (.int8Vector, .l2), (.int8Vector, .ip), (.int8Vector, .cosine),
    (.binaryVector, .hamming), (.binaryVector, .jaccard),
]

/// Random vectors of a type, as raw bytes, plus their float values for the reference.
struct KernelSample {
    var bytes: [UInt8]
    var values: [Double]
}

func makeSample(type: DataType, dim: Int, rng: inout VectorRNG) -> KernelSample {
    var bytes = [UInt8](repeating: 0, count: type.vectorBytes(dim: dim))
    var values = [Double](repeating: 0, count: dim)
    switch type {
    case .floatVector:
        for i in 0..<dim {
            let f = rng.gaussian()
            values[i] = Double(f)
            withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.replaceSubrange(i * 4..<i * 4 + 4, with: $0) }
        }
    case .float16Vector, .bfloat16Vector:
        for i in 0..<dim {
            let f = rng.gaussian()
            let h = type == .float16Vector ? osp_f32_to_f16(f) : osp_f32_to_bf16(f)
            values[i] = Double(type == .float16Vector ? osp_f16_to_f32(h) : osp_bf16_to_f32(h))
            bytes[i * 2] = UInt8(h & 0xFF)
            bytes[i * 2 + 1] = UInt8(h >> 8)
        }
    case .int8Vector:
        for i in 0..<dim {
            let v = Int8(truncatingIfNeeded: rng.next())
            values[i] = Double(v)
            bytes[i] = UInt8(bitPattern: v)
        }
    case .binaryVector:
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
    default:
        break
    }
    return KernelSample(bytes: bytes, values: values)
}

/// The reference distance in double precision, with a tolerance scaled to the magnitudes summed.
func referenceDistance(_ a: KernelSample, _ b: KernelSample, metric: Metric, dim: Int) -> (value: Double, tolerance: Double) {
    switch metric {
    case .hamming, .jaccard:
        var inter = 0, uni = 0, diff = 0
        for (x, y) in zip(a.bytes, b.bytes) {
            inter += (x & y).nonzeroBitCount; uni += (x | y).nonzeroBitCount; diff += (x ^ y).nonzeroBitCount
        }
        if metric == .hamming { return (Double(diff), 0) }
        return (uni == 0 ? 0 : 1 - Double(inter) / Double(uni), 1e-6)
    default:
        var dot = 0.0, na = 0.0, nb = 0.0, l2 = 0.0, mag = 0.0
        for i in 0..<dim {
            let x = a.values[i], y = b.values[i]
            dot += x * y; na += x * x; nb += y * y; l2 += (x - y) * (x - y); mag += abs(x * y) + x * x + y * y
        }
        // float32 accumulation over at most dim terms: relative error well under 1e-5 of the magnitude.
        let tol = 1e-5 * mag + 1e-6
        switch metric {
        case .l2: return (l2, tol)
        case .ip: return (-dot, tol)
        default: return (na == 0 || nb == 0 ? 0 : -dot / (na * nb).squareRoot(), 1e-5)
        }
    }
}

@Suite("Distance kernels")
struct KernelTests {
    @Test("every kernel matches the plain reference at every dimension", arguments: kernelCases.indices)
    func matchesReference(caseIndex: Int) throws {
        let (type, metric) = kernelCases[caseIndex]
        let seed: UInt64 = 0xC0FFEE + UInt64(caseIndex)
        print("kernel reference test \(type) \(metric) seed \(seed)")
        var rng = VectorRNG(seed: seed)
        for isa in KernelISA.available {
            for baseDim in kernelDims {
                let dim = type == .binaryVector ? baseDim * 8 : baseDim
                let kernel = try VectorDistance(metric: metric, type: type, dim: dim, isa: isa)
                #expect(kernel.isa == isa)
                let count = 5
                let query = makeSample(type: type, dim: dim, rng: &rng)
                let base = (0..<count).map { _ in makeSample(type: type, dim: dim, rng: &rng) }
                let flat = base.flatMap(\.bytes)
                var many = [Float](repeating: .nan, count: count)
                query.bytes.withUnsafeBytes { q in
                    flat.withUnsafeBytes { b in
                        many.withUnsafeMutableBufferPointer { out in
                            kernel.distances(query: q.baseAddress!, base: b.baseAddress!, count: count, into: out.baseAddress!)
                        }
                    }
                }
                // The gathered form, over rows 4, 0, 2, 1, 3 of a strided layout (record = vector + 12 bytes).
                let stride = kernel.vectorBytes + 12
                var records = [UInt8](repeating: 0xEE, count: stride * count)
                for j in 0..<count { records.replaceSubrange((j * stride)..<(j * stride + kernel.vectorBytes), with: base[j].bytes) }
                let ids: [UInt32] = [4, 0, 2, 1, 3]
                var gathered = [Float](repeating: .nan, count: count)
                query.bytes.withUnsafeBytes { q in
                    records.withUnsafeBytes { r in
                        gathered.withUnsafeMutableBufferPointer { out in
                            kernel.distances(query: q.baseAddress!, base: r.baseAddress!, ids: ids, count: count, stride: stride,
                                             into: out.baseAddress!)
                        }
                    }
                }
                for (slot, id) in ids.enumerated() {
                    let ref = referenceDistance(query, base[Int(id)], metric: metric, dim: dim)
                    #expect(abs(Double(gathered[slot]) - ref.value) <= ref.tolerance, "\(type) \(metric) \(isa) dim \(dim): gathered")
                }
                for j in 0..<count {
                    let ref = referenceDistance(query, base[j], metric: metric, dim: dim)
                    let one = query.bytes.withUnsafeBytes { q in
                        base[j].bytes.withUnsafeBytes { b in kernel.distance(q.baseAddress!, b.baseAddress!) }
                    }
                    #expect(abs(Double(one) - ref.value) <= ref.tolerance, "\(type) \(metric) \(isa) dim \(dim): \(one) vs \(ref.value)")
                    #expect(one == many[j], "\(type) \(metric) \(isa) dim \(dim): pair and many forms differ")
                }
            }
        }
    }

    @Test("cosine of a zero vector is 0, and identical vectors are at distance 0 or -1")
    func edgeCases() throws {
        for isa in KernelISA.available {
            let k = try VectorDistance(metric: .cosine, type: .floatVector, dim: 19, isa: isa)
            let zero = [Float](repeating: 0, count: 19)
            let v = (0..<19).map { Float($0) - 4 }
            let dz = zero.withUnsafeBytes { z in v.withUnsafeBytes { k.distance(z.baseAddress!, $0.baseAddress!) } }
            #expect(dz == 0)
            let dv = v.withUnsafeBytes { a in k.distance(a.baseAddress!, a.baseAddress!) }
            #expect(abs(dv + 1) < 1e-6)
            let j = try VectorDistance(metric: .jaccard, type: .binaryVector, dim: 64, isa: isa)
            let empty = [UInt8](repeating: 0, count: 8)
            #expect(empty.withUnsafeBytes { j.distance($0.baseAddress!, $0.baseAddress!) } == 0)
        }
    }

    @Test("bad metric, type and dimension combinations are caller errors")
    func rejectsBadCombinations() {
        #expect(throws: IndexError.metricNotSupported(metric: "HAMMING", type: .floatVector)) {
            try VectorDistance(metric: .hamming, type: .floatVector, dim: 8)
        }
        #expect(throws: IndexError.self) { try VectorDistance(metric: .l2, type: .binaryVector, dim: 8) }
        #expect(throws: IndexError.self) { try VectorDistance(metric: .l2, type: .floatVector, dim: 0) }
        #expect(throws: IndexError.self) { try VectorDistance(metric: .hamming, type: .binaryVector, dim: 12) }
        #expect(throws: IndexError.self) { try VectorDistance(metric: .l2, type: .int64, dim: 8) }
        do {
            _ = try VectorDistance(metric: .jaccard, type: .int8Vector, dim: 8)
        } catch {
            #expect(error.isCallerFault)
            #expect(error.description.contains("JACCARD"))
        }
    }

    @Test("half-precision conversions round-trip representable values")
    func halfConversions() {
        for h in stride(from: 0, through: 0xFFFF, by: 1) where (h & 0x7C00) != 0x7C00 {
            let f = osp_f16_to_f32(UInt16(h))
            #expect(osp_f32_to_f16(f) == UInt16(h) || f == 0)
        }
        #expect(osp_f32_to_bf16(1.0) == 0x3F80)
        #expect(osp_bf16_to_f32(0xC000) == -2)
        #expect(osp_f32_to_f16(65520) == 0x7C00)
    }

    @Test("the blocked many-against-many form matches one query at a time",
          arguments: [(DataType.floatVector, Metric.l2), (.floatVector, .ip), (.floatVector, .cosine),
                      (.float16Vector, .l2), (.int8Vector, .ip), (.binaryVector, .hamming)])
    func blockedMatchesSingle(type: DataType, metric: Metric) throws {
        let seed: UInt64 = 77
        print("blocked kernel test \(type) \(metric) seed \(seed)")
        var rng = VectorRNG(seed: seed)
        for dim in [3, 8, 17, 64, 129] {
            let d = type == .binaryVector ? dim * 8 : dim
            let kernel = try VectorDistance(metric: metric, type: type, dim: d)
            let nq = 7, nb = 23
            let q = (0..<nq).flatMap { _ in makeSample(type: type, dim: d, rng: &rng).bytes }
            let b = (0..<nb).flatMap { _ in makeSample(type: type, dim: d, rng: &rng).bytes }
            var block = [Float](repeating: .nan, count: nq * nb)
            var single = [Float](repeating: .nan, count: nq * nb)
            q.withUnsafeBytes { qp in
                b.withUnsafeBytes { bp in
                    block.withUnsafeMutableBufferPointer { out in
                        kernel.distances(queries: qp.baseAddress!, queryCount: nq, base: bp.baseAddress!, count: nb,
                                         into: out.baseAddress!)
                    }
                    for i in 0..<nq {
                        single.withUnsafeMutableBufferPointer { out in
                            kernel.distances(query: qp.baseAddress! + i * kernel.vectorBytes, base: bp.baseAddress!,
                                             count: nb, into: out.baseAddress! + i * nb)
                        }
                    }
                }
            }
            for i in 0..<(nq * nb) {
                #expect(abs(block[i] - single[i]) <= 1e-3 * Swift.max(1, abs(single[i])), "dim \(d) at \(i)")
            }
        }
    }
}

@Suite("SQ8 kernels")
struct SQ8KernelTests {
    @Test("SQ8 L2 and IP match decoding then computing", arguments: [Metric.l2, .ip])
    func matches(metric: Metric) {
        var rng = VectorRNG(seed: 41)
        for isa in KernelISA.available {
            let fn = osp_sq8_select(Int32(metric == .l2 ? OSP_METRIC_L2 : OSP_METRIC_IP), isa.rawValue)!
            for dim in kernelDims {
                let vmin = (0..<dim).map { _ in rng.gaussian() }, scale = (0..<dim).map { _ in rng.unit() / 50 }
                let q = (0..<dim).map { _ in rng.gaussian() }
                let codes = (0..<(3 * dim)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let prep: [Float] = metric == .l2 ? (0..<dim).map { q[$0] - vmin[$0] } : (0..<dim).map { q[$0] * scale[$0] }
                let c0: Float = metric == .l2 ? 0 : (0..<dim).reduce(0) { $0 + q[$1] * vmin[$1] }
                var out = [Float](repeating: .nan, count: 3)
                fn(prep, codes, 3, dim, scale, c0, &out)
                for j in 0..<3 {
                    var ref = 0.0, mag = 0.0
                    for i in 0..<dim {
                        let x = Double(vmin[i]) + Double(scale[i]) * Double(codes[j * dim + i])
                        let t = metric == .l2 ? (Double(q[i]) - x) * (Double(q[i]) - x) : -Double(q[i]) * x
                        ref += t; mag += abs(t) + abs(Double(q[i]) * Double(vmin[i]))
                    }
                    #expect(abs(Double(out[j]) - ref) <= 1e-4 * mag + 1e-4, "\(metric) \(isa) dim \(dim)")
                }
            }
        }
    }
}
