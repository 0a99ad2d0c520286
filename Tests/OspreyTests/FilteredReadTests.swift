import Testing
@testable import Osprey
import OspreyCore

@Suite struct FilteredReadTests {
    static func makeCollection() throws -> Collection {
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 128))
        let s = CollectionSchema(fields: [
            .primaryKey("id"), .vector("v", dim: 2),
            .scalar("age", .int32), .scalar("city", .varchar, maxLength: 16),
            .array("tags", of: .varchar, maxCapacity: 4, maxLength: 8),
        ], enableDynamicField: true)
        let c = try db.createCollection("people", schema: s)
        try c.insert((0..<500).map { (i: Int64) -> [String: FieldValue] in
            ["id": .int(i), "v": .floatVector([Float(i), 0]), "age": .int(i % 100),
             "city": .string(["oslo", "rome", "lima"][Int(i % 3)]), "tags": .array(i % 2 == 0 ? ["even"] : ["odd"]),
             "score": .double(Double(i) / 10)]
        })
        return c
    }

    @Test func queryAndCountWithFilters() throws {
        let c = try Self.makeCollection()
        #expect(try c.count(filter: "age < 10") == 50)
        #expect(try c.count(filter: "city == 'rome' and age >= 90") == (0..<500).filter { $0 % 3 == 1 && $0 % 100 >= 90 }.count)
        #expect(try c.count(filter: "array_contains(tags, 'even')") == 250)
        #expect(try c.count(filter: "score > 49.5") == 4)  // dynamic key
        #expect(try c.count(filter: "age == {a}", filterParams: ["a": 7]) == 5)
        let q = try c.query(QueryRequest(filter: "id in [5, 3, 999, 1]", outputFields: ["city"]))
        #expect(q.rows.map { $0["id"] } == [.int(1), .int(3), .int(5)])
        #expect(q.row(0)["city"] == .string("rome"))
        let r = try c.query(QueryRequest(filter: "id > 490", limit: 3))
        #expect(r.rows.map { $0["id"] } == [.int(491), .int(492), .int(493)])
        #expect(throws: OspreyError.self) { try c.count(filter: "age >") }
        #expect(throws: OspreyError.self) { try c.count(filter: "city > 5") }
        #expect(throws: OspreyError.self) { try c.count(filter: "age == {missing}") }
    }

    @Test func filteredSearchReturnsOnlyMatchesAndEnoughOfThem() throws {
        let c = try Self.makeCollection()
        let hits = try c.search(SearchRequest(vectors: [.floatVector([250, 0])], limit: 10, metric: .l2, filter: "city == 'lima'", outputFields: ["city"]))[0]
        #expect(hits.count == 10)
        #expect((0..<hits.count).allSatisfy { hits.row($0)["city"] == .string("lima") })
        // Exactly the 10 nearest lima rows.
        let expected = (0..<500).filter { $0 % 3 == 2 }.sorted { abs($0 - 250) < abs($1 - 250) || (abs($0 - 250) == abs($1 - 250) && $0 < $1) }.prefix(10)
        #expect(Set(hits.ids) == Set(expected.map { PrimaryKey.int(Int64($0)) }))
        // A very selective filter still returns every match.
        let rare = try c.search(SearchRequest(vectors: [.floatVector([0, 0])], limit: 10, metric: .l2, filter: "id in [7, 400]"))[0]
        #expect(Set(rare.ids) == [.int(7), .int(400)])
    }

    @Test func scalarIndexesOnSealedSegmentsAnswerFiltersLikeScans() throws {
        let c = try Self.makeCollection()
        let filters = ["age < 10", "age >= 90 and city == 'rome'", "city in ['lima', 'oslo']", "city like 'ro%'", "age == 7"]
        let scanned = try filters.map { try c.count(filter: $0) }
        try c.flush()
        try c.createIndex(field: "age", indexType: "STL_SORT")
        try c.createIndex(field: "city", indexType: "Trie")
        c.waitForIndexBuilds()
        let sealed = c.segments.withLock { Array($0.values) }.filter(\.sealed)
        #expect(!sealed.isEmpty)
        #expect(sealed.allSatisfy { s in s.scalarIndexes.withLock { $0["age"] != nil && $0["city"] != nil } })
        #expect(try filters.map { try c.count(filter: $0) } == scanned)
        try c.delete(ids: [.int(7)])
        #expect(try c.count(filter: "age == 7") == scanned[4] - 1)
        try c.dropIndex(name: "age")
        #expect(sealed.allSatisfy { s in s.scalarIndexes.withLock { $0["age"] == nil } })
    }

    @Test func deleteByFilter() throws {
        let c = try Self.makeCollection()
        let d = try c.delete(filter: "age >= 50")
        #expect(d.count == 250)
        #expect(try c.count() == 250)
        #expect(try c.count(filter: "age >= 50") == 0)
        let byKey = try c.delete(filter: "id in [1, 2, 3]")
        #expect(byKey.count == 3)
        #expect(throws: OspreyError.self) { try c.delete(filter: "") }
    }
}
