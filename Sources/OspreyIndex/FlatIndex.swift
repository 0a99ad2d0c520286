import COspreyKernels
import OspreyCore
import Synchronization

/// FLAT and BIN_FLAT: exact search over a copy of every vector.
///
/// One query scans every row with the one-against-many kernel; a batch of float32 queries is a
/// blocked matrix product (``VectorDistance/distances(queries:queryCount:base:count:into:)``'s
/// kernel) over base blocks, fed into per-query top-k heaps, split across cores by query. Range
/// search returns every row within the bounds. This index is the oracle for the approximate ones.
///
/// Thread safety: search from any number of threads; `add` and `remove` take an internal lock
/// and publish a new snapshot, so concurrent searches see the old or the new rows.
package final class FlatIndex: VectorIndex {
    package let configuration: IndexConfiguration
    let kernel: VectorDistance

    /// An immutable generation of the rows.
    final class Storage: Sendable {
        let vectors: AlignedBuffer
        /// Squared norms of float32 vectors (L2 and COSINE batches), else empty.
        let norms: AlignedBuffer?
        let count: Int
        init(vectors: AlignedBuffer, norms: AlignedBuffer?, count: Int) {
            self.vectors = vectors
            self.norms = norms
            self.count = count
        }
    }

    struct State {
        var storage: Storage
        var removed: Bitset
    }
    let state: Mutex<State>

    package init(_ configuration: IndexConfiguration) throws(IndexError) {
        guard configuration.indexType == .flat || configuration.indexType == .binFlat else {
            throw .invalidParameter(name: "index_type", value: configuration.indexType.rawValue, reason: "not a flat index")
        }
        self.configuration = configuration
        kernel = try VectorDistance(metric: configuration.metric, type: configuration.type, dim: configuration.dim)
        state = Mutex(State(storage: Storage(vectors: AlignedBuffer(byteCount: 0), norms: nil, count: 0), removed: Bitset(count: 0)))
    }

    package var isTrained: Bool { true }
    package var count: Int { state.withLock { $0.storage.count } }
    /// Heap bytes: vectors (or the heap image they point into), norms, the removed-row bitmap.
    package var memoryBytes: Int {
        state.withLock { s in IndexImage.memory(of: [s.storage.vectors, s.storage.norms]).heap + s.removed.count / 8 }
    }
    /// Bytes of a mapped index file the vectors are read from in place (0 when in memory).
    package var mappedBytes: Int {
        state.withLock { s in IndexImage.memory(of: [s.storage.vectors, s.storage.norms]).mapped }
    }

    package func train(_ source: some VectorSource) throws(IndexError) {}

    package func add(_ source: some VectorSource) throws(IndexError) {
        guard source.type == configuration.type, source.dim == configuration.dim else {
            throw .dimensionMismatch(expectedBytes: kernel.vectorBytes, actualBytes: source.vectorBytes)
        }
        let n = source.count
        guard n > 0 else { return }
        let vb = kernel.vectorBytes
        try state.withLock { (s: inout State) throws(IndexError) in
            let old = s.storage.count
            guard old + n <= Int(UInt32.max) else { throw .capacityExceeded(Int(UInt32.max)) }
            let buf = AlignedBuffer(byteCount: (old + n) * vb, zeroed: false)
            buf.pointer.copyMemory(from: s.storage.vectors.pointer, byteCount: old * vb)
            source.withVectors(in: 0..<n) { buf.pointer.advanced(by: old * vb).copyMemory(from: $0, byteCount: n * vb) }
            s.storage = Storage(vectors: buf, norms: FlatIndex.norms(buf, count: old + n, config: configuration), count: old + n)
            s.removed.resize(to: old + n)
        }
    }

    static func norms(_ buf: AlignedBuffer, count: Int, config: IndexConfiguration) -> AlignedBuffer? {
        guard config.type == .floatVector, config.metric != .ip else { return nil }
        let norms = AlignedBuffer(byteCount: count * 4, zeroed: false)
        osp_f32_norms_sq(buf.pointer.assumingMemoryBound(to: Float.self), count, config.dim,
                         norms.pointer.assumingMemoryBound(to: Float.self))
        return norms
    }

    package func remove(_ rows: [RowID]) throws(IndexError) {
        try state.withLock { (s: inout State) throws(IndexError) in
            for r in rows {
                guard r.index < s.storage.count else { throw .rowOutOfRange(row: r.index, count: s.storage.count) }
                s.removed.set(r.index)
            }
        }
    }

    /// The rows a search may return: the filter minus removed rows; nil when all are allowed.
    func allowedRows(_ filter: Bitset?) throws(IndexError) -> (Storage, Bitset?) {
        let (storage, removed) = state.withLock { ($0.storage, $0.removed) }
        let allowed = OspreyIndex.allowedRows(filter: filter, removed: removed, count: storage.count)
        return (storage, allowed)
    }

    // MARK: - Search

    package func search(queries: UnsafeRawBufferPointer, parameters: SearchParameters) throws(IndexError) -> [[Neighbor]] {
        try parameters.validate()
        let nq = try queryCount(queries)
        guard nq > 0 else { return [] }
        let (storage, allowed) = try allowedRows(parameters.filter)
        let threads = parameters.threads ?? Parallel.cores
        var results = [[Neighbor]](repeating: [], count: nq)
        let useGemm = configuration.type == .floatVector && nq >= 4
        let k = parameters.k
        results.withUnsafeMutableBufferPointer { out in
            let out = UncheckedSendable(out)
            let q = UncheckedSendable(queries)
            let chunk = useGemm ? 16 : 1
            Parallel.forChunks(count: nq, threads: threads, minChunk: chunk) { range in
                if useGemm {
                    self.searchBlocked(q.value, range, storage: storage, allowed: allowed, k: k, out: out.value)
                } else {
                    self.searchEach(q.value, range, storage: storage, allowed: allowed, k: k, out: out.value)
                }
            }
        }
        return results
    }

    /// Rows per block of the scan (distances for one block live in L1/L2).
    static let blockRows = 1024

    func searchEach(_ queries: UnsafeRawBufferPointer, _ range: Range<Int>, storage: Storage, allowed: Bitset?, k: Int,
                    out: UnsafeMutableBufferPointer<[Neighbor]>) {
        let vb = kernel.vectorBytes, n = storage.count
        let dist = UnsafeMutablePointer<Float>.allocate(capacity: FlatIndex.blockRows)
        defer { dist.deallocate() }
        for qi in range {
            let q = queries.baseAddress! + qi * vb
            var top = TopK(k: k)
            var start = 0
            while start < n {
                let m = Swift.min(FlatIndex.blockRows, n - start)
                kernel.distances(query: q, base: storage.vectors.pointer + start * vb, count: m, into: dist)
                FlatIndex.collect(dist, start: start, count: m, allowed: allowed, into: &top)
                start += m
            }
            out[qi] = top.sortedResults()
        }
    }

    /// Queries per tile of the blocked product.
    static let tileQueries = 16

    func searchBlocked(_ queries: UnsafeRawBufferPointer, _ range: Range<Int>, storage: Storage, allowed: Bitset?, k: Int,
                       out: UnsafeMutableBufferPointer<[Neighbor]>) {
        let dim = configuration.dim, n = storage.count, metric = configuration.metric
        let tq = FlatIndex.tileQueries, tb = FlatIndex.blockRows
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: tq * tb)
        let qn = UnsafeMutablePointer<Float>.allocate(capacity: tq)
        defer { tile.deallocate(); qn.deallocate() }
        let base = storage.vectors.pointer.assumingMemoryBound(to: Float.self)
        let norms = storage.norms.map { UnsafePointer($0.pointer.assumingMemoryBound(to: Float.self)) }
        var q0 = range.lowerBound
        while q0 < range.upperBound {
            let nqt = Swift.min(tq, range.upperBound - q0)
            let qp = (queries.baseAddress! + q0 * dim * 4).assumingMemoryBound(to: Float.self)
            osp_f32_norms_sq(qp, nqt, dim, qn)
            var tops = (0..<nqt).map { _ in TopK(k: k) }
            var start = 0
            while start < n {
                let m = Swift.min(tb, n - start)
                kernel.gemm(qp, nqt, base + start * dim, m, dim, tile, tb)
                if let norms {
                    VectorDistance.finishFromDots(metric: metric, out: tile, queryNorms: qn, queryCount: nqt,
                                                  baseNorms: norms + start, count: m, stride: tb)
                } else {
                    VectorDistance.finishFromDots(metric: .ip, out: tile, queryNorms: qn, queryCount: nqt,
                                                  baseNorms: qn, count: m, stride: tb)
                }
                for i in 0..<nqt { FlatIndex.collect(tile + i * tb, start: start, count: m, allowed: allowed, into: &tops[i]) }
                start += m
            }
            for i in 0..<nqt { out[q0 + i] = tops[i].sortedResults() }
            q0 += nqt
        }
    }

    /// Pushes one block of distances into a heap, skipping rows that are not allowed.
    @inline(__always)
    static func collect(_ dist: UnsafePointer<Float>, start: Int, count m: Int, allowed: Bitset?, into top: inout TopK) {
        var worst = top.worstDistance
        if let allowed {
            allowed.withUnsafeWords { words in
                for j in 0..<m where dist[j] < worst {
                    let r = start + j
                    if (words[r >> 6] >> UInt64(r & 63)) & 1 == 0 { continue }
                    top.push(distance: dist[j], row: RowID(r))
                    worst = top.worstDistance
                }
            }
        } else {
            for j in 0..<m where dist[j] < worst {
                top.push(distance: dist[j], row: RowID(start + j))
                worst = top.worstDistance
            }
        }
    }

    // MARK: - Range search

    package func rangeSearch(queries: UnsafeRawBufferPointer, parameters: RangeParameters) throws(IndexError) -> [[Neighbor]] {
        try parameters.validate(metric: configuration.metric)
        let nq = try queryCount(queries)
        let (storage, allowed) = try allowedRows(parameters.search.filter)
        let vb = kernel.vectorBytes, n = storage.count, metric = configuration.metric
        var results = [[Neighbor]](repeating: [], count: nq)
        results.withUnsafeMutableBufferPointer { out in
            let out = UncheckedSendable(out)
            let q = UncheckedSendable(queries)
            Parallel.forChunks(count: nq, threads: parameters.search.threads ?? Parallel.cores) { range in
                let dist = UnsafeMutablePointer<Float>.allocate(capacity: FlatIndex.blockRows)
                defer { dist.deallocate() }
                for qi in range {
                    var hits: [Neighbor] = []
                    var start = 0
                    while start < n {
                        let m = Swift.min(FlatIndex.blockRows, n - start)
                        self.kernel.distances(query: q.value.baseAddress! + qi * vb, base: storage.vectors.pointer + start * vb,
                                              count: m, into: dist)
                        for j in 0..<m where parameters.accepts(distance: dist[j], metric: metric) {
                            if let allowed, !allowed.contains(start + j) { continue }
                            hits.append(Neighbor(distance: dist[j], row: RowID(start + j)))
                        }
                        start += m
                    }
                    hits.sort()
                    out.value[qi] = hits
                }
            }
        }
        return results
    }

    // MARK: - Files

    /// Payload: `count:u64 removedWords:u64 words:u64* pad(64) vectors`.
    package func serialized() -> [UInt8] {
        let (storage, removed) = state.withLock { ($0.storage, $0.removed) }
        var w = ByteWriter(capacity: storage.count * kernel.vectorBytes + 256)
        w.write(UInt64(storage.count))
        w.write(removed)
        w.alignFile(64)
        w.writeRaw(UnsafeRawBufferPointer(start: storage.vectors.pointer, count: storage.count * kernel.vectorBytes))
        return IndexFile.image(configuration, payload: w.bytes)
    }

    /// Loads an image; a mapped image's vectors are searched in place, not copied.
    convenience init(file: IndexFile) throws(IndexError) {
        try self.init(file.configuration)
        let vb = kernel.vectorBytes
        let config = configuration
        let loaded: State = try file.image.withBytes { raw throws(IndexError) in
            var r = PayloadReader(raw, offset: file.payloadOffset)
            let n = try r.count("row count", limit: Int(UInt32.max))
            let removed = try r.bitset(rows: n)
            try r.align(64)
            let src = try r.raw(n * vb, "vectors")
            guard r.offset == raw.count else { throw .corruptFile("\(raw.count - r.offset) trailing bytes") }
            let buf = file.buffer(src, alignment: 64)
            return State(storage: Storage(vectors: buf, norms: FlatIndex.norms(buf, count: n, config: config), count: n), removed: removed)
        }
        state.withLock { $0 = loaded }
    }
}
