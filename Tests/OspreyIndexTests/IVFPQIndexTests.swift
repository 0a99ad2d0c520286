import OspreyCore
import OspreyIndex
import OspreyTestSupport
import Testing

/// Recall@10 IVF_PQ must reach without re-ranking, probing 8 of 32 lists of 20-cluster 32-d data
/// with 8 one-byte codes per vector: codes lose the fine order among near neighbours, so recall
/// stays well below IVF_FLAT's, but a broken table, code layout or list assignment falls far
/// below this.
let pqRecallFloor = 0.5
/// Recall@10 with exact re-ranking of 10·k candidates over every list: the candidates contain
/// almost every true neighbour, and re-ranking orders them exactly.
let pqRefinedRecallFloor = 0.97

@Suite("IVF_PQ")
struct IVFPQIndexTests {
    static let dim = 32

    static func build(_ metric: Metric, refine: Bool, data: SmallDataset, m: Int = 16) throws -> any VectorIndex {
        var params = ["nlist": "32", "m": String(m), "nbits": "8"]
        if refine { params["refine"] = "true"; params["refine_type"] = "FP32" }
        let index = try IndexFactory.make(indexType: "IVF_PQ", metricType: metric.rawValue, params: params, type: .floatVector, dim: dim)
        #expect(!index.isTrained)
        #expect(throws: IndexError.self) { try index.add(data.source()) }
        try index.train(data.source())
        try index.add(data.source())
        #expect(index.count == data.count)
        return index
    }

    @Test("recall with and without re-ranking; code distances are distances to the decoded vectors",
          arguments: [Metric.l2, .ip, .cosine])
    func recall(metric: Metric) throws {
        let data = SmallDataset(count: 2500, queries: 40, dim: Self.dim, metric: metric, k: 10, seed: 52)
        let plain = try Self.build(metric, refine: false, data: data, m: 8)
        let res = try plain.search(floats: data.queries, parameters: SearchParameters(k: 10, nprobe: 8))
        let r = VectorGroundTruth.recall(results: rows(res), truth: data.truth, k: 10)
        print("IVF_PQ \(metric) recall@10 nprobe 8 = \(r)")
        #expect(r >= pqRecallFloor)

        // The reported code distance is the exact distance from the query to the decoded vector.
        let pq = try #require(plain as? IVFPQIndex)
        for qi in 0..<5 {
            var q = Array(data.queries[(qi * Self.dim)..<((qi + 1) * Self.dim)])
            if metric == .cosine { VectorDatasets.normalize(&q, dim: Self.dim) }
            for hit in res[qi] {
                let v = try pq.reconstruct(hit.row)
                let want = q.withUnsafeBufferPointer { a in
                    v.withUnsafeBufferPointer { b in
                        VectorGroundTruth.distance(a.baseAddress!, b.baseAddress!, dim: Self.dim, metric: metric == .l2 ? .l2 : .ip)
                    }
                }
                #expect(abs(hit.distance - Swift.max(metric == .l2 ? 0 : -.infinity, want)) <= 1e-3 * (1 + abs(want)),
                        "row \(hit.row.index): code distance \(hit.distance), decoded \(want)")
            }
        }

        let refined = try Self.build(metric, refine: true, data: data, m: 8)
        let all = try refined.search(floats: data.queries, parameters: SearchParameters(k: 10, nprobe: 32, refineK: 10))
        let rr = VectorGroundTruth.recall(results: rows(all), truth: data.truth, k: 10)
        print("IVF_PQ refine \(metric) recall@10 nprobe 32 refine_k 10 = \(rr)")
        #expect(rr >= pqRefinedRecallFloor)
        // Re-ranked distances are exact.
        for (qi, hits) in all.enumerated() {
            for hit in hits {
                let want = data.queries.withUnsafeBufferPointer { q in
                    data.base.withUnsafeBufferPointer { b in
                        VectorGroundTruth.distance(q.baseAddress! + qi * Self.dim, b.baseAddress! + hit.row.index * Self.dim,
                                                   dim: Self.dim, metric: metric)
                    }
                }
                #expect(abs(hit.distance - want) <= 1e-4 * (1 + abs(want)))
            }
        }
        // reorder_k is an absolute candidate count; more candidates never lose recall here.
        let reordered = try refined.search(floats: data.queries, parameters: SearchParameters(k: 10, nprobe: 32, reorderK: 200))
        #expect(VectorGroundTruth.recall(results: rows(reordered), truth: data.truth, k: 10) >= rr)
        // Without refine_k the k best by code distance are re-ranked: same rows as the plain index.
        let k1 = try refined.search(floats: data.queries, parameters: SearchParameters(k: 10, nprobe: 8))
        #expect(k1.map { Set($0.map(\.row)) } == res.map { Set($0.map(\.row)) })
        // The raw vectors cost memory.
        #expect(refined.memoryBytes >= plain.memoryBytes + data.count * Self.dim * 4)
        // nprobe beyond nlist probes every list.
        #expect(rows(try plain.search(floats: data.queries, parameters: SearchParameters(k: 10, nprobe: 1000)))
            == rows(try plain.search(floats: data.queries, parameters: SearchParameters(k: 10, nprobe: 32))))
    }

    @Test("filters and removed rows are never returned", arguments: [false, true])
    func filters(refine: Bool) throws {
        let data = SmallDataset(count: 2000, queries: 20, dim: Self.dim, metric: .l2, k: 10, seed: 53)
        let index = try Self.build(.l2, refine: refine, data: data, m: 8)
        var filter = Bitset(count: 2000)
        for i in stride(from: 1, to: 2000, by: 2) { filter.set(i) }
        let before = try index.search(floats: data.queries, parameters: SearchParameters(k: 10, nprobe: 32, filter: filter))
        #expect(before.allSatisfy { $0.count == 10 })
        let gone = before.flatMap { $0.map(\.row) }
        try index.remove(Array(gone.prefix(25)))
        let after = try index.search(floats: data.queries, parameters: SearchParameters(k: 10, nprobe: 32, filter: filter))
        let removed = Set(gone.prefix(25))
        for h in after.joined() {
            #expect(h.row.index % 2 == 1)
            #expect(!removed.contains(h.row))
        }
        #expect(after.allSatisfy { $0.count == 10 })
        let unfiltered = try index.search(floats: data.queries, parameters: SearchParameters(k: 10, nprobe: 32))
        #expect(unfiltered.joined().allSatisfy { !removed.contains($0.row) })
        #expect(throws: IndexError.self) { try index.remove([RowID(2000)]) }
    }

    @Test("range search: every hit satisfies the bounds and hits agree with search", arguments: [Metric.l2, .ip, .cosine])
    func range(metric: Metric) throws {
        let data = SmallDataset(count: 2000, queries: 20, dim: Self.dim, metric: metric, k: 10, seed: 54)
        for refine in [false, true] {
            let index = try Self.build(metric, refine: refine, data: data, m: 8)
            // Bounds around each query's 10th neighbour, so that hits exist.
            let top = try index.search(floats: data.queries, parameters: SearchParameters(k: 10, nprobe: 32))
            let cut = top.map { $0.last!.distance }.sorted()[10]
            let bounds = metric == .l2 ? RangeParameters(radius: cut, rangeFilter: top[0][0].distance / 2)
                : RangeParameters(radius: -cut, rangeFilter: 1e6)
            var p = bounds
            p.search.nprobe = 32
            let hits = try index.rangeSearch(floats: data.queries, parameters: p)
            #expect(hits.joined().count > 0)
            let bad = metric == .l2 ? RangeParameters(radius: 1, rangeFilter: 2) : RangeParameters(radius: 1, rangeFilter: 0.5)
            #expect(throws: IndexError.self) { try index.rangeSearch(floats: data.queries, parameters: bad) }
            for h in hits.joined() { #expect(bounds.accepts(distance: h.distance, metric: metric)) }
            for (qi, hs) in hits.enumerated() {
                #expect(hs == hs.sorted())
                if refine {
                    // Hits are reported with their exact distances.
                    for h in hs {
                        let want = data.queries.withUnsafeBufferPointer { q in
                            data.base.withUnsafeBufferPointer { b in
                                VectorGroundTruth.distance(q.baseAddress! + qi * Self.dim, b.baseAddress! + h.row.index * Self.dim,
                                                           dim: Self.dim, metric: metric)
                            }
                        }
                        #expect(abs(h.distance - want) <= 1e-4 * (1 + abs(want)))
                    }
                } else {
                    // Code distances: a full probe finds every top-10 hit inside the bounds.
                    let found = Set(hs.map(\.row))
                    for t in top[qi] where bounds.accepts(distance: t.distance, metric: metric) {
                        #expect(found.contains(t.row), "query \(qi) row \(t.row.index)")
                    }
                }
            }
        }
    }

    @Test("adding in two batches lays out the same index as one batch")
    func incrementalAdd() throws {
        let data = SmallDataset(count: 1200, queries: 10, dim: Self.dim, metric: .l2, k: 10, seed: 55)
        let one = try Self.build(.l2, refine: true, data: data, m: 8)
        let two = try IndexFactory.make(indexType: "IVF_PQ", metricType: "L2", params: ["nlist": "32", "m": "8", "refine": "1"],
                                        type: .floatVector, dim: Self.dim)
        try two.train(data.source())
        let half = data.base.count / 2
        try two.add(ContiguousVectorSource(floats: Array(data.base[..<half]), dim: Self.dim))
        try two.add(ContiguousVectorSource(floats: Array(data.base[half...]), dim: Self.dim))
        #expect(two.count == one.count)
        let p = SearchParameters(k: 10, nprobe: 8, refineK: 4)
        #expect(try two.search(floats: data.queries, parameters: p) == one.search(floats: data.queries, parameters: p))
        #expect(two.serialized() == one.serialized())
    }

    @Test("files: round trip, corruption and truncation", arguments: [(Metric.l2, false), (.ip, true), (.cosine, false), (.l2, true)])
    func files(metric: Metric, refine: Bool) throws {
        let data = SmallDataset(count: 1000, queries: 10, dim: Self.dim, metric: metric, k: 10, seed: 56)
        let index = try Self.build(metric, refine: refine, data: data, m: 8)
        try index.remove([RowID(3), RowID(700)])
        let image = index.serialized()
        let loaded = try IndexFactory.load(image)
        #expect(loaded.configuration == index.configuration)
        #expect(loaded.configuration.refine == refine)
        #expect(loaded.count == index.count)
        #expect(loaded.memoryBytes == index.memoryBytes)
        let p = SearchParameters(k: 10, nprobe: 8, refineK: 3)
        #expect(try loaded.search(floats: data.queries, parameters: p) == index.search(floats: data.queries, parameters: p))
        #expect(loaded.serialized() == image)
        for at in stride(from: 0, to: image.count, by: 997) {
            var bad = image
            bad[at] ^= 0x5A
            #expect(throws: IndexError.self) { try IndexFactory.load(bad) }
        }
        for cut in [1, 9, image.count / 2, image.count - 65] {
            #expect(throws: IndexError.self) { try IndexFactory.load(Array(image.dropLast(cut))) }
        }
        // Empty and untrained indexes round-trip too.
        let empty = try IndexFactory.make(indexType: "IVF_PQ", metricType: metric.rawValue, params: ["m": "4", "nlist": "4"],
                                          type: .floatVector, dim: Self.dim)
        let reloaded = try IndexFactory.load(empty.serialized())
        #expect(!reloaded.isTrained)
        #expect(try reloaded.search(floats: data.queries, parameters: SearchParameters(k: 5)).allSatisfy(\.isEmpty))
        try empty.train(data.source())
        let trainedEmpty = try IndexFactory.load(empty.serialized())
        #expect(trainedEmpty.isTrained && trainedEmpty.count == 0)
    }

    @Test("bad parameters and inputs are caller errors")
    func badParameters() throws {
        func make(_ params: [String: String], metric: String = "L2", type: DataType = .floatVector, dim: Int = 32) throws(IndexError) -> any VectorIndex {
            try IndexFactory.make(indexType: "IVF_PQ", metricType: metric, params: params, type: type, dim: dim)
        }
        let cases: [([String: String], String, DataType, Int)] = [
            (["nlist": "16"], "L2", .floatVector, 32),                          // m missing
            (["m": "5"], "L2", .floatVector, 32),                               // m does not divide dim
            (["m": "64"], "L2", .floatVector, 32),                              // m larger than dim
            (["m": "8", "nbits": "4"], "L2", .floatVector, 32),                 // only 8 bits
            (["m": "8", "nbits": "x"], "L2", .floatVector, 32),
            (["m": "8", "refine": "maybe"], "L2", .floatVector, 32),
            (["m": "8", "refine": "true", "refine_type": "SQ8"], "L2", .floatVector, 32),
            (["m": "8"], "HAMMING", .floatVector, 32),                          // metric of binary vectors
            (["m": "8"], "L2", .binaryVector, 32),                              // not float vectors
            (["m": "8"], "L2", .float16Vector, 32),
            (["m": "8", "nlist": "0"], "L2", .floatVector, 32),
        ]
        for (params, metric, type, dim) in cases {
            do {
                _ = try make(params, metric: metric, type: type, dim: dim)
                Issue.record("accepted \(params) \(metric) \(type)")
            } catch {
                #expect(error.isCallerFault, "\(params): \(error)")
            }
        }
        do {
            _ = try make(["m": "5"])
        } catch {
            #expect(error.description.contains("must divide the dimension 32"))
        }
        do {
            _ = try make(["m": "8", "nbits": "16"])
        } catch {
            #expect(error.description.contains("nbits"))
        }
        #expect(throws: IndexError.self) { try SearchParameters(k: 10, milvusParams: ["refine_k": "0.5"]) }
        #expect(throws: IndexError.self) { try SearchParameters(k: 10, milvusParams: ["refine_k": "lots"]) }
        #expect(throws: IndexError.self) { try SearchParameters(k: 10, milvusParams: ["reorder_k": "5"]) }
        #expect(try SearchParameters(k: 10, milvusParams: ["refine_k": "2.5"]).refineK == 2.5)

        let data = SmallDataset(count: 600, queries: 3, dim: 32, metric: .l2, k: 5, seed: 57)
        let index = try make(["m": "8", "nlist": "8"])
        try index.train(data.source())
        try index.add(data.source())
        #expect(throws: IndexError.self) { try index.search(floats: [1, 2, 3], parameters: SearchParameters(k: 5)) }
        #expect(throws: IndexError.self) { try index.add(ContiguousVectorSource(floats: [Float](repeating: 1, count: 16), dim: 16)) }
        #expect(throws: IndexError.self) { try index.train(ContiguousVectorSource(floats: [], dim: 32)) }
        // Fewer training rows than centroids still trains (centroids repeat) and searches.
        let tiny = try make(["m": "4", "nlist": "16"])
        try tiny.train(ContiguousVectorSource(floats: Array(data.base[0..<(10 * 32)]), dim: 32))
        try tiny.add(ContiguousVectorSource(floats: Array(data.base[0..<(10 * 32)]), dim: 32))
        let hit = try tiny.search(floats: Array(data.base[0..<32]), parameters: SearchParameters(k: 3, nprobe: 16))
        #expect(hit[0].count == 3)
    }
}
