import COspreyKernels
import OspreyCore
import Synchronization

/// IVF_FLAT: vectors partitioned into `nlist` inverted lists by a k-means coarse quantizer; a
/// search scans the `nprobe` lists whose centroids are nearest the query.
///
/// Lists are stored contiguously (all vectors of list 0, then list 1, …) with their row ids
/// beside them, so a probe is one one-against-many kernel call over contiguous memory. L2 lists
/// are assigned by squared distance; IP by largest inner product; float32 COSINE stores unit
/// vectors and uses inner product. Float32 vectors only.
///
/// Thread safety: search from any number of threads; `train`, `add` and `remove` take an internal
/// lock and publish a new snapshot.
package final class IVFFlatIndex: VectorIndex {
    package let configuration: IndexConfiguration
    let kernel: VectorDistance
    let normalizes: Bool
    /// Default `nprobe` when a search gives none.
    package static let defaultNprobe = 8

    /// One immutable generation of the lists.
    final class Lists: Sendable {
        let offsets: [Int]
        let ids: AlignedBuffer
        let vectors: AlignedBuffer
        let count: Int
        let longest: Int
        init(offsets: [Int], ids: AlignedBuffer, vectors: AlignedBuffer, count: Int) {
            self.offsets = offsets
            self.ids = ids
            self.vectors = vectors
            self.count = count
            var longest = 0
            for l in 0..<(offsets.count - 1) { longest = Swift.max(longest, offsets[l + 1] - offsets[l]) }
            self.longest = longest
        }
    }

    struct State {
        var centroids: [Float]?
        var lists: Lists?
        var removed: Bitset
    }
    let state: Mutex<State>

    package init(_ configuration: IndexConfiguration) throws(IndexError) {
        guard configuration.indexType == .ivfFlat else {
            throw .invalidParameter(name: "index_type", value: configuration.indexType.rawValue, reason: "not IVF_FLAT")
        }
        guard configuration.type == .floatVector else { throw .typeNotSupported(indexType: "IVF_FLAT", type: configuration.type) }
        self.configuration = configuration
        normalizes = configuration.metric == .cosine
        kernel = try VectorDistance(metric: normalizes ? .ip : configuration.metric, type: .floatVector, dim: configuration.dim)
        state = Mutex(State(centroids: nil, lists: nil, removed: Bitset(count: 0)))
    }

    package var isTrained: Bool { state.withLock { $0.centroids != nil } }
    package var count: Int { state.withLock { $0.lists?.count ?? 0 } }
    package var memoryBytes: Int {
        state.withLock { s in
            (s.centroids?.count ?? 0) * 4 + (s.lists.map { $0.ids.byteCount + $0.vectors.byteCount + $0.offsets.count * 8 } ?? 0)
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
        guard n >= 1 else { throw .notTrained("IVF_FLAT needs at least one training vector") }
        let nlist = configuration.nlist, dim = configuration.dim
        let centroids = data.withUnsafeBufferPointer { KMeans.train(vectors: $0.baseAddress!, count: n, dim: dim, k: nlist) }
        state.withLock { $0.centroids = centroids }
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
            // Row-ordered vectors and list assignments of every row.
            var all = [Float](repeating: 0, count: total * dim)
            var listOf = [Int32](repeating: 0, count: total)
            if let lists = s.lists {
                let ids = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
                let vecs = lists.vectors.pointer.assumingMemoryBound(to: Float.self)
                for l in 0..<nlist {
                    for p in lists.offsets[l]..<lists.offsets[l + 1] {
                        let r = Int(ids[p])
                        listOf[r] = Int32(l)
                        for d in 0..<dim { all[r * dim + d] = vecs[p * dim + d] }
                    }
                }
            }
            for i in 0..<(newRows * dim) { all[old * dim + i] = fresh[i] }
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
            let vectors = AlignedBuffer(byteCount: total * dim * 4, zeroed: false)
            let idp = ids.pointer.assumingMemoryBound(to: UInt32.self)
            let vp = vectors.pointer.assumingMemoryBound(to: Float.self)
            for r in 0..<total {
                let p = fill[Int(listOf[r])]
                fill[Int(listOf[r])] += 1
                idp[p] = UInt32(r)
                for d in 0..<dim { vp[p * dim + d] = all[r * dim + d] }
            }
            s.lists = Lists(offsets: offsets, ids: ids, vectors: vectors, count: total)
            s.removed.resize(to: total)
        }
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

    /// Calls `visit(distance, row)` for every allowed row of the `nprobe` lists nearest `q`.
    func probe(_ q: UnsafeRawPointer, nprobe: Int, centroids: UnsafePointer<Float>, lists: Lists, allowed: UnsafePointer<UInt64>?,
               buffer: UnsafeMutablePointer<Float>, visit: (Float, Int) -> Void) {
        let nlist = configuration.nlist, vb = kernel.vectorBytes
        kernel.distances(query: q, base: centroids, count: nlist, into: buffer)
        var near = TopK(k: Swift.min(nprobe, nlist))
        for l in 0..<nlist { near.push(distance: buffer[l], row: RowID(l)) }
        let ids = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
        for c in near.sortedResults() {
            let l = c.row.index
            let start = lists.offsets[l], len = lists.offsets[l + 1] - start
            if len == 0 { continue }
            kernel.distances(query: q, base: lists.vectors.pointer + start * vb, count: len, into: buffer)
            for j in 0..<len {
                let r = Int(ids[start + j])
                if let allowed, (allowed[r >> 6] >> UInt64(r & 63)) & 1 == 0 { continue }
                visit(buffer[j], r)
            }
        }
    }

    /// Runs `body` per query on the worker pool with the snapshot, normalised query and scratch.
    func forEachQuery(_ queries: UnsafeRawBufferPointer, _ p: SearchParameters,
                      _ body: @escaping @Sendable (_ qi: Int, _ q: UnsafeRawPointer, _ centroids: UnsafePointer<Float>, _ lists: Lists,
                                                   _ allowed: UnsafePointer<UInt64>?, _ buffer: UnsafeMutablePointer<Float>) -> Void)
        throws(IndexError) {
        let nq = try queryCount(queries)
        let (centroids, lists, removed) = state.withLock { ($0.centroids, $0.lists, $0.removed) }
        guard let centroids, let lists, nq > 0 else { return }
        var allowed: Bitset? = nil
        if var f = p.filter {
            if f.count != lists.count { f.resize(to: lists.count) }
            if !removed.isAllClear { f.subtract(removed) }
            allowed = f
        } else if !removed.isAllClear {
            allowed = removed.inverted()
        }
        let allowedRows = allowed
        let vb = kernel.vectorBytes, dim = configuration.dim, normalizes = self.normalizes
        let bufferCount = Swift.max(lists.longest, configuration.nlist)
        let q = UncheckedSendable(queries)
        let cents = centroids
        Parallel.forChunks(count: nq, threads: p.threads ?? Parallel.cores, minChunk: 4) { range in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: bufferCount)
            let qbuf = UnsafeMutableRawPointer.allocate(byteCount: vb, alignment: 64)
            defer { buffer.deallocate(); qbuf.deallocate() }
            cents.withUnsafeBufferPointer { cb in
                for qi in range {
                    var qp = UnsafeRawPointer(q.value.baseAddress! + qi * vb)
                    if normalizes {
                        qbuf.copyMemory(from: qp, byteCount: vb)
                        HNSWIndex.normalize(qbuf.assumingMemoryBound(to: Float.self), dim: dim)
                        qp = UnsafeRawPointer(qbuf)
                    }
                    if let a = allowedRows {
                        a.withUnsafeWords { body(qi, qp, cb.baseAddress!, lists, $0.baseAddress, buffer) }
                    } else {
                        body(qi, qp, cb.baseAddress!, lists, nil, buffer)
                    }
                }
            }
        }
    }

    package func search(queries: UnsafeRawBufferPointer, parameters: SearchParameters) throws(IndexError) -> [[Neighbor]] {
        try parameters.validate()
        let nq = try queryCount(queries)
        let box = ResultSlots(count: nq)
        let k = parameters.k, nprobe = parameters.nprobe ?? IVFFlatIndex.defaultNprobe
        try forEachQuery(queries, parameters) { qi, q, centroids, lists, allowed, buffer in
            var top = TopK(k: k)
            self.probe(q, nprobe: nprobe, centroids: centroids, lists: lists, allowed: allowed, buffer: buffer) { d, r in
                if d < top.worstDistance { top.push(distance: d, row: RowID(r)) }
            }
            box.set(qi, top.sortedResults())
        }
        return box.take()
    }

    package func rangeSearch(queries: UnsafeRawBufferPointer, parameters: RangeParameters) throws(IndexError) -> [[Neighbor]] {
        try parameters.validate(metric: configuration.metric)
        let nq = try queryCount(queries)
        let box = ResultSlots(count: nq)
        let metric = configuration.metric, nprobe = parameters.search.nprobe ?? IVFFlatIndex.defaultNprobe
        try forEachQuery(queries, parameters.search) { qi, q, centroids, lists, allowed, buffer in
            var hits: [Neighbor] = []
            self.probe(q, nprobe: nprobe, centroids: centroids, lists: lists, allowed: allowed, buffer: buffer) { d, r in
                if parameters.accepts(distance: d, metric: metric) { hits.append(Neighbor(distance: d, row: RowID(r))) }
            }
            box.set(qi, hits.sorted())
        }
        return box.take()
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
