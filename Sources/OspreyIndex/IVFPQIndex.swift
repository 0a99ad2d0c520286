import COspreyKernels
import OspreyCore
import Synchronization

/// IVF_PQ: vectors partitioned into `nlist` inverted lists by a k-means coarse quantizer, and
/// each vector's residual from its list's centroid compressed by a product quantizer to `m`
/// one-byte codes; a search scans the codes of the `nprobe` lists nearest the query with
/// table lookups (asymmetric distance computation, the query itself is not quantized).
///
/// Distances. For L2 the distance from query `x` to a stored vector `c + r̂` (centroid `c`,
/// reconstructed residual `r̂ = Σⱼ Cⱼ[codeⱼ]`) is split as
/// `‖x − c‖² − 2·Σⱼ ⟨xⱼ, Cⱼ[codeⱼ]⟩ + (2⟨c, r̂⟩ + ‖r̂‖²)`: the first term is the coarse distance
/// already computed to rank the lists, the table `−2⟨xⱼ, Cⱼ[·]⟩` is built once per query and
/// shared by every list, and the last term depends on the stored vector only and is kept beside
/// its code (4 bytes). So no per-list table is built. IP uses `−⟨x, c⟩ − Σⱼ ⟨xⱼ, Cⱼ[codeⱼ]⟩`;
/// COSINE stores unit vectors and uses IP.
///
/// Layout. Lists are contiguous; inside a list codes sit in blocks of `OSP_PQ_BLOCK` vectors,
/// sub-quantizer major (docs/index.md), so the list search looks up one sub-quantizer's table
/// for a whole block at once: with gathers, or with AVX-512 VBMI byte permutes over a byte copy
/// of the table that only decides which rows get their float distance (same results). With
/// `refine` the raw vectors are kept too (row order) and the best `refine_k · k` (or
/// `reorder_k`) candidates by code distance are re-ranked exactly.
///
/// Thread safety: search from any number of threads; `train`, `add` and `remove` take an internal
/// lock and publish a new snapshot.
package final class IVFPQIndex: VectorIndex {
    package let configuration: IndexConfiguration
    /// Ranks centroids (L2, or IP for IP and COSINE) and re-ranks refine candidates.
    let kernel: VectorDistance
    let normalizes: Bool
    let innerProduct: Bool
    let m: Int
    let dsub: Int
    /// The best kernels for this CPU (with VBMI, the byte-table search).
    let pq: osp_pq_kernels
    /// The float (gather) kernels: cheaper per query than the byte table, which must first be
    /// built, so they search when the probed lists hold few rows. The same as `pq` without VBMI.
    let pqFloat: osp_pq_kernels
    /// Default `nprobe` when a search gives none (as IVF_FLAT).
    package static let defaultNprobe = IVFIndex.defaultNprobe
    /// Centroids per sub-quantizer (8-bit codes).
    static let ksub = 256
    /// Vectors per code block (`OSP_PQ_BLOCK`).
    static let block = Int(OSP_PQ_BLOCK)
    /// The most sub-quantizers the byte-table (VBMI) search handles; more use the gather kernels.
    static let maxQuantizedM = 256
    /// Probed rows from which a query builds the byte table and searches with it (about where
    /// the two searches cost the same on 128-d data with m = 32; both scale with m).
    static let quantizedMinRows = 320
    /// Training rows per sub-quantizer centroid (as for the coarse quantizer).
    static let pqTrainingRows = ksub * KMeans.maxPointsPerCentroid

    /// The product quantizer: `m` codebooks of 256 centroids, transposed
    /// (`transposed[(j·dsub + d)·256 + c]`), and their squared norms (`norms[j·256 + c]`).
    struct Codebook: Sendable {
        let transposed: [Float]
        let norms: [Float]

        init(transposed: [Float], m: Int, dsub: Int) {
            self.transposed = transposed
            var norms = [Float](repeating: 0, count: m * IVFPQIndex.ksub)
            for j in 0..<m {
                for d in 0..<dsub {
                    for c in 0..<IVFPQIndex.ksub {
                        let v = transposed[(j * dsub + d) * IVFPQIndex.ksub + c]
                        norms[j * IVFPQIndex.ksub + c] += v * v
                    }
                }
            }
            self.norms = norms
        }
    }

    /// One immutable generation of the lists.
    final class Lists: Sendable {
        /// Rows per list, as a prefix sum (`nlist + 1` entries).
        let offsets: [Int]
        /// Blocks per list, as a prefix sum (`nlist + 1` entries).
        let blockStart: [Int]
        /// Row id per slot (padded slots hold 0 and are never read).
        let ids: AlignedBuffer
        /// Codes, blocked (`blocks × m × OSP_PQ_BLOCK` bytes).
        let codes: AlignedBuffer
        /// L2: the per-vector term `2⟨c, r̂⟩ + ‖r̂‖²` per slot; nil for IP.
        let bias: AlignedBuffer?
        /// With `refine`: every row's vector (normalised for COSINE), in row order.
        let raw: AlignedBuffer?
        let count: Int
        /// Blocks of the longest list.
        let longestBlocks: Int
        /// The largest |per-vector term| (bounds rounding in the quantised scan).
        let maxAbsBias: Float

        init(offsets: [Int], blockStart: [Int], ids: AlignedBuffer, codes: AlignedBuffer, bias: AlignedBuffer?, raw: AlignedBuffer?,
             count: Int) {
            self.offsets = offsets
            self.blockStart = blockStart
            self.ids = ids
            self.codes = codes
            self.bias = bias
            self.raw = raw
            self.count = count
            var longest = 0
            for l in 0..<(blockStart.count - 1) { longest = Swift.max(longest, blockStart[l + 1] - blockStart[l]) }
            longestBlocks = longest
            var big: Float = 0
            if let bias {
                let b = bias.pointer.assumingMemoryBound(to: Float.self)
                for i in 0..<(bias.byteCount / 4) { big = Swift.max(big, abs(b[i])) }
            }
            maxAbsBias = big
        }

        var memoryBytes: Int {
            ids.byteCount + codes.byteCount + (bias?.byteCount ?? 0) + (raw?.byteCount ?? 0) + (offsets.count + blockStart.count) * 8
        }
    }

    /// The centroids packed for the one-query panel kernel (float32), to rank lists.
    final class CoarsePanels: Sendable {
        let panels: AlignedBuffer
        let kernel: osp_panel_fn

        init(centroids: [Float], nlist: Int, dim: Int, innerProduct: Bool) {
            let buffer = AlignedBuffer(byteCount: (nlist + 15) / 16 * 16 * dim * 4, zeroed: false)
            centroids.withUnsafeBufferPointer { osp_panel_pack($0.baseAddress!, nlist, dim, 0, buffer.pointer) }
            panels = buffer
            kernel = osp_panel_select(Int32(innerProduct ? OSP_METRIC_IP : OSP_METRIC_L2), 0, Int32(OSP_ISA_BEST))!
        }
    }

    struct State {
        var centroids: [Float]? {
            didSet { panels = nil }
        }
        var panels: CoarsePanels?
        var codebook: Codebook?
        var lists: Lists?
        var removed: Bitset
        /// Whether any row is removed (so that searches skip a scan of the bitmap when none is).
        var anyRemoved = false

        init(centroids: [Float]?, codebook: Codebook?, lists: Lists?, removed: Bitset) {
            self.centroids = centroids
            self.codebook = codebook
            self.lists = lists
            self.removed = removed
            anyRemoved = !removed.isAllClear
        }
    }
    let state: Mutex<State>

    package init(_ configuration: IndexConfiguration) throws(IndexError) {
        guard configuration.indexType == .ivfPQ else {
            throw .invalidParameter(name: "index_type", value: configuration.indexType.rawValue, reason: "not IVF_PQ")
        }
        guard configuration.type == .floatVector else { throw .typeNotSupported(indexType: "IVF_PQ", type: configuration.type) }
        try configuration.validate()
        self.configuration = configuration
        normalizes = configuration.metric == .cosine
        innerProduct = configuration.metric != .l2
        m = configuration.m
        dsub = configuration.dim / configuration.m
        kernel = try VectorDistance(metric: innerProduct ? .ip : .l2, type: .floatVector, dim: configuration.dim)
        var k = osp_pq_kernels()
        guard osp_pq_select(Int32(OSP_ISA_BEST), &k) == 0 else {
            throw .invalidParameter(name: "kernel", value: "best", reason: "no product-quantisation kernel for this CPU")
        }
        // The byte-table search sums in 16-bit lanes: at most 256 sub-quantizers of 255 each.
        if k.quantized != 0, configuration.m > IVFPQIndex.maxQuantizedM { _ = osp_pq_select(Int32(OSP_ISA_SKYLAKE), &k) }
        pq = k
        var g = k
        if k.quantized != 0 { _ = osp_pq_select(Int32(OSP_ISA_SKYLAKE), &g) }
        pqFloat = g
        state = Mutex(State(centroids: nil, codebook: nil, lists: nil, removed: Bitset(count: 0)))
    }

    package var isTrained: Bool { state.withLock { $0.centroids != nil } }
    package var count: Int { state.withLock { $0.lists?.count ?? 0 } }
    package var memoryBytes: Int {
        state.withLock { s in
            (s.centroids?.count ?? 0) * 4 + (s.panels?.panels.byteCount ?? 0)
                + (s.codebook.map { ($0.transposed.count + $0.norms.count) * 4 } ?? 0)
                + (s.lists?.memoryBytes ?? 0) + s.removed.count / 8
        }
    }

    /// Rows `range` of the source as floats, normalised for COSINE.
    func floats(_ source: some VectorSource, rows range: Range<Int>) -> [Float] {
        let dim = configuration.dim, n = range.count
        var out = [Float](repeating: 0, count: n * dim)
        guard n > 0 else { return out }
        out.withUnsafeMutableBytes { dst in
            source.withVectors(in: range) { dst.baseAddress!.copyMemory(from: $0, byteCount: n * dim * 4) }
        }
        if normalizes {
            out.withUnsafeMutableBufferPointer { b in for i in 0..<n { HNSWIndex.normalize(b.baseAddress! + i * dim, dim: dim) } }
        }
        return out
    }

    func checkSource(_ source: some VectorSource) throws(IndexError) {
        guard source.type == .floatVector, source.dim == configuration.dim else {
            throw .dimensionMismatch(expectedBytes: kernel.vectorBytes, actualBytes: source.vectorBytes)
        }
    }

    // MARK: - Training

    /// Learns the coarse centroids (k-means on up to 256 × nlist sampled rows) and the product
    /// quantizer (k-means with 256 centroids per sub-space on the residuals of up to 65,536 of
    /// those rows from their nearest centroid).
    package func train(_ source: some VectorSource) throws(IndexError) {
        try checkSource(source)
        let n = source.count
        guard n >= 1 else { throw .notTrained("IVF_PQ needs at least one training vector") }
        let nlist = configuration.nlist, dim = configuration.dim, m = self.m, dsub = self.dsub, ksub = IVFPQIndex.ksub
        // Rows in random order, so that any prefix of the sample is itself a random sample.
        let picked = sampleRows(count: n, limit: nlist * KMeans.maxPointsPerCentroid, seed: 0x5150_0001)
        var sample = [Float](repeating: 0, count: picked.count * dim)
        sample.withUnsafeMutableBufferPointer { dst in
            for (i, r) in picked.enumerated() {
                source.withVectors(in: r..<(r + 1)) {
                    UnsafeMutableRawPointer(dst.baseAddress! + i * dim).copyMemory(from: $0, byteCount: dim * 4)
                }
                if normalizes { HNSWIndex.normalize(dst.baseAddress! + i * dim, dim: dim) }
            }
        }
        let centroids = sample.withUnsafeBufferPointer { KMeans.train(vectors: $0.baseAddress!, count: picked.count, dim: dim, k: nlist) }

        // Residuals of a prefix of the sample from their nearest centroid.
        let np = Swift.min(picked.count, IVFPQIndex.pqTrainingRows)
        var assign = [Int32](repeating: 0, count: np)
        sample.withUnsafeBufferPointer { s in
            centroids.withUnsafeBufferPointer { c in
                assign.withUnsafeMutableBufferPointer { a in
                    KMeans.nearest(queries: s.baseAddress!, count: np, centroids: c.baseAddress!, k: nlist, dim: dim, into: a.baseAddress!,
                                   threads: Parallel.cores, innerProduct: innerProduct)
                }
            }
        }
        var residuals = [Float](repeating: 0, count: np * dim)
        for i in 0..<np {
            let l = Int(assign[i])
            for d in 0..<dim { residuals[i * dim + d] = sample[i * dim + d] - centroids[l * dim + d] }
        }
        // One k-means per sub-space, in parallel.
        var transposed = [Float](repeating: 0, count: m * dsub * ksub)
        residuals.withUnsafeBufferPointer { res in
            transposed.withUnsafeMutableBufferPointer { out in
                let shared = UncheckedSendable((res.baseAddress!, out.baseAddress!))
                Parallel.forChunks(count: m, threads: Parallel.cores) { js in
                    let (res, out) = shared.value
                    let sub = UnsafeMutablePointer<Float>.allocate(capacity: np * dsub)
                    defer { sub.deallocate() }
                    for j in js {
                        for i in 0..<np { (sub + i * dsub).update(from: res + i * dim + j * dsub, count: dsub) }
                        let cents = KMeans.train(vectors: sub, count: np, dim: dsub, k: ksub, threads: 1)
                        for c in 0..<ksub {
                            for d in 0..<dsub { out[(j * dsub + d) * ksub + c] = cents[c * dsub + d] }
                        }
                    }
                }
            }
        }
        let codebook = Codebook(transposed: transposed, m: m, dsub: dsub)
        let panels = CoarsePanels(centroids: centroids, nlist: nlist, dim: dim, innerProduct: innerProduct)
        state.withLock {
            $0.centroids = centroids
            $0.panels = panels
            $0.codebook = codebook
        }
    }

    // MARK: - Adding rows

    /// Rows per encoding task.
    static let encodeChunk = 4096

    /// Codes, list assignments, per-vector terms and (with refine) vectors of rows in row order.
    struct Encoded {
        var listOf: [Int32]
        var codes: [UInt8]
        var bias: [Float]
        var raw: [Float]
    }

    /// Encodes every row of `source` (assignment, residual, codes, per-vector term), in parallel.
    func encode(_ source: some VectorSource, centroids: [Float], codebook: Codebook) -> Encoded {
        let n = source.count, dim = configuration.dim, m = self.m, dsub = self.dsub, nlist = configuration.nlist
        let keepRaw = configuration.refine, l2 = !innerProduct, ksub = IVFPQIndex.ksub
        var out = Encoded(listOf: [Int32](repeating: 0, count: n), codes: [UInt8](repeating: 0, count: n * m),
                          bias: [Float](repeating: 0, count: l2 ? n : 0), raw: [Float](repeating: 0, count: keepRaw ? n * dim : 0))
        let chunk = IVFPQIndex.encodeChunk
        let chunks = (n + chunk - 1) / chunk
        let encodeFn = pq.encode!
        out.listOf.withUnsafeMutableBufferPointer { listOf in
            out.codes.withUnsafeMutableBufferPointer { codes in
                out.bias.withUnsafeMutableBufferPointer { bias in
                    out.raw.withUnsafeMutableBufferPointer { raw in
                        centroids.withUnsafeBufferPointer { cents in
                            codebook.transposed.withUnsafeBufferPointer { cbt in
                                codebook.norms.withUnsafeBufferPointer { cn in
                                    // Empty buffers may still have a base address: only the flags say whether they are used.
                                    let shared = UncheckedSendable((listOf.baseAddress!, codes.baseAddress!, l2 ? bias.baseAddress : nil,
                                                                    keepRaw ? raw.baseAddress : nil, cents.baseAddress!, cbt.baseAddress!,
                                                                    cn.baseAddress!))
                                    Parallel.forChunks(count: chunks, threads: Parallel.cores) { cs in
                                        let (listOf, codes, bias, raw, cents, cbt, cn) = shared.value
                                        let residual = UnsafeMutablePointer<Float>.allocate(capacity: dim)
                                        defer { residual.deallocate() }
                                        for ci in cs {
                                            let lo = ci * chunk, hi = Swift.min(n, lo + chunk)
                                            let x = self.floats(source, rows: lo..<hi)
                                            x.withUnsafeBufferPointer { xb in
                                                let xp = xb.baseAddress!
                                                KMeans.nearest(queries: xp, count: hi - lo, centroids: cents, k: nlist, dim: dim,
                                                               into: listOf + lo, threads: 1, innerProduct: !l2)
                                                if let raw { (raw + lo * dim).update(from: xp, count: (hi - lo) * dim) }
                                                for i in 0..<(hi - lo) {
                                                    let c = cents + Int(listOf[lo + i]) * dim
                                                    for d in 0..<dim { residual[d] = xp[i * dim + d] - c[d] }
                                                    let code = codes + (lo + i) * m
                                                    encodeFn(residual, cbt, cn, m, dsub, code)
                                                    guard let bias else { continue }
                                                    // 2⟨c, r̂⟩ + ‖r̂‖² with r̂ the reconstructed residual.
                                                    var e: Float = 0
                                                    for j in 0..<m {
                                                        let cj = Int(code[j])
                                                        for d in 0..<dsub {
                                                            let r = cbt[(j * dsub + d) * ksub + cj]
                                                            e += (2 * c[j * dsub + d] + r) * r
                                                        }
                                                    }
                                                    bias[lo + i] = e
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The per-vector L2 terms of codes already assigned to lists (used when loading a file).
    func biasTerms(codes: UnsafePointer<UInt8>, listOf: UnsafePointer<Int32>, count n: Int, centroids: [Float],
                   codebook: Codebook) -> [Float] {
        let dim = configuration.dim, m = self.m, dsub = self.dsub, ksub = IVFPQIndex.ksub
        var bias = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let c = Int(listOf[i]) * dim
            var e: Float = 0
            for j in 0..<m {
                let cj = Int(codes[i * m + j])
                for d in 0..<dsub {
                    let r = codebook.transposed[(j * dsub + d) * ksub + cj]
                    e += (2 * centroids[c + j * dsub + d] + r) * r
                }
            }
            bias[i] = e
        }
        return bias
    }

    /// Lays out rows (given in row order) as lists of code blocks; rows keep ascending order in
    /// each list.
    func makeLists(_ e: Encoded) -> Lists {
        let n = e.listOf.count, m = self.m, nlist = configuration.nlist, bs = IVFPQIndex.block, dim = configuration.dim
        var offsets = [Int](repeating: 0, count: nlist + 1)
        for r in 0..<n { offsets[Int(e.listOf[r]) + 1] += 1 }
        for l in 0..<nlist { offsets[l + 1] += offsets[l] }
        var blockStart = [Int](repeating: 0, count: nlist + 1)
        for l in 0..<nlist { blockStart[l + 1] = blockStart[l] + (offsets[l + 1] - offsets[l] + bs - 1) / bs }
        let slots = blockStart[nlist] * bs
        let ids = AlignedBuffer(byteCount: slots * 4)
        let codes = AlignedBuffer(byteCount: slots * m)
        let bias = e.bias.isEmpty ? nil : AlignedBuffer(byteCount: slots * 4)
        let idp = ids.pointer.assumingMemoryBound(to: UInt32.self)
        let cp = codes.pointer.assumingMemoryBound(to: UInt8.self)
        let bp = bias?.pointer.assumingMemoryBound(to: Float.self)
        var fill = [Int](repeating: 0, count: nlist)
        e.codes.withUnsafeBufferPointer { src in
            for r in 0..<n {
                let l = Int(e.listOf[r])
                let p = fill[l]
                fill[l] += 1
                let slot = blockStart[l] * bs + p
                idp[slot] = UInt32(r)
                bp?[slot] = e.bias[r]
                let blk = cp + (slot / bs) * m * bs, v = slot % bs
                for j in 0..<m { blk[j * bs + v] = src[r * m + j] }
            }
        }
        var raw: AlignedBuffer? = nil
        if configuration.refine {
            let buf = AlignedBuffer(byteCount: n * dim * 4, zeroed: false)
            e.raw.withUnsafeBytes { if n > 0 { buf.pointer.copyMemory(from: $0.baseAddress!, byteCount: n * dim * 4) } }
            raw = buf
        }
        return Lists(offsets: offsets, blockStart: blockStart, ids: ids, codes: codes, bias: bias, raw: raw, count: n)
    }

    /// The rows of `lists` back in row order (codes un-blocked), to append new rows to.
    func unpack(_ lists: Lists) -> Encoded {
        let n = lists.count, m = self.m, bs = IVFPQIndex.block, dim = configuration.dim
        var e = Encoded(listOf: [Int32](repeating: 0, count: n), codes: [UInt8](repeating: 0, count: n * m),
                        bias: [Float](repeating: 0, count: lists.bias == nil ? 0 : n), raw: [])
        let idp = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
        let cp = lists.codes.pointer.assumingMemoryBound(to: UInt8.self)
        let bp = lists.bias?.pointer.assumingMemoryBound(to: Float.self)
        for l in 0..<(lists.offsets.count - 1) {
            for p in 0..<(lists.offsets[l + 1] - lists.offsets[l]) {
                let slot = lists.blockStart[l] * bs + p
                let r = Int(idp[slot])
                e.listOf[r] = Int32(l)
                if let bp { e.bias[r] = bp[slot] }
                let blk = cp + (slot / bs) * m * bs, v = slot % bs
                for j in 0..<m { e.codes[r * m + j] = blk[j * bs + v] }
            }
        }
        if let raw = lists.raw {
            e.raw = [Float](UnsafeBufferPointer(start: raw.pointer.assumingMemoryBound(to: Float.self), count: n * dim))
        }
        return e
    }

    package func add(_ source: some VectorSource) throws(IndexError) {
        try checkSource(source)
        let newRows = source.count
        guard newRows > 0 else { return }
        let (centroids, codebook) = state.withLock { ($0.centroids, $0.codebook) }
        guard let centroids, let codebook else { throw .notTrained("call train before add (IVF_PQ needs centroids and codebooks)") }
        let fresh = encode(source, centroids: centroids, codebook: codebook)
        try state.withLock { (s: inout State) throws(IndexError) in
            let old = s.lists?.count ?? 0
            guard old + newRows <= Int(UInt32.max) else { throw .capacityExceeded(Int(UInt32.max)) }
            var all = s.lists.map(unpack) ?? Encoded(listOf: [], codes: [], bias: [], raw: [])
            all.listOf += fresh.listOf
            all.codes += fresh.codes
            all.bias += fresh.bias
            all.raw += fresh.raw
            s.lists = makeLists(all)
            s.removed.resize(to: old + newRows)
        }
    }

    /// The vector row `row` decodes to: its list's centroid plus the decoded residual (for COSINE,
    /// an approximation of the unit vector). Code distances are distances to this vector.
    /// - Complexity: O(count) to find the row's slot.
    package func reconstruct(_ row: RowID) throws(IndexError) -> [Float] {
        let (centroids, codebook, lists) = state.withLock { ($0.centroids, $0.codebook, $0.lists) }
        guard let centroids, let codebook, let lists, row.index < lists.count else {
            throw .rowOutOfRange(row: row.index, count: lists?.count ?? 0)
        }
        let dim = configuration.dim, bs = IVFPQIndex.block, ksub = IVFPQIndex.ksub
        let idp = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
        let cp = lists.codes.pointer.assumingMemoryBound(to: UInt8.self)
        for l in 0..<configuration.nlist {
            for p in 0..<(lists.offsets[l + 1] - lists.offsets[l]) {
                let slot = lists.blockStart[l] * bs + p
                guard Int(idp[slot]) == row.index else { continue }
                var v = Array(centroids[(l * dim)..<((l + 1) * dim)])
                let blk = cp + (slot / bs) * m * bs
                for j in 0..<m {
                    let c = Int(blk[j * bs + slot % bs])
                    for d in 0..<dsub { v[j * dsub + d] += codebook.transposed[(j * dsub + d) * ksub + c] }
                }
                return v
            }
        }
        throw .rowOutOfRange(row: row.index, count: lists.count)
    }

    package func remove(_ rows: [RowID]) throws(IndexError) {
        try state.withLock { (s: inout State) throws(IndexError) in
            for r in rows {
                guard r.index < s.removed.count else { throw .rowOutOfRange(row: r.index, count: s.removed.count) }
                s.removed.set(r.index)
                s.anyRemoved = true
            }
        }
    }
}

/// Up to `limit` distinct row positions of `0..<count`, in a random order fixed by `seed`
/// (all rows, shuffled, when there are few).
func sampleRows(count n: Int, limit: Int, seed: UInt64) -> [Int] {
    var rng = SplitMix64(seed: seed)
    let take = Swift.min(n, limit)
    if take * 4 < n {
        // Few rows from many: draw positions and skip repeats.
        var seen = Set<Int>(minimumCapacity: take)
        var out: [Int] = []
        out.reserveCapacity(take)
        while out.count < take {
            let r = Int(rng.next() % UInt64(n))
            if seen.insert(r).inserted { out.append(r) }
        }
        return out
    }
    var rows = Array(0..<n)
    for i in 0..<take { rows.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
    return Array(rows[0..<take])
}
