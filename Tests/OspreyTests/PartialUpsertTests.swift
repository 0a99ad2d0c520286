import Testing
import OspreyCore
@testable import Osprey

/// Partial upsert: fields left out keep their stored values, dynamic keys merge, new keys
/// take defaults or nulls, and bad input gets a clear error.
@Suite struct PartialUpsertTests {
    static let schema = CollectionSchema(fields: [
        .primaryKey("id"),
        .vector("vec", dim: 2),
        .scalar("title", .varchar, maxLength: 32),
        .scalar("issue", .int64, nullable: true),
        .scalar("score", .double, defaultValue: .double(0.5)),
    ], enableDynamicField: true)

    func collection() throws -> (Database, Collection) {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: Self.schema)
        _ = try c.insert([
            ["id": .int(1), "vec": .floatVector([1, 1]), "title": .string("one"), "issue": .int(10), "score": .double(1), "author": .string("ann"), "year": .int(2020)],
            ["id": .int(2), "vec": .floatVector([2, 2]), "title": .string("two"), "issue": .int(20), "score": .double(2)],
        ])
        return (db, c)
    }

    @Test func leftOutFieldsKeepTheirValuesAndDynamicKeysMerge() throws {
        let (_, c) = try collection()
        let batch = ColumnBatch(rowCount: 2, columns: [
            "id": Column(.int64([1, 2])),
            "title": Column(.string(["uno", "dos"])),
            "$meta": Column(.json([.object(["year": .int(2021), "genre": .string("poem")]), .object([:])])),
        ])
        let result = try c.partialUpsert(columns: batch)
        #expect(result.count == 2)
        let rows = try c.get(ids: [.int(1), .int(2)], outputFields: ["*"]).rows.sorted { "\($0["id"]!)" < "\($1["id"]!)" }
        #expect(rows.count == 2)
        #expect(rows[0]["title"] == .string("uno"))
        #expect(rows[0]["vec"] == .floatVector([1, 1]))
        #expect(rows[0]["issue"] == .int(10))
        #expect(rows[0]["score"] == .double(1))
        #expect(rows[0]["author"] == .json(.string("ann")))
        #expect(rows[0]["year"] == .json(.int(2021)))
        #expect(rows[0]["genre"] == .json(.string("poem")))
        #expect(rows[1]["title"] == .string("dos"))
        #expect(rows[1]["issue"] == .int(20))
        #expect(rows[1]["vec"] == .floatVector([2, 2]))
        #expect(try c.count() == 2)
    }

    @Test func anExplicitNullClearsANullableField() throws {
        let (_, c) = try collection()
        let batch = ColumnBatch(rowCount: 1, columns: ["id": Column(.int64([1])), "issue": Column(.int64([0]), validity: [false])])
        try c.partialUpsert(columns: batch)
        let row = try c.get(ids: [.int(1)], outputFields: ["*"]).rows[0]
        #expect(row["issue"] == .null)
        #expect(row["title"] == .string("one"))
    }

    @Test func newKeysTakeDefaultsOrFailWithoutRequiredFields() throws {
        let (_, c) = try collection()
        let full = ColumnBatch(rowCount: 1, columns: [
            "id": Column(.int64([3])), "vec": Column(.floatVector(dim: 2, [3, 3])), "title": Column(.string(["three"])),
        ])
        try c.partialUpsert(columns: full)
        let row = try c.get(ids: [.int(3)], outputFields: ["*"]).rows[0]
        #expect(row["issue"] == .null)
        #expect(row["score"] == .double(0.5))

        // A new key without its vector: the error names the field, nothing is written.
        let missing = ColumnBatch(rowCount: 2, columns: ["id": Column(.int64([1, 4])), "title": Column(.string(["x", "y"]))])
        #expect(throws: OspreyError.self) { try c.partialUpsert(columns: missing) }
        #expect(try c.get(ids: [.int(1)], outputFields: ["title"]).rows[0]["title"] == .string("one"))
        #expect(try c.count() == 3)
    }

    @Test func badInputIsRefused() throws {
        let (_, c) = try collection()
        #expect(throws: OspreyError.self) { try c.partialUpsert(columns: ColumnBatch(rowCount: 1, columns: ["title": Column(.string(["t"]))])) }
        #expect(throws: OspreyError.self) {
            try c.partialUpsert(columns: ColumnBatch(rowCount: 1, columns: ["id": Column(.string(["k"])), "title": Column(.string(["t"]))]))
        }
        let db = Database.inMemory()
        let auto = try db.createCollection("a", schema: CollectionSchema(fields: [.primaryKey("id", autoID: true), .vector("v", dim: 2)]))
        #expect(throws: OspreyError.self) {
            try auto.partialUpsert(columns: ColumnBatch(rowCount: 1, columns: ["id": Column(.int64([1])), "v": Column(.floatVector(dim: 2, [1, 1]))]))
        }
    }
}
