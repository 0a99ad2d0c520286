import Foundation
import Testing
import OspreyCore
@testable import Osprey
@testable import OspreyStorage

/// Faults under the engine through the fault-injecting file system and by damaging files:
/// lost unsynced data, torn writes, failed syncs and bit flips in WAL and manifest give clean
/// truncation of a torn tail or a clear `OspreyError.storage` naming the file — never a trap
/// and never silently lost acknowledged data.
@Suite struct DurabilityFaultTests {
    /// Writes three batches (keys 0..<10 at version 1, 10..<20 at 2, 20..<30 at 3) and closes.
    func writeThreeBatches(_ path: String, fileSystem: any FileSystem = PosixFileSystem()) throws -> Database {
        let db = try DurableStorage.openDatabase(at: path, options: DatabaseOptions(), fileSystem: fileSystem)
        let c = try db.createCollection("c", schema: DurabilityFixture.schema)
        for v in Int64(1)...3 { try c.insert(((v - 1) * 10 ..< v * 10).map { DurabilityFixture.row($0, version: v) }) }
        return db
    }

    /// Releases the directory without the final checkpoint of `close()`, as a crash would.
    func abandon(_ db: Database) throws { try db.storage!.close() }

    func expected(batches: Int64) -> [Int64: Int64] {
        var out: [Int64: Int64] = [:]
        for v in 0..<batches { for k in v * 10 ..< (v + 1) * 10 { out[k] = v + 1 } }
        return out
    }

    func storageMessage(_ body: () throws -> Void) -> String? {
        do { try body() } catch let e as OspreyError {
            if case .storage(let m) = e { return m }
            Issue.record("expected a storage error, got \(e)")
        } catch { Issue.record("expected an OspreyError, got \(error)") }
        return nil
    }

    @Test(arguments: [FaultInjectingFileSystem.CrashMode.dropUnsynced, .tornWrites(seed: 7), .tornWrites(seed: 8), .lostPage(seed: 9)])
    func acknowledgedWritesSurvivePowerLoss(mode: FaultInjectingFileSystem.CrashMode) throws {
        let dir = DurabilityTemporaryDirectory("osprey-power")
        let fs = FaultInjectingFileSystem()
        let db = try writeThreeBatches(dir.path, fileSystem: fs)
        try fs.simulateCrash(mode)
        try? db.storage!.close()  // the files refuse use after the crash; this releases the lock
        let reopened = try Database.open(at: dir.path)
        let (versions, bad) = try DurabilityFixture.contents(reopened.collection("c"))
        #expect(versions == expected(batches: 3))
        #expect(bad.isEmpty)
        try reopened.close()
    }

    @Test func failedSyncFailsTheWriteAndKeepsEarlierOnes() throws {
        let dir = DurabilityTemporaryDirectory("osprey-failsync")
        let fs = FaultInjectingFileSystem()
        let db = try writeThreeBatches(dir.path, fileSystem: fs)
        let c = try db.collection("c")
        fs.failNextSync()
        let message = storageMessage { try c.insert([DurabilityFixture.row(100, version: 9)]) }
        #expect(message?.contains("write-ahead log") == true)
        #expect(try c.get(ids: [.int(100)]).count == 0, "a write that failed to log is not applied")
        #expect(storageMessage { try c.insert([DurabilityFixture.row(101, version: 9)]) } != nil, "the failed log refuses later writes")
        try? db.storage!.close()
        let reopened = try Database.open(at: dir.path)
        let versions = try DurabilityFixture.contents(reopened.collection("c")).versions
        #expect(versions.filter { $0.key < 30 } == expected(batches: 3))
        try reopened.close()
    }

    @Test func tornWALTailIsCutAndTheBatchIsAllOrNothing() throws {
        let dir = DurabilityTemporaryDirectory("osprey-torn-wal")
        try abandon(writeThreeBatches(dir.path))
        let wal = dir.files(in: "wal").last!
        let size = try FileManager.default.attributesOfItem(atPath: wal)[.size] as! Int
        try FaultInjectingFileSystem().chop(wal, to: size - 17)
        let db = try Database.open(at: dir.path)
        let (versions, bad) = try DurabilityFixture.contents(db.collection("c"))
        #expect(versions == expected(batches: 2), "cutting the tail drops the whole last batch and nothing else")
        #expect(bad.isEmpty)
        #expect(db.storage!.recovery.wal?.truncatedFile != nil)
        // Writing the batch again after recovery works and survives another reopen.
        try db.collection("c").insert((20..<30).map { DurabilityFixture.row($0, version: 3) })
        try db.close()
        let again = try Database.open(at: dir.path)
        #expect(try DurabilityFixture.contents(again.collection("c")).versions == expected(batches: 3))
        try again.close()
    }

    @Test func bitFlipInTheMiddleOfTheWALIsAClearError() throws {
        let dir = DurabilityTemporaryDirectory("osprey-flip-wal")
        try abandon(writeThreeBatches(dir.path))
        let wal = dir.files(in: "wal").first!
        // Inside the payload of the first record; valid records follow it.
        try FaultInjectingFileSystem().flipBit(wal, offset: LogFileHeader.size + LogRecord.headerSize + 3, bit: 2)
        let message = storageMessage { _ = try Database.open(at: dir.path) }
        #expect(message?.contains("corruption") == true)
        #expect(message?.contains(wal) == true, "the message names \(wal): \(message ?? "")")
        // The failed open released the directory: the error is repeatable, not a lock error.
        #expect(storageMessage { _ = try Database.open(at: dir.path) }?.contains("corruption") == true)
    }

    @Test func bitFlipInTheLastWALRecordIsATornTail() throws {
        let dir = DurabilityTemporaryDirectory("osprey-flip-tail")
        try abandon(writeThreeBatches(dir.path))
        let wal = dir.files(in: "wal").last!
        let size = try FileManager.default.attributesOfItem(atPath: wal)[.size] as! Int
        try FaultInjectingFileSystem().flipBit(wal, offset: size - 5)
        let db = try Database.open(at: dir.path)
        #expect(try DurabilityFixture.contents(db.collection("c")).versions == expected(batches: 2))
        try db.close()
    }

    @Test func bitFlipInTheManifestIsAClearError() throws {
        let dir = DurabilityTemporaryDirectory("osprey-flip-manifest")
        try abandon(writeThreeBatches(dir.path))
        let manifest = dir.files(in: "").first { $0.contains("MANIFEST-") }!
        // Inside the snapshot record; the collection's edit follows it.
        try FaultInjectingFileSystem().flipBit(manifest, offset: LogFileHeader.size + LogRecord.headerSize + 2)
        let message = storageMessage { _ = try Database.open(at: dir.path) }
        #expect(message?.contains("corruption") == true)
        #expect(message?.contains("MANIFEST-000001") == true, "the message names the manifest: \(message ?? "")")
    }

    @Test func tornManifestTailLosesOnlyTheUnfinishedEdit() throws {
        let dir = DurabilityTemporaryDirectory("osprey-torn-manifest")
        do {
            let db = try writeThreeBatches(dir.path)
            try db.createDatabase("late")
            try abandon(db)
        }
        let manifest = dir.files(in: "").first { $0.contains("MANIFEST-") }!
        let size = try FileManager.default.attributesOfItem(atPath: manifest)[.size] as! Int
        try FaultInjectingFileSystem().chop(manifest, to: size - 3)
        let db = try Database.open(at: dir.path)
        #expect(db.listDatabases() == ["default"])
        #expect(try DurabilityFixture.contents(db.collection("c")).versions == expected(batches: 3))
        #expect(db.storage!.recovery.manifestDiscardedBytes > 0)
        try db.close()
    }

    @Test func missingCurrentTargetIsAClearError() throws {
        let dir = DurabilityTemporaryDirectory("osprey-current")
        try abandon(writeThreeBatches(dir.path))
        let manifest = dir.files(in: "").first { $0.contains("MANIFEST-") }!
        try FileManager.default.removeItem(atPath: manifest)
        let message = storageMessage { _ = try Database.open(at: dir.path) }
        #expect(message?.contains("CURRENT") == true)
    }
}
