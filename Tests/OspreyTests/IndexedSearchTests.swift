import Testing
@testable import Osprey
import OspreyCore
import OspreyTestSupport

/// Search through indexes built on sealed segments, against exact results.
@Suite struct IndexedSearchTests {
    static let seed: UInt64 = 77
    static let rows = 6_000
    static let dim = 32
    /// HNSW with ef = 64 on small clustered data finds nearly all true neighbours; 0.9 leaves
    /// room for the approximation while catching a broken graph or a wrong merge.
    static let minimumRecall = 0.9

    static func setUp() throws -> (Collection, [Float]) {
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 2_048))
        let s = CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: dim), .scalar("bucket", .int64)])
        let c = try db.createCollection("idx", schema: s)
        let base = VectorDatasets.clustered(count: rows, dim: dim, clusters: 20, seed: seed)
        try c.insert(columns: ColumnBatch(rowCount: rows, columns: [
            "id": Column(.int64((0..<rows).map(Int64.init))),
            "v": Column(.floatVector(dim: dim, base)),
            "bucket": Column(.int64((0..<rows).map { Int64($0 % 200) })),
        ]))
        try c.createIndex(field: "v", indexType: "HNSW", metric: .l2, params: ["M": "16", "efConstruction": "100"])
        try c.flush()
        c.waitForIndexBuilds()
        return (c, base)
    }

    @Test func hnswOnSealedSegmentsKeepsRecallAndFilters() throws {
        print("IndexedSearchTests seed \(Self.seed)")
        let (c, base) = try Self.setUp()
        let progress = try c.indexProgress(name: "v")
        #expect(progress.state == .finished)
        #expect(progress.indexedRows == Self.rows)
        let nq = 20
        let queries = VectorDatasets.clustered(count: nq, dim: Self.dim, clusters: 20, seed: Self.seed + 1)
        let truth = VectorGroundTruth.nearest(base: base, queries: queries, dim: Self.dim, k: 10, metric: .l2)
        let hits = try c.search(SearchRequest(
            vectors: (0..<nq).map { .floatVector(Array(queries[$0 * Self.dim ..< ($0 + 1) * Self.dim])) },
            limit: 10, metric: .l2, params: ["ef": "64"]))
        let got = hits.map { $0.ids.map { id -> Int in if case .int(let i) = id { return Int(i) } else { return -1 } } }
        let recall = VectorGroundTruth.recall(results: got, truth: truth, k: 10)
        print("recall@10 through HNSW: \(recall)")
        #expect(recall >= Self.minimumRecall)

        // Half the rows allowed: the index is used with the filter; every hit matches.
        let half = try c.search(SearchRequest(vectors: [.floatVector(Array(queries[0..<Self.dim]))], limit: 10, metric: .l2,
                                              filter: "bucket < 100", outputFields: ["bucket"], params: ["ef": "64"]))[0]
        #expect(half.count == 10)
        #expect((0..<10).allSatisfy { if case .int(let b) = half.row($0)["bucket"] { return b < 100 } else { return false } })
        // Very few rows allowed: every one of them comes back.
        let rare = try c.search(SearchRequest(vectors: [.floatVector(Array(queries[0..<Self.dim]))], limit: 50, metric: .l2,
                                              filter: "bucket == 3"))[0]
        #expect(rare.count == Self.rows / 200)
        // ef below k is refused, a different metric than the index's too.
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: [.floatVector(Array(queries[0..<Self.dim]))], limit: 10, params: ["ef": "5"])) }
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: [.floatVector(Array(queries[0..<Self.dim]))], metric: .ip)) }
    }

    @Test func deletesAreHiddenFromIndexedSearchAndDroppingTheIndexFallsBackToExact() throws {
        let (c, base) = try Self.setUp()
        let q: [FieldValue] = [.floatVector(Array(base[0..<Self.dim]))]
        #expect(try c.search(SearchRequest(vectors: q, limit: 1, metric: .l2, params: ["ef": "32"]))[0].ids == [.int(0)])
        try c.delete(ids: [.int(0)])
        let after = try c.search(SearchRequest(vectors: q, limit: 5, metric: .l2, params: ["ef": "32"]))[0]
        #expect(!after.ids.contains(.int(0)))
        #expect(after.count == 5)
        try c.dropIndex(name: "v")
        #expect(c.listIndexes().isEmpty)
        let exact = try c.search(SearchRequest(vectors: q, limit: 5, metric: .ip))[0]
        #expect(exact.count == 5)
        #expect(throws: OspreyError.self) { try c.createIndex(field: "v", indexType: "NOPE", metric: .l2) }
        #expect(throws: OspreyError.self) { try c.createIndex(field: "v", indexType: "HNSW", metric: .hamming) }
        #expect(throws: OspreyError.self) { try c.createIndex(field: "v", indexType: "HNSW", metric: .l2, params: ["M": "0"]) }
        try c.createIndex(field: "bucket", indexType: "STL_SORT")
        #expect(throws: OspreyError.self) { try c.createIndex(field: "bucket", indexType: "Trie") }
    }
}
