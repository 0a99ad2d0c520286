import Testing
@testable import Osprey
import OspreyCore

@Suite struct GroupBySearchTests {
    /// Rows i = 0..<300 at x = i, in documents doc = i / 10 (10 chunks each).
    static func collection() throws -> Collection {
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 64))
        let s = CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: 2), .scalar("doc", .int64), .scalar("score", .double)])
        let c = try db.createCollection("g", schema: s)
        try c.insert((0..<300).map { (i: Int64) -> [String: FieldValue] in
            ["id": .int(i), "v": .floatVector([Float(i), 0]), "doc": .int(i / 10), "score": .double(0)]
        })
        return c
    }

    @Test func bestGroupsWithGroupSizeHitsEach() throws {
        let c = try Self.collection()
        let q: [FieldValue] = [.floatVector([100, 0])]
        let one = try c.search(SearchRequest(vectors: q, limit: 3, metric: .l2, groupByField: "doc"))[0]
        #expect(one.groupValues == [.int(10), .int(9), .int(11)])
        #expect(one.ids == [.int(100), .int(99), .int(110)])
        let three = try c.search(SearchRequest(vectors: q, limit: 2, metric: .l2, groupByField: "doc", groupSize: 3, strictGroupSize: true))[0]
        #expect(three.groupValues == [.int(10), .int(10), .int(10), .int(9), .int(9), .int(9)])
        #expect(three.ids == [.int(100), .int(101), .int(102), .int(99), .int(98), .int(97)])
        let paged = try c.search(SearchRequest(vectors: q, limit: 2, metric: .l2, offset: 1, groupByField: "doc"))[0]
        #expect(paged.groupValues == [.int(9), .int(11)])
        let filtered = try c.search(SearchRequest(vectors: q, limit: 2, metric: .l2, filter: "doc > 20", groupByField: "doc"))[0]
        #expect(filtered.groupValues == [.int(21), .int(22)])
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: q, groupByField: "score")) }
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: q, groupByField: "nope")) }
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: q, groupByField: "doc", groupSize: 0)) }
    }
}
