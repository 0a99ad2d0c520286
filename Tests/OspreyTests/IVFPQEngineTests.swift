import Foundation
import Testing
@testable import Osprey
import OspreyCore
import OspreyTestSupport

/// IVF_PQ and BIN_IVF_FLAT declared with `createIndex`, built on sealed segments, searched through
/// the engine, and reloaded from a durable database's files.
@Suite struct IVFPQEngineTests {
    static let seed: UInt64 = 91
    static let rows = 5_000
    static let dim = 32
    /// Recall@10 through IVF_PQ with every list probed and 4·k candidates re-ranked exactly: the
    /// candidates hold nearly every true neighbour of this clustered data; a broken build, id
    /// mapping or merge across segments falls far below.
    static let minimumRecall = 0.9

    static func ids(_ hits: [SearchHits]) -> [[Int]] {
        hits.map { $0.ids.map { id -> Int in if case .int(let i) = id { return Int(i) } else { return -1 } } }
    }

    static func fill(_ c: Collection, base: [Float]) throws {
        try c.insert(columns: ColumnBatch(rowCount: rows, columns: [
            "id": Column(.int64((0..<rows).map(Int64.init))),
            "v": Column(.floatVector(dim: dim, base)),
            "bucket": Column(.int64((0..<rows).map { Int64($0 % 200) })),
        ]))
    }

    static let schema = CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: dim), .scalar("bucket", .int64)])

    @Test func ivfPQOnSealedSegments() throws {
        print("IVFPQEngineTests seed \(Self.seed)")
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 2_048))
        let c = try db.createCollection("pq", schema: Self.schema)
        let base = VectorDatasets.clustered(count: Self.rows, dim: Self.dim, clusters: 20, seed: Self.seed)
        try Self.fill(c, base: base)
        #expect(throws: OspreyError.self) {
            try c.createIndex(field: "v", indexType: "IVF_PQ", metric: .l2, params: ["nlist": "16", "m": "5"])
        }
        #expect(throws: OspreyError.self) {
            try c.createIndex(field: "v", indexType: "IVF_PQ", metric: .l2, params: ["nlist": "16", "m": "8", "nbits": "4"])
        }
        #expect(throws: OspreyError.self) { try c.createIndex(field: "v", indexType: "BIN_IVF_FLAT", metric: .hamming) }
        try c.createIndex(field: "v", indexType: "IVF_PQ", metric: .l2, params: ["nlist": "16", "m": "8", "refine": "true"])
        try c.flush()
        c.waitForIndexBuilds()
        let progress = try c.indexProgress(name: "v")
        #expect(progress.state == .finished)
        #expect(progress.indexedRows == Self.rows)

        let nq = 20
        let queries = VectorDatasets.clustered(count: nq, dim: Self.dim, clusters: 20, seed: Self.seed + 1)
        let truth = VectorGroundTruth.nearest(base: base, queries: queries, dim: Self.dim, k: 10, metric: .l2)
        let vectors: [FieldValue] = (0..<nq).map { .floatVector(Array(queries[$0 * Self.dim ..< ($0 + 1) * Self.dim])) }
        let hits = try c.search(SearchRequest(vectors: vectors, limit: 10, metric: .l2, params: ["nprobe": "16", "refine_k": "4"]))
        let recall = VectorGroundTruth.recall(results: Self.ids(hits), truth: truth, k: 10)
        print("recall@10 through IVF_PQ: \(recall)")
        #expect(recall >= Self.minimumRecall)
        // Re-ranked scores are exact squared distances.
        for (q, h) in hits.enumerated() {
            for (i, id) in Self.ids([h])[0].enumerated() {
                let want = queries.withUnsafeBufferPointer { qp in
                    base.withUnsafeBufferPointer { bp in
                        VectorGroundTruth.distance(qp.baseAddress! + q * Self.dim, bp.baseAddress! + id * Self.dim, dim: Self.dim, metric: .l2)
                    }
                }
                #expect(abs(h.scores[i] - want) <= 1e-3 * (1 + want))
            }
        }
        // The filter holds through the index.
        let half = try c.search(SearchRequest(vectors: [vectors[0]], limit: 10, metric: .l2, filter: "bucket < 100",
                                              outputFields: ["bucket"], params: ["nprobe": "8"]))[0]
        #expect(half.count == 10)
        #expect((0..<10).allSatisfy { if case .int(let b) = half.row($0)["bucket"] { return b < 100 } else { return false } })
        // A bad search parameter is the caller's error.
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: [vectors[0]], limit: 10, metric: .l2, params: ["refine_k": "0"])) }
    }

    @Test func binIVFFlatOnSealedSegments() throws {
        let dim = 128, bytes = dim / 8
        let base = VectorDatasets.binary(count: Self.rows, dim: dim, seed: Self.seed)
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 2_048))
        let c = try db.createCollection("bin", schema: CollectionSchema(fields: [.primaryKey("id"), .vector("b", .binaryVector, dim: dim)]))
        try c.insert(columns: ColumnBatch(rowCount: Self.rows, columns: [
            "id": Column(.int64((0..<Self.rows).map(Int64.init))), "b": Column(.binaryVector(dim: dim, base)),
        ]))
        #expect(throws: OspreyError.self) { try c.createIndex(field: "b", indexType: "IVF_PQ", metric: .hamming, params: ["m": "8"]) }
        #expect(throws: OspreyError.self) { try c.createIndex(field: "b", indexType: "BIN_IVF_FLAT", metric: .l2) }
        try c.createIndex(field: "b", indexType: "BIN_IVF_FLAT", metric: .jaccard, params: ["nlist": "16"])
        try c.flush()
        c.waitForIndexBuilds()
        #expect(try c.indexProgress(name: "b").indexedRows == Self.rows)
        // Every list probed: the same distances as an exact scan (ids may differ on ties).
        let qs: [FieldValue] = (0..<10).map { .binaryVector(Array(base[($0 * 37) * bytes ..< ($0 * 37 + 1) * bytes])) }
        let indexed = try c.search(SearchRequest(vectors: qs, limit: 10, metric: .jaccard, params: ["nprobe": "16"]))
        try c.dropIndex(name: "b")
        let exact = try c.search(SearchRequest(vectors: qs, limit: 10, metric: .jaccard))
        #expect(indexed.map(\.scores) == exact.map(\.scores))
        for (q, h) in indexed.enumerated() { #expect(h.ids.first == .int(Int64(q * 37))) }
    }

    @Test func indexFilesSurviveReopening() throws {
        let dir = DurabilityTemporaryDirectory("ivfpq-engine")
        let base = VectorDatasets.clustered(count: Self.rows, dim: Self.dim, clusters: 20, seed: Self.seed + 2)
        let q: [FieldValue] = (0..<5).map { .floatVector(Array(base[($0 * 101) * Self.dim ..< ($0 * 101 + 1) * Self.dim])) }
        let request = SearchRequest(vectors: q, limit: 10, metric: .ip, params: ["nprobe": "4"])
        let before: [SearchHits]
        do {
            let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 2_048))
            let c = try db.createCollection("pq", schema: Self.schema)
            try Self.fill(c, base: base)
            try c.createIndex(field: "v", indexType: "IVF_PQ", metric: .ip, params: ["nlist": "8", "m": "16"])
            try c.flush()
            c.waitForIndexBuilds()
            before = try c.search(request)
            try db.close()
        }
        let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 2_048))
        let c = try db.collection("pq")
        c.waitForIndexBuilds()
        #expect(try c.indexProgress(name: "v").indexedRows == Self.rows)
        let after = try c.search(request)
        #expect(Self.ids(after) == Self.ids(before))
        #expect(after.map(\.scores) == before.map(\.scores))
        try db.close()
    }
}
