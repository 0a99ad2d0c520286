import COspreyKernels
import OspreyCore
import Synchronization

/// BIN_IVF_FLAT: binary vectors partitioned into `nlist` inverted lists; a search scans the raw
/// codes of the `nprobe` lists whose centroids are nearest the query by Hamming distance, with
/// the HAMMING or JACCARD kernel.
///
/// The coarse quantizer is binary: k-means runs on the sampled vectors' bits as 0/1 floats, and
/// each centroid is then binarised (a bit is set where more than half of its cluster has it).
/// Rows are assigned, and lists ranked for a query, by Hamming distance to these centroids
/// whatever the index's metric (a Jaccard distance to a mostly-empty centroid says little).
/// Lists are contiguous with their row ids beside them, as in IVF_FLAT.
///
/// Thread safety: search from any number of threads; `train`, `add` and `remove` take an internal
/// lock and publish a new snapshot.
package final class BinaryIVFIndex: VectorIndex {
    package let configuration: IndexConfiguration
    /// The index's metric (HAMMING or JACCARD), for list scans.
    let kernel: VectorDistance
    /// HAMMING, for centroids.
    let coarse: VectorDistance
    /// Default `nprobe` when a search gives none (as IVF_FLAT).
    package static let defaultNprobe = IVFIndex.defaultNprobe
    /// The most bits sampled for k-means (as floats, 4 bytes each: 128 MiB).
    static let maxTrainingFloats = 1 << 25

    /// One immutable generation of the lists.
    typealias Lists = IVFLists

    struct State {
        /// Binary centroids, `nlist × dim/8` bytes.
        var centroids: [UInt8]?
        var lists: Lists?
        var removed: Bitset
    }
    let state: Mutex<State>

    package init(_ configuration: IndexConfiguration) throws(IndexError) {
        guard configuration.indexType == .binIVFFlat else {
            throw .invalidParameter(name: "index_type", value: configuration.indexType.rawValue, reason: "not BIN_IVF_FLAT")
        }
        guard configuration.type == .binaryVector else { throw .typeNotSupported(indexType: "BIN_IVF_FLAT", type: configuration.type) }
        try configuration.validate()
        self.configuration = configuration
        kernel = try VectorDistance(metric: configuration.metric, type: .binaryVector, dim: configuration.dim)
        coarse = try VectorDistance(metric: .hamming, type: .binaryVector, dim: configuration.dim)
        state = Mutex(State(centroids: nil, lists: nil, removed: Bitset(count: 0)))
    }

    package var isTrained: Bool { state.withLock { $0.centroids != nil } }
    package var count: Int { state.withLock { $0.lists?.count ?? 0 } }
    package var memoryBytes: Int {
        state.withLock { s in
            (s.centroids?.count ?? 0) + (s.lists?.memoryBytes ?? 0)
                + s.removed.count / 8
        }
    }

    func checkSource(_ source: some VectorSource) throws(IndexError) {
        guard source.type == .binaryVector, source.dim == configuration.dim else {
            throw .dimensionMismatch(expectedBytes: kernel.vectorBytes, actualBytes: source.vectorBytes)
        }
    }

    /// Learns binary centroids: k-means on the bits of up to 256 × nlist sampled rows (fewer for
    /// very wide vectors), then each centroid thresholded at one half.
    package func train(_ source: some VectorSource) throws(IndexError) {
        try checkSource(source)
        let n = source.count
        guard n >= 1 else { throw .notTrained("BIN_IVF_FLAT needs at least one training vector") }
        let nlist = configuration.nlist, dim = configuration.dim, vb = kernel.vectorBytes
        let limit = Swift.min(nlist * KMeans.maxPointsPerCentroid, Swift.max(nlist, BinaryIVFIndex.maxTrainingFloats / dim))
        let picked = sampleRows(count: n, limit: limit, seed: 0xB1F_0001)
        var bits = [Float](repeating: 0, count: picked.count * dim)
        bits.withUnsafeMutableBufferPointer { out in
            for (i, r) in picked.enumerated() {
                source.withVectors(in: r..<(r + 1)) { raw in
                    let b = raw.assumingMemoryBound(to: UInt8.self)
                    for d in 0..<dim where (b[d >> 3] >> UInt8(d & 7)) & 1 != 0 { out[i * dim + d] = 1 }
                }
            }
        }
        let real = bits.withUnsafeBufferPointer { KMeans.train(vectors: $0.baseAddress!, count: picked.count, dim: dim, k: nlist) }
        var centroids = [UInt8](repeating: 0, count: nlist * vb)
        for c in 0..<nlist {
            for d in 0..<dim where real[c * dim + d] > 0.5 { centroids[c * vb + (d >> 3)] |= UInt8(1) << UInt8(d & 7) }
        }
        state.withLock { $0.centroids = centroids }
    }

    /// The nearest centroid (Hamming) of every row of `source`, in parallel.
    func assign(_ source: some VectorSource, centroids: [UInt8]) -> [Int32] {
        let n = source.count, nlist = configuration.nlist, vb = kernel.vectorBytes
        var listOf = [Int32](repeating: 0, count: n)
        let chunk = 1024
        listOf.withUnsafeMutableBufferPointer { out in
            centroids.withUnsafeBytes { cents in
                let shared = UncheckedSendable((out.baseAddress!, cents.baseAddress!))
                Parallel.forChunks(count: (n + chunk - 1) / chunk, threads: Parallel.cores) { cs in
                    let (out, cents) = shared.value
                    let dist = UnsafeMutablePointer<Float>.allocate(capacity: nlist)
                    defer { dist.deallocate() }
                    for ci in cs {
                        let lo = ci * chunk, hi = Swift.min(n, lo + chunk)
                        source.withVectors(in: lo..<hi) { rows in
                            for i in 0..<(hi - lo) {
                                self.coarse.distances(query: rows + i * vb, base: cents, count: nlist, into: dist)
                                var best = 0
                                for l in 1..<nlist where dist[l] < dist[best] { best = l }
                                out[lo + i] = Int32(best)
                            }
                        }
                    }
                }
            }
        }
        return listOf
    }

    package func add(_ source: some VectorSource) throws(IndexError) {
        try checkSource(source)
        let newRows = source.count
        guard newRows > 0 else { return }
        guard let centroids = state.withLock({ $0.centroids }) else {
            throw .notTrained("call train before add (BIN_IVF_FLAT needs centroids)")
        }
        let fresh = assign(source, centroids: centroids)
        let vb = kernel.vectorBytes, nlist = configuration.nlist
        try state.withLock { (s: inout State) throws(IndexError) in
            let old = s.lists?.count ?? 0
            let total = old + newRows
            guard total <= Int(UInt32.max) else { throw .capacityExceeded(Int(UInt32.max)) }
            // Row-ordered codes and lists of every row; existing rows keep theirs.
            let all = AlignedBuffer(byteCount: total * vb, zeroed: false)
            var listOf = [Int32](repeating: 0, count: total)
            if let lists = s.lists {
                let ids = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
                for l in 0..<nlist {
                    for p in lists.offsets[l]..<lists.offsets[l + 1] {
                        let r = Int(ids[p])
                        listOf[r] = Int32(l)
                        (all.pointer + r * vb).copyMemory(from: lists.codes.pointer + p * vb, byteCount: vb)
                    }
                }
            }
            source.withVectors(in: 0..<newRows) { (all.pointer + old * vb).copyMemory(from: $0, byteCount: newRows * vb) }
            for i in 0..<newRows { listOf[old + i] = fresh[i] }
            s.lists = BinaryIVFIndex.makeLists(rows: all, listOf: listOf, nlist: nlist, vectorBytes: vb)
            s.removed.resize(to: total)
        }
    }

    /// Lists from row-ordered codes and assignments; rows keep ascending order in each list.
    static func makeLists(rows all: AlignedBuffer, listOf: [Int32], nlist: Int, vectorBytes vb: Int) -> Lists {
        let total = listOf.count
        var offsets = [Int](repeating: 0, count: nlist + 1)
        for r in 0..<total { offsets[Int(listOf[r]) + 1] += 1 }
        for l in 0..<nlist { offsets[l + 1] += offsets[l] }
        var fill = offsets
        let ids = AlignedBuffer(byteCount: total * 4, zeroed: false)
        let codes = AlignedBuffer(byteCount: total * vb, zeroed: false)
        let idp = ids.pointer.assumingMemoryBound(to: UInt32.self)
        for r in 0..<total {
            let l = Int(listOf[r])
            let p = fill[l]
            fill[l] += 1
            idp[p] = UInt32(r)
            (codes.pointer + p * vb).copyMemory(from: all.pointer + r * vb, byteCount: vb)
        }
        return Lists(offsets: offsets, ids: ids, codes: codes, count: total)
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
    func probe(_ q: UnsafeRawPointer, nprobe: Int, centroids: UnsafeRawPointer, lists: Lists, allowed: UnsafePointer<UInt64>?,
               buffer: UnsafeMutablePointer<Float>, visit: (Float, Int) -> Void) {
        let nlist = configuration.nlist, vb = kernel.vectorBytes
        coarse.distances(query: q, base: centroids, count: nlist, into: buffer)
        var near = TopK(k: Swift.min(nprobe, nlist))
        for l in 0..<nlist where buffer[l] < near.worstDistance { near.push(distance: buffer[l], row: RowID(l)) }
        let ids = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
        for c in near.sortedResults() {
            let l = c.row.index
            let start = lists.offsets[l], len = lists.offsets[l + 1] - start
            if len == 0 { continue }
            kernel.distances(query: q, base: lists.codes.pointer + start * vb, count: len, into: buffer)
            for j in 0..<len {
                let r = Int(ids[start + j])
                if let allowed, (allowed[r >> 6] >> UInt64(r & 63)) & 1 == 0 { continue }
                visit(buffer[j], r)
            }
        }
    }

    /// Runs `body` per query on the worker pool with the snapshot, allowed rows and scratch.
    func forEachQuery(_ queries: UnsafeRawBufferPointer, _ p: SearchParameters,
                      _ body: @escaping @Sendable (_ qi: Int, _ q: UnsafeRawPointer, _ centroids: UnsafeRawPointer, _ lists: Lists,
                                                   _ allowed: UnsafePointer<UInt64>?, _ buffer: UnsafeMutablePointer<Float>) -> Void)
        throws(IndexError) {
        let nq = try queryCount(queries)
        let (centroids, lists, removed) = state.withLock { ($0.centroids, $0.lists, $0.removed) }
        guard let centroids, let lists, nq > 0 else { return }
        let allowed = allowedRows(filter: p.filter, removed: removed, count: lists.count)
        let vb = kernel.vectorBytes
        let bufferCount = Swift.max(lists.longest, configuration.nlist)
        let q = UncheckedSendable(queries)
        Parallel.forChunks(count: nq, threads: p.threads ?? Parallel.cores, minChunk: 4) { range in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: bufferCount)
            defer { buffer.deallocate() }
            centroids.withUnsafeBytes { cb in
                for qi in range {
                    let qp = UnsafeRawPointer(q.value.baseAddress! + qi * vb)
                    if let a = allowed {
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
        let k = parameters.k, nprobe = parameters.nprobe ?? BinaryIVFIndex.defaultNprobe
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
        try parameters.search.validate()
        let nq = try queryCount(queries)
        let box = ResultSlots(count: nq)
        let metric = configuration.metric, nprobe = parameters.search.nprobe ?? BinaryIVFIndex.defaultNprobe
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
