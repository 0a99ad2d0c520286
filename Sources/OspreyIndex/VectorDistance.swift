import COspreyKernels
import OspreyCore

/// An instruction-set level for distance kernels.
///
/// Thread safety: a value type; safe to share.
package enum KernelISA: Int32, Sendable, CaseIterable, CustomStringConvertible {
    /// Portable C, on every CPU.
    case serial = 0
    /// x86-64 with AVX2, FMA, F16C and POPCNT.
    case haswell = 1
    /// Haswell plus AVX-512 F/BW/DQ/VL (float32 L2 and IP use 512-bit kernels).
    case skylake = 2

    /// The best level the running CPU supports.
    package static var best: KernelISA { KernelISA(rawValue: osp_cpu_best_isa()) ?? .serial }

    /// Levels the running CPU can execute.
    package static var available: [KernelISA] { allCases.filter { $0.rawValue <= best.rawValue } }

    package var description: String {
        switch self {
        case .serial: return "serial"
        case .haswell: return "haswell"
        case .skylake: return "skylake"
        }
    }
}

/// The distance function for one (metric, element type, dimension), chosen once from the CPU.
///
/// Distances follow the internal convention of ``Metric``: smaller is better (L2 → squared
/// Euclidean, IP → −dot, COSINE → −cos on raw vectors with a zero vector giving 0, HAMMING →
/// differing bits, JACCARD → 1 − |a∧b|/|a∨b|). Vectors are raw bytes in the element type's
/// storage (`Float`, `UInt16` half or bfloat16 bits, `Int8`, packed bits for binary vectors, where
/// `dim` counts bits).
///
/// Thread safety: an immutable value holding plain C function pointers; call it from any number
/// of threads at once.
package struct VectorDistance: Sendable {
    package typealias PairFunction = @convention(c) (UnsafeRawPointer?, UnsafeRawPointer?, Int) -> Float
    package typealias ManyFunction = @convention(c) (UnsafeRawPointer?, UnsafeRawPointer?, Int, Int, UnsafeMutablePointer<Float>?) -> Void
    package typealias GatherFunction = @convention(c) (UnsafeRawPointer?, UnsafeRawPointer?, UnsafePointer<UInt32>?, Int, Int, Int, UnsafeMutablePointer<Float>?) -> Void
    package typealias GemmFunction = @convention(c) (UnsafePointer<Float>?, Int, UnsafePointer<Float>?, Int, Int, UnsafeMutablePointer<Float>?, Int) -> Void

    package let metric: Metric
    package let type: DataType
    /// Elements per vector (bits for binary vectors).
    package let dim: Int
    /// Bytes per vector: `type.vectorBytes(dim:)`.
    package let vectorBytes: Int
    /// The instruction-set level of the chosen kernel.
    package let isa: KernelISA
    @usableFromInline let pair: PairFunction
    @usableFromInline let many: ManyFunction
    @usableFromInline let gather: GatherFunction
    @usableFromInline let gemm: GemmFunction

    /// Chooses the kernel once for the best instruction set this CPU supports.
    /// - Throws: ``IndexError`` when the metric does not fit the type or `dim` is invalid.
    package init(metric: Metric, type: DataType, dim: Int) throws(IndexError) {
        try self.init(metric: metric, type: type, dim: dim, isa: .best)
    }

    /// Chooses the kernel for an explicit instruction-set level (tests compare the levels).
    package init(metric: Metric, type: DataType, dim: Int, isa: KernelISA) throws(IndexError) {
        let cType: Int32
        switch type {
        case .floatVector: cType = Int32(OSP_TYPE_F32)
        case .float16Vector: cType = Int32(OSP_TYPE_F16)
        case .bfloat16Vector: cType = Int32(OSP_TYPE_BF16)
        case .int8Vector: cType = Int32(OSP_TYPE_I8)
        case .binaryVector: cType = Int32(OSP_TYPE_BIN)
        default: throw .typeNotSupported(indexType: "vector distance", type: type)
        }
        guard dim > 0, dim <= VectorDistance.maxDimension else {
            throw .invalidDimension(dim, reason: "must be in 1...\(VectorDistance.maxDimension)")
        }
        if type == .binaryVector, dim % 8 != 0 {
            throw .invalidDimension(dim, reason: "a binary vector's dimension must be a multiple of 8")
        }
        guard type.supportedMetrics.contains(metric) else {
            throw .metricNotSupported(metric: metric.rawValue, type: type)
        }
        let cMetric: Int32
        switch metric {
        case .l2: cMetric = Int32(OSP_METRIC_L2)
        case .ip: cMetric = Int32(OSP_METRIC_IP)
        case .cosine: cMetric = Int32(OSP_METRIC_COSINE)
        case .hamming: cMetric = Int32(OSP_METRIC_HAMMING)
        case .jaccard: cMetric = Int32(OSP_METRIC_JACCARD)
        }
        var k = osp_kernel()
        guard osp_kernel_select(cType, cMetric, isa.rawValue, &k) == 0, let p = k.pair, let m = k.many, let ga = k.gather,
              let g = osp_gemm_select(isa.rawValue)
        else {
            throw .invalidParameter(name: "kernel", value: isa.description, reason: "not available on this CPU")
        }
        self.metric = metric
        self.type = type
        self.dim = dim
        self.vectorBytes = type.vectorBytes(dim: dim)
        self.isa = KernelISA(rawValue: k.isa) ?? .serial
        self.pair = p
        self.many = m
        self.gather = ga
        self.gemm = g
    }

    /// The largest dimension accepted (Milvus's limit is 32768; int8 kernels stay exact up to it).
    package static let maxDimension = 32768

    /// Distance between two vectors of the element type (smaller is better).
    @inlinable @inline(__always)
    package func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Float {
        pair(a, b, dim)
    }

    /// Distances from one query to `count` vectors stored contiguously at `base`
    /// (stride `vectorBytes`), written to `out[0..<count]`.
    /// - Complexity: O(count · dim)
    @inlinable
    package func distances(query: UnsafeRawPointer, base: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        if count > 0 { many(query, base, count, dim, out) }
    }

    /// Distances from one query to `count` vectors at `base + ids[j] * stride` (graph nodes whose
    /// vectors sit inside larger records), written to `out[0..<count]`.
    @inlinable
    package func distances(query: UnsafeRawPointer, base: UnsafeRawPointer, ids: UnsafePointer<UInt32>, count: Int,
                           stride: Int, into out: UnsafeMutablePointer<Float>) {
        if count > 0 { gather(query, base, ids, count, stride, dim, out) }
    }

    /// Distances from `queryCount` queries (contiguous) to `count` base vectors (contiguous),
    /// written row-major to `out[q * count + j]`.
    ///
    /// Float32 vectors go through a blocked, register-tiled matrix product (L2 and COSINE derive
    /// from dot products and norms); other types run the one-against-many kernel per query over
    /// cache-sized blocks of the base.
    /// - Complexity: O(queryCount · count · dim)
    package func distances(queries: UnsafeRawPointer, queryCount: Int, base: UnsafeRawPointer, count: Int,
                           into out: UnsafeMutablePointer<Float>) {
        guard queryCount > 0, count > 0 else { return }
        if type == .floatVector {
            let q = queries.assumingMemoryBound(to: Float.self)
            let b = base.assumingMemoryBound(to: Float.self)
            gemm(q, queryCount, b, count, dim, out, count)
            if metric == .ip {
                for i in 0..<(queryCount * count) { out[i] = -out[i] }
                return
            }
            let qn = UnsafeMutablePointer<Float>.allocate(capacity: queryCount)
            let bn = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { qn.deallocate(); bn.deallocate() }
            osp_f32_norms_sq(q, queryCount, dim, qn)
            osp_f32_norms_sq(b, count, dim, bn)
            VectorDistance.finishFromDots(metric: metric, out: out, queryNorms: qn, queryCount: queryCount,
                                          baseNorms: bn, count: count, stride: count)
            return
        }
        let block = Swift.max(1, (256 * 1024) / Swift.max(1, vectorBytes))
        var start = 0
        while start < count {
            let n = Swift.min(block, count - start)
            for qi in 0..<queryCount {
                many(queries + qi * vectorBytes, base + start * vectorBytes, n, dim, out + qi * count + start)
            }
            start += n
        }
    }

    /// Turns dot products into internal distances given squared norms (float32 L2 and COSINE).
    @usableFromInline
    static func finishFromDots(metric: Metric, out: UnsafeMutablePointer<Float>, queryNorms qn: UnsafePointer<Float>,
                               queryCount: Int, baseNorms bn: UnsafePointer<Float>, count: Int, stride: Int) {
        for i in 0..<queryCount {
            let row = out + i * stride
            let a = qn[i]
            switch metric {
            case .l2:
                for j in 0..<count { row[j] = Swift.max(0, a + bn[j] - 2 * row[j]) }
            case .cosine:
                for j in 0..<count {
                    let p = a * bn[j]
                    row[j] = p == 0 ? 0 : -row[j] / p.squareRoot()
                }
            case .ip:
                for j in 0..<count { row[j] = -row[j] }
            case .hamming, .jaccard:
                break
            }
        }
    }
}
