import OspreyCore
@testable import OspreyIndex
import OspreyTestSupport
import Testing

/// Recall@10 HNSW must reach on small clustered data at ef = 64 (M = 12, efConstruction = 100);
/// a correct graph gives 0.98+ here, a broken heuristic or link update falls well below.
let hnswRecallFloor = 0.95
/// With half the rows filtered out the graph is still traversed through them; recall against the
/// filtered ground truth stays high.
let hnswFilteredRecallFloor = 0.90

@Suite("HNSW index")
struct HNSWIndexTests {
    func build(_ data: SmallDataset, type: String = "HNSW", threads: Int? = nil) throws -> HNSWIndex {
        let config = try IndexConfiguration(indexType: type, metricType: data.metric.rawValue,
                                            params: ["M": "12", "efConstruction": "100"], type: .floatVector, dim: data.dim)
        let index = try HNSWIndex(config, buildThreads: threads)
        try index.add(data.source())
        return index
    }

    @Test("recall@10 against exact ground truth", arguments: [Metric.l2, .ip, .cosine])
    func recall(metric: Metric) throws {
        let data = SmallDataset(count: 2000, queries: 50, dim: 16, metric: metric, k: 10, seed: 21)
        let index = try build(data)
        let res = try index.search(floats: data.queries, parameters: SearchParameters(k: 10, ef: 64))
        let r = VectorGroundTruth.recall(results: rows(res), truth: data.truth, k: 10)
        print("HNSW \(metric) recall@10 = \(r)")
        #expect(r >= hnswRecallFloor)
        #expect(res.allSatisfy { $0.count == 10 && zip($0, $0.dropFirst()).allSatisfy { $0.distance <= $1.distance } })
        #expect(index.memoryBytes > 2000 * 16 * 4)
    }

    @Test("single-threaded and parallel builds both reach the recall floor")
    func singleThreaded() throws {
        let data = SmallDataset(count: 1000, queries: 30, dim: 12, metric: .l2, k: 10, seed: 22)
        let index = try build(data, threads: 1)
        let res = try index.search(floats: data.queries, parameters: SearchParameters(k: 10, ef: 64, threads: 1))
        #expect(VectorGroundTruth.recall(results: rows(res), truth: data.truth, k: 10) >= hnswRecallFloor)
    }

    @Test("filters and removed rows: traversed, never returned")
    func filters() throws {
        let data = SmallDataset(count: 2000, queries: 30, dim: 16, metric: .l2, k: 10, seed: 23)
        let index = try build(data)
        var filter = Bitset(count: 2000)
        for r in 0..<2000 where r % 2 == 0 { filter.set(r) }
        let removed = (0..<20).map { RowID($0 * 2) }
        try index.remove(removed)
        let res = try index.search(floats: data.queries, parameters: SearchParameters(k: 10, ef: 80, filter: filter))
        for hit in res.joined() { #expect(hit.row.index % 2 == 0 && hit.row.index >= 40) }
        // Ground truth over the allowed rows only.
        let allowed = (0..<2000).filter { $0 % 2 == 0 && $0 >= 40 }
        let sub = allowed.flatMap { data.base[($0 * 16)..<($0 * 16 + 16)] }
        let truth = VectorGroundTruth.nearest(base: sub, queries: data.queries, dim: 16, k: 10, metric: .l2).map { $0.map { allowed[$0] } }
        #expect(VectorGroundTruth.recall(results: rows(res), truth: truth, k: 10) >= hnswFilteredRecallFloor)
        // A very selective filter switches to an exact scan of the allowed rows.
        var tiny = Bitset(count: 2000)
        for r in [5, 77, 1999] { tiny.set(r) }
        let few = try index.search(floats: data.queries, parameters: SearchParameters(k: 10, filter: tiny))
        #expect(few.allSatisfy { Set($0.map(\.row.index)) == [5, 77, 1999] })
    }

    @Test("float16 and int8 vectors build and search")
    func otherTypes() throws {
        let floats = VectorDatasets.clustered(count: 500, dim: 16, clusters: 10, seed: 24)
        let halves = floats.flatMap { f -> [UInt8] in let h = Float16(f).bitPattern; return [UInt8(h & 0xFF), UInt8(h >> 8)] }
        let int8s = floats.map { UInt8(bitPattern: Int8(Swift.max(-127, Swift.min(127, $0 * 40)))) }
        for (type, bytes) in [(DataType.float16Vector, halves), (.int8Vector, int8s)] {
            let index = try IndexFactory.make(indexType: "HNSW", metricType: "L2", params: ["M": "8"], type: type, dim: 16)
            try index.add(ContiguousVectorSource(type: type, dim: 16, bytes: bytes))
            let vb = type.vectorBytes(dim: 16)
            let res = try bytes.withUnsafeBytes { raw in
                try index.search(queries: UnsafeRawBufferPointer(rebasing: raw[(3 * vb)..<(4 * vb)]), parameters: SearchParameters(k: 1))
            }
            #expect(res[0].first?.distance == 0, "\(type)")
        }
    }

    @Test("range search returns only hits inside the bounds")
    func rangeSearch() throws {
        let data = SmallDataset(count: 1000, queries: 5, dim: 8, metric: .l2, k: 1, seed: 25)
        let index = try build(data)
        let p = RangeParameters(radius: 3, rangeFilter: 0.5, search: SearchParameters(k: 50))
        let hits = try index.rangeSearch(floats: data.queries, parameters: p)
        for h in hits.joined() { #expect(h.distance < 3 && h.distance >= 0.5) }
        #expect(hits.contains { !$0.isEmpty })
    }

    @Test("save and load give the same answers; damaged files are errors, never traps")
    func files() throws {
        let data = SmallDataset(count: 600, queries: 10, dim: 8, metric: .cosine, k: 10, seed: 26)
        let index = try build(data)
        try index.remove([RowID(1)])
        let image = index.serialized()
        let loaded = try IndexFactory.load(image)
        #expect(loaded.count == 600 && loaded.memoryBytes == index.memoryBytes)
        let p = SearchParameters(k: 10, ef: 40)
        #expect(rows(try loaded.search(floats: data.queries, parameters: p)) == rows(try index.search(floats: data.queries, parameters: p)))
        for cut in [0, 64, 100, image.count / 2, image.count - 1] {
            #expect(throws: IndexError.self) { try IndexFactory.load(Array(image[0..<cut])) }
        }
        for at in stride(from: 0, to: image.count, by: 211) {
            var bad = image
            bad[at] ^= 0xA5
            #expect(throws: IndexError.self) { try IndexFactory.load(bad) }
        }
        // Structural damage behind a valid checksum: every link field set out of range.
        let payload = Array(image[IndexFile.headerSize...])
        for at in stride(from: 40, to: payload.count - 4, by: 389) {
            var p = payload
            p[at] = 0xFF; p[at + 1] = 0xFF; p[at + 2] = 0xFF; p[at + 3] = 0x7F
            let resealed = IndexFile.image(index.configuration, payload: p)
            do {
                let l = try IndexFactory.load(resealed)
                _ = try l.search(floats: data.queries, parameters: p0)  // a vector byte changed: still safe
            } catch {
                #expect(!error.isCallerFault)
            }
        }
    }
    let p0 = SearchParameters(k: 5)
}
