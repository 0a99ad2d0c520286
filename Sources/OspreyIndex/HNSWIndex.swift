import COspreyKernels
import OspreyCore
import Synchronization

/// HNSW: a hierarchical navigable small-world graph (Malkov & Yashunin), built in parallel on
/// every core and frozen into a compact ``HNSWGraph``.
///
/// Knobs (Milvus names): `M` (links per node, 2·M on level 0), `efConstruction` (build
/// candidates), `ef` at search (≥ k). COSINE over float32 stores unit vectors and searches by
/// inner product. A search honours a filter bitset and removed rows: such nodes are traversed
/// but never returned; when fewer than ``bruteForceDensity`` of the rows are allowed, it scans
/// the allowed rows exactly instead.
///
/// Thread safety: search from any number of threads. `add` and `remove` take an internal lock
/// and publish a new snapshot; `add` after rows exist rebuilds the graph over all rows.
package final class HNSWIndex: VectorIndex {
    package let configuration: IndexConfiguration
    /// The kernel used on stored vectors (inner product for float32 COSINE).
    let kernel: VectorDistance
    /// Whether vectors are normalised on the way in (float32 COSINE).
    let normalizes: Bool
    /// Seed of the level generator (fixed, so builds are reproducible).
    package let seed: UInt64
    /// Worker threads for building (nil → every core).
    package let buildThreads: Int?

    /// Below this share of allowed rows, a filtered search scans them exactly.
    package static let bruteForceDensity = 0.02

    struct State {
        var graph: HNSWGraph?
        var removed: Bitset
    }
    let state: Mutex<State>

    /// The default seed of the level generator.
    package static let defaultSeed: UInt64 = 0x05EE_D0F0_05EE_D0F0

    package init(_ configuration: IndexConfiguration, buildThreads: Int? = nil, seed: UInt64 = HNSWIndex.defaultSeed) throws(IndexError) {
        self.buildThreads = buildThreads
        self.seed = seed
        guard configuration.indexType == .hnsw else {
            throw .invalidParameter(name: "index_type", value: configuration.indexType.rawValue, reason: "not HNSW")
        }
        self.configuration = configuration
        normalizes = configuration.type == .floatVector && configuration.metric == .cosine
        kernel = try VectorDistance(metric: normalizes ? .ip : configuration.metric, type: configuration.type, dim: configuration.dim)
        state = Mutex(State(graph: nil, removed: Bitset(count: 0)))
    }

    package var isTrained: Bool { true }
    package var count: Int { state.withLock { $0.graph?.n ?? 0 } }
    package var memoryBytes: Int { state.withLock { ($0.graph?.memoryBytes ?? 0) + $0.removed.count / 8 } }

    package func train(_ source: some VectorSource) throws(IndexError) {}

    package func add(_ source: some VectorSource) throws(IndexError) {
        guard source.type == configuration.type, source.dim == configuration.dim else {
            throw .dimensionMismatch(expectedBytes: kernel.vectorBytes, actualBytes: source.vectorBytes)
        }
        let n = source.count
        guard n > 0 else { return }
        let vb = kernel.vectorBytes
        try state.withLock { (s: inout State) throws(IndexError) in
            let old = s.graph?.n ?? 0
            guard old + n <= Int(Int32.max) else { throw .capacityExceeded(Int(Int32.max)) }
            let all = AlignedBuffer(byteCount: (old + n) * vb, zeroed: false)
            if let g = s.graph {
                for i in 0..<old { (all.pointer + i * vb).copyMemory(from: g.vector(i), byteCount: vb) }
            }
            source.withVectors(in: 0..<n) { all.pointer.advanced(by: old * vb).copyMemory(from: $0, byteCount: n * vb) }
            if normalizes {
                let f = all.pointer.assumingMemoryBound(to: Float.self)
                for i in old..<(old + n) { HNSWIndex.normalize(f + i * configuration.dim, dim: configuration.dim) }
            }
            let builder = HNSWBuilder(vectors: all.pointer, count: old + n, kernel: kernel, M: configuration.M,
                                      efConstruction: configuration.efConstruction, seed: seed)
            builder.build(threads: buildThreads ?? Parallel.cores)
            s.graph = builder.freeze()
            s.removed.resize(to: old + n)
        }
    }

    static func normalize(_ v: UnsafeMutablePointer<Float>, dim: Int) {
        var s: Float = 0
        for i in 0..<dim { s += v[i] * v[i] }
        guard s > 0 else { return }
        let inv = 1 / s.squareRoot()
        for i in 0..<dim { v[i] *= inv }
    }

    package func remove(_ rows: [RowID]) throws(IndexError) {
        try state.withLock { (s: inout State) throws(IndexError) in
            for r in rows {
                guard r.index < s.removed.count else { throw .rowOutOfRange(row: r.index, count: s.removed.count) }
                s.removed.set(r.index)
            }
        }
    }

    // MARK: - Search

    package func search(queries: UnsafeRawBufferPointer, parameters: SearchParameters) throws(IndexError) -> [[Neighbor]] {
        try parameters.validate()
        let nq = try queryCount(queries)
        let (graph, removed) = state.withLock { ($0.graph, $0.removed) }
        guard let graph, nq > 0 else { return [[Neighbor]](repeating: [], count: nq) }
        let allowed = allowedRows(filter: parameters.filter, removed: removed, count: graph.n)
        let k = parameters.k
        let ef = parameters.ef ?? Swift.max(k, 64)
        let allowedRows = allowed
        let bruteForce = allowed.map { $0.density < HNSWIndex.bruteForceDensity } ?? false
        var results = [[Neighbor]](repeating: [], count: nq)
        let vb = kernel.vectorBytes, dim = configuration.dim, normalizes = self.normalizes
        results.withUnsafeMutableBufferPointer { out in
            let out = UncheckedSendable(out)
            let q = UncheckedSendable(queries)
            Parallel.forChunks(count: nq, threads: parameters.threads ?? Parallel.cores, minChunk: 4) { range in
                let qbuf = UnsafeMutableRawPointer.allocate(byteCount: vb, alignment: 64)
                defer { qbuf.deallocate() }
                for qi in range {
                    var qp = UnsafeRawPointer(q.value.baseAddress! + qi * vb)
                    if normalizes {
                        qbuf.copyMemory(from: qp, byteCount: vb)
                        HNSWIndex.normalize(qbuf.assumingMemoryBound(to: Float.self), dim: dim)
                        qp = UnsafeRawPointer(qbuf)
                    }
                    if bruteForce, let allowed = allowedRows {
                        out.value[qi] = self.scan(qp, graph: graph, allowed: allowed, k: k)
                    } else if let allowed = allowedRows {
                        out.value[qi] = allowed.withUnsafeWords { graph.search(qp, k: k, ef: ef, allowed: $0.baseAddress) }
                    } else {
                        out.value[qi] = graph.search(qp, k: k, ef: ef, allowed: nil)
                    }
                }
            }
        }
        return results
    }

    /// Exact top-k over the allowed rows (for very selective filters).
    func scan(_ q: UnsafeRawPointer, graph: HNSWGraph, allowed: Bitset, k: Int) -> [Neighbor] {
        var top = TopK(k: k)
        allowed.forEachSetBit { r in top.push(distance: kernel.distance(q, graph.vector(r)), row: RowID(r)) }
        return top.sortedResults()
    }

    package func rangeSearch(queries: UnsafeRawBufferPointer, parameters: RangeParameters) throws(IndexError) -> [[Neighbor]] {
        try parameters.validate(metric: configuration.metric)
        var p = parameters.search
        p.ef = Swift.max(p.ef ?? 0, p.k)
        let hits = try search(queries: queries, parameters: p)
        return hits.map { $0.filter { parameters.accepts(distance: $0.distance, metric: configuration.metric) } }
    }
}
