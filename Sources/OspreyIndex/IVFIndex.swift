import COspreyKernels
import OspreyCore
import Synchronization

/// IVF_FLAT and IVF_SQ8: vectors partitioned into `nlist` inverted lists by a k-means coarse
/// quantizer; a search scans the `nprobe` lists whose centroids are nearest the query.
///
/// Lists are stored contiguously (all codes of list 0, then list 1, …) with their row ids beside
/// them, so a probe is one kernel call over contiguous memory. IVF_FLAT keeps float32 vectors;
/// IVF_SQ8 keeps one byte per dimension (`x ≈ vmin + code · scale`, per-dimension range learnt
/// in `train`) and scans codes directly, with the query pre-transformed once. L2 lists are
/// assigned by squared distance; IP by largest inner product; COSINE stores unit vectors and
/// uses inner product. Float32 vectors only.
///
/// Searching (IVFIndex+Search.swift) picks the lists with a panel kernel (one query) or the blocked
/// matrix product (a batch), rechecks the borderline centroids with the exact kernel so that the
/// lists probed are those the exact distances choose, and scans each list into a bounded heap.
///
/// Thread safety: search from any number of threads; `train`, `add` and `remove` take an internal
/// lock and publish a new snapshot.
package final class IVFIndex: VectorIndex {
    package let configuration: IndexConfiguration
    let kernel: VectorDistance
    let normalizes: Bool
    /// Whether list entries are 8-bit codes (IVF_SQ8) rather than float32 vectors.
    let quantized: Bool
    /// Bytes per list entry.
    let codeBytes: Int
    let sq8: osp_sq8_fn?
    /// Reusable per-search buffers, so that steady-state searches allocate only their results.
    let scratch = IVFScratchPool()
    /// Default `nprobe` when a search gives none.
    package static let defaultNprobe = 8

    /// The per-dimension range of IVF_SQ8 codes.
    struct ScalarQuantizer: Sendable {
        var vmin: [Float]
        var scale: [Float]
    }

    /// One immutable generation of the lists.
    typealias Lists = IVFLists

    struct State {
        var centroids: [Float]?
        var quantizer: ScalarQuantizer?
        var lists: Lists?
        var removed: Bitset
        /// The centroids laid out for the coarse step; built on first use after `train` or a load.
        var coarse: Coarse? = nil
        /// What searches read, built on first use after any change; nil while stale.
        var snapshot: Snapshot? = nil
    }
    let state: Mutex<State>

    package init(_ configuration: IndexConfiguration) throws(IndexError) {
        guard configuration.indexType == .ivfFlat || configuration.indexType == .ivfSQ8 else {
            throw .invalidParameter(name: "index_type", value: configuration.indexType.rawValue, reason: "not IVF_FLAT or IVF_SQ8")
        }
        guard configuration.type == .floatVector else {
            throw .typeNotSupported(indexType: configuration.indexType.rawValue, type: configuration.type)
        }
        self.configuration = configuration
        normalizes = configuration.metric == .cosine
        quantized = configuration.indexType == .ivfSQ8
        codeBytes = quantized ? configuration.dim : configuration.dim * 4
        kernel = try VectorDistance(metric: normalizes ? .ip : configuration.metric, type: .floatVector, dim: configuration.dim)
        let cMetric = Int32(configuration.metric == .l2 ? OSP_METRIC_L2 : OSP_METRIC_IP)
        sq8 = osp_sq8_select(cMetric, Int32(OSP_ISA_BEST))
        state = Mutex(State(centroids: nil, quantizer: nil, lists: nil, removed: Bitset(count: 0)))
    }

    package var isTrained: Bool { state.withLock { $0.centroids != nil } }
    package var count: Int { state.withLock { $0.lists?.count ?? 0 } }
    package var memoryBytes: Int {
        state.withLock { s in
            (s.centroids?.count ?? 0) * 4 + (s.centroids == nil ? 0 : Coarse.panelBytes(nlist: configuration.nlist, dim: configuration.dim).used + configuration.nlist * 4)
                + (s.quantizer.map { $0.vmin.count * 8 } ?? 0) + (s.lists?.memoryBytes ?? 0)
                + s.removed.count / 8
        }
    }

    /// The source's vectors as floats, normalised for COSINE.
    func floats(_ source: some VectorSource) throws(IndexError) -> [Float] {
        guard source.type == .floatVector, source.dim == configuration.dim else {
            throw .dimensionMismatch(expectedBytes: kernel.vectorBytes, actualBytes: source.vectorBytes)
        }
        let n = source.count, dim = configuration.dim
        var out = [Float](repeating: 0, count: n * dim)
        out.withUnsafeMutableBytes { dst in
            source.withVectors(in: 0..<n) { dst.baseAddress!.copyMemory(from: $0, byteCount: n * dim * 4) }
        }
        if normalizes {
            out.withUnsafeMutableBufferPointer { b in for i in 0..<n { HNSWIndex.normalize(b.baseAddress! + i * dim, dim: dim) } }
        }
        return out
    }

    package func train(_ source: some VectorSource) throws(IndexError) {
        let data = try floats(source)
        let n = source.count
        guard n >= 1 else { throw .notTrained("\(configuration.indexType) needs at least one training vector") }
        let nlist = configuration.nlist, dim = configuration.dim
        let centroids = data.withUnsafeBufferPointer { KMeans.train(vectors: $0.baseAddress!, count: n, dim: dim, k: nlist) }
        var quantizer: ScalarQuantizer? = nil
        if quantized {
            var lo = [Float](repeating: .infinity, count: dim), hi = [Float](repeating: -.infinity, count: dim)
            for r in 0..<n {
                for d in 0..<dim {
                    lo[d] = Swift.min(lo[d], data[r * dim + d])
                    hi[d] = Swift.max(hi[d], data[r * dim + d])
                }
            }
            quantizer = ScalarQuantizer(vmin: lo, scale: (0..<dim).map { (hi[$0] - lo[$0]) / 255 })
        }
        state.withLock {
            $0.centroids = centroids
            $0.quantizer = quantizer
            $0.coarse = nil
            $0.snapshot = nil
        }
    }

    package func add(_ source: some VectorSource) throws(IndexError) {
        let fresh = try floats(source)
        let newRows = source.count
        guard newRows > 0 else { return }
        let dim = configuration.dim, nlist = configuration.nlist, ip = configuration.metric != .l2
        try state.withLock { (s: inout State) throws(IndexError) in
            guard let centroids = s.centroids else { throw .notTrained("call train before add (IVF_FLAT needs centroids)") }
            let old = s.lists?.count ?? 0
            let total = old + newRows
            guard total <= Int(UInt32.max) else { throw .capacityExceeded(Int(UInt32.max)) }
            // Row-ordered codes and list assignments of every row; existing rows keep theirs.
            let cb = codeBytes
            let all = AlignedBuffer(byteCount: total * cb, zeroed: false)
            var listOf = [Int32](repeating: 0, count: total)
            if let lists = s.lists {
                let ids = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
                for l in 0..<nlist {
                    for p in lists.offsets[l]..<lists.offsets[l + 1] {
                        let r = Int(ids[p])
                        listOf[r] = Int32(l)
                        (all.pointer + r * cb).copyMemory(from: lists.codes.pointer + p * cb, byteCount: cb)
                    }
                }
            }
            fresh.withUnsafeBufferPointer { f in
                if let qz = s.quantizer {
                    let codes = (all.pointer + old * cb).assumingMemoryBound(to: UInt8.self)
                    for i in 0..<(newRows * dim) {
                        let d = i % dim
                        let scale = qz.scale[d]
                        let c = scale > 0 ? ((f[i] - qz.vmin[d]) / scale).rounded() : 0
                        codes[i] = UInt8(Swift.max(0, Swift.min(255, c)))
                    }
                } else {
                    (all.pointer + old * cb).copyMemory(from: f.baseAddress!, byteCount: newRows * cb)
                }
            }
            fresh.withUnsafeBufferPointer { f in
                centroids.withUnsafeBufferPointer { c in
                    listOf.withUnsafeMutableBufferPointer { a in
                        KMeans.nearest(queries: f.baseAddress!, count: newRows, centroids: c.baseAddress!, k: nlist, dim: dim,
                                       into: a.baseAddress! + old, threads: Parallel.cores, innerProduct: ip)
                    }
                }
            }
            var offsets = [Int](repeating: 0, count: nlist + 1)
            for r in 0..<total { offsets[Int(listOf[r]) + 1] += 1 }
            for l in 0..<nlist { offsets[l + 1] += offsets[l] }
            var fill = offsets
            let ids = AlignedBuffer(byteCount: total * 4, zeroed: false)
            let vectors = AlignedBuffer(byteCount: total * cb, zeroed: false)
            // Scans read lists from memory at random places: huge pages spare them most TLB misses.
            osp_advise_huge_pages(vectors.pointer, vectors.byteCount)
            let idp = ids.pointer.assumingMemoryBound(to: UInt32.self)
            for r in 0..<total {
                let p = fill[Int(listOf[r])]
                fill[Int(listOf[r])] += 1
                idp[p] = UInt32(r)
                (vectors.pointer + p * cb).copyMemory(from: all.pointer + r * cb, byteCount: cb)
            }
            s.lists = Lists(offsets: offsets, ids: ids, codes: vectors, count: total)
            s.removed.resize(to: total)
            s.snapshot = nil
        }
    }

    package func remove(_ rows: [RowID]) throws(IndexError) {
        try state.withLock { (s: inout State) throws(IndexError) in
            s.snapshot = nil
            for r in rows {
                guard r.index < s.removed.count else { throw .rowOutOfRange(row: r.index, count: s.removed.count) }
                s.removed.set(r.index)
            }
        }
    }
}

/// Per-query result slots written by concurrent workers (each writes distinct slots).
///
/// Thread safety: `set` from many threads on distinct indices; `take` after they finish.
final class ResultSlots: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<[Neighbor]>
    private let count: Int
    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: Swift.max(count, 1))
        slots.initialize(repeating: [], count: count)
    }
    func set(_ i: Int, _ r: [Neighbor]) { slots[i] = r }
    func take() -> [[Neighbor]] { Array(UnsafeBufferPointer(start: slots, count: count)) }
    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }
}
