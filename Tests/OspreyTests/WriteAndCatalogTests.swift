import Testing
@testable import Osprey
import OspreyCore

@Suite struct WriteAndCatalogTests {
    static let schema = CollectionSchema(fields: [
        .primaryKey("id"),
        .vector("vec", dim: 3),
        .scalar("name", .varchar, maxLength: 32),
    ], enableDynamicField: true)

    func row(_ id: Int64, _ name: String, _ x: Float = 0) -> [String: FieldValue] {
        ["id": .int(id), "vec": .floatVector([x, 0, 0]), "name": .string(name)]
    }

    @Test func insertOfExistingKeyReplacesRow() throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: Self.schema)
        try c.insert([row(1, "a"), row(2, "b")])
        try c.insert([row(1, "a2")])
        try c.upsert([row(2, "b2"), row(3, "c")])
        #expect(try c.count() == 3)
        let got = try c.get(ids: [.int(1), .int(2), .int(3), .int(4)])
        #expect(got.rows.map { $0["name"] } == [.string("a2"), .string("b2"), .string("c")])
    }

    @Test func duplicateKeysWithinOneBatchLastWins() throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: Self.schema)
        let r = try c.insert([row(7, "first"), row(8, "x"), row(7, "second"), row(7, "third")])
        #expect(r.count == 4)
        #expect(try c.count() == 2)
        #expect(try c.get(ids: [.int(7)]).rows.first?["name"] == .string("third"))
        // Search must not return the replaced versions either.
        let hits = try c.search(SearchRequest(vectors: [.floatVector([0, 0, 0])], limit: 10, outputFields: ["name"]))
        #expect(hits[0].ids.sorted() == [.int(7), .int(8)])
    }

    @Test func deleteByKeyAndReinsert() throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: Self.schema)
        try c.insert((0..<10).map { row($0, "n\($0)") })
        let d = try c.delete(ids: [.int(3), .int(4), .int(99)])
        #expect(d.count == 2)
        #expect(try c.count() == 8)
        #expect(try c.get(ids: [.int(3)]).count == 0)
        try c.insert([row(3, "back")])
        #expect(try c.get(ids: [.int(3)]).rows.first?["name"] == .string("back"))
        #expect(throws: OspreyError.self) { try c.delete(ids: [.string("x")]) }
    }

    @Test func autoIDGeneratesUniqueKeys() throws {
        let db = Database.inMemory()
        let s = CollectionSchema(fields: [.primaryKey("id", autoID: true), .vector("v", dim: 2)])
        let c = try db.createCollection("auto", schema: s)
        let a = try c.insert([["v": .floatVector([1, 2])], ["v": .floatVector([3, 4])]])
        let b = try c.insert([["v": .floatVector([5, 6])]])
        #expect(Set(a.primaryKeys + b.primaryKeys).count == 3)
        #expect(throws: OspreyError.self) { try c.insert([["id": 5, "v": .floatVector([1, 2])]]) }
    }

    @Test func varcharPrimaryKeys() throws {
        let db = Database.inMemory()
        let s = CollectionSchema(fields: [.primaryKey("pk", .varchar, maxLength: 16), .vector("v", dim: 2)])
        let c = try db.createCollection("s", schema: s)
        try c.insert([["pk": "a", "v": .floatVector([1, 2])], ["pk": "b", "v": .floatVector([3, 4])]])
        try c.upsert([["pk": "a", "v": .floatVector([9, 9])]])
        #expect(try c.count() == 2)
        #expect(try c.get(ids: [.string("a")]).rows.first?["v"] == .floatVector([9, 9]))
    }

    @Test func partitions() throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: Self.schema)
        try c.createPartition("p1")
        #expect(c.listPartitions() == ["_default", "p1"])
        #expect(throws: OspreyError.self) { try c.createPartition("p1") }
        #expect(throws: OspreyError.self) { try c.createPartition("bad name") }
        try c.insert([row(1, "d")])
        try c.insert([row(2, "p"), row(3, "p")], partition: "p1")
        #expect(try c.count(partitions: ["p1"]) == 2)
        #expect(try c.count(partitions: ["_default"]) == 1)
        #expect(throws: OspreyError.self) { try c.insert([row(4, "x")], partition: "nope") }
        let hits = try c.search(SearchRequest(vectors: [.floatVector([0, 0, 0])], limit: 10, partitions: ["p1"]))
        #expect(Set(hits[0].ids) == [.int(2), .int(3)])
        // Moving a key to another partition replaces it there.
        try c.insert([row(1, "moved")], partition: "p1")
        #expect(try c.count(partitions: ["_default"]) == 0)
        try c.dropPartition("p1")
        #expect(try c.count() == 0)
        #expect(c.listPartitions() == ["_default"])
        #expect(throws: OspreyError.self) { try c.dropPartition("_default") }
    }

    @Test func partitionKeySpreadsRows() throws {
        let db = Database.inMemory()
        let s = CollectionSchema(fields: [
            .primaryKey("id"), .vector("v", dim: 2),
            FieldSchema(name: "tenant", dataType: .varchar, maxLength: 16, isPartitionKey: true),
        ])
        let c = try db.createCollection("pk", schema: s, options: CollectionOptions(numPartitions: 4))
        #expect(c.listPartitions().count == 4)
        try c.insert((0..<100).map { ["id": .int($0), "v": .floatVector([1, 1]), "tenant": .string("t\($0 % 10)")] })
        #expect(try c.count() == 100)
        let used = c.listPartitions().filter { (try? c.count(partitions: [$0])) ?? 0 > 0 }
        #expect(used.count > 1)
        #expect(throws: OspreyError.self) { try c.createPartition("x") }
    }

    @Test func aliasesAndRename() throws {
        let db = Database.inMemory()
        try db.createCollection("a", schema: Self.schema)
        try db.createCollection("b", schema: Self.schema)
        try db.createAlias("current", collection: "a")
        #expect(try db.collection("current").name == "a")
        #expect(throws: OspreyError.self) { try db.createAlias("current", collection: "b") }
        #expect(throws: OspreyError.self) { try db.createAlias("b", collection: "a") }
        #expect(throws: OspreyError.self) { try db.createCollection("current", schema: Self.schema) }
        try db.alterAlias("current", collection: "b")
        #expect(try db.describeAlias("current") == "b")
        #expect(try db.listAliases(collection: "b") == ["current"])
        #expect(try db.collection("b").describe().aliases == ["current"])
        #expect(throws: OspreyError.self) { try db.dropCollection("b") }
        try db.dropAlias("current")
        #expect(throws: OspreyError.self) { try db.collection("current") }
        try db.renameCollection("b", to: "c")
        #expect(try db.listCollections() == ["a", "c"])
        try db.dropCollection("c")
        try db.dropCollection("c")  // dropping a missing collection is not an error
        #expect(try db.listCollections() == ["a"])
    }

    @Test func databases() throws {
        let db = Database.inMemory()
        try db.createDatabase("analytics")
        #expect(db.listDatabases() == ["default", "analytics"])
        try db.createCollection("x", schema: Self.schema, database: "analytics")
        #expect(try db.listCollections(database: "analytics") == ["x"])
        #expect(try db.listCollections() == [])
        #expect(throws: OspreyError.self) { try db.dropDatabase("analytics") }
        #expect(throws: OspreyError.self) { try db.dropDatabase("default") }
        #expect(throws: OspreyError.self) { try db.listCollections(database: "nope") }
        try db.dropCollection("x", database: "analytics")
        try db.dropDatabase("analytics")
        #expect(db.listDatabases() == ["default"])
    }

    @Test func closedDatabaseRefusesWork() throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: Self.schema)
        try db.close()
        #expect(throws: OspreyError.self) { try c.insert([row(1, "a")]) }
        #expect(throws: OspreyError.self) { try db.collection("c") }
    }

    @Test func segmentsRollOverWhenFull() throws {
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 64))
        let c = try db.createCollection("c", schema: Self.schema)
        for b in 0..<5 { try c.insert((0..<50).map { row(Int64(b * 50 + $0), "r", Float($0)) }) }
        #expect(try c.count() == 250)
        #expect(c.statistics().segments >= 4)
        let q = try c.query(QueryRequest(limit: 300))
        #expect(q.count == 250)
        #expect(q.rows.map { $0["id"] } == (0..<250).map { FieldValue.int(Int64($0)) })
    }

    @Test func queryOutputFieldsAndPaging() throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: Self.schema)
        try c.insert((0..<20).map { (i: Int64) -> [String: FieldValue] in var r = row(i, "n\(i)"); r["color"] = .string(i % 2 == 0 ? "red" : "blue"); return r })
        let page = try c.query(QueryRequest(outputFields: ["name", "color"], limit: 5, offset: 10))
        #expect(page.rows.map { $0["id"] } == (10..<15).map { FieldValue.int(Int64($0)) })
        #expect(page.row(0)["color"] == .json(.string("red")))
        #expect(page.columns["vec"] == nil)
        let all = try c.query(QueryRequest(outputFields: ["*"], limit: 1))
        #expect(all.row(0)["vec"] == .floatVector([0, 0, 0]))
        #expect(throws: OspreyError.self) { try c.query(QueryRequest()) }
        #expect(throws: OspreyError.self) { try c.query(QueryRequest(limit: 20000)) }
    }

    @Test func ttlHidesExpiredRows() throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: Self.schema, options: CollectionOptions(properties: ["collection.ttl.seconds": "1"]))
        try c.insert([row(1, "old")])
        #expect(try c.count() == 1)
        sleepMilliseconds(milliseconds: 1100)
        try c.insert([row(2, "new")])
        #expect(try c.count() == 1)
        #expect(try c.get(ids: [.int(1), .int(2)]).rows.map { $0["name"] } == [.string("new")])
        #expect(throws: OspreyError.self) { try c.alterProperties(set: ["collection.ttl.seconds": "-5"]) }
    }
}

import Glibc
func sleepMilliseconds(milliseconds: Int) { usleep(useconds_t(milliseconds * 1000)) }
