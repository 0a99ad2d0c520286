import Osprey
import OspreyCore
import Testing
@testable import OspreyServer

/// `osprey engine-bench --grpc` compares in-process searches with the same searches over
/// gRPC; both must give the same answer, and errors must come back as errors.
@Suite("Loopback search client", .timeLimit(.minutes(1)))
struct LoopbackSearchTests {
    @Test func searchOverGRPCEqualsInProcess() async throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: 3)]))
        var rng = SplitMix64(seed: 9)
        let rows = (0..<300).map { i -> [String: FieldValue] in
            ["id": .int(Int64(i)), "v": .floatVector((0..<3).map { _ in Float(rng.next() % 1000) / 1000 })]
        }
        _ = try c.insert(rows)
        try c.createIndex(field: "v", indexType: "HNSW", metric: .l2, params: ["M": "8", "efConstruction": "40"])
        try c.flush()
        c.waitForIndexBuilds()
        let queries: [[Float]] = [[0.1, 0.2, 0.3], [0.9, 0.5, 0.1], [0.5, 0.5, 0.5]]
        try await LoopbackSearchClient.withServer(database: db) { client in
            for q in queries {
                let local = try c.search(SearchRequest(vectors: [.floatVector(q)], limit: 7, metric: .l2, params: ["ef": "32"]))[0]
                let remote = try await client.search(collection: "c", field: "v", vector: q, limit: 7, metric: .l2, params: ["ef": "32"])
                #expect(remote.count == 7)
                #expect(local.ids == remote.map { PrimaryKey.int($0) })
            }
            await #expect(throws: LoopbackSearchError.self) {
                _ = try await client.search(collection: "missing", field: "v", vector: [0, 0, 0], limit: 3, metric: .l2, params: [:])
            }
        }
        try db.close()
    }
}
