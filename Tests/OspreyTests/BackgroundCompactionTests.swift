import Dispatch
import Foundation
import Synchronization
import Testing
import OspreyCore
@testable import Osprey
@testable import OspreyStorage

/// The background compactor (docs/design.md §4): it merges small sealed segments and
/// rewrites holey ones without being asked, reads are the same before and after (deletes,
/// upserts and TTL included), the result survives a crash, `close` stops a compaction in
/// progress cleanly, and the collection property turns it off.
@Suite struct BackgroundCompactionTests {
    /// Upper bound for work the test expects to finish; only reached when it is stuck.
    static let stuck = 60.0
    static let disabled = [CompactionOptions.autoCompactionProperty: "false"]

    static func options(maxBytesPerSecond: Int = 0) -> DatabaseOptions {
        DatabaseOptions(segmentMaxRows: 1_000, compaction: CompactionOptions(interval: 0.02, maxBytesPerSecond: maxBytesPerSecond))
    }

    /// Waits until `condition` holds, up to `stuck` seconds.
    static func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(stuck)
        while try !condition() {
            if Date() > deadline { return false }
            usleep(5_000)
        }
        return true
    }

    /// Waits until the compactor has finished `n` more passes over the collections.
    static func waitForPasses(_ db: Database, _ n: Int) -> Bool {
        let start = db.compactor.stats.passes
        return eventually { db.compactor.stats.passes >= start + n }
    }

    /// Everything the tests compare before and after compaction.
    struct Reads: Equatable {
        var versions: [Int64: Int64]
        var mismatches: [Int64]
        var count: Int
        var byKey: [[String: FieldValue]]
        var upserted: [FieldValue?]
        var searches: [[PrimaryKey]]
        var scores: [[Float]]
    }

    static func reads(_ c: Collection) throws -> Reads {
        let (versions, bad) = try DurabilityFixture.contents(c)
        let byKey = try c.get(ids: stride(from: Int64(0), to: 1_200, by: 37).map { .int($0) }, outputFields: ["*"])
        let upserted = try c.query(QueryRequest(filter: "version == 2", outputFields: ["id"], limit: 1_000)).rows.map { $0["id"] }
        var ids: [[PrimaryKey]] = []
        var scores: [[Float]] = []
        for k in [Int64(3), 200, 555, 1_010] {
            let hits = try c.search(SearchRequest(vectors: [.floatVector(DurabilityFixture.vector(k, 1))], limit: 10, metric: .l2))[0]
            // Rows at equal distances may come in any order, and a tie at the 10th place may
            // be broken either way: compare the distances, and the ids of the nearer hits.
            let last = hits.scores.max() ?? 0
            ids.append((0..<hits.count).filter { hits.scores[$0] < last }.map { hits.ids[$0] }.sorted { "\($0)" < "\($1)" })
            scores.append(hits.scores.sorted())
        }
        return Reads(versions: versions, mismatches: bad, count: try c.count(), byKey: (0..<byKey.count).map { byKey.row($0) },
                     upserted: upserted, searches: ids, scores: scores)
    }

    /// Twenty-four small flushed segments — the first ten expired by the TTL, one half
    /// expired, deletes and upserts spread over them — are merged in the background once the
    /// collection allows it (not before); every read is the same afterwards, after a crash,
    /// and after a clean reopen.
    @Test func smallSegmentsAreMergedInTheBackground() throws {
        let dir = DurabilityTemporaryDirectory("osprey-bg-merge")
        var before: Reads
        do {
            let db = try Database.open(at: dir.path, options: Self.options())
            let c = try db.createCollection("c", schema: DurabilityFixture.schema, options: CollectionOptions(properties: Self.disabled))
            for b in Int64(0)..<10 {  // rows that the TTL will expire
                try c.insert((b * 50 ..< b * 50 + 50).map { DurabilityFixture.row($0, version: 1) })
                try c.flush()
            }
            try c.insert((500..<525).map { DurabilityFixture.row($0, version: 1) })
            // Later rows are stamped an hour ahead, so that the TTL below never expires them.
            db.context.oracle.advance(past: Timestamp(physicalMilliseconds: TimestampOracle.nowMilliseconds() + 3_600_000, logical: 0))
            try c.insert((525..<550).map { DurabilityFixture.row($0, version: 1) })
            try c.flush()  // half expired, half not
            for b in Int64(11)..<22 {
                try c.insert((b * 50 ..< b * 50 + 50).map { DurabilityFixture.row($0, version: 1) })
                try c.flush()
            }
            try c.delete(ids: stride(from: Int64(501), to: 1_100, by: 7).map { .int($0) })
            try c.upsert(stride(from: Int64(600), to: 700, by: 3).map { DurabilityFixture.row($0, version: 2) })
            try c.flush()
            try c.insert((2_000..<2_020).map { DurabilityFixture.row($0, version: 1) })
            try c.flush()
            try c.alterProperties(set: [Collection.ttlProperty: "1"])
            usleep(1_100_000)  // the first 525 rows are now expired
            before = try Self.reads(c)
            #expect(before.count > 500 && before.versions[3] == nil && before.versions[530] != nil)
            let segments = c.statistics().segments
            #expect(segments >= 20)
            #expect(Self.waitForPasses(db, 3))
            #expect(c.statistics().segments == segments, "nothing is compacted while the property says no")

            try c.alterProperties(set: [CompactionOptions.autoCompactionProperty: "true"])
            #expect(Self.eventually { db.compactor.stats.segmentsRewritten >= 10 }, "the background compactor merged the small segments")
            #expect(c.statistics().segments <= 2)
            #expect(db.compactor.stats.lastError == nil)
            let after = try Self.reads(c)
            #expect(after == before)
            try db.storage!.close()  // a crash after the background compaction
        }
        do {
            let db = try Database.open(at: dir.path, options: Self.options())
            #expect(try Self.reads(db.collection("c")) == before)
            try db.close()
        }
        let db = try Database.open(at: dir.path, options: Self.options())
        #expect(db.storage!.recovery.replayedRecords == 0)
        #expect(try Self.reads(db.collection("c")) == before)
        try db.close()
    }

    /// A full segment with 30 % of its rows deleted is rewritten without them; one with 10 %
    /// is left alone.
    @Test func aHoleySegmentIsRewritten() throws {
        let dir = DurabilityTemporaryDirectory("osprey-bg-holey")
        let db = try Database.open(at: dir.path, options: Self.options())
        let holey = try db.createCollection("holey", schema: DurabilityFixture.schema)
        let sparse = try db.createCollection("sparse", schema: DurabilityFixture.schema)
        for c in [holey, sparse] {
            try c.insert((0..<1_000).map { DurabilityFixture.row($0, version: 1) })  // fills and seals one segment
            db.context.checkpointQueue.sync {}
        }
        let holeyID = holey.segments.withLock { Array($0.keys) }
        let sparseID = sparse.segments.withLock { Array($0.keys) }
        #expect(holeyID.count == 1 && sparseID.count == 1)
        try holey.delete(ids: (0..<300).map { .int($0) })
        try sparse.delete(ids: (0..<100).map { .int($0) })
        #expect(Self.eventually { holey.segments.withLock { Array($0.keys) } != holeyID }, "the holey segment was rewritten")
        let rewritten = holey.segments.withLock { Array($0.values) }
        #expect(rewritten.count == 1 && rewritten[0].rowCount == 700 && rewritten[0].deletedCount == 0,
                "\(rewritten.map { ($0.rowCount, $0.deletedCount) })")
        #expect(Self.waitForPasses(db, 3))
        #expect(sparse.segments.withLock { Array($0.keys) } == sparseID, "10 % deleted is below the threshold")
        #expect(try DurabilityFixture.contents(holey).versions.keys.sorted() == Array(300..<1_000))
        try db.close()
        let reopened = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 1_000, compaction: .manualOnly))
        #expect(try reopened.collection("holey").count() == 700)
        #expect(try reopened.collection("sparse").count() == 900)
        #expect(try reopened.collection("holey").statistics().segments == 1)
        try reopened.close()
    }

    /// With a budget so small that the first chunk would take hours, `close` stops the
    /// compaction in progress and returns; nothing is lost or half done.
    @Test func closeDuringACompactionIsClean() throws {
        let dir = DurabilityTemporaryDirectory("osprey-bg-close")
        let db = try Database.open(at: dir.path, options: Self.options(maxBytesPerSecond: 1))
        let c = try db.createCollection("c", schema: DurabilityFixture.schema, options: CollectionOptions(properties: Self.disabled))
        for b in Int64(0)..<8 {
            try c.insert((b * 50 ..< b * 50 + 50).map { DurabilityFixture.row($0, version: 1) })
            try c.flush()
        }
        try c.delete(ids: [.int(7), .int(70)])
        let before = try DurabilityFixture.contents(c).versions
        try c.alterProperties(set: [CompactionOptions.autoCompactionProperty: "true"])
        #expect(Self.eventually { db.compactor.stats.compacting }, "a compaction started")
        let closed = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        DispatchQueue.global().async {
            do { try db.close() } catch { failure.withLock { $0 = "\(error)" } }
            closed.signal()
        }
        #expect(closed.wait(timeout: .now() + Self.stuck) == .success, "close waited for the paced compaction")
        #expect(failure.withLock { $0 } == nil)
        #expect(db.compactor.stats.segmentsRewritten == 0)
        let reopened = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 1_000, compaction: .manualOnly))
        let r = try reopened.collection("c")
        #expect(try DurabilityFixture.contents(r).versions == before)
        #expect(r.statistics().segments == 8)
        #expect(try r.compact() == 8, "manual compaction runs the same code")
        #expect(try DurabilityFixture.contents(r).versions == before)
        try reopened.close()
    }

    @Test func badSettingsAreClearErrors() throws {
        let dir = DurabilityTemporaryDirectory("osprey-bg-bad")
        #expect(throws: OspreyError.self) {
            try Database.open(at: dir.path, options: DatabaseOptions(compaction: CompactionOptions(interval: 0)))
        }
        #expect(throws: OspreyError.self) {
            try Database.open(at: dir.path, options: DatabaseOptions(compaction: CompactionOptions(deletedShare: 1.5)))
        }
        let db = Database.inMemory()
        #expect(throws: OspreyError.self) {
            try db.createCollection("c", schema: DurabilityFixture.schema,
                                    options: CollectionOptions(properties: [CompactionOptions.autoCompactionProperty: "sometimes"]))
        }
        let c = try db.createCollection("c", schema: DurabilityFixture.schema)
        #expect(throws: OspreyError.self) { try c.alterProperties(set: [CompactionOptions.autoCompactionProperty: "1"]) }
        try c.alterProperties(set: [CompactionOptions.autoCompactionProperty: "False"])
        #expect(!c.autoCompactionEnabled)
        try db.close()
    }
}
