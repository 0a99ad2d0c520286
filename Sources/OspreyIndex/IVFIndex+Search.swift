import COspreyKernels
import OspreyCore
import Synchronization

// MARK: - Search state

extension IVFIndex {
    /// The trained centroids laid out for the coarse step: row-major for exact distances, in panels
    /// of 16 for the one-query kernel, with their squared norms for the matrix product of a batch.
    ///
    /// Panels are float32, or half precision when float32 panels would exceed
    /// ``halfPanelThreshold`` (they then no longer stay in a core's L2 cache, and reading them
    /// would dominate a query); the rounding error of every centroid is measured and bounds the
    /// recheck.
    ///
    /// Thread safety: immutable; shared by concurrent searches.
    final class Coarse: Sendable {
        let rows: [Float]
        let panels: AlignedBuffer
        /// The kernel for `panels` (squared L2, or −dot for IP and COSINE).
        let panel: osp_panel_fn
        let norms: AlignedBuffer
        /// The largest centroid norm (not squared), for the error bounds of the approximate step.
        let maxNorm: Float
        /// The largest distance between a centroid and its panel copy (0 for float32 panels).
        let panelError: Float
        let count: Int

        /// Bytes of float32 panels beyond which half precision is used.
        static let halfPanelThreshold = 1 << 20

        /// Bytes of the panels for `nlist` centroids, and whether they are half precision.
        static func panelBytes(nlist: Int, dim: Int) -> (used: Int, half: Bool) {
            let f32 = (nlist + 15) / 16 * 16 * dim * 4
            return f32 > halfPanelThreshold ? (f32 / 2, true) : (f32, false)
        }

        /// `half` forces the panel precision (nil: by size, as searches do).
        init(centroids: [Float], count: Int, dim: Int, innerProduct: Bool, half forced: Bool? = nil) {
            let f32 = (count + 15) / 16 * 16 * dim * 4
            var half = forced ?? Coarse.panelBytes(nlist: count, dim: dim).half
            var bytes = half ? f32 / 2 : f32
            // Values beyond half precision's range keep float32 panels.
            if half, !centroids.allSatisfy({ Swift.abs($0) <= 65504 }) {
                half = false
                bytes *= 2
            }
            let panels = AlignedBuffer(byteCount: bytes, zeroed: false)
            let norms = AlignedBuffer(byteCount: count * 4, zeroed: false)
            let n = norms.pointer.assumingMemoryBound(to: Float.self)
            var worst = 0.0
            centroids.withUnsafeBufferPointer { c in
                osp_panel_pack(c.baseAddress!, count, dim, half ? 1 : 0, panels.pointer)
                osp_f32_norms_sq(c.baseAddress!, count, dim, n)
                if half {
                    let h = panels.pointer.assumingMemoryBound(to: UInt16.self)
                    for j in 0..<count {
                        var e = 0.0
                        for i in 0..<dim {
                            let d = Double(c[j * dim + i]) - Double(osp_f16_to_f32(h[((j / 16) * dim + i) * 16 + j % 16]))
                            e += d * d
                        }
                        worst = Swift.max(worst, e)
                    }
                }
            }
            var largest: Float = 0
            for j in 0..<count { largest = Swift.max(largest, n[j]) }
            rows = centroids
            self.count = count
            self.panels = panels
            self.norms = norms
            panel = osp_panel_select(Int32(innerProduct ? OSP_METRIC_IP : OSP_METRIC_L2), half ? 1 : 0, Int32(OSP_ISA_BEST))!
            maxNorm = largest.squareRoot()
            panelError = Float(worst.squareRoot() * (1 + 1e-6))
        }
    }

    /// Everything one search reads, taken once per call.
    ///
    /// Thread safety: immutable; shared by concurrent searches.
    final class Snapshot: Sendable {
        let coarse: Coarse
        let quantizer: ScalarQuantizer?
        let lists: Lists
        let removed: Bitset
        /// Whether any row is removed (computed once here, not per query).
        let anyRemoved: Bool

        init(coarse: Coarse, quantizer: ScalarQuantizer?, lists: Lists, removed: Bitset) {
            self.coarse = coarse
            self.quantizer = quantizer
            self.lists = lists
            self.removed = removed
            anyRemoved = !removed.isAllClear
        }
    }

    /// The current snapshot, built (under the lock) on the first search after a change; nil before
    /// the first rows are added.
    func snapshot() -> Snapshot? {
        state.withLock { s in
            if let snap = s.snapshot { return snap }
            guard let centroids = s.centroids, let lists = s.lists else { return nil }
            let coarse = s.coarse
                ?? Coarse(centroids: centroids, count: configuration.nlist, dim: configuration.dim, innerProduct: configuration.metric != .l2)
            s.coarse = coarse
            let snap = Snapshot(coarse: coarse, quantizer: s.quantizer, lists: lists, removed: s.removed)
            s.snapshot = snap
            return snap
        }
    }

    /// The rows a search may return as one bitmap: `allows` says whether a set bit admits a row
    /// (a filter) or excludes it (the removed rows, when there is no filter); nil admits every row.
    struct RowMask: Sendable {
        var bits: Bitset
        var allows: Bool
    }

    func rowMask(filter: Bitset?, _ snap: Snapshot) -> RowMask? {
        let n = snap.lists.count
        if let filter {
            if !snap.anyRemoved && filter.count == n { return RowMask(bits: filter, allows: true) }
            return RowMask(bits: allowedRows(filter: filter, removed: snap.removed, count: n) ?? filter, allows: true)
        }
        return snap.anyRemoved ? RowMask(bits: snap.removed, allows: false) : nil
    }

    /// Calls `body` with the mask's words (nil without a mask) and its polarity for `osp_topk_offer`.
    @inline(__always)
    func withMask<R>(_ mask: RowMask?, _ body: (UnsafePointer<UInt64>?, Int32) -> R) -> R {
        guard let mask else { return body(nil, 0) }
        return mask.bits.withUnsafeWords { body($0.baseAddress, mask.allows ? 1 : 0) }
    }
}

// MARK: - Choosing the lists

extension IVFIndex {
    /// Rows per kernel call in a list scan (their distances stay in L1).
    static let blockRows = 1024

    /// Where approximate centroid distances can put the exact `nprobe`-th: for the nearest
    /// approximate `t`, every list the exact distances choose has an approximate distance at most
    /// `(1 + relative) · (√t + offset)² + absolute` (L2 from panels) or `t + absolute` (otherwise).
    struct Slack {
        var rooted: Bool
        var relative: Float
        var offset: Float
        var absolute: Float

        func bound(_ t: Float) -> Float {
            guard rooted else { return t + absolute }
            let r = Swift.max(t, 0).squareRoot() + offset
            return (1 + relative) * r * r + absolute
        }
    }

    /// A bound on the rounding error of a float32 sum over `dim` products, relative to the sum of
    /// their magnitudes, covering the approximate kernels and the exact one alike: 2·(dim + 2)·2⁻²⁴,
    /// at least twice γ(dim + 1) of the standard analysis.
    func unitError() -> Float { Float(configuration.dim + 2) * Float.ulpOfOne }

    /// The slack for approximate distances from the panel kernel (`fromPanels`) or from dot products
    /// and norms (a batch), for a query of norm `qnorm`.
    ///
    /// Each approximate and exact distance is within `a` (``unitError()``) of its exact value,
    /// relative to the magnitudes summed; half-precision panels add the centroid's rounding `e`,
    /// which moves an L2 distance's square root by at most `e` and an inner product by at most
    /// `|q|·e`. The bounds below are twice what that analysis needs, and more.
    func slack(qnorm: Float, coarse: Coarse, fromPanels: Bool) -> Slack {
        let a = unitError(), e = fromPanels ? coarse.panelError : 0, c = coarse.maxNorm + e
        let tiny = Float(configuration.dim + 2) * Float.leastNormalMagnitude
        if configuration.metric != .l2 {
            return Slack(rooted: false, relative: 0, offset: 0, absolute: 3 * qnorm * (e + 2 * a * (c + coarse.maxNorm)) + tiny)
        }
        if fromPanels { return Slack(rooted: true, relative: 12 * a, offset: 2 * e, absolute: tiny) }
        let reach = qnorm + coarse.maxNorm
        return Slack(rooted: false, relative: 0, offset: 0, absolute: 12 * a * reach * reach + tiny)
    }

    /// Chooses the `nprobe` lists nearest `q`, nearest first, into `scratch.probeIds`; returns how
    /// many (min(nprobe, nlist)).
    ///
    /// `approx` holds approximate distances to every centroid, each within `slack` of the exact
    /// kernel's. The `nprobe`-th smallest approximate distance `t` bounds the exact `nprobe`-th from
    /// above by `t + slack`, so every list the exact distances would choose has an approximate
    /// distance within twice the slack of `t`; only those are measured again with the exact kernel,
    /// and the lists are chosen and ordered by exact distance, then list number, as if every centroid
    /// had been measured exactly. A query too large for the bounds (non-finite norms) measures
    /// every centroid exactly.
    func chooseLists(_ q: UnsafePointer<Float>, qnorm: Float, approx: UnsafePointer<Float>, slack: Slack, nprobe: Int,
                     coarse: Coarse, scratch: IVFScratch) -> Int {
        let nlist = coarse.count, np = Swift.min(nprobe, nlist), dim = configuration.dim
        let reach = qnorm + coarse.maxNorm + coarse.panelError
        guard (2 * reach * reach).isFinite else { return chooseListsExactly(q, nprobe: np, coarse: coarse, scratch: scratch) }
        var heap = osp_topk(dist: scratch.probeDist.reserve(np), ids: scratch.probeIds.reserve(np), count: 0, k: np)
        osp_topk_offer(&heap, approx, nil, 0, nlist, nil, 0)
        guard heap.count == np, heap.dist[0].isFinite else {
            return chooseListsExactly(q, nprobe: np, coarse: coarse, scratch: scratch)
        }
        let t = heap.dist[0]
        let bound = slack.bound(t)
        let candidates = scratch.candidates.reserve(nlist)
        let m = osp_select_at_most(approx, nlist, bound, candidates)
        let exact = scratch.exact.reserve(m)
        coarse.rows.withUnsafeBufferPointer { rows in
            let base = UnsafeRawPointer(rows.baseAddress!)
            for i in 0..<m { exact[i] = kernel.distance(q, base + Int(candidates[i]) * dim * 4) }
        }
        heap.count = 0
        osp_topk_offer(&heap, exact, candidates, 0, m, nil, 0)
        guard heap.count == np else { return chooseListsExactly(q, nprobe: np, coarse: coarse, scratch: scratch) }
        osp_topk_sort(&heap)
        return np
    }

    /// Every centroid measured with the exact kernel and ranked by a ``TopK``: the reference the
    /// fast path reproduces, used where its error bounds do not hold.
    func chooseListsExactly(_ q: UnsafePointer<Float>, nprobe np: Int, coarse: Coarse, scratch: IVFScratch) -> Int {
        let nlist = coarse.count
        let exact = scratch.exact.reserve(nlist)
        coarse.rows.withUnsafeBufferPointer { kernel.distances(query: q, base: $0.baseAddress!, count: nlist, into: exact) }
        var near = TopK(k: np)
        for l in 0..<nlist { near.push(distance: exact[l], row: RowID(l)) }
        let chosen = near.sortedResults()
        let ids = scratch.probeIds.reserve(np)
        for (i, c) in chosen.enumerated() { ids[i] = c.row.rawValue }
        return chosen.count
    }

    /// Lists for one query by the panel kernel.
    func chooseLists(_ q: UnsafePointer<Float>, nprobe: Int, coarse: Coarse, scratch: IVFScratch) -> Int {
        let dim = configuration.dim
        var norm2: Float = 0
        osp_f32_norms_sq(q, 1, dim, &norm2)
        let approx = scratch.approx.reserve(coarse.count)
        coarse.panel(q, coarse.panels.pointer, coarse.count, dim, approx)
        let qnorm = norm2.squareRoot()
        return chooseLists(q, qnorm: qnorm, approx: approx, slack: slack(qnorm: qnorm, coarse: coarse, fromPanels: true),
                           nprobe: nprobe, coarse: coarse, scratch: scratch)
    }
}

// MARK: - Scanning

extension IVFIndex {
    /// The query as searched: a normalised copy in `scratch.query` for COSINE, else `q` itself.
    func prepared(_ q: UnsafeRawPointer, scratch: IVFScratch) -> UnsafePointer<Float> {
        let dim = configuration.dim
        guard normalizes else { return q.assumingMemoryBound(to: Float.self) }
        let copy = scratch.query.reserve(dim)
        copy.update(from: q.assumingMemoryBound(to: Float.self), count: dim)
        HNSWIndex.normalize(copy, dim: dim)
        return UnsafePointer(copy)
    }

    /// Calls `body(distances, rowIDs, count)` for every block of the first `probes` lists of
    /// `scratch.probeIds`, in that order; distances come from the list's kernel (the float32 pair
    /// kernel, or SQ8), which prefetches ahead as it reads the list.
    @inline(__always)
    func scanLists(_ q: UnsafePointer<Float>, probes: Int, snap: Snapshot, scratch: IVFScratch,
                   _ body: (UnsafePointer<Float>, UnsafePointer<UInt32>, Int) -> Void) {
        let lists = snap.lists, dim = configuration.dim, cb = codeBytes
        let dist = scratch.dist.reserve(IVFIndex.blockRows)
        let ids = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
        let order = scratch.probeIds.pointer
        lists.offsets.withUnsafeBufferPointer { offsets in
            if let qz = snap.quantizer, let sq8 {
                // SQ8: the query is transformed once (docs/index.md), then codes are scanned directly.
                let prep = scratch.prep.reserve(dim)
                var c0: Float = 0
                qz.vmin.withUnsafeBufferPointer { vmin in
                    qz.scale.withUnsafeBufferPointer { scale in
                        if configuration.metric == .l2 {
                            for d in 0..<dim { prep[d] = q[d] - vmin[d] }
                        } else {
                            for d in 0..<dim {
                                prep[d] = q[d] * scale[d]
                                c0 += q[d] * vmin[d]
                            }
                        }
                        for p in 0..<probes {
                            let l = Int(order[p])
                            var start = offsets[l]
                            let end = offsets[l + 1]
                            while start < end {
                                let n = Swift.min(IVFIndex.blockRows, end - start)
                                sq8(prep, (lists.codes.pointer + start * cb).assumingMemoryBound(to: UInt8.self), n, dim,
                                    scale.baseAddress!, c0, dist)
                                body(dist, ids + start, n)
                                start += n
                            }
                        }
                    }
                }
            } else {
                for p in 0..<probes {
                    let l = Int(order[p])
                    var start = offsets[l]
                    let end = offsets[l + 1]
                    while start < end {
                        let n = Swift.min(IVFIndex.blockRows, end - start)
                        osp_scan_pairs(kernel.pair, q, lists.codes.pointer + start * cb, n, dim, cb, dist)
                        body(dist, ids + start, n)
                        start += n
                    }
                }
            }
        }
    }

    /// The `k` nearest admitted rows among the first `probes` lists of `scratch.probeIds`.
    func nearest(_ q: UnsafePointer<Float>, probes: Int, k: Int, snap: Snapshot, mask: UnsafePointer<UInt64>?, allows: Int32,
                 scratch: IVFScratch) -> [Neighbor] {
        var heap = osp_topk(dist: scratch.heapDist.reserve(k), ids: scratch.heapIds.reserve(k), count: 0, k: k)
        scanLists(q, probes: probes, snap: snap, scratch: scratch) { dist, ids, n in
            osp_topk_offer(&heap, dist, ids, 0, n, mask, allows)
        }
        osp_topk_sort(&heap)
        let n = heap.count, hd = heap.dist!, hi = heap.ids!
        return [Neighbor](unsafeUninitializedCapacity: n) { buf, filled in
            for i in 0..<n { (buf.baseAddress! + i).initialize(to: Neighbor(distance: hd[i], row: RowID(hi[i]))) }
            filled = n
        }
    }
}

// MARK: - Search

extension IVFIndex {
    package func search(queries: UnsafeRawBufferPointer, parameters: SearchParameters) throws(IndexError) -> [[Neighbor]] {
        try parameters.validate()
        let nq = try queryCount(queries)
        guard nq > 0 else { return [] }
        guard let snap = snapshot() else { return [[Neighbor]](repeating: [], count: nq) }
        let k = parameters.k, nprobe = parameters.nprobe ?? IVFIndex.defaultNprobe
        let mask = rowMask(filter: parameters.filter, snap)
        if nq == 1 {
            // One query: on the caller's thread, with pooled scratch and no other allocation.
            let s = scratch.take()
            defer { scratch.give(s) }
            let q = prepared(queries.baseAddress!, scratch: s)
            let probes = chooseLists(q, nprobe: nprobe, coarse: snap.coarse, scratch: s)
            return [withMask(mask) { nearest(q, probes: probes, k: k, snap: snap, mask: $0, allows: $1, scratch: s) }]
        }
        let box = ResultSlots(count: nq)
        let shared = UncheckedSendable(queries)
        Parallel.forChunks(count: nq, threads: parameters.threads ?? Parallel.cores, minChunk: 4) { range in
            let s = self.scratch.take()
            defer { self.scratch.give(s) }
            self.withMask(mask) { words, allows in
                self.searchBatch(shared.value, range, k: k, nprobe: nprobe, snap: snap, mask: words, allows: allows, scratch: s,
                                 into: box)
            }
        }
        return box.take()
    }

    /// Queries per tile of a batch's coarse matrix product.
    func tileQueries(nlist: Int) -> Int { Swift.max(1, Swift.min(32, (1 << 16) / Swift.max(1, nlist))) }

    /// A range of a batch: query × centroid dot products for a tile of queries at once (the blocked
    /// matrix product), then per query the exact recheck of the borderline lists and the scans.
    func searchBatch(_ queries: UnsafeRawBufferPointer, _ range: Range<Int>, k: Int, nprobe: Int, snap: Snapshot,
                     mask: UnsafePointer<UInt64>?, allows: Int32, scratch s: IVFScratch, into box: ResultSlots) {
        let dim = configuration.dim, coarse = snap.coarse, nlist = coarse.count, ip = configuration.metric != .l2
        let tq = tileQueries(nlist: nlist)
        let src = queries.baseAddress!.assumingMemoryBound(to: Float.self)
        let cnorms = coarse.norms.pointer.assumingMemoryBound(to: Float.self)
        var q0 = range.lowerBound
        while q0 < range.upperBound {
            let n = Swift.min(tq, range.upperBound - q0)
            let qt = s.query.reserve(n * dim)
            qt.update(from: src + q0 * dim, count: n * dim)
            if normalizes { for i in 0..<n { HNSWIndex.normalize(qt + i * dim, dim: dim) } }
            let qn = s.norms.reserve(n)
            osp_f32_norms_sq(qt, n, dim, qn)
            let tile = s.approx.reserve(n * nlist)
            coarse.rows.withUnsafeBufferPointer { kernel.gemm(qt, n, $0.baseAddress!, nlist, dim, tile, nlist) }
            for i in 0..<n {
                let row = tile + i * nlist, a = qn[i]
                if ip {
                    for j in 0..<nlist { row[j] = -row[j] }
                } else {
                    for j in 0..<nlist { row[j] = a + cnorms[j] - 2 * row[j] }
                }
                let q = UnsafePointer(qt + i * dim), qnorm = a.squareRoot()
                let probes = chooseLists(q, qnorm: qnorm, approx: row,
                                         slack: slack(qnorm: qnorm, coarse: coarse, fromPanels: false),
                                         nprobe: nprobe, coarse: coarse, scratch: s)
                box.set(q0 + i, nearest(q, probes: probes, k: k, snap: snap, mask: mask, allows: allows, scratch: s))
            }
            q0 += n
        }
    }

    package func rangeSearch(queries: UnsafeRawBufferPointer, parameters: RangeParameters) throws(IndexError) -> [[Neighbor]] {
        try parameters.validate(metric: configuration.metric)
        let nq = try queryCount(queries)
        guard nq > 0 else { return [] }
        guard let snap = snapshot() else { return [[Neighbor]](repeating: [], count: nq) }
        let nprobe = parameters.search.nprobe ?? IVFIndex.defaultNprobe
        let mask = rowMask(filter: parameters.search.filter, snap)
        let box = ResultSlots(count: nq)
        let shared = UncheckedSendable(queries)
        let vb = kernel.vectorBytes
        Parallel.forChunks(count: nq, threads: parameters.search.threads ?? Parallel.cores, minChunk: 4) { range in
            let s = self.scratch.take()
            defer { self.scratch.give(s) }
            self.withMask(mask) { words, allows in
                for qi in range {
                    let q = self.prepared(shared.value.baseAddress! + qi * vb, scratch: s)
                    let probes = self.chooseLists(q, nprobe: nprobe, coarse: snap.coarse, scratch: s)
                    box.set(qi, self.within(q, probes: probes, parameters: parameters, snap: snap, mask: words, allows: allows, scratch: s))
                }
            }
        }
        return box.take()
    }

    /// Every admitted row of the probed lists whose distance satisfies the range bounds, sorted.
    func within(_ q: UnsafePointer<Float>, probes: Int, parameters: RangeParameters, snap: Snapshot, mask: UnsafePointer<UInt64>?,
                allows: Int32, scratch: IVFScratch) -> [Neighbor] {
        let metric = configuration.metric
        var hits: [Neighbor] = []
        scanLists(q, probes: probes, snap: snap, scratch: scratch) { dist, ids, n in
            for j in 0..<n where parameters.accepts(distance: dist[j], metric: metric) {
                let r = ids[j]
                if let mask, Int32(truncatingIfNeeded: (mask[Int(r >> 6)] >> UInt64(r & 63)) & 1) != allows { continue }
                hits.append(Neighbor(distance: dist[j], row: RowID(r)))
            }
        }
        hits.sort()
        return hits
    }
}

// MARK: - Scratch

/// A growable buffer of trivial elements, reused across searches.
///
/// Thread safety: owned by one ``IVFScratch``, used by one thread at a time.
struct ScratchBuffer<Element> {
    private(set) var pointer: UnsafeMutablePointer<Element>
    private(set) var capacity: Int

    init() {
        capacity = 16
        pointer = .allocate(capacity: capacity)
    }

    /// Room for at least `n` elements (contents are not kept when it grows).
    @inline(__always)
    mutating func reserve(_ n: Int) -> UnsafeMutablePointer<Element> {
        if n > capacity { grow(n) }
        return pointer
    }

    @inline(never)
    mutating func grow(_ n: Int) {
        pointer.deallocate()
        capacity = Swift.max(n, 2 * capacity)
        pointer = .allocate(capacity: capacity)
    }

    func free() { pointer.deallocate() }
}

/// The buffers one IVF search uses: centroid distances, candidates, heaps, a distance block and
/// query copies.
///
/// Thread safety: used by one search at a time; an ``IVFScratchPool`` hands them out.
final class IVFScratch: @unchecked Sendable {
    /// Approximate centroid distances (one query, or a tile of a batch).
    var approx = ScratchBuffer<Float>()
    var candidates = ScratchBuffer<UInt32>()
    var exact = ScratchBuffer<Float>()
    /// The probe heap; after selection `probeIds` holds the lists to scan, nearest first.
    var probeDist = ScratchBuffer<Float>()
    var probeIds = ScratchBuffer<UInt32>()
    var heapDist = ScratchBuffer<Float>()
    var heapIds = ScratchBuffer<UInt32>()
    var dist = ScratchBuffer<Float>()
    /// A normalised query (COSINE) or a batch's tile of queries.
    var query = ScratchBuffer<Float>()
    var norms = ScratchBuffer<Float>()
    /// The SQ8 query transform.
    var prep = ScratchBuffer<Float>()

    deinit {
        for b in [approx, exact, probeDist, heapDist, dist, query, norms, prep] { b.free() }
        for b in [candidates, probeIds, heapIds] { b.free() }
    }
}

/// A pool of ``IVFScratch`` so that searches reuse buffers instead of allocating them per call.
///
/// Thread safety: `take` and `give` are safe from any thread (a mutex guards the free list).
final class IVFScratchPool: Sendable {
    private let free = Mutex<[IVFScratch]>([])

    func take() -> IVFScratch { free.withLock { $0.popLast() } ?? IVFScratch() }

    func give(_ s: IVFScratch) { free.withLock { if $0.count < 64 { $0.append(s) } } }
}
