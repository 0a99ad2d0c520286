import COspreyKernels
import OspreyCore

extension IVFPQIndex {
    /// What one search reads: an immutable generation of the index and the rows it may return.
    struct Snapshot: Sendable {
        let panels: CoarsePanels
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
        let qlut: UnsafeMutablePointer<UInt8>
        let scan: UnsafeMutablePointer<Float>
        let query: UnsafeMutablePointer<Float>
        let heapDist: UnsafeMutablePointer<Float>
        let heapIds: UnsafeMutablePointer<UInt32>

        init(nlist: Int, m: Int, longestBlocks: Int, dim: Int, keep: Int) {
            let entries = m * IVFPQIndex.ksub, slots = Swift.max(1, longestBlocks) * IVFPQIndex.block
            coarse = .allocate(capacity: nlist)
            lut = UnsafeMutableRawPointer.allocate(byteCount: entries * 4, alignment: 64).bindMemory(to: Float.self, capacity: entries)
            qlut = UnsafeMutableRawPointer.allocate(byteCount: entries, alignment: 64).bindMemory(to: UInt8.self, capacity: entries)
            scan = UnsafeMutableRawPointer.allocate(byteCount: slots * 4, alignment: 64).bindMemory(to: Float.self, capacity: slots)
            query = .allocate(capacity: dim)
            heapDist = .allocate(capacity: Swift.max(1, keep))
            heapIds = .allocate(capacity: Swift.max(1, keep))
        }

        func free() {
            coarse.deallocate()
            lut.deallocate()
            qlut.deallocate()
            scan.deallocate()
            query.deallocate()
            heapDist.deallocate()
            heapIds.deallocate()
        }
    }

    /// A prepared query: the lists to probe (nearest first, with coarse distances) and the byte
    /// table's step, offset and magnitude (zero when the kernels do not use it).
    struct Prepared {
        var probes: [Neighbor]
        /// Whether the byte table was built (then the byte-table search runs).
        var quantized = false
        var delta: Float = 0
        var offset: Float = 0
        var magnitude: Float = 0
    }

    func snapshot(filter: Bitset?) -> Snapshot? {
        let (panels, codebook, lists, removed) = state.withLock { s in
            (s.panels, s.codebook, s.lists, filter != nil || s.anyRemoved ? s.removed : nil)
        }
        guard let panels, let codebook, let lists, lists.count > 0 else { return nil }
        let allowed = removed.flatMap { allowedRows(filter: filter, removed: $0, count: lists.count) }
        return Snapshot(panels: panels, codebook: codebook, lists: lists, allowed: allowed)
    }

    /// Prepares query `raw` (normalised for COSINE into the scratch), ranks the centroids, fills the
    /// distance table and returns the `nprobe` nearest lists, nearest first, with their coarse
    /// distances. When `quantize` allows it and the lists hold at least `quantizedMinRows` rows,
    /// the table's byte form is built too.
    func prepare(_ raw: UnsafeRawPointer, nprobe: Int, snap: Snapshot, scratch: Scratch, quantize: Bool) -> Prepared {
        let dim = configuration.dim, nlist = configuration.nlist
        scratch.query.update(from: raw.assumingMemoryBound(to: Float.self), count: dim)
        if normalizes { HNSWIndex.normalize(scratch.query, dim: dim) }
        snap.panels.kernel(scratch.query, snap.panels.panels.pointer, nlist, dim, scratch.coarse)
        var near = TopK(k: Swift.min(nprobe, nlist))
        var worst = Float.infinity
        for l in 0..<nlist where scratch.coarse[l] < worst {
            near.push(distance: scratch.coarse[l], row: RowID(l))
            worst = near.worstDistance
        }
        snap.codebook.transposed.withUnsafeBufferPointer { cb in
            pq.tables(scratch.query, cb.baseAddress!, m, dsub, innerProduct ? -1 : -2, nil, scratch.lut)
        }
        var prepared = Prepared(probes: near.sortedResults())
        if quantize {
            var rows = 0
            for p in prepared.probes { rows += snap.lists.offsets[p.row.index + 1] - snap.lists.offsets[p.row.index] }
            if rows >= IVFPQIndex.quantizedMinRows {
                pq.quantize(scratch.lut, m, scratch.qlut, &prepared.delta, &prepared.offset, &prepared.magnitude)
                prepared.quantized = true
            }
        }
        return prepared
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
    func forEachQuery(_ nq: Int, threads: Int, keep: Int, snap: Snapshot, _ body: @escaping @Sendable (Int, Scratch) -> Void) {
        let nlist = configuration.nlist, m = self.m, dim = configuration.dim, lb = snap.lists.longestBlocks
        Parallel.forChunks(count: nq, threads: threads, minChunk: 4) { range in
            let scratch = Scratch(nlist: nlist, m: m, longestBlocks: lb, dim: dim, keep: keep)
            defer { scratch.free() }
            for qi in range { body(qi, scratch) }
        }
    }

    /// The `keep` best allowed rows of the probed lists by code distance, best first.
    func nearest(_ prepared: Prepared, keep: Int, snap: Snapshot, scratch: Scratch, allowed: UnsafePointer<UInt64>?) -> [Neighbor] {
        let lists = snap.lists, bs = IVFPQIndex.block, m = self.m
        var heap = osp_pq_heap(dist: scratch.heapDist, ids: scratch.heapIds, count: 0, k: keep)
        let kernels = prepared.quantized ? pq : pqFloat
        var query = osp_pq_query(lut: scratch.lut, qlut: prepared.quantized ? scratch.qlut : nil, m: m, delta: prepared.delta,
                                 offset: prepared.offset)
        let ids = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
        let codes = lists.codes.pointer.assumingMemoryBound(to: UInt8.self)
        let bias = lists.bias.map { UnsafePointer($0.pointer.assumingMemoryBound(to: Float.self)) }
        // The byte table's error is at most half a step per sub-quantizer; float rounding of sums of
        // terms up to `magnitude` adds a few ulps per term.
        let rounding = Float(m + 8) * 0x1p-22 * (4 * prepared.magnitude + lists.maxAbsBias)
        let halfSteps = 0.51 * Float(m) * prepared.delta
        let probes = prepared.probes
        for (i, p) in probes.enumerated() {
            let l = p.row.index
            let len = lists.offsets[l + 1] - lists.offsets[l]
            guard len > 0 else { continue }
            let s0 = lists.blockStart[l] * bs
            if i + 1 < probes.count {
                // The kernel prefetches a list's next block; the first block of the next list is fetched here.
                let n0 = lists.blockStart[probes[i + 1].row.index] * bs
                osp_prefetch_range(codes + n0 * m, m * bs)
                osp_prefetch_range(ids + n0, bs * 4)
                if let bias { osp_prefetch_range(bias + n0, bs * 4) }
            }
            let slack = halfSteps + rounding + Float(m + 8) * 0x1p-22 * abs(p.distance)
            kernels.search(&query, codes + s0 * m, bias.map { $0 + s0 }, ids + s0, len, p.distance, slack, allowed, &heap)
        }
        var found = (0..<heap.count).map { Neighbor(distance: scratch.heapDist[$0], row: RowID(Int(scratch.heapIds[$0]))) }
        found.sort()
        return found
    }

    /// Exact internal distances of `rows` to the prepared query (refine), best first.
    func rerank(_ cands: [Neighbor], k: Int, snap: Snapshot, scratch: Scratch) -> [Neighbor] {
        guard let raw = snap.lists.raw, !cands.isEmpty else { return cands }
        let ids = cands.map { UInt32($0.row.index) }
        // The candidates' vectors are scattered: ask for all of them before the first is needed.
        let vb = kernel.vectorBytes
        for id in ids { osp_prefetch_range(raw.pointer + Int(id) * vb, vb) }
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
        let vb = kernel.vectorBytes, l2 = !innerProduct, quantize = pq.quantized != 0
        let q = UncheckedSendable(queries)
        forEachQuery(nq, threads: parameters.threads ?? Parallel.cores, keep: keep, snap: snap) { qi, scratch in
            let prepared = self.prepare(q.value.baseAddress! + qi * vb, nprobe: nprobe, snap: snap, scratch: scratch, quantize: quantize)
            var found: [Neighbor]
            if let allowed = snap.allowed {
                found = allowed.withUnsafeWords { self.nearest(prepared, keep: keep, snap: snap, scratch: scratch, allowed: $0.baseAddress) }
            } else {
                found = self.nearest(prepared, keep: keep, snap: snap, scratch: scratch, allowed: nil)
            }
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
        forEachQuery(nq, threads: parameters.search.threads ?? Parallel.cores, keep: 1, snap: snap) { qi, scratch in
            let probes = self.prepare(q.value.baseAddress! + qi * vb, nprobe: nprobe, snap: snap, scratch: scratch, quantize: false).probes
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
