import Testing
@testable import Osprey
import OspreyCore

/// Hybrid search: reciprocal rank fusion and weighted fusion over two vector fields.
@Suite struct HybridSearchTests {
    /// Rows 0…9: `a` points along x at distance i, `b` along y at distance 9 - i, so the two
    /// fields rank the rows in opposite orders.
    static func collection() throws -> Collection {
        let db = Database.inMemory()
        let schema = CollectionSchema(fields: [
            .primaryKey("id"), .vector("a", dim: 2), .vector("b", dim: 2), .scalar("tag", .varchar, maxLength: 8),
        ])
        let c = try db.createCollection("h", schema: schema)
        _ = try c.insert((0..<10).map { i in
            ["id": .int(Int64(i)), "a": .floatVector([Float(i), 0]), "b": .floatVector([0, Float(9 - i)]), "tag": .string("t\(i)")]
        })
        return c
    }

    static let a = SearchRequest(vectors: [.floatVector([0, 0])], field: "a", limit: 3, metric: .l2)
    static let b = SearchRequest(vectors: [.floatVector([0, 0])], field: "b", limit: 3, metric: .l2)

    @Test func reciprocalRankFusion() throws {
        let c = try Self.collection()
        let hits = try c.hybridSearch([Self.a, Self.b], ranker: .rrf(k: 60), limit: 4, outputFields: ["tag"])
        #expect(hits.count == 1)
        // a ranks 0,1,2 and b ranks 9,8,7: each list's first gets 1/61; ties go by key.
        #expect(hits[0].ids == [.int(0), .int(9), .int(1), .int(8)])
        #expect(abs(hits[0].scores[0] - Float(1.0 / 61)) < 1e-7)
        #expect(abs(hits[0].scores[2] - Float(1.0 / 62)) < 1e-7)
        #expect(hits[0].row(1)["tag"] == .string("t9"))
        #expect(hits[0].fields["id"] == nil)

        let same = try c.hybridSearch([Self.a, Self.a], ranker: .rrf(k: 60), limit: 1)
        #expect(same[0].ids == [.int(0)])
        #expect(abs(same[0].scores[0] - Float(2.0 / 61)) < 1e-7)
    }

    @Test func weightedFusionAndOffset() throws {
        let c = try Self.collection()
        let hits = try c.hybridSearch([Self.a, Self.b], ranker: .weighted(weights: [0.9, 0.1], normalize: false), limit: 3)
        // L2 distances become 1 - 2·atan(d)/π; the heavier weight on `a` puts row 0 first.
        #expect(hits[0].ids.first == .int(0))
        #expect(abs(hits[0].scores[0] - 0.9) < 1e-6)
        let scores = hits[0].scores
        #expect(scores == scores.sorted(by: >))
        let paged = try c.hybridSearch([Self.a, Self.b], ranker: .weighted(weights: [0.9, 0.1], normalize: false), limit: 2, offset: 1)
        #expect(paged[0].ids == Array(hits[0].ids.dropFirst().prefix(2)))
        let rounded = try c.hybridSearch([Self.a, Self.b], ranker: .rrf(k: 60), limit: 1, roundDecimal: 2)
        #expect(rounded[0].scores == [0.02])
    }

    @Test func badRequestsAreRefused() throws {
        let c = try Self.collection()
        #expect(throws: OspreyError.self) { try c.hybridSearch([], ranker: .rrf(k: 60), limit: 3) }
        #expect(throws: OspreyError.self) {
            try c.hybridSearch([Self.a, Self.b], ranker: .weighted(weights: [1], normalize: true), limit: 3)
        }
        var two = Self.b
        two.vectors.append(.floatVector([1, 1]))
        #expect(throws: OspreyError.self) { try c.hybridSearch([Self.a, two], ranker: .rrf(k: 60), limit: 3) }
        #expect(throws: OspreyError.self) { try c.hybridSearch([Self.a], ranker: .rrf(k: 60), limit: 0) }
    }

    @Test func outputFieldsFollowTheFusedOrder() throws {
        let c = try Self.collection()
        let hits = try c.hybridSearch([Self.b], ranker: .rrf(k: 60), limit: 3, outputFields: ["tag", "id"])
        #expect(hits[0].ids == [.int(9), .int(8), .int(7)])
        #expect(hits[0].fields.rowCount == 3)
        #expect((0..<3).map { hits[0].row($0)["tag"] } == [.string("t9"), .string("t8"), .string("t7")])
        #expect(hits[0].row(2)["id"] == .int(7))
    }
}
