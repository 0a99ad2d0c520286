import COspreyKernels
import OspreyCore

extension IVFPQIndex {
    /// What one search reads: an immutable generation of the index and the rows it may return.
    struct Snapshot: @unchecked Sendable {
        let centroids: [Float]
        let codebook: Codebook
        let lists: Lists
        let allowed: Bitset?
    }

    /// Per-worker buffers, allocated once per batch of queries.
    ///
    /// Thread safety: owned by one worker.
    struct Scratch {
        let coarse: UnsafeMutablePointer<Float>
        let lut: UnsafeMutablePointer<Float>
        let scan: UnsafeMutablePointer<Float>
        let query: UnsafeMutablePointer<Float>

        init(nlist: Int, m: Int, longestBlocks: Int, dim: Int) {
            coarse = .allocate(capacity: nlist)
            lut = UnsafeMutableRawPointer.allocate(byteCount: m * IVFPQIndex.ksub * 4, alignment: 64).bindMemory(to: Float.self, capacity: m * IVFPQIndex.ksub)
            scan = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(1, longestBlocks) * IVFPQIndex.block * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: Swift.max(1, longestBlocks) * IVFPQIndex.block)
            query = .allocate(capacity: dim)
        }

        func free() {
            coarse.deallocate()
            lut.deallocate()
            scan.deallocate()
            query.deallocate()
        }
    }

    func snapshot(filter: Bitset?) -> Snapshot? {
        let (centroids, codebook, lists, removed) = state.withLock { ($0.centroids, $0.codebook, $0.lists, $0.removed) }
        guard let centroids, let codebook, let lists, lists.count > 0 else { return nil }
        return Snapshot(centroids: centroids, codebook: codebook, lists: lists,
                        allowed: allowedRows(filter: filter, removed: removed, count: lists.count))
    }

    /// Prepares query `raw` (normalised for COSINE into the scratch), ranks the centroids, fills the
    /// distance table and returns the `nprobe` nearest lists, nearest first, with their coarse
    /// distances.
    func prepare(_ raw: UnsafeRawPointer, nprobe: Int, snap: Snapshot, scratch: Scratch) -> [Neighbor] {
        let dim = configuration.dim, nlist = configuration.nlist
        scratch.query.update(from: raw.assumingMemoryBound(to: Float.self), count: dim)
        if normalizes { HNSWIndex.normalize(scratch.query, dim: dim) }
        snap.centroids.withUnsafeBufferPointer { c in
            kernel.distances(query: scratch.query, base: c.baseAddress!, count: nlist, into: scratch.coarse)
        }
        var near = TopK(k: Swift.min(nprobe, nlist))
        var worst = Float.infinity
        for l in 0..<nlist where scratch.coarse[l] < worst {
            near.push(distance: scratch.coarse[l], row: RowID(l))
            worst = near.worstDistance
        }
        snap.codebook.transposed.withUnsafeBufferPointer { cb in
            pq.tables(scratch.query, cb.baseAddress!, m, dsub, innerProduct ? -1 : -2, nil, scratch.lut)
        }
        return near.sortedResults()
    }

    /// Code distances of every slot of list `l` into `scratch.scan`; returns the list's first slot
    /// and its row count.
    @inline(__always)
    func scanList(_ l: Int, coarse: Float, snap: Snapshot, scratch: Scratch) -> (start: Int, count: Int) {
        let lists = snap.lists, bs = IVFPQIndex.block
        let len = lists.offsets[l + 1] - lists.offsets[l]
        let b0 = lists.blockStart[l], nb = lists.blockStart[l + 1] - b0
        guard len > 0 else { return (b0 * bs, 0) }
        let codes = (lists.codes.pointer + b0 * m * bs).assumingMemoryBound(to: UInt8.self)
        let bias = lists.bias.map { UnsafePointer($0.pointer.assumingMemoryBound(to: Float.self) + b0 * bs) }
        pq.scan(scratch.lut, codes, bias, coarse, nb, m, scratch.scan)
        return (b0 * bs, len)
    }

    /// How many candidates a search keeps by code distance: `k`, or with refine
    /// `max(k, reorder_k ?? ⌈refine_k · k⌉)`.
    func candidates(_ p: SearchParameters, refining: Bool) -> Int {
        guard refining else { return p.k }
        if let r = p.reorderK { return Swift.max(p.k, r) }
        // validate() bounds refine_k · k by maxEf, so the conversion cannot overflow.
        return Swift.max(p.k, Int(((p.refineK ?? 1) * Double(p.k)).rounded(.up)))
    }

    /// Runs `body(queryIndex, scratch)` for every query on up to `threads` workers.
    func forEachQuery(_ nq: Int, threads: Int, snap: Snapshot, _ body: @escaping @Sendable (Int, Scratch) -> Void) {
        let nlist = configuration.nlist, m = self.m, dim = configuration.dim, lb = snap.lists.longestBlocks
        Parallel.forChunks(count: nq, threads: threads, minChunk: 4) { range in
            let scratch = Scratch(nlist: nlist, m: m, longestBlocks: lb, dim: dim)
            defer { scratch.free() }
            for qi in range { body(qi, scratch) }
        }
    }

    /// Exact internal distances of `rows` to the prepared query (refine), best first.
    func rerank(_ cands: [Neighbor], k: Int, snap: Snapshot, scratch: Scratch) -> [Neighbor] {
        guard let raw = snap.lists.raw, !cands.isEmpty else { return cands }
        let ids = cands.map { UInt32($0.row.index) }
        var exact = [Float](repeating: 0, count: ids.count)
        exact.withUnsafeMutableBufferPointer { out in
            kernel.distances(query: scratch.query, base: raw.pointer, ids: ids, count: ids.count, stride: kernel.vectorBytes,
                             into: out.baseAddress!)
        }
        var top = TopK(k: k)
        for (i, c) in cands.enumerated() { top.push(distance: exact[i], row: c.row) }
        return top.sortedResults()
    }

    // MARK: - Search

    package func search(queries: UnsafeRawBufferPointer, parameters: SearchParameters) throws(IndexError) -> [[Neighbor]] {
        try parameters.validate()
        let nq = try queryCount(queries)
        guard nq > 0, let snap = snapshot(filter: parameters.filter) else { return [[Neighbor]](repeating: [], count: nq) }
        let box = ResultSlots(count: nq)
        let k = parameters.k, nprobe = parameters.nprobe ?? IVFPQIndex.defaultNprobe
        let refining = snap.lists.raw != nil
        let keep = candidates(parameters, refining: refining)
        let vb = kernel.vectorBytes, l2 = !innerProduct
        let q = UncheckedSendable(queries)
        forEachQuery(nq, threads: parameters.threads ?? Parallel.cores, snap: snap) { qi, scratch in
            let probes = self.prepare(q.value.baseAddress! + qi * vb, nprobe: nprobe, snap: snap, scratch: scratch)
            var top = TopK(k: keep)
            var worst = Float.infinity
            let ids = snap.lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
            let dist = scratch.scan
            for p in probes {
                let (start, len) = self.scanList(p.row.index, coarse: p.distance, snap: snap, scratch: scratch)
                if let allowed = snap.allowed {
                    allowed.withUnsafeWords { words in
                        for j in 0..<len where dist[j] < worst {
                            let r = Int(ids[start + j])
                            if (words[r >> 6] >> UInt64(r & 63)) & 1 == 0 { continue }
                            top.push(distance: dist[j], row: RowID(r))
                            worst = top.worstDistance
                        }
                    }
                } else {
                    for j in 0..<len where dist[j] < worst {
                        top.push(distance: dist[j], row: RowID(Int(ids[start + j])))
                        worst = top.worstDistance
                    }
                }
            }
            var found = top.sortedResults()
            if refining {
                found = self.rerank(found, k: k, snap: snap, scratch: scratch)
            } else if l2 {
                // The decomposed code distance can round just below zero.
                for i in found.indices where found[i].distance < 0 { found[i].distance = 0 }
            }
            box.set(qi, found)
        }
        return box.take()
    }

    /// Rows of the `nprobe` nearest lists whose code distance satisfies the bounds; with refine,
    /// those whose exact distance also does, reported with the exact distance.
    package func rangeSearch(queries: UnsafeRawBufferPointer, parameters: RangeParameters) throws(IndexError) -> [[Neighbor]] {
        try parameters.validate(metric: configuration.metric)
        try parameters.search.validate()
        let nq = try queryCount(queries)
        guard nq > 0, let snap = snapshot(filter: parameters.search.filter) else { return [[Neighbor]](repeating: [], count: nq) }
        let box = ResultSlots(count: nq)
        let metric = configuration.metric, nprobe = parameters.search.nprobe ?? IVFPQIndex.defaultNprobe
        let vb = kernel.vectorBytes, l2 = !innerProduct
        let q = UncheckedSendable(queries)
        forEachQuery(nq, threads: parameters.search.threads ?? Parallel.cores, snap: snap) { qi, scratch in
            let probes = self.prepare(q.value.baseAddress! + qi * vb, nprobe: nprobe, snap: snap, scratch: scratch)
            let ids = snap.lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
            var hits: [Neighbor] = []
            for p in probes {
                let (start, len) = self.scanList(p.row.index, coarse: p.distance, snap: snap, scratch: scratch)
                for j in 0..<len {
                    let d = l2 ? Swift.max(0, scratch.scan[j]) : scratch.scan[j]
                    guard parameters.accepts(distance: d, metric: metric) else { continue }
                    let r = Int(ids[start + j])
                    if let allowed = snap.allowed, !allowed.contains(r) { continue }
                    hits.append(Neighbor(distance: d, row: RowID(r)))
                }
            }
            if snap.lists.raw != nil {
                hits = self.rerank(hits, k: hits.count, snap: snap, scratch: scratch)
                    .filter { parameters.accepts(distance: $0.distance, metric: metric) }
            }
            box.set(qi, hits.sorted())
        }
        return box.take()
    }
}
