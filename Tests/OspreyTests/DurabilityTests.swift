import Foundation
import Testing
import OspreyCore
@testable import Osprey
@testable import OspreyStorage

/// The catalog in the manifest and the data in the WAL: what is written is there after
/// reopening, with the same ids and timestamps.
@Suite struct DurabilityTests {
    // MARK: - Codecs

    static let allColumns: [ColumnData] = [
        .bool([true, false, true]),
        .int8([-128, 0, 127]),
        .int16([-32768, 1, 32767]),
        .int32([.min, 0, .max]),
        .int64([.min, -1, .max]),
        .float([-0.5, .infinity, 3.25]),
        .double([-1e300, 0, .pi]),
        .string(["", "héllo", String(repeating: "x", count: 300)]),
        .json([.null, .object(["a": .array([.int(1), .double(2.5), .bool(true), .string("s")])]), .bool(false)]),
        .array([[.int(1), .int(2)], [], [.string("a"), .null]]),
        .floatVector(dim: 2, [1, 2, 3, 4, 5, 6]),
        .float16Vector(dim: 1, [1, 2, 3]),
        .bfloat16Vector(dim: 2, [1, 2, 3, 4, 5, 6]),
        .int8Vector(dim: 2, [-1, 2, -3, 4, -5, 6]),
        .binaryVector(dim: 16, [1, 2, 3, 4, 5, 6]),
        .sparseFloatVector([SparseVector(indices: [1, 9], values: [0.5, 2]), SparseVector(indices: [], values: []),
                            SparseVector(indices: [4_000_000_000], values: [-1])]),
    ]

    @Test(arguments: allColumns)
    func columnRoundTrip(data: ColumnData) throws {
        for validity in [nil, [true, false, true]] as [[Bool]?] {
            let batch = ColumnBatch(rowCount: 3, columns: ["c": Column(data, validity: validity), "k": Column(.int64([1, 2, 3]))])
            var w = ByteWriter()
            ValueCodec.write(batch, to: &w)
            let back = try ByteReader.withReader(w.bytes) { r in
                let b = try ValueCodec.readBatch(&r)
                #expect(r.isAtEnd)
                return b
            }
            #expect(back == batch)
            // Every truncation is an error, never a trap.
            for cut in stride(from: 0, to: w.bytes.count, by: max(1, w.bytes.count / 17)) {
                #expect(throws: (any Error).self) { try ByteReader.withReader(Array(w.bytes[..<cut])) { try ValueCodec.readBatch(&$0) } }
            }
        }
    }

    @Test func mutationRecordsRoundTrip() throws {
        let batch = ColumnBatch(rowCount: 2, columns: ["id": Column(.int64([5, 6])), "v": Column(.floatVector(dim: 1, [1, 2]))])
        let records: [MutationRecord] = [
            .insert(collectionID: 42, partitions: ["_default", "p"], partitionIDs: [7, 8], rowPartition: [1, 0],
                    timestamp: Timestamp(rawValue: 99), batch: batch),
            .delete(collectionID: -3, partition: "p", keys: [.int(-1), .int(.max)], timestamp: Timestamp(rawValue: 1)),
            .delete(collectionID: 3, partition: nil, keys: [.string("a"), .string("")], timestamp: Timestamp(rawValue: .max)),
        ]
        for record in records {
            let bytes = MutationRecordCodec.encode(record)
            let back = try bytes.withUnsafeBytes { try MutationRecordCodec.decode($0) }
            #expect(MutationRecordCodec.encode(back) == bytes)
        }
    }

    // MARK: - Catalog

    static let richSchema = CollectionSchema(fields: [
        .primaryKey("pk", .varchar, maxLength: 40),
        .vector("emb", dim: 8),
        .vector("bits", .binaryVector, dim: 16),
        .scalar("n", .int32, nullable: true, defaultValue: .int(7)),
        .scalar("title", .varchar, maxLength: 100, defaultValue: .string("none")),
        .array("tags", of: .varchar, maxCapacity: 4, maxLength: 10),
        .scalar("doc", .json, nullable: true),
        FieldSchema(name: "region", dataType: .int64, isPartitionKey: true, extraParams: ["x": "y"]),
    ], description: "rich", enableDynamicField: true)

    @Test func catalogSurvivesReopenWithSameIdsAndTimestamps() throws {
        let dir = DurabilityTemporaryDirectory("osprey-catalog")
        var before: [String: CollectionDescription] = [:]
        var maxID: Int64 = 0
        do {
            let db = try Database.open(at: dir.path)
            try db.createDatabase("analytics", properties: ["database.replica.number": "1"])
            try db.alterDatabase("analytics", set: ["owner": "ops"])
            let rich = try db.createCollection("rich", schema: Self.richSchema, database: "analytics",
                                               options: CollectionOptions(properties: ["collection.ttl.seconds": "0"], numPartitions: 4,
                                                                          consistencyLevel: "Strong", description: "d"))
            try rich.createIndex(field: "emb", indexType: "HNSW", metric: .ip, params: ["M": "8", "efConstruction": "40"])
            try rich.createIndex(field: "title", indexType: "INVERTED")
            try rich.alterProperties(set: ["mmap.enabled": "true"])
            let plain = try db.createCollection("plain", schema: DurabilityFixture.schema)
            try plain.createPartition("p1")
            try plain.createPartition("p2")
            try plain.dropPartition("p1")
            try db.createAlias("a1", collection: "plain")
            try db.createAlias("a2", collection: "plain")
            try db.dropAlias("a2")
            let gone = try db.createCollection("gone", schema: DurabilityFixture.schema)
            try gone.createIndex(field: "vec", indexType: "FLAT", metric: .l2)
            try db.dropCollection("gone")
            try db.createCollection("old", schema: DurabilityFixture.schema)
            try db.renameCollection("old", to: "moved", newDatabase: "analytics")
            try db.createDatabase("temp")
            try db.dropDatabase("temp")
            try rich.dropIndex(name: "title")
            for db0 in db.listDatabases() {
                for name in try db.listCollections(database: db0) {
                    let d = try db.collection(name, database: db0).describe()
                    before["\(db0).\(name)"] = d
                    maxID = max(maxID, d.id, d.indexes.map(\.id).max() ?? 0)
                }
            }
            try db.close()
        }
        let db = try Database.open(at: dir.path)
        #expect(db.listDatabases() == ["default", "analytics"])
        #expect(try db.describeDatabase("analytics").properties == ["database.replica.number": "1", "owner": "ops"])
        var after: [String: CollectionDescription] = [:]
        for db0 in db.listDatabases() {
            for name in try db.listCollections(database: db0) { after["\(db0).\(name)"] = try db.collection(name, database: db0).describe() }
        }
        #expect(after.keys.sorted() == before.keys.sorted())
        for (k, d) in before { #expect(after[k] == d, "\(k) is described the same after reopening") }
        #expect(try db.describeAlias("a1") == "plain")
        #expect(try db.listAliases() == ["a1"])
        #expect(try db.collection("a1").listPartitions() == ["_default", "p2"])
        // Ids resume past every value handed out before.
        let fresh = try db.createCollection("fresh", schema: DurabilityFixture.schema)
        #expect(fresh.id > maxID)
        #expect(fresh.describe().createdTimestamp > after.values.map(\.updatedTimestamp).max()!)
        try db.close()
    }

    @Test func manifestIsRewrittenAsSnapshotPastThreshold() throws {
        let dir = DurabilityTemporaryDirectory("osprey-manifest-rewrite")
        do {
            let db = try DurableStorage.openDatabase(at: dir.path, options: DatabaseOptions(), manifestRewriteThreshold: 5)
            let c = try db.createCollection("c", schema: DurabilityFixture.schema)
            for i in 0..<23 { try c.alterProperties(set: ["k\(i % 3)": "\(i)"]) }
            #expect(db.storage!.catalog.manifest.manifestNumber > 1)
            #expect(db.storage!.catalog.manifest.editsSinceSnapshot < 5)
            try db.close()
        }
        let db = try Database.open(at: dir.path)
        #expect(try db.collection("c").properties == ["k0": "21", "k1": "22", "k2": "20"])
        #expect(dir.files(in: "").filter { $0.contains("MANIFEST-") }.count == 1)
        try db.close()
    }

    @Test func secondOpenOfTheSameDirectoryIsRefused() throws {
        let dir = DurabilityTemporaryDirectory("osprey-lock")
        let db = try Database.open(at: dir.path)
        do {
            _ = try Database.open(at: dir.path)
            Issue.record("a second open succeeded")
        } catch {
            guard case .storage(let message) = error else { Issue.record("unexpected error \(error)"); return }
            #expect(message.contains("locked"))
            #expect(message.contains(dir.path))
        }
        try db.close()
        let again = try Database.open(at: dir.path)
        try again.close()
    }

    // MARK: - Data

    @Test func writesSurviveReopen() throws {
        let dir = DurabilityTemporaryDirectory("osprey-data")
        var autoKeys: [PrimaryKey] = []
        do {
            let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 64))
            let c = try db.createCollection("c", schema: DurabilityFixture.schema)
            try c.createPartition("p")
            try c.insert((0..<100).map { DurabilityFixture.row($0, version: 1) })
            try c.upsert((50..<120).map { DurabilityFixture.row($0, version: 2) })
            try c.insert((200..<210).map { DurabilityFixture.row($0, version: 3) }, partition: "p")
            try c.delete(ids: (0..<10).map { .int($0) })
            try c.delete(ids: [.int(200), .int(20)], partition: "p")  // only 200 is in p
            db.context.checkpointQueue.sync {}  // background checkpoints of full segments are done
            try c.flush()
            try c.insert([DurabilityFixture.row(5, version: 4)])
            let auto = try db.createCollection("auto", schema: CollectionSchema(fields: [.primaryKey("id", autoID: true), .vector("v", dim: 2)]))
            autoKeys = try auto.insert([["v": .floatVector([1, 2])], ["v": .floatVector([3, 4])]]).primaryKeys
            // Not closed: the directory is reopened as after a crash (the lock is released).
            try db.storage!.close()
        }
        let db = try Database.open(at: dir.path)
        let c = try db.collection("c")
        let (versions, bad) = try DurabilityFixture.contents(c)
        var expected: [Int64: Int64] = [:]
        for k in Int64(10)..<50 { expected[k] = 1 }
        for k in Int64(50)..<120 { expected[k] = 2 }
        for k in Int64(201)..<210 { expected[k] = 3 }
        expected[5] = 4
        #expect(versions == expected)
        #expect(bad.isEmpty)
        #expect(try c.count(partitions: ["p"]) == 9)
        let auto = try db.collection("auto")
        #expect(try auto.count() == 2)
        let more = try auto.insert([["v": .floatVector([5, 6])]]).primaryKeys
        #expect(Set(more).isDisjoint(with: autoKeys))
        if case .int(let newKey) = more[0], case .int(let oldKey) = autoKeys.max()! { #expect(newKey > oldKey) }
        // The flush wrote the first five mutations to segment files; two records remain to replay.
        #expect(db.storage!.recovery.replayedRecords == 2)
        try db.close()
    }

    @Test func recordsOfDroppedCollectionsAreSkipped() throws {
        let dir = DurabilityTemporaryDirectory("osprey-drop")
        do {
            let db = try Database.open(at: dir.path)
            try db.createCollection("c", schema: DurabilityFixture.schema).insert([DurabilityFixture.row(1, version: 1)])
            try db.dropCollection("c")
            try db.createCollection("c", schema: DurabilityFixture.schema).insert([DurabilityFixture.row(2, version: 2)])
            try db.storage!.close()  // no final checkpoint: the records are replayed
        }
        let db = try Database.open(at: dir.path)
        #expect(try DurabilityFixture.contents(db.collection("c")).versions == [2: 2])
        #expect(db.storage!.recovery.skippedRecords == 1)
        try db.close()
    }
}

extension DurabilityTests {
    /// Segment files encode rows straight from the column chunks; the bytes must be those of
    /// encoding the gathered batch.
    @Test func directRowEncodingMatchesTheBatchCodec() throws {
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 10_000))
        let c = try db.createCollection("c", schema: DurabilityRichRowsTests.schema)
        try c.insert((0..<5_000).map(DurabilityRichRowsTests.row))  // more than one 4,096-row chunk
        let seg = c.segments.withLock { Array($0.values) }[0]
        let snap = seg.snapshot(at: .max, expiredBefore: nil)
        let spec = OutputSpec(fields: seg.schema.fields.map(\.name), dynamicKeys: [], allDynamic: true)
        var w = ByteWriter()
        ValueCodec.write(spec.gather((0..<seg.rowCount).map { (snap, $0) }, schema: seg.schema), to: &w)
        let direct = SegmentFiles.encodeRows(seg, rows: seg.rowCount).bytes
        let first = zip(direct, w.bytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(direct == w.bytes, "sizes \(direct.count) and \(w.bytes.count), first difference at \(String(describing: first)): \(first.map { Array(direct[max(0, $0 - 40) ..< min(direct.count, $0 + 8)]) } ?? []) vs \(first.map { Array(w.bytes[max(0, $0 - 40) ..< min(w.bytes.count, $0 + 8)]) } ?? [])")
    }
}
