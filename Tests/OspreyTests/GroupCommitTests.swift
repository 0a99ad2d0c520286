import Dispatch
import Foundation
import Synchronization
import Testing
import OspreyCore
@testable import Osprey
@testable import OspreyStorage

/// Group commit within one collection (docs/design.md §3): writers of a collection do not
/// wait for each other's fsync, they share it; and a write is visible only once durable —
/// until then readers see the rows it replaces or deletes, found by key too.
@Suite struct GroupCommitTests {
    /// Upper bound for work the test expects to finish; only reached when it is stuck.
    static let stuck = 60.0

    static func options() -> DatabaseOptions { DatabaseOptions(compaction: .manualOnly) }

    /// Waits until `condition` holds, up to `stuck` seconds.
    static func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(stuck)
        while !condition() {
            if Date() > deadline { return false }
            usleep(1_000)
        }
        return true
    }

    /// Opens a durable database whose WAL syncs can be held at a gate.
    static func open(_ dir: DurabilityTemporaryDirectory) throws -> (Database, GatedFileSystem, FaultInjectingFileSystem) {
        let fault = FaultInjectingFileSystem()
        let fs = GatedFileSystem(base: fault, gateSyncing: { $0.contains("/wal/") })
        let db = try DurableStorage.openDatabase(at: dir.path, options: options(), fileSystem: fs)
        return (db, fs, fault)
    }

    /// Eight writers of one collection: while the first one's fsync is held, the other seven
    /// log and apply their writes (they do not queue behind the first on the writer lock);
    /// none is visible yet; once the fsync goes through, one more fsync makes all seven
    /// durable, and every write is visible.
    @Test func writersOfOneCollectionShareAnFsync() throws {
        let dir = DurabilityTemporaryDirectory("osprey-group-commit")
        let (db, fs, fault) = try Self.open(dir)
        let c = try db.createCollection("c", schema: DurabilityFixture.schema)
        try c.insert((0..<10).map { DurabilityFixture.row($0, version: 1) })
        let wal = db.storage!.wal
        let base = wal.lastLSN.rawValue
        let syncsBefore = fault.syncCount

        fs.syncGate.close()
        let group = DispatchGroup()
        let failures = Mutex<[String]>([])
        func write(_ w: Int) {
            DispatchQueue.global().async(group: group) {
                let keys = Int64(1_000 + w * 10) ..< Int64(1_010 + w * 10)
                do { try c.insert(keys.map { DurabilityFixture.row($0, version: 1) }) } catch {
                    failures.withLock { $0.append("writer \(w): \(error)") }
                }
            }
        }
        write(0)
        #expect(fs.syncGate.waitForArrival(seconds: Self.stuck), "the first write's fsync is held")
        for w in 1..<8 { write(w) }
        let allLogged = Self.eventually { wal.lastLSN.rawValue == base + 8 }
        #expect(allLogged, "every writer logged its record while the first fsync was held (last LSN \(wal.lastLSN.rawValue - base) of 8)")
        #expect(try c.count() == 10, "no write is visible before it is durable")
        #expect(try c.get(ids: [.int(1_000), .int(1_075)]).count == 0)

        fs.syncGate.open()
        #expect(group.wait(timeout: .now() + Self.stuck) == .success)
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        #expect(try c.count() == 90)
        let syncs = fault.syncCount - syncsBefore
        #expect(syncs <= 2, "8 writes of one collection took \(syncs) fsyncs: the held one, then one for the other seven")
        try db.close()
    }

    /// While an upsert of keys 0..<5 and a delete of key 9 wait for their fsync, readers see
    /// the rows as before them — by scan, by key, by key filter and by search; afterwards
    /// they see the new state.
    @Test func readersSeeReplacedRowsUntilTheWriteIsDurable() throws {
        let dir = DurabilityTemporaryDirectory("osprey-group-visibility")
        let (db, fs, _) = try Self.open(dir)
        let c = try db.createCollection("c", schema: DurabilityFixture.schema)
        try c.insert((0..<10).map { DurabilityFixture.row($0, version: 1) })
        let wal = db.storage!.wal
        let base = wal.lastLSN.rawValue

        fs.syncGate.close()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { _ = try? c.upsert((0..<5).map { DurabilityFixture.row($0, version: 2) }) }
        #expect(fs.syncGate.waitForArrival(seconds: Self.stuck))
        DispatchQueue.global().async(group: group) { _ = try? c.delete(ids: [.int(9)]) }
        #expect(Self.eventually { wal.lastLSN.rawValue == base + 2 }, "both writes are logged and applied")
        #expect(!c.keys.withLock { $0.replaced.isEmpty }, "the replaced rows are kept for older snapshots")

        let all = try DurabilityFixture.contents(c)
        #expect(all.versions == Dictionary(uniqueKeysWithValues: (0..<10).map { (Int64($0), Int64(1)) }))
        #expect(all.mismatches.isEmpty)
        let byKey = try c.get(ids: (0..<10).map { .int($0) }, outputFields: ["version"])
        #expect(byKey.count == 10, "get finds the rows the pending writes replaced")
        #expect(byKey.rows.allSatisfy { $0["version"] == .int(1) })
        let filtered = try c.query(QueryRequest(filter: "id in [0, 1, 9]", outputFields: ["version"], limit: 10))
        #expect(filtered.count == 3 && filtered.rows.allSatisfy { $0["version"] == .int(1) })
        let hit = try c.search(SearchRequest(vectors: [.floatVector(DurabilityFixture.vector(9, 1))], limit: 1))
        #expect(hit.first?.ids == [.int(9)])

        fs.syncGate.open()
        #expect(group.wait(timeout: .now() + Self.stuck) == .success)
        var expected = Dictionary(uniqueKeysWithValues: (0..<9).map { (Int64($0), Int64(1)) })
        for k in Int64(0)..<5 { expected[k] = 2 }
        #expect(try DurabilityFixture.contents(c).versions == expected)
        #expect(try c.get(ids: [.int(9)]).count == 0)
        try db.close()
    }

    /// An upsert whose fsync fails throws and is never visible: the row it would have
    /// replaced is still read, by scan and by key, and after a power loss it is what recovery
    /// finds.
    @Test func anUpsertThatFailsToSyncNeverBecomesVisible() throws {
        let dir = DurabilityTemporaryDirectory("osprey-group-failed")
        let fault = FaultInjectingFileSystem()
        let db = try DurableStorage.openDatabase(at: dir.path, options: Self.options(), fileSystem: fault)
        let c = try db.createCollection("c", schema: DurabilityFixture.schema)
        try c.insert((0..<10).map { DurabilityFixture.row($0, version: 1) })
        fault.failNextSync()
        #expect(throws: OspreyError.self) { try c.upsert([DurabilityFixture.row(3, version: 2), DurabilityFixture.row(50, version: 2)]) }
        #expect(try c.get(ids: [.int(3)], outputFields: ["version"]).rows.first?["version"] == .int(1))
        #expect(try c.get(ids: [.int(50)]).count == 0)
        #expect(try DurabilityFixture.contents(c).versions.count == 10)
        #expect(throws: OspreyError.self) { try c.delete(ids: [.int(4)]) }
        #expect(try c.count() == 10)
        #expect(throws: OspreyError.self, "the final checkpoint fails too: the log refuses everything") { try db.close() }
        try fault.simulateCrash(.dropUnsynced)  // the failed write's record was never synced
        let reopened = try Database.open(at: dir.path, options: Self.options())
        let (versions, bad) = try DurabilityFixture.contents(reopened.collection("c"))
        #expect(versions == Dictionary(uniqueKeysWithValues: (0..<10).map { (Int64($0), Int64(1)) }))
        #expect(bad.isEmpty)
        try reopened.close()
    }

    /// Readers running while four writers upsert into one durable collection (sharing
    /// fsyncs) always see every key exactly once with whole rows — by scan and by key.
    @Test func readersSeeWholeRowsWhileWritersShareFsyncs() throws {
        let dir = DurabilityTemporaryDirectory("osprey-group-readers")
        let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 2_048, compaction: .manualOnly))
        let c = try db.createCollection("c", schema: DurabilityFixture.schema)
        let keys = 500
        try c.insert((0..<keys).map { DurabilityFixture.row(Int64($0), version: 0) })
        let done = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        for w in 0..<4 {
            DispatchQueue.global().async(group: group) {
                var rng = SplitMix64(seed: UInt64(w + 1))
                for round in 1...60 {
                    let ids = (0..<20).map { _ in Int64(rng.next() % UInt64(keys)) }
                    do { try c.upsert(ids.map { DurabilityFixture.row($0, version: Int64(round * 10 + w)) }) } catch {
                        failures.withLock { $0.append("upsert: \(error)") }
                    }
                }
                done.add(1, ordering: .releasing)
            }
        }
        var reads = 0
        repeat {
            let (versions, bad) = try DurabilityFixture.contents(c)
            if versions.count != keys || !bad.isEmpty { failures.withLock { $0.append("scan: \(versions.count) keys, torn \(bad.prefix(3))") } }
            let got = try c.get(ids: (0..<keys).map { .int(Int64($0)) }, outputFields: ["*"])
            if got.count != keys { failures.withLock { $0.append("get returned \(got.count) of \(keys) keys") } }
            reads += 1
        } while done.load(ordering: .acquiring) < 4
        group.wait()
        let f = failures.withLock { $0 }
        #expect(f.isEmpty, "\(f.prefix(5))")
        #expect(reads > 0)
        #expect(try c.count() == keys)
        try db.close()
    }

    /// Replaced rows are kept until their write is published and for a grace period after;
    /// then they are forgotten, and a reader whose snapshot is older than what was forgotten
    /// finds its rows by a scan — still the rows of its snapshot.
    @Test func replacedRowsOutliveTheirWriteByAGracePeriod() throws {
        var table = ReplacedRows()
        let old = Collection.RowLocation(segment: SegmentID(7), row: 3)
        table.record(.int(1), row: old, replacedAt: 100)
        #expect(table.row(of: .int(1), at: 99)?.row == 3)
        #expect(table.row(of: .int(1), at: 100) == nil, "a snapshot at the write sees the new row")
        table.published([.int(1)], at: 100, committed: 100)
        #expect(table.row(of: .int(1), at: 99) != nil, "kept after publication")
        table.published([], at: 100 + ReplacedRows.grace - 1, committed: 100 + ReplacedRows.grace - 1)
        #expect(table.row(of: .int(1), at: 99) != nil, "kept during the grace period")
        #expect(table.forgottenThrough == 0)
        table.published([], at: 100 + ReplacedRows.grace, committed: 100 + ReplacedRows.grace)
        #expect(table.isEmpty && table.forgottenThrough == 100)

        let db = Database.inMemory(options: Self.options())
        let c = try db.createCollection("c", schema: DurabilityFixture.schema)
        try c.insert((0..<10).map { DurabilityFixture.row($0, version: 1) })
        let snap = try c.snapshot(partitions: [])
        // A write the snapshot does not see, whose replaced row the table has already forgotten.
        try c.upsert([DurabilityFixture.row(3, version: 2)])
        c.keys.withLock { $0.replaced.forget([.int(3)], through: UInt64.max - 1) }
        let found = c.locate([.int(3), .int(4), .int(99)], in: snap)
        let byID = Dictionary(uniqueKeysWithValues: snap.segments.map { ($0.segment.id, $0) })
        let row3 = found[0].flatMap { loc in byID[loc.segment].map { ($0, Int(loc.row)) } }
        #expect(row3.map { $0.0.segment.primaryKey(row: $0.1) } == .int(3))
        #expect(row3.map { $0.0.segment.insertTimestamp(row: $0.1) <= snap.timestamp.rawValue } == true,
                "the scan finds the version the snapshot sees")
        #expect(found[1] != nil && found[2] == nil)
        try db.close()
    }
}
