import Dispatch
import Foundation
import Synchronization
import Testing
import OspreyCore
@testable import Osprey
@testable import OspreyStorage

/// A checkpoint writes its files with no writer lock held (docs/storage.md §15): writes and
/// reads go on while its file I/O is stuck, and what they did is kept across a power loss
/// right after the checkpoint — deletes included, whether the checkpoint wrote the segment's
/// rows or its delete state meanwhile.
@Suite struct CheckpointConcurrencyTests {
    /// Upper bound for work the test expects to finish; only reached when it is stuck.
    static let stuck = 60.0

    static func options() -> DatabaseOptions { DatabaseOptions(segmentMaxRows: 10_000, compaction: .manualOnly) }
    /// Small WAL files, so that checkpoints really remove some.
    static let walOptions = WALOptions(durability: .syncEachCommit, maxFileSize: 4_096)

    /// Runs `body` on another thread; true when it finished within `stuck` seconds.
    static func finishes(_ body: @escaping @Sendable () throws -> Void) -> (finished: Bool, error: String?) {
        let done = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        DispatchQueue.global().async {
            do { try body() } catch { failure.withLock { $0 = "\(error)" } }
            done.signal()
        }
        let finished = done.wait(timeout: .now() + stuck) == .success
        return (finished, failure.withLock { $0 })
    }

    /// The writes made while a checkpoint is held at the gate: an insert of new keys 5000..<5100
    /// (version 1), deletes of `deleted` and an upsert of 100..<110 to version 2.
    static func writeDuringCheckpoint(_ c: Collection, deleting deleted: [Int64]) throws {
        try c.insert((5_000..<5_100).map { DurabilityFixture.row($0, version: 1) })
        let result = try c.delete(ids: deleted.map { .int($0) })
        #expect(result.count == deleted.count)
        try c.upsert((100..<110).map { DurabilityFixture.row($0, version: 2) })
    }

    /// What `writeDuringCheckpoint` does to the key → version model.
    static func applyWritesDuringCheckpoint(to model: inout [Int64: Int64], deleting deleted: [Int64]) {
        for k in Int64(5_000)..<5_100 { model[k] = 1 }
        for k in deleted { model[k] = nil }
        for k in Int64(100)..<110 { model[k] = 2 }
    }

    /// The checkpoint of a new 2,000-row segment is held while it creates the segment's data
    /// file; an insert, a delete of rows in that segment and an upsert of some of them finish
    /// meanwhile and are visible at once. After the checkpoint, a power loss: everything
    /// acknowledged is back, and exactly the three writes made during the checkpoint are
    /// replayed from the WAL.
    @Test func writesFinishWhileACheckpointWritesASegment() throws {
        let dir = DurabilityTemporaryDirectory("osprey-ckpt-data")
        let fault = FaultInjectingFileSystem()
        let fs = GatedFileSystem(base: fault, gateCreating: { $0.hasSuffix("/data.tmp") })
        let db = try DurableStorage.openDatabase(at: dir.path, options: Self.options(), fileSystem: fs, walOptions: Self.walOptions)
        let c = try db.createCollection("c", schema: DurabilityFixture.schema)
        var model: [Int64: Int64] = [:]
        for start in stride(from: Int64(0), to: 2_000, by: 100) {
            try c.insert((start ..< start + 100).map { DurabilityFixture.row($0, version: 1) })
        }
        for k in Int64(0)..<2_000 { model[k] = 1 }
        let walFilesBefore = db.storage!.wal.files.count

        fs.createGate.close()
        let flushed = DispatchSemaphore(value: 0)
        let flushError = Mutex<String?>(nil)
        DispatchQueue.global().async {
            do { try c.flush() } catch { flushError.withLock { $0 = "\(error)" } }
            flushed.signal()
        }
        #expect(fs.createGate.waitForArrival(seconds: Self.stuck), "the checkpoint reached its segment file")
        let writes = Self.finishes { try Self.writeDuringCheckpoint(c, deleting: Array(0..<50)) }
        #expect(writes.finished, "writes waited for the checkpoint's file I/O")
        #expect(writes.error == nil, "\(writes.error ?? "")")
        #expect(fs.createGate.isClosed && flushed.wait(timeout: .now()) == .timedOut, "the checkpoint was still writing")
        Self.applyWritesDuringCheckpoint(to: &model, deleting: Array(0..<50))
        #expect(try c.count() == model.count, "the writes are visible before the checkpoint ends")
        let hits = try c.search(SearchRequest(vectors: [.floatVector(DurabilityFixture.vector(5_050, 1))], limit: 1))
        #expect(hits.first?.ids == [.int(5_050)], "searches run during the checkpoint")

        fs.createGate.open()
        #expect(flushed.wait(timeout: .now() + Self.stuck) == .success)
        #expect(flushError.withLock { $0 } == nil)
        #expect(db.storage!.wal.files.count < walFilesBefore, "the checkpoint removed WAL files")

        try fault.simulateCrash(.dropUnsynced)
        try? db.storage!.close()
        let reopened = try Database.open(at: dir.path, options: Self.options())
        let (versions, bad) = try DurabilityFixture.contents(reopened.collection("c"))
        let same = versions == model  // compared apart, so that a failure does not print both
        #expect(same, "differs at \(model.filter { versions[$0.key] != $0.value }.keys.sorted().prefix(5))")
        #expect(bad.isEmpty)
        #expect(reopened.storage!.recovery.replayedRecords == 3, "the WAL is cut where the checkpoint captured the segment")
        try reopened.close()
    }

    /// A segment already on disk gets deletes; the next checkpoint is held while it writes the
    /// segment's new delete state, and more deletes of that segment's rows (and an upsert)
    /// arrive meanwhile. They are not in the state being written, so they must come back from
    /// the WAL after a power loss; so must the deletes the state does hold.
    @Test func deletesDuringACheckpointOfDeleteStatesSurviveAPowerLoss() throws {
        let dir = DurabilityTemporaryDirectory("osprey-ckpt-deletes")
        let fault = FaultInjectingFileSystem()
        let fs = GatedFileSystem(base: fault, gateCreating: { $0.contains("/deletes-") && $0.hasSuffix(".tmp") })
        let db = try DurableStorage.openDatabase(at: dir.path, options: Self.options(), fileSystem: fs, walOptions: Self.walOptions)
        let c = try db.createCollection("c", schema: DurabilityFixture.schema)
        var model: [Int64: Int64] = [:]
        for start in stride(from: Int64(0), to: 2_000, by: 100) {
            try c.insert((start ..< start + 100).map { DurabilityFixture.row($0, version: 1) })
        }
        for k in Int64(0)..<2_000 { model[k] = 1 }
        try c.flush()  // the segment's rows are on disk, no delete state yet
        try c.delete(ids: (1_000..<1_040).map { .int($0) })  // in the state the next checkpoint writes
        for k in Int64(1_000)..<1_040 { model[k] = nil }

        fs.createGate.close()
        let flushed = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? c.flush()
            flushed.signal()
        }
        #expect(fs.createGate.waitForArrival(seconds: Self.stuck), "the checkpoint reached the delete state")
        let writes = Self.finishes { try Self.writeDuringCheckpoint(c, deleting: Array(1_500..<1_530)) }
        #expect(writes.finished, "deletes waited for the checkpoint's file I/O")
        #expect(writes.error == nil, "\(writes.error ?? "")")
        Self.applyWritesDuringCheckpoint(to: &model, deleting: Array(1_500..<1_530))
        #expect(try c.count() == model.count)
        fs.createGate.open()
        #expect(flushed.wait(timeout: .now() + Self.stuck) == .success)

        try fault.simulateCrash(.dropUnsynced)
        try? db.storage!.close()
        let reopened = try Database.open(at: dir.path, options: Self.options())
        let (versions, bad) = try DurabilityFixture.contents(reopened.collection("c"))
        let same = versions == model
        #expect(same, "differs at \(model.filter { versions[$0.key] != $0.value }.keys.sorted().prefix(5)), extra \(versions.filter { model[$0.key] == nil }.keys.sorted().prefix(5))")
        #expect(bad.isEmpty)
        #expect(reopened.storage!.recovery.replayedRecords == 3)
        try reopened.close()
        // Once more through a clean close: the final checkpoint persists the later deletes too.
        let again = try Database.open(at: dir.path, options: Self.options())
        #expect(again.storage!.recovery.replayedRecords == 0)
        let final = try DurabilityFixture.contents(again.collection("c")).versions
        #expect(final.count == model.count && final == model)
        try again.close()
    }
}
