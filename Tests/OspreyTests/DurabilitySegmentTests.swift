import Foundation
import Testing
import OspreyCore
@testable import Osprey
@testable import OspreyStorage

/// Sealed segments in files and checkpoints: reopening loads them, the WAL is cut at the
/// checkpoint, deletes after sealing stay durable, dropped data leaves the disk, declared
/// indexes are rebuilt, and damaged segment files are reported.
@Suite struct DurabilitySegmentTests {
    static let options = DatabaseOptions(segmentMaxRows: 256)

    func walRecordCount(_ dir: DurabilityTemporaryDirectory) throws -> Int {
        try WriteAheadLog.readOnlyReplay(directory: dir.join("wal")) { _, _ in }.records
    }

    func segmentFiles(_ dir: DurabilityTemporaryDirectory) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir.join("segments")) else { return [] }
        return e.compactMap { $0 as? String }.filter { $0.hasSuffix("/data") || $0.contains("/deletes-") }.sorted()
    }

    @Test func sealedSegmentsAndLaterDeletesSurviveCrashAndClose() throws {
        let dir = DurabilityTemporaryDirectory("osprey-seal")
        var expected: [Int64: Int64] = [:]
        do {
            let db = try Database.open(at: dir.path, options: Self.options)
            let c = try db.createCollection("c", schema: DurabilityFixture.schema)
            for start in stride(from: Int64(0), to: 1_000, by: 100) {  // segments fill and seal on the way
                try c.insert((start ..< start + 100).map { DurabilityFixture.row($0, version: 1) })
            }
            try c.upsert((0..<50).map { DurabilityFixture.row($0, version: 2) })
            try c.flush()
            #expect(try walRecordCount(dir) <= 11, "the checkpoint removed WAL files before it")
            // Deletes and upserts that hit sealed segments after the checkpoint live in the WAL…
            try c.delete(ids: (100..<120).map { .int($0) })
            try c.upsert((300..<310).map { DurabilityFixture.row($0, version: 3) })
            try c.flush()  // …until the next checkpoint writes the delete state.
            db.context.checkpointQueue.sync {}  // no background checkpoint runs after the delete below
            try c.delete(ids: (500..<505).map { .int($0) })
            for k in Int64(0)..<1_000 { expected[k] = k < 50 ? 2 : 1 }
            for k in Int64(100)..<120 { expected[k] = nil }
            for k in Int64(300)..<310 { expected[k] = 3 }
            for k in Int64(500)..<505 { expected[k] = nil }
            try db.storage!.close()  // a crash: no final checkpoint
        }
        #expect(segmentFiles(dir).contains { $0.contains("/deletes-") })
        do {
            let db = try Database.open(at: dir.path, options: Self.options)
            let c = try db.collection("c")
            let (versions, bad) = try DurabilityFixture.contents(c)
            #expect(versions == expected)
            #expect(bad.isEmpty)
            #expect(c.statistics().segments > 1)
            #expect(db.storage!.recovery.replayedRecords == 1, "only the delete after the last checkpoint is replayed")
            try db.close()
        }
        let db = try Database.open(at: dir.path, options: Self.options)
        #expect(db.storage!.recovery.replayedRecords == 0, "a clean close leaves nothing to replay")
        let reread = try DurabilityFixture.contents(db.collection("c")).versions
        #expect(reread == expected, "differs at \(expected.filter { reread[$0.key] != $0.value }.prefix(5)), extra \(reread.filter { expected[$0.key] == nil }.prefix(5))")
        // Writing continues after reopening from files.
        try db.collection("c").insert([DurabilityFixture.row(5_000, version: 9)])
        try db.close()
        let again = try Database.open(at: dir.path, options: Self.options)
        #expect(try again.collection("c").count() == expected.count + 1)
        try again.close()
    }

    @Test func droppedCollectionsAndPartitionsLeaveTheDisk() throws {
        let dir = DurabilityTemporaryDirectory("osprey-drop-files")
        let db = try Database.open(at: dir.path, options: Self.options)
        let a = try db.createCollection("a", schema: DurabilityFixture.schema)
        let b = try db.createCollection("b", schema: DurabilityFixture.schema)
        try b.createPartition("p")
        try a.insert((0..<300).map { DurabilityFixture.row($0, version: 1) })
        try b.insert((0..<300).map { DurabilityFixture.row($0, version: 1) }, partition: "p")
        try b.insert((300..<310).map { DurabilityFixture.row($0, version: 1) })
        try a.flush()
        try b.flush()
        let before = segmentFiles(dir)
        #expect(before.contains { $0.hasPrefix("\(a.id)/") } && before.contains { $0.hasPrefix("\(b.id)/") })
        try db.dropCollection("a")
        try b.dropPartition("p")
        try db.close()
        let after = segmentFiles(dir)
        #expect(!after.contains { $0.hasPrefix("\(a.id)/") })
        #expect(after.count == 1, "only b's _default segment remains: \(after)")
        let reopened = try Database.open(at: dir.path, options: Self.options)
        #expect(try reopened.listCollections() == ["b"])
        #expect(try reopened.collection("b").count() == 10)
        try reopened.close()
    }

    @Test func indexesAreSavedBesideSegmentsAndRebuiltWhenDamaged() throws {
        let dir = DurabilityTemporaryDirectory("osprey-index-files")
        do {
            let db = try Database.open(at: dir.path, options: Self.options)
            let c = try db.createCollection("c", schema: DurabilityFixture.schema)
            try c.createIndex(field: "vec", indexType: "HNSW", metric: .l2, params: ["M": "8", "efConstruction": "32"])
            try c.insert((0..<600).map { DurabilityFixture.row($0, version: 1) })
            try c.flush()
            c.waitForIndexBuilds()
            try db.close()  // the checkpoint saves the built indexes
        }
        let indexFiles = segmentFilesAll(dir).filter { $0.contains("/index-") }
        #expect(indexFiles.count == 3, "one index file per sealed segment: \(indexFiles)")
        do {
            let db = try Database.open(at: dir.path, options: Self.options)
            let c = try db.collection("c")
            #expect(try c.indexProgress(name: "vec").state == .finished, "loaded, not rebuilt")
            #expect(db.context.indexBuilds.pending == 0)
            let hits = try c.search(SearchRequest(vectors: [.floatVector(DurabilityFixture.vector(123, 1))], limit: 1))
            #expect(hits.first?.ids == [.int(123)])
            try db.storage!.close()
        }
        // A damaged index file is derived data: the index is rebuilt in the background.
        try FaultInjectingFileSystem().flipBit(dir.join("segments/" + indexFiles[0]), offset: 100)
        let db = try Database.open(at: dir.path, options: Self.options)
        let c = try db.collection("c")
        c.waitForIndexBuilds()
        let progress = try c.indexProgress(name: "vec")
        #expect(progress.state == .finished)
        #expect(progress.indexedRows == 600)
        let hits = try c.search(SearchRequest(vectors: [.floatVector(DurabilityFixture.vector(321, 1))], limit: 1))
        #expect(hits.first?.ids == [.int(321)])
        try db.close()
    }

    func segmentFilesAll(_ dir: DurabilityTemporaryDirectory) -> [String] {
        (FileManager.default.enumerator(atPath: dir.join("segments"))?.allObjects as? [String] ?? []).sorted()
    }

    @Test func damagedSegmentFileIsAClearError() throws {
        let dir = DurabilityTemporaryDirectory("osprey-bad-segment")
        do {
            let db = try Database.open(at: dir.path, options: Self.options)
            try db.createCollection("c", schema: DurabilityFixture.schema).insert((0..<100).map { DurabilityFixture.row($0, version: 1) })
            try db.close()
        }
        let data = dir.join("segments/" + segmentFiles(dir).first { $0.hasSuffix("/data") }!)
        try FaultInjectingFileSystem().flipBit(data, offset: 200)
        do {
            _ = try Database.open(at: dir.path, options: Self.options)
            Issue.record("a damaged segment file was accepted")
        } catch {
            guard case .storage(let message) = error else { Issue.record("unexpected error \(error)"); return }
            #expect(message.contains("corruption"))
            #expect(message.contains(data), "the message names \(data): \(message)")
        }
    }
}

/// Retention: with `collection.ttl.seconds`, a sealed segment whose newest row has expired is
/// dropped whole at the next checkpoint, files included.
@Suite struct DurabilityRetentionTests {
    @Test func expiredSegmentsAreDroppedWhole() throws {
        let dir = DurabilityTemporaryDirectory("osprey-ttl")
        let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 256, compaction: .manualOnly))
        let c = try db.createCollection("c", schema: DurabilityFixture.schema,
                                        options: CollectionOptions(properties: ["collection.ttl.seconds": "1"]))
        try c.insert((0..<300).map { DurabilityFixture.row($0, version: 1) })
        try c.flush()
        let filesBefore = (FileManager.default.enumerator(atPath: dir.join("segments"))?.allObjects as? [String] ?? []).filter { $0.hasSuffix("/data") }
        #expect(filesBefore.count == 2)
        usleep(1_200_000)
        #expect(try c.count() == 0, "expired rows are hidden at once")
        try c.insert((1_000..<1_010).map { DurabilityFixture.row($0, version: 2) })
        try c.flush()
        #expect(c.statistics().segments == 1)
        let filesAfter = (FileManager.default.enumerator(atPath: dir.join("segments"))?.allObjects as? [String] ?? []).filter { $0.hasSuffix("/data") }
        #expect(filesAfter.count == 1, "the expired segments' files are deleted: \(filesAfter)")
        try db.close()
        let reopened = try Database.open(at: dir.path)
        #expect(try DurabilityFixture.contents(reopened.collection("c")).versions.count == 10)
        try reopened.close()
    }
}

/// Compaction: small and holey sealed segments are merged, live rows only; the result
/// survives reopening and the old files are deleted.
@Suite struct DurabilityCompactionTests {
    @Test func compactionMergesSmallAndHoleySegments() throws {
        let dir = DurabilityTemporaryDirectory("osprey-compact")
        var expected: [Int64: Int64] = [:]
        do {
            // Background compaction off: the test counts what `compact()` itself rewrites.
            let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 256, compaction: .manualOnly))
            let c = try db.createCollection("c", schema: DurabilityFixture.schema)
            for start in stride(from: Int64(0), to: 1_000, by: 50) {
                try c.insert((start ..< start + 50).map { DurabilityFixture.row($0, version: 1) })
                try c.flush()  // twenty small segments
            }
            try c.delete(ids: stride(from: Int64(0), to: 1_000, by: 3).map { .int($0) })
            try c.upsert((10..<20).map { DurabilityFixture.row($0, version: 2) })
            for k in Int64(0)..<1_000 where k % 3 != 0 { expected[k] = 1 }
            for k in Int64(10)..<20 { expected[k] = 2 }
            try c.flush()
            let before = c.statistics().segments
            let rewritten = try c.compact()
            #expect(rewritten >= 20)
            #expect(c.statistics().segments < before)
            #expect(c.statistics().segments <= 4, "\(expected.count) live rows fit in 3 segments of 256 plus the last")
            #expect(try DurabilityFixture.contents(c).versions == expected)
            try c.delete(ids: [.int(1)])
            expected[1] = nil
            try db.storage!.close()  // a crash after compaction
        }
        let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 256))
        let c = try db.collection("c")
        let (versions, bad) = try DurabilityFixture.contents(c)
        #expect(versions == expected)
        #expect(bad.isEmpty)
        try db.close()
        let dataFiles = (FileManager.default.enumerator(atPath: dir.join("segments"))?.allObjects as? [String] ?? []).filter { $0.hasSuffix("/data") }
        #expect(dataFiles.count <= 5, "old segment files are deleted: \(dataFiles.count) left")
    }

    @Test func compactionInMemory() throws {
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 100, compaction: .manualOnly))
        let c = try db.createCollection("c", schema: DurabilityFixture.schema)
        try c.insert((0..<350).map { DurabilityFixture.row($0, version: 1) })
        try c.delete(ids: (0..<90).map { .int($0) })
        try c.flush()
        #expect(try c.compact() > 0)
        #expect(try c.count() == 260)
        #expect(try DurabilityFixture.contents(c).versions.count == 260)
    }
}

/// Every field type (nullable ones with nulls, the dynamic field) comes back the same from
/// the WAL and from segment files.
@Suite struct DurabilityRichRowsTests {
    static let schema = CollectionSchema(fields: [
        .primaryKey("pk", .varchar, maxLength: 40),
        .vector("emb", dim: 3),
        .vector("half", .float16Vector, dim: 2),
        .vector("bf", .bfloat16Vector, dim: 2),
        .vector("bits", .binaryVector, dim: 16),
        .scalar("b", .bool, nullable: true),
        .scalar("small", .int8),
        .scalar("mid", .int16),
        .scalar("n", .int32, nullable: true, defaultValue: .int(7)),
        .scalar("f", .float),
        .scalar("d", .double, nullable: true),
        .scalar("title", .varchar, maxLength: 100, defaultValue: .string("none")),
        .array("tags", of: .varchar, maxCapacity: 4, maxLength: 10),
        .scalar("doc", .json, nullable: true),
    ], enableDynamicField: true)

    static func row(_ i: Int) -> [String: FieldValue] {
        var r: [String: FieldValue] = [
            "pk": .string("key-\(i)"), "emb": .floatVector([Float(i), -1, 0.5]),
            "half": .float16Vector([UInt16(i), 1]), "bf": .bfloat16Vector([2, UInt16(i)]),
            "bits": .binaryVector([UInt8(i % 256), 0xA5]), "small": .int(Int64(i % 100)), "mid": .int(Int64(i * 3)),
            "f": .float(Float(i) / 4), "tags": .array([.string("t\(i % 3)"), .string("x")]),
        ]
        if i % 2 == 0 { r["b"] = .bool(i % 4 == 0); r["d"] = .double(Double(i) * 1.5); r["n"] = .int(Int64(i)) }
        if i % 3 == 0 { r["title"] = .string("title \(i)"); r["doc"] = .json(.object(["i": .int(Int64(i)), "a": .array([.bool(true), .null])])) }
        if i % 5 == 0 { r["extra"] = .json(.string("dynamic \(i)")) }
        return r
    }

    @Test func everyTypeSurvivesWALAndSegmentFiles() throws {
        let dir = DurabilityTemporaryDirectory("osprey-rich")
        let options = DatabaseOptions(segmentMaxRows: 64)
        var original: [[String: FieldValue]] = []
        do {
            let db = try Database.open(at: dir.path, options: options)
            let c = try db.createCollection("c", schema: Self.schema)
            try c.insert((0..<100).map(Self.row))
            db.context.checkpointQueue.sync {}
            original = try c.query(QueryRequest(filter: "pk != \"\"", outputFields: ["*"], limit: 1_000)).rows
            #expect(original.count == 100)
            try db.storage!.close()  // rows of the full segment in a file, the rest in the WAL
        }
        for round in 0..<2 {
            let db = try Database.open(at: dir.path, options: options)
            let got = try db.collection("c").query(QueryRequest(filter: "pk != \"\"", outputFields: ["*"], limit: 1_000)).rows
            #expect(got == original, "round \(round): rows differ after reopening")
            try db.close()  // round 1 reads everything from segment files
        }
    }
}
