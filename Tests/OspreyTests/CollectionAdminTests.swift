import Testing
import Foundation
import OspreyCore
@testable import Osprey

/// Partition and segment descriptions, and truncate: in memory, on disk, and across a reopen.
@Suite struct CollectionAdminTests {
    typealias F = DurabilityFixture

    @Test func partitionsHaveDistinctIdsAndCreationTimes() throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: F.schema)
        try c.createPartition("p1")
        try c.createPartition("p2")
        let parts = c.describePartitions()
        #expect(parts.map(\.name) == ["_default", "p1", "p2"])
        #expect(Set(parts.map(\.id)).count == 3)
        #expect(!parts.contains { $0.id == c.id })
        #expect(parts[0].createdTimestamp < parts[1].createdTimestamp && parts[1].createdTimestamp < parts[2].createdTimestamp)
    }

    @Test func segmentsReportRowsDeletesStateAndIndexes() throws {
        let dir = DurabilityTemporaryDirectory("osprey-admin")
        let db = try Database.open(at: dir.path)
        let c = try db.createCollection("c", schema: F.schema)
        try c.createPartition("p")
        _ = try c.insert((0..<100).map { F.row($0, version: 1) })
        _ = try c.insert((100..<130).map { F.row($0, version: 1) }, partition: "p")
        var segs = try c.describeSegments()
        #expect(segs.count == 2)
        #expect(segs.allSatisfy { $0.state == .growing })
        #expect(Dictionary(uniqueKeysWithValues: segs.map { ($0.partition, $0.rows) }) == ["_default": 100, "p": 30])
        let ids = Dictionary(uniqueKeysWithValues: c.describePartitions().map { ($0.name, $0.id) })
        #expect(segs.allSatisfy { $0.partitionID == ids[$0.partition] })

        _ = try c.delete(ids: (0..<10).map { PrimaryKey.int($0) })
        try c.flush()
        segs = try c.describeSegments()
        #expect(segs.allSatisfy { $0.state == .flushed })
        #expect(segs.first { $0.partition == "_default" }?.deletedRows == 10)
        #expect(segs.reduce(0) { $0 + $1.rows } == 130)

        try c.createIndex(field: "vec", name: "vec_idx", indexType: "FLAT", metric: .l2, params: [:])
        c.waitForIndexBuilds()
        #expect(try c.describeSegments().allSatisfy { $0.indexes == ["vec_idx"] })
        try db.close()

        let again = try Database.open(at: dir.path)
        let reopened = try again.collection("c")
        let after = try reopened.describeSegments()
        #expect(after.map(\.id) == segs.map(\.id))
        #expect(after.allSatisfy { $0.state == .flushed })
        #expect(after.first { $0.partition == "_default" }?.deletedRows == 10)
        try again.close()
    }

    @Test func truncateRemovesEveryRowAndKeepsTheCollection() throws {
        let dir = DurabilityTemporaryDirectory("osprey-truncate")
        let db = try Database.open(at: dir.path)
        let c = try db.createCollection("c", schema: F.schema, options: CollectionOptions(properties: ["k": "v"]))
        try c.createPartition("p")
        _ = try c.insert((0..<500).map { F.row($0, version: 1) })
        try c.flush()
        _ = try c.insert((500..<600).map { F.row($0, version: 1) }, partition: "p")  // still growing
        let before = c.describePartitions()

        try c.truncate()
        #expect(try c.count() == 0)
        #expect(try c.describeSegments().isEmpty)
        #expect(try c.get(ids: [.int(1), .int(550)]).rows.isEmpty)
        #expect(c.listPartitions() == ["_default", "p"])
        #expect(c.properties["k"] == "v")
        let after = c.describePartitions()
        #expect(Set(after.map(\.id)).isDisjoint(with: before.map(\.id)))

        // Keys are free again: writing one inserts, it does not replace a stale row.
        _ = try c.insert([F.row(7, version: 2)])
        _ = try c.insert([F.row(550, version: 2)], partition: "p")
        #expect(try F.contents(c).versions == [7: 2, 550: 2])
        try db.close()

        // Neither the flushed segment nor the logged inserts come back.
        let again = try Database.open(at: dir.path)
        let reopened = try again.collection("c")
        #expect(try F.contents(reopened).versions == [7: 2, 550: 2])
        #expect(reopened.describePartitions() == after)
        try reopened.flush()
        try again.close()

        let third = try Database.open(at: dir.path)
        #expect(try F.contents(third.collection("c")).versions == [7: 2, 550: 2])
        try third.close()
    }

    @Test func truncateOfAnEmptyCollectionAndAfterClose() throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: F.schema)
        try c.truncate()
        #expect(try c.count() == 0)
        try db.close()
        #expect(throws: OspreyError.self) { try c.truncate() }
    }
}

/// Reads as of an older timestamp: what iterators and hybrid sub-searches rely on.
@Suite struct ReadTimestampTests {
    typealias F = DurabilityFixture

    @Test func queriesAndSearchesReadTheSnapshotAskedFor() throws {
        let db = Database.inMemory()
        let c = try db.createCollection("c", schema: F.schema)
        _ = try c.insert((0..<50).map { F.row($0, version: 1) })
        let then = c.committedTimestamp
        _ = try c.insert((50..<60).map { F.row($0, version: 1) })
        _ = try c.delete(ids: [.int(3)])
        _ = try c.upsert([F.row(7, version: 2)])

        var old = QueryRequest(filter: "id >= 0", outputFields: ["version"], limit: 1000)
        old.readTimestamp = then
        let rows = try c.query(old).rows
        #expect(rows.count == 50)
        #expect(rows.first { $0["id"] == .int(7) }?["version"] == .int(1))
        #expect(rows.contains { $0["id"] == .int(3) })
        // A primary-key filter at the old snapshot finds the rows the key index has moved past.
        var byKey = QueryRequest(filter: "id in [3, 7, 55]", outputFields: ["version"])
        byKey.readTimestamp = then
        let keyed = try c.query(byKey).rows
        #expect(Set(keyed.compactMap { $0["id"] }) == [.int(3), .int(7)])
        #expect(keyed.first { $0["id"] == .int(7) }?["version"] == .int(1))

        let now = try c.query(QueryRequest(filter: "id >= 0", outputFields: ["version"], limit: 1000)).rows
        #expect(now.count == 59)
        #expect(now.first { $0["id"] == .int(7) }?["version"] == .int(2))

        var search = SearchRequest(vectors: [.floatVector(F.vector(55, 1))], limit: 1, metric: .l2)
        #expect(try c.search(search)[0].ids == [.int(55)])
        search.readTimestamp = then
        #expect(try c.search(search)[0].ids != [.int(55)])
        // A timestamp from the future reads the newest commit.
        var future = QueryRequest(filter: "id >= 0", limit: 1000)
        future.readTimestamp = Timestamp(rawValue: .max)
        #expect(try c.query(future).count == 59)
    }
}

/// Writes racing with truncate and partition drops never land in a partition that is gone.
@Suite struct TruncateRaceTests {
    typealias F = DurabilityFixture

    @Test func writesDuringTruncatesSurviveAReopenExactlyAsSeen() throws {
        let dir = DurabilityTemporaryDirectory("osprey-truncate-race")
        let db = try Database.open(at: dir.path)
        let c = try db.createCollection("c", schema: F.schema)
        let writer = Thread {
            for i in 0..<400 { _ = try? c.insert([F.row(Int64(i), version: 1)]) }
        }
        writer.start()
        for _ in 0..<20 { try c.truncate() }
        while !writer.isFinished { usleep(1000) }
        let before = try F.contents(c).versions
        try db.close()
        let again = try Database.open(at: dir.path)
        #expect(try F.contents(again.collection("c")).versions == before)
        try again.close()
    }
}
