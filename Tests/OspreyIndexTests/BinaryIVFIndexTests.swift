import OspreyCore
import OspreyIndex
import OspreyTestSupport
import Testing

/// Share of the exact k-th-neighbour distances BIN_IVF_FLAT must match probing 8 of 32 lists of
/// 20-cluster binary data: lists follow the clusters, so nearly every query's neighbours lie in
/// the probed lists; a broken binarisation, assignment or probe order falls far below.
let binaryIVFRecallFloor = 0.9

/// Binary vectors around `clusters` random centres, each bit flipped with probability `flip`.
func clusteredBits(count: Int, dim: Int, clusters: Int, flip: Double, seed: UInt64) -> [UInt8] {
    var rng = VectorRNG(seed: seed)
    let vb = dim / 8
    let centres = (0..<(clusters * vb)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    var out = [UInt8](repeating: 0, count: count * vb)
    for r in 0..<count {
        let c = Int(rng.next() % UInt64(clusters))
        for b in 0..<vb {
            var byte = centres[c * vb + b]
            for bit in 0..<8 where Double(rng.unit()) < flip { byte ^= UInt8(1) << UInt8(bit) }
            out[r * vb + b] = byte
        }
    }
    return out
}

@Suite("BIN_IVF_FLAT")
struct BinaryIVFIndexTests {
    static let dim = 128
    static let rows = 3000

    struct Fixture {
        let base: [UInt8]
        let queries: [UInt8]
        let exact: any VectorIndex
        let index: any VectorIndex
    }

    static func fixture(_ metric: Metric, seed: UInt64) throws -> Fixture {
        print("BIN_IVF_FLAT \(metric) seed \(seed)")
        // Same seed: the queries come from the same cluster centres as the base rows.
        let base = clusteredBits(count: rows, dim: dim, clusters: 20, flip: 0.08, seed: seed)
        let queries = Array(clusteredBits(count: rows + 30, dim: dim, clusters: 20, flip: 0.08, seed: seed)[(rows * dim / 8)...])
        let source = try ContiguousVectorSource(type: .binaryVector, dim: dim, bytes: base)
        let exact = try IndexFactory.make(indexType: "BIN_FLAT", metricType: metric.rawValue, params: [:], type: .binaryVector, dim: dim)
        try exact.add(source)
        let index = try IndexFactory.make(indexType: "BIN_IVF_FLAT", metricType: metric.rawValue, params: ["nlist": "32"],
                                          type: .binaryVector, dim: dim)
        #expect(!index.isTrained)
        #expect(throws: IndexError.self) { try index.add(source) }
        try index.train(source)
        try index.add(source)
        #expect(index.count == rows)
        return Fixture(base: base, queries: queries, exact: exact, index: index)
    }

    /// The share of queries whose k-th distance equals the exact one (ties make row ids ambiguous).
    static func distanceRecall(_ got: [[Neighbor]], _ want: [[Neighbor]]) -> Double {
        var same = 0
        for (g, w) in zip(got, want) where g.count == w.count && zip(g, w).allSatisfy({ $0.distance == $1.distance }) { same += 1 }
        return Double(same) / Double(want.count)
    }

    @Test("search and range search against BIN_FLAT", arguments: [Metric.hamming, .jaccard])
    func againstExact(metric: Metric) throws {
        let f = try Self.fixture(metric, seed: 61)
        let queries = try ContiguousVectorSource(type: .binaryVector, dim: Self.dim, bytes: f.queries)
        func search(_ i: any VectorIndex, _ p: SearchParameters) throws -> [[Neighbor]] {
            try queries.bytes.withUnsafeBytes { raw in try i.search(queries: raw, parameters: p) }
        }
        func range(_ i: any VectorIndex, _ p: RangeParameters) throws -> [[Neighbor]] {
            try queries.bytes.withUnsafeBytes { raw in try i.rangeSearch(queries: raw, parameters: p) }
        }
        let truth = try search(f.exact, SearchParameters(k: 10))
        let probed = try search(f.index, SearchParameters(k: 10, nprobe: 8))
        let r = Self.distanceRecall(probed, truth)
        print("BIN_IVF_FLAT \(metric) nprobe 8: \(r) of queries exact")
        #expect(r >= binaryIVFRecallFloor)
        // Every list probed: an exact scan.
        #expect(Self.distanceRecall(try search(f.index, SearchParameters(k: 10, nprobe: 32)), truth) == 1)
        #expect(try search(f.index, SearchParameters(k: 10, nprobe: 500)) == search(f.index, SearchParameters(k: 10, nprobe: 32)))

        let bounds = metric == .hamming ? RangeParameters(radius: 20, rangeFilter: 2) : RangeParameters(radius: 0.3, rangeFilter: 0.01)
        var all = bounds
        all.search.nprobe = 32
        let want = try range(f.exact, bounds)
        let got = try range(f.index, all)
        #expect(want.joined().count > 0)
        #expect(got.map { Set($0) } == want.map { Set($0) })
        for h in try range(f.index, bounds).joined() { #expect(bounds.accepts(distance: h.distance, metric: metric)) }
    }

    @Test("filters, removed rows and files", arguments: [Metric.hamming, .jaccard])
    func filtersAndFiles(metric: Metric) throws {
        let f = try Self.fixture(metric, seed: 62)
        var filter = Bitset(count: Self.rows)
        for i in stride(from: 0, to: Self.rows, by: 3) { filter.set(i) }
        try f.index.remove([RowID(0), RowID(3), RowID(6)])
        let p = SearchParameters(k: 10, nprobe: 8, filter: filter)
        let hits = try f.queries.withUnsafeBytes { try f.index.search(queries: $0, parameters: p) }
        #expect(hits.allSatisfy { $0.count == 10 })
        for h in hits.joined() {
            #expect(h.row.index % 3 == 0)
            #expect(![0, 3, 6].contains(h.row.index))
        }
        #expect(throws: IndexError.self) { try f.index.remove([RowID(Self.rows)]) }

        let image = f.index.serialized()
        let loaded = try IndexFactory.load(image)
        #expect(loaded.configuration == f.index.configuration)
        #expect(loaded.memoryBytes == f.index.memoryBytes)
        #expect(try f.queries.withUnsafeBytes { try loaded.search(queries: $0, parameters: p) } == hits)
        #expect(loaded.serialized() == image)
        for at in stride(from: 0, to: image.count, by: 641) {
            var bad = image
            bad[at] ^= 0x81
            #expect(throws: IndexError.self) { try IndexFactory.load(bad) }
        }
        for cut in [1, 8, image.count / 3, image.count - 64] {
            #expect(throws: IndexError.self) { try IndexFactory.load(Array(image.dropLast(cut))) }
        }
        let untrained = try IndexFactory.make(indexType: "BIN_IVF_FLAT", metricType: metric.rawValue, params: [:], type: .binaryVector, dim: 64)
        #expect(try !IndexFactory.load(untrained.serialized()).isTrained)
    }

    @Test("adding in two batches equals one batch")
    func incrementalAdd() throws {
        let f = try Self.fixture(.hamming, seed: 63)
        let two = try IndexFactory.make(indexType: "BIN_IVF_FLAT", metricType: "HAMMING", params: ["nlist": "32"], type: .binaryVector,
                                        dim: Self.dim)
        let vb = Self.dim / 8, half = Self.rows / 2
        try two.train(ContiguousVectorSource(type: .binaryVector, dim: Self.dim, bytes: f.base))
        try two.add(ContiguousVectorSource(type: .binaryVector, dim: Self.dim, bytes: Array(f.base[..<(half * vb)])))
        try two.add(ContiguousVectorSource(type: .binaryVector, dim: Self.dim, bytes: Array(f.base[(half * vb)...])))
        #expect(two.serialized() == f.index.serialized())
    }

    @Test("bad parameters and inputs are caller errors")
    func badParameters() throws {
        let cases: [(String, DataType, Int)] = [("L2", .binaryVector, 64), ("HAMMING", .floatVector, 64), ("HAMMING", .binaryVector, 12),
                                                 ("IP", .binaryVector, 64), ("JACCARD", .int8Vector, 64)]
        for (metric, type, dim) in cases {
            do {
                _ = try IndexFactory.make(indexType: "BIN_IVF_FLAT", metricType: metric, params: ["nlist": "8"], type: type, dim: dim)
                Issue.record("accepted \(metric) \(type) \(dim)")
            } catch {
                #expect(error.isCallerFault)
            }
        }
        #expect(throws: IndexError.self) {
            try IndexFactory.make(indexType: "BIN_IVF_FLAT", metricType: "HAMMING", params: ["nlist": "-1"], type: .binaryVector, dim: 64)
        }
        let index = try IndexFactory.make(indexType: "BIN_IVF_FLAT", metricType: "HAMMING", params: ["nlist": "8"], type: .binaryVector, dim: 64)
        let bits = VectorDatasets.binary(count: 100, dim: 64, seed: 64)
        try index.train(ContiguousVectorSource(type: .binaryVector, dim: 64, bytes: bits))
        try index.add(ContiguousVectorSource(type: .binaryVector, dim: 64, bytes: bits))
        #expect(throws: IndexError.self) { try [UInt8](repeating: 0, count: 7).withUnsafeBytes { try index.search(queries: $0, parameters: SearchParameters(k: 1)) } }
        #expect(throws: IndexError.self) { try index.add(ContiguousVectorSource(type: .binaryVector, dim: 128, bytes: [UInt8](repeating: 0, count: 16))) }
        // A query equal to a stored row finds it at distance 0.
        let first = try Array(bits[0..<8]).withUnsafeBytes { try index.search(queries: $0, parameters: SearchParameters(k: 1, nprobe: 8)) }
        #expect(first[0].first?.distance == 0)
    }
}
