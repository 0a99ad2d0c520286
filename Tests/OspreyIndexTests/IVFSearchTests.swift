import COspreyKernels
import OspreyCore
@testable import OspreyIndex
import OspreyTestSupport
import Testing

/// The IVF search as first written, kept here as the oracle for the fast paths: every centroid
/// measured with the exact kernel and ranked by a TopK, each probed list scanned whole with its
/// kernel, every allowed row offered to a TopK behind a `d < worstDistance` guard.
func ivfReferenceSearch(_ index: IVFIndex, _ queries: [Float], k: Int, nprobe: Int, filter: Bitset?) -> [[Neighbor]] {
    ivfReferenceScan(index, queries, nprobe: nprobe, filter: filter) { rows in
        var top = TopK(k: k)
        for (d, r) in rows where d < top.worstDistance { top.push(distance: d, row: RowID(r)) }
        return top.sortedResults()
    }
}

/// The reference range search: every allowed row of the probed lists within the bounds, sorted.
func ivfReferenceRange(_ index: IVFIndex, _ queries: [Float], parameters: RangeParameters) -> [[Neighbor]] {
    let metric = index.configuration.metric
    return ivfReferenceScan(index, queries, nprobe: parameters.search.nprobe ?? IVFIndex.defaultNprobe,
                            filter: parameters.search.filter) { rows in
        rows.filter { parameters.accepts(distance: $0.0, metric: metric) }.map { Neighbor(distance: $0.0, row: RowID($0.1)) }.sorted()
    }
}

/// Calls `collect` per query with (distance, row) of every allowed row of the probed lists, in
/// probe order.
func ivfReferenceScan(_ index: IVFIndex, _ queries: [Float], nprobe: Int, filter: Bitset?,
                      collect: ([(Float, Int)]) -> [Neighbor]) -> [[Neighbor]] {
    let (centroids, quantizer, lists, removed) = index.state.withLock { ($0.centroids, $0.quantizer, $0.lists, $0.removed) }
    let cfg = index.configuration, dim = cfg.dim, nlist = cfg.nlist, nq = queries.count / dim
    guard let centroids, let lists else { return [[Neighbor]](repeating: [], count: nq) }
    let allowed = allowedRows(filter: filter, removed: removed, count: lists.count)
    let ids = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
    return (0..<nq).map { qi in
        var q = Array(queries[(qi * dim)..<((qi + 1) * dim)])
        if cfg.metric == .cosine { q.withUnsafeMutableBufferPointer { HNSWIndex.normalize($0.baseAddress!, dim: dim) } }
        var cd = [Float](repeating: 0, count: nlist)
        q.withUnsafeBytes { qp in
            centroids.withUnsafeBytes { cp in index.kernel.distances(query: qp.baseAddress!, base: cp.baseAddress!, count: nlist, into: &cd) }
        }
        var near = TopK(k: Swift.min(nprobe, nlist))
        for l in 0..<nlist { near.push(distance: cd[l], row: RowID(l)) }
        var prep = [Float](repeating: 0, count: dim), c0: Float = 0
        if let qz = quantizer {
            for d in 0..<dim {
                if cfg.metric == .l2 {
                    prep[d] = q[d] - qz.vmin[d]
                } else {
                    prep[d] = q[d] * qz.scale[d]
                    c0 += q[d] * qz.vmin[d]
                }
            }
        }
        var rows: [(Float, Int)] = []
        for c in near.sortedResults() {
            let l = c.row.index, start = lists.offsets[l], len = lists.offsets[l + 1] - start
            if len == 0 { continue }
            var buf = [Float](repeating: .nan, count: len)
            if let qz = quantizer {
                index.sq8!(prep, (lists.codes.pointer + start * dim).assumingMemoryBound(to: UInt8.self), len, dim, qz.scale, c0, &buf)
            } else {
                q.withUnsafeBytes { index.kernel.distances(query: $0.baseAddress!, base: lists.codes.pointer + start * dim * 4, count: len, into: &buf) }
            }
            for j in 0..<len {
                let r = Int(ids[start + j])
                if let allowed, !allowed.contains(r) { continue }
                rows.append((buf[j], r))
            }
        }
        return collect(rows)
    }
}

/// Expects equal per-query results, naming only the first query that differs.
func expectSame(_ got: [[Neighbor]], _ want: [[Neighbor]], _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.count == want.count, "\(context): \(got.count) result lists, want \(want.count)", sourceLocation: sourceLocation)
    if let i = got.indices.first(where: { $0 < want.count && got[$0] != want[$0] }) {
        Issue.record("\(context): query \(i) got \(got[i]), want \(want[i])", sourceLocation: sourceLocation)
    }
}

/// Data with exact ties: clustered rows, a block of copies of earlier rows, and queries that sit
/// on rows, on centroids and half-way between two centroids (where the coarse step is closest to
/// a tie).
struct IVFTieData {
    let dim: Int
    let base: [Float]
    let queries: [Float]

    init(dim: Int, seed: UInt64) {
        self.dim = dim
        var b = VectorDatasets.clustered(count: 2000, dim: dim, clusters: 12, seed: seed)
        b += Array(b[0..<(300 * dim)])
        base = b
        var q = VectorDatasets.clustered(count: 24, dim: dim, clusters: 12, seed: seed &+ 1)
        q += Array(b[(5 * dim)..<(11 * dim)])
        queries = q
    }

    /// Queries on centroid `a`, and between centroids `a` and `b`, of a trained index.
    func centroidQueries(_ index: IVFIndex) -> [Float] {
        let c = index.state.withLock { $0.centroids! }, d = dim, nlist = index.configuration.nlist
        var out: [Float] = []
        for (a, b) in [(0, 1), (2, 7), (3, nlist - 1), (5, 6)] {
            out += Array(c[(a * d)..<((a + 1) * d)])
            out += (0..<d).map { (c[a * d + $0] + c[b * d + $0]) / 2 }
        }
        return out
    }
}

@Suite("IVF search fast paths against the reference search")
struct IVFSearchTests {
    static let cases: [(String, Metric, Bool?)] = [
        ("IVF_FLAT", .l2, nil), ("IVF_FLAT", .ip, nil), ("IVF_FLAT", .cosine, nil),
        ("IVF_SQ8", .l2, nil), ("IVF_SQ8", .ip, nil), ("IVF_SQ8", .cosine, nil),
        ("IVF_FLAT", .l2, true), ("IVF_FLAT", .ip, true), ("IVF_SQ8", .cosine, true),
    ]

    func make(_ type: String, _ metric: Metric, dim: Int, nlist: Int, half: Bool?, rows: [Float]) throws -> IVFIndex {
        let index = try IVFIndex(IndexConfiguration(indexType: type, metricType: metric.rawValue, params: ["nlist": "\(nlist)"],
                                                    type: .floatVector, dim: dim))
        let source = try ContiguousVectorSource(floats: rows, dim: dim)
        try index.train(source)
        try index.add(source)
        if let half { forcePanels(index, half: half) }
        return index
    }

    /// Replaces the index's coarse layout with float32 or half-precision panels.
    func forcePanels(_ index: IVFIndex, half: Bool) {
        let cfg = index.configuration
        index.state.withLock { s in
            s.coarse = IVFIndex.Coarse(centroids: s.centroids!, count: cfg.nlist, dim: cfg.dim, innerProduct: cfg.metric != .l2, half: half)
            s.snapshot = nil
        }
    }

    /// One query per call, and the whole batch on one and on two threads.
    func searchAllWays(_ index: IVFIndex, _ queries: [Float], _ p: SearchParameters) throws -> [[[Neighbor]]] {
        let dim = index.configuration.dim
        var single: [[Neighbor]] = []
        for qi in 0..<(queries.count / dim) {
            single += try index.search(floats: Array(queries[(qi * dim)..<((qi + 1) * dim)]), parameters: p)
        }
        var one = p, two = p
        one.threads = 1
        two.threads = 2
        return [single, try index.search(floats: queries, parameters: one), try index.search(floats: queries, parameters: two)]
    }

    @Test("single, batched and threaded searches return the reference's rows and distances exactly", arguments: cases.indices)
    func matchesReference(caseIndex: Int) throws {
        let (type, metric, half) = IVFSearchTests.cases[caseIndex]
        let dim = 24, seed: UInt64 = 0x1F5 + UInt64(caseIndex)
        print("IVF reference test \(type) \(metric) half panels \(String(describing: half)) seed \(seed)")
        let data = IVFTieData(dim: dim, seed: seed)
        let index = try make(type, metric, dim: dim, nlist: 40, half: half, rows: data.base)
        let queries = data.queries + data.centroidQueries(index)
        var rng = VectorRNG(seed: seed)
        var filter = Bitset(count: 2300)
        for r in 0..<2300 where rng.next() % 4 != 0 { filter.set(r) }
        for (k, nprobe) in [(1, 1), (10, 3), (10, 8), (57, 40), (5, 100), (3000, 6)] {
            let want = ivfReferenceSearch(index, queries, k: k, nprobe: nprobe, filter: nil)
            for got in try searchAllWays(index, queries, SearchParameters(k: k, nprobe: nprobe)) {
                expectSame(got, want, "k \(k) nprobe \(nprobe)")
            }
            let wantFiltered = ivfReferenceSearch(index, queries, k: k, nprobe: nprobe, filter: filter)
            for got in try searchAllWays(index, queries, SearchParameters(k: k, nprobe: nprobe, filter: filter)) {
                expectSame(got, wantFiltered, "filtered, k \(k) nprobe \(nprobe)")
            }
        }
        #expect(ivfReferenceSearch(index, queries, k: 10, nprobe: 8, filter: nil).allSatisfy { $0.count == 10 })

        // Removed rows, with and without a filter (the removed set is the mask, or is subtracted).
        try index.remove((0..<400).map { RowID($0 * 3) })
        for f in [nil, filter] {
            let want = ivfReferenceSearch(index, queries, k: 10, nprobe: 4, filter: f)
            for got in try searchAllWays(index, queries, SearchParameters(k: 10, nprobe: 4, filter: f)) {
                expectSame(got, want, "removed rows, filter \(f != nil)")
            }
        }
        // A filter sized for fewer rows than the index holds.
        let short = Bitset(count: 1000, filled: true)
        expectSame(try index.search(floats: queries, parameters: SearchParameters(k: 10, nprobe: 4, filter: short)),
                   ivfReferenceSearch(index, queries, k: 10, nprobe: 4, filter: short), "short filter")

        // Range search.
        let radius: Float = metric == .l2 ? 6 : -0.2
        let bounds = RangeParameters(radius: radius, search: SearchParameters(k: 10, nprobe: 5, filter: filter))
        let ranged = try index.rangeSearch(floats: queries, parameters: bounds)
        expectSame(ranged, ivfReferenceRange(index, queries, parameters: bounds), "range search")
        #expect(ranged.contains { !$0.isEmpty })
    }

    @Test("rows added and removed after a search are seen by the next one")
    func snapshotsFollowChanges() throws {
        let dim = 16, seed: UInt64 = 0x5A7
        print("IVF snapshot test seed \(seed)")
        let rows = VectorDatasets.clustered(count: 1500, dim: dim, clusters: 8, seed: seed)
        let index = try make("IVF_FLAT", .l2, dim: dim, nlist: 16, half: nil, rows: Array(rows[0..<(500 * dim)]))
        let queries = Array(rows[(100 * dim)..<(110 * dim)])
        let p = SearchParameters(k: 20, nprobe: 4)
        expectSame(try index.search(floats: queries, parameters: p), ivfReferenceSearch(index, queries, k: 20, nprobe: 4, filter: nil), "first rows")
        try index.add(ContiguousVectorSource(floats: Array(rows[(500 * dim)...]), dim: dim))
        let grown = try index.search(floats: queries, parameters: p)
        expectSame(grown, ivfReferenceSearch(index, queries, k: 20, nprobe: 4, filter: nil), "after add")
        #expect(grown.joined().contains { $0.row.index >= 500 })
        let hit = grown[0][0].row
        try index.remove([hit])
        let after = try index.search(floats: Array(queries[0..<dim]), parameters: p)
        #expect(!after[0].contains { $0.row == hit })
        expectSame(after, ivfReferenceSearch(index, Array(queries[0..<dim]), k: 20, nprobe: 4, filter: nil), "after remove")
    }

    @Test("queries with NaN, infinities or huge values fall back to exact list choice and match the reference",
          arguments: [Metric.l2, .ip])
    func nonFiniteQueries(metric: Metric) throws {
        let dim = 8
        let rows = VectorDatasets.clustered(count: 600, dim: dim, clusters: 6, seed: 0xBAD)
        let index = try make("IVF_FLAT", metric, dim: dim, nlist: 12, half: nil, rows: rows)
        var queries = [Float](repeating: .nan, count: dim)
        queries += [Float](repeating: .infinity, count: dim)
        queries += (0..<dim).map { $0 % 2 == 0 ? 3e30 : -1e30 }
        queries += (0..<dim).map { $0 == 3 ? -.infinity : 0.5 }
        let p = SearchParameters(k: 5, nprobe: 3)
        for got in try searchAllWays(index, queries, p) {
            expectSame(got, ivfReferenceSearch(index, queries, k: 5, nprobe: 3, filter: nil), "non-finite queries")
        }
    }

    @Test("the approximate coarse step with its recheck chooses the lists exact distances choose",
          arguments: [(Metric.l2, false), (.l2, true), (.ip, false), (.ip, true)])
    func coarseChoice(metric: Metric, half: Bool) throws {
        let dim = 96, nlist = 200, seed: UInt64 = 0xC0A5 + (half ? 1 : 0)
        print("IVF coarse test \(metric) half \(half) seed \(seed)")
        // Centroids offset far from the origin make the norm-based slack of a batch large.
        var centroids = VectorDatasets.gaussian(count: nlist, dim: dim, seed: seed)
        for i in centroids.indices { centroids[i] = centroids[i] * 0.3 + (i % dim == 0 ? 40 : 1) }
        centroids += Array(centroids[0..<(5 * dim)])  // exact duplicates: ties between lists
        let count = nlist + 5
        let index = try IVFIndex(IndexConfiguration(indexType: "IVF_FLAT", metricType: metric.rawValue,
                                                    params: ["nlist": "\(count)"], type: .floatVector, dim: dim))
        let coarse = IVFIndex.Coarse(centroids: centroids, count: count, dim: dim, innerProduct: metric != .l2, half: half)
        #expect(half == (coarse.panelError > 0))
        let scratch = IVFScratch()
        var rng = VectorRNG(seed: seed)
        for trial in 0..<150 {
            let a = Int(rng.next() % UInt64(count)), b = Int(rng.next() % UInt64(count))
            let q: [Float] = (0..<dim).map { i in
                switch trial % 3 {
                case 0: return centroids[a * dim + i] + 0.05 * rng.gaussian()
                case 1: return (centroids[a * dim + i] + centroids[b * dim + i]) / 2
                default: return centroids[a * dim + i]
                }
            }
            for nprobe in [1, 2, 7, 64] {
                let exact: [UInt32] = q.withUnsafeBufferPointer { qp in
                    let n = index.chooseListsExactly(qp.baseAddress!, nprobe: nprobe, coarse: coarse, scratch: scratch)
                    return Array(UnsafeBufferPointer(start: scratch.probeIds.pointer, count: n))
                }
                let fast: [UInt32] = q.withUnsafeBufferPointer { qp in
                    let n = index.chooseLists(qp.baseAddress!, nprobe: nprobe, coarse: coarse, scratch: scratch)
                    return Array(UnsafeBufferPointer(start: scratch.probeIds.pointer, count: n))
                }
                #expect(fast == exact, "trial \(trial) nprobe \(nprobe)")
                // The batch form: dot products and norms from the blocked product.
                let batched: [UInt32] = q.withUnsafeBufferPointer { qp in
                    var dots = [Float](repeating: 0, count: count), n2: Float = 0
                    osp_f32_norms_sq(qp.baseAddress!, 1, dim, &n2)
                    coarse.rows.withUnsafeBufferPointer { index.kernel.gemm(qp.baseAddress!, 1, $0.baseAddress!, count, dim, &dots, count) }
                    let norms = coarse.norms.pointer.assumingMemoryBound(to: Float.self)
                    for j in 0..<count { dots[j] = metric == .l2 ? n2 + norms[j] - 2 * dots[j] : -dots[j] }
                    let n = index.chooseLists(qp.baseAddress!, qnorm: n2.squareRoot(), approx: dots,
                                              slack: index.slack(qnorm: n2.squareRoot(), coarse: coarse, fromPanels: false),
                                              nprobe: nprobe, coarse: coarse, scratch: scratch)
                    return Array(UnsafeBufferPointer(start: scratch.probeIds.pointer, count: n))
                }
                #expect(batched == exact, "batched, trial \(trial) nprobe \(nprobe)")
            }
        }
    }

    @Test("panels switch to half precision when float32 panels would exceed the threshold")
    func panelPrecisionBySize() {
        #expect(!IVFIndex.Coarse.panelBytes(nlist: 1024, dim: 128).half)
        #expect(IVFIndex.Coarse.panelBytes(nlist: 1024, dim: 512).half)
        #expect(IVFIndex.Coarse.panelBytes(nlist: 1024, dim: 512).used == 1024 * 512 * 2)
        let big = [Float](repeating: 1e6, count: 1024 * 512)
        #expect(IVFIndex.Coarse(centroids: big, count: 1024, dim: 512, innerProduct: false).panelError == 0)
    }
}
