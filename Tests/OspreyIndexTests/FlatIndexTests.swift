import OspreyCore
import OspreyIndex
import OspreyTestSupport
import Testing

@Suite("FLAT index")
struct FlatIndexTests {
    @Test("single and batched search are exact", arguments: [Metric.l2, .ip, .cosine])
    func exact(metric: Metric) throws {
        let data = SmallDataset(count: 1500, queries: 20, dim: 24, metric: metric, k: 10, seed: 11)
        let index = try IndexFactory.make(indexType: "FLAT", metricType: metric.rawValue, params: [:], type: .floatVector, dim: 24)
        try index.add(data.source())
        #expect(index.count == 1500)
        let batch = try index.search(floats: data.queries, parameters: SearchParameters(k: 10))
        #expect(VectorGroundTruth.recall(results: rows(batch), truth: data.truth, k: 10) >= 0.999)
        for qi in 0..<3 {
            let one = try index.search(floats: Array(data.queries[(qi * 24)..<(qi * 24 + 24)]), parameters: SearchParameters(k: 10))
            #expect(rows(one)[0] == data.truth[qi] || VectorGroundTruth.recall(results: rows(one), truth: [data.truth[qi]], k: 10) >= 0.9)
            for (a, b) in zip(one[0], batch[qi]) { #expect(abs(a.distance - b.distance) <= 1e-3 * Swift.max(1, abs(a.distance))) }
        }
    }

    @Test("filter and removed rows are never returned")
    func filterAndRemove() throws {
        let data = SmallDataset(count: 800, queries: 8, dim: 16, metric: .l2, k: 10, seed: 12)
        let index = try IndexFactory.make(indexType: "FLAT", metricType: "L2", params: [:], type: .floatVector, dim: 16)
        try index.add(data.source())
        var filter = Bitset(count: 800)
        for r in stride(from: 0, to: 800, by: 3) { filter.set(r) }
        try index.remove([RowID(0), RowID(3), RowID(6)])
        for batch in [false, true] {
            let q = batch ? data.queries : Array(data.queries[0..<16])
            let res = try index.search(floats: q, parameters: SearchParameters(k: 10, filter: filter))
            for r in res.joined() { #expect(r.row.index % 3 == 0 && r.row.index > 6) }
            #expect(res.allSatisfy { $0.count == 10 })
        }
        #expect(throws: IndexError.self) { try index.remove([RowID(900)]) }
    }

    @Test("range search returns every row within the bounds", arguments: [Metric.l2, .ip])
    func rangeSearch(metric: Metric) throws {
        let data = SmallDataset(count: 600, queries: 4, dim: 8, metric: metric, k: 1, seed: 13)
        let index = try FlatIndex(IndexConfiguration(indexType: .flat, metric: metric, type: .floatVector, dim: 8))
        try index.add(data.source())
        let params = metric == .l2 ? RangeParameters(radius: 6, rangeFilter: 1) : RangeParameters(radius: 2, rangeFilter: 6)
        let hits = try index.rangeSearch(floats: data.queries, parameters: params)
        for qi in 0..<4 {
            let expected = (0..<600).filter { r in
                data.base.withUnsafeBufferPointer { b in
                    data.queries.withUnsafeBufferPointer { q in
                        params.accepts(distance: VectorGroundTruth.distance(q.baseAddress! + qi * 8, b.baseAddress! + r * 8, dim: 8, metric: metric),
                                       metric: metric)
                    }
                }
            }
            let got = hits[qi].map(\.row.index).sorted()
            // Float rounding may flip rows lying exactly on a bound; allow a couple.
            #expect(abs(got.count - expected.count) <= 2 && Set(got).symmetricDifference(expected).count <= 2, "query \(qi)")
            for h in hits[qi] { #expect(params.accepts(distance: h.distance, metric: metric)) }
        }
    }

    @Test("binary vectors: BIN_FLAT with HAMMING and JACCARD", arguments: [Metric.hamming, .jaccard])
    func binary(metric: Metric) throws {
        let bytes = VectorDatasets.binary(count: 300, dim: 128, seed: 14)
        let index = try IndexFactory.make(indexType: "BIN_FLAT", metricType: metric.rawValue, params: [:], type: .binaryVector, dim: 128)
        try index.add(ContiguousVectorSource(type: .binaryVector, dim: 128, bytes: bytes))
        let res = try bytes.withUnsafeBytes { raw in
            try index.search(queries: UnsafeRawBufferPointer(rebasing: raw[0..<32]), parameters: SearchParameters(k: 3))
        }
        #expect(res[0][0].row == RowID(0) && res[0][0].distance == 0)
    }

    @Test("save and load round-trip; corrupted and truncated files are errors")
    func files() throws {
        let data = SmallDataset(count: 300, queries: 5, dim: 12, metric: .cosine, k: 5, seed: 15)
        let index = try IndexFactory.make(indexType: "FLAT", metricType: "COSINE", params: [:], type: .floatVector, dim: 12)
        try index.add(data.source())
        try index.remove([RowID(7)])
        let image = index.serialized()
        let loaded = try IndexFactory.load(image)
        #expect(loaded.count == 300 && loaded.configuration == index.configuration)
        let p = SearchParameters(k: 5)
        #expect(rows(try loaded.search(floats: data.queries, parameters: p)) == rows(try index.search(floats: data.queries, parameters: p)))
        for cut in [0, 10, 63, 64, image.count - 1] {
            #expect(throws: IndexError.self) { try IndexFactory.load(Array(image[0..<cut])) }
        }
        for at in stride(from: 0, to: image.count, by: 97) {
            var bad = image
            bad[at] ^= 0x5A
            #expect(throws: IndexError.self) { try IndexFactory.load(bad) }
        }
    }
}
