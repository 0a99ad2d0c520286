import Foundation
import Testing
import OspreyCore
@testable import OspreyStorage

@Suite struct WriteAheadLogTests {
    @Test func appendReplayRoundTripAcrossReopen() async throws {
        let dir = TemporaryDirectory()
        let walDir = dir.join("wal")
        let sizes = [0, 1, 19, 20, 21, 1000, 70_000]
        do {
            let wal = try WriteAheadLog.open(directory: walDir)
            #expect(wal.lastLSN == .zero)
            for (i, size) in sizes.enumerated() {
                let lsn = try await wal.append(testPayload(i, size: size))
                #expect(lsn == LSN(UInt64(i + 1)))
                #expect(wal.durableLSN >= lsn, "default policy: durable before the append returns")
            }
            try wal.close()
            await #expect(throws: StorageError.self) { try await wal.append([1]) }
        }
        let wal = try WriteAheadLog.open(directory: walDir)
        #expect(wal.recovery.lastLSN == LSN(UInt64(sizes.count)))
        #expect(wal.recovery.truncatedFile == nil)
        let records = try replayAll(wal)
        #expect(records.map(\.0.rawValue) == Array(1...UInt64(sizes.count)))
        for (i, size) in sizes.enumerated() { #expect(records[i].1 == testPayload(i, size: size)) }
        // Replay from the middle, then keep appending after reopen.
        #expect(try replayAll(wal, from: LSN(5)).map(\.0.rawValue) == [5, 6, 7])
        #expect(try await wal.append([9]) == LSN(8))
        try wal.close()
    }

    @Test func groupCommitBatchesConcurrentAppenders() async throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
        fs.setSyncDelay(microseconds: 2000)
        let syncsBefore = fs.syncCount
        let appenders = 8, perAppender = 40
        // Real threads, so that eight appenders really wait at once.
        let lsns = ThreadSafeBox<[LSN]>([])
        runOnThreads(appenders) { a in
            for i in 0..<perAppender {
                let lsn = try! wal.appendBlocking(testPayload(a * 1000 + i, size: 100))
                lsns.mutate { $0.append(lsn) }
            }
        }
        let total = appenders * perAppender
        let syncs = fs.syncCount - syncsBefore
        #expect(Set(lsns.value).count == total, "every append got its own LSN")
        #expect(syncs < total / 2, "\(syncs) fsyncs for \(total) appends: appends were not batched")
        #expect(wal.durableLSN == LSN(UInt64(total)))
        // Each appender's records replay in its own order, with the right payloads.
        let records = try replayAll(wal)
        #expect(records.count == total)
        var lastIndex = [Int: Int]()
        for (_, payload) in records {
            let id = Int(payload.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            #expect(payload == testPayload(id, size: 100))
            #expect((lastIndex[id / 1000] ?? -1) < id % 1000)
            lastIndex[id / 1000] = id % 1000
        }
        try wal.close()
    }

    @Test func asyncAppendersAlsoShareSyncs() async throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
        fs.setSyncDelay(microseconds: 1000)
        let before = fs.syncCount
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<64 { group.addTask { _ = try await wal.append(testPayload(t, size: 64)) } }
            try await group.waitForAll()
        }
        #expect(fs.syncCount - before < 32)
        #expect(try replayAll(wal).count == 64)
        try wal.close()
    }

    @Test func rollsBySizeAndRemovesFilesBeforeCheckpoint() async throws {
        let dir = TemporaryDirectory()
        let walDir = dir.join("wal")
        var options = WALOptions()
        options.maxFileSize = 4096
        let wal = try WriteAheadLog.open(directory: walDir, options: options)
        for i in 0..<100 { _ = try await wal.append(testPayload(i, size: 500)) }
        let files = wal.files
        #expect(files.count > 10)
        #expect(files.first?.firstLSN == LSN(1))
        #expect(files.map(\.firstLSN) == files.map(\.firstLSN).sorted())
        #expect(try replayAll(wal).count == 100)

        // Checkpoint at 50: only files wholly at or below 50 go.
        let removed = try wal.removeFiles(through: LSN(50))
        #expect(!removed.isEmpty)
        let oldest = wal.files.first!.firstLSN
        #expect(oldest <= LSN(51))
        #expect(try replayAll(wal, from: LSN(51)).map(\.0.rawValue) == Array(51...100))
        #expect(throws: StorageError.self) { try replayAll(wal, from: LSN(1)) }
        // The active file is never removed.
        _ = try wal.removeFiles(through: LSN(1000))
        #expect(wal.files.count == 1)
        try wal.close()

        let reopened = try WriteAheadLog.open(directory: walDir, options: options)
        #expect(reopened.lastLSN == LSN(100))
        #expect(try await reopened.append([1, 2, 3]) == LSN(101))
        try reopened.close()
    }

    @Test func oversizedRecordIsACallerError() async throws {
        let dir = TemporaryDirectory()
        var options = WALOptions()
        options.maxRecordSize = 100
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), options: options)
        await #expect(throws: StorageError.invalidArgument("WAL record of 101 bytes exceeds maxRecordSize 100")) {
            try await wal.append([UInt8](repeating: 1, count: 101))
        }
        #expect(try await wal.append([UInt8](repeating: 1, count: 100)) == LSN(1))
        try wal.close()
    }

    @Test(arguments: [WALDurability.syncEachCommit, .syncInterval(milliseconds: 5), .noSync])
    func everyPolicyReplaysAfterCleanClose(durability: WALDurability) async throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs, options: WALOptions(durability: durability))
        let syncsBefore = fs.syncCount
        for i in 0..<50 { _ = try await wal.append(testPayload(i, size: 200)) }
        let syncs = fs.syncCount - syncsBefore
        switch durability {
        case .syncEachCommit: #expect(syncs == 50)
        case .syncInterval: #expect(syncs < 50)
        case .noSync: #expect(syncs == 0)
        }
        try await wal.sync()
        #expect(wal.durableLSN == LSN(50))
        try wal.close()
        let reopened = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
        #expect(try replayAll(reopened).count == 50)
        try reopened.close()
    }

    @Test func intervalPolicySyncsInTheBackground() async throws {
        let dir = TemporaryDirectory()
        let wal = try WriteAheadLog.open(
            directory: dir.join("wal"), options: WALOptions(durability: .syncInterval(milliseconds: 10)))
        let lsn = try await wal.append([1, 2, 3])
        var waited = 0
        while wal.durableLSN < lsn && waited < 2000 {
            try await Task.sleep(for: .milliseconds(5))
            waited += 5
        }
        #expect(wal.durableLSN == lsn, "the writer thread synced within the interval")
        try wal.close()
    }
}

extension WriteAheadLogTests {
    @Test func closeRacingWithAppendersNeitherHangsNorLosesAcknowledgedRecords() throws {
        let dir = TemporaryDirectory()
        let wal = try WriteAheadLog.open(directory: dir.join("wal"))
        let acknowledged = ThreadSafeBox<[LSN]>([])
        let refused = ThreadSafeBox(0)
        let started = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for a in 0..<4 {
            group.enter()
            Thread {
                started.signal()
                for i in 0..<10_000 {
                    do {
                        let lsn = try wal.appendBlocking(testPayload(a * 100_000 + i, size: 50))
                        acknowledged.mutate { $0.append(lsn) }
                    } catch {
                        refused.mutate { $0 += 1 }
                        break
                    }
                }
                group.leave()
            }.start()
        }
        for _ in 0..<4 { started.wait() }
        usleep(20_000)
        try wal.close()
        group.wait()
        #expect(refused.value > 0, "appenders still running were refused after close")
        let reopened = try WriteAheadLog.open(directory: dir.join("wal"))
        let replayed = Set(try replayAll(reopened).map(\.0))
        #expect(Set(acknowledged.value).isSubset(of: replayed))
        #expect(replayed.count == acknowledged.value.count, "nothing unacknowledged was written")
        try reopened.close()
    }

    @Test func submitAssignsLSNsAtOnceAndWaitsForDurability() async throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
        fs.setSyncDelay(microseconds: 20_000)
        let commits = try (0..<10).map { try wal.submit(testPayload($0, size: 30)) }
        #expect(commits.map(\.lsn) == (1...10).map { LSN(UInt64($0)) }, "LSNs in submission order, at once")
        #expect(!commits[9].isDone, "not durable yet: the sync takes 20 ms")
        for (i, commit) in commits.enumerated() {
            #expect(try await commit.wait() == LSN(UInt64(i + 1)))
            #expect(commit.isDone)
        }
        #expect(try commits[3].waitBlocking() == LSN(4), "waiting again returns the stored result")
        #expect(wal.durableLSN == LSN(10))
        fs.failNextSync()
        let failing = try wal.submit([1])
        await #expect(throws: StorageError.self) { try await failing.wait() }
        #expect(throws: StorageError.self) { try wal.submit([2]) }
        try? wal.close()
    }

    @Test func readOnlyReplayRepairsNothing() async throws {
        let dir = TemporaryDirectory()
        let wal = try WriteAheadLog.open(directory: dir.join("wal"))
        for i in 0..<5 { _ = try await wal.append(testPayload(i, size: 10)) }
        let path = wal.files[0].path
        try wal.close()
        let f = try PosixFileSystem().openForAppend(path)
        try f.append([1, 2, 3])
        try f.close()
        var seen: [LSN] = []
        let stats = try WriteAheadLog.readOnlyReplay(directory: dir.join("wal"), from: LSN(2)) { lsn, _ in seen.append(lsn) }
        #expect(seen == [2, 3, 4, 5].map { LSN($0) })
        #expect(stats.records == 4 && stats.lastLSN == LSN(5))
        #expect(try PosixFileSystem().fileSize(path) == LogFileHeader.size + 5 * (LogRecord.headerSize + 10) + 3)
    }

    @Test func scanReportsWhyItStopped() {
        var log: [UInt8] = []
        for seq in [UInt64(7), 8, 10] {
            [UInt8](repeating: UInt8(seq), count: 5).withUnsafeBytes {
                LogRecord.append(to: &log, sequence: seq, synced: seq - 1, kind: 1, payload: $0)
            }
        }
        log.withUnsafeBytes { raw in
            var payloads: [[UInt8]] = []
            let result = LogRecord.scan(raw, from: 0, firstSequence: 7, maxPayload: 100) { _, _, p in payloads.append(Array(p)) }
            #expect(payloads == [[7, 7, 7, 7, 7], [8, 8, 8, 8, 8]])
            #expect(result.lastSequence == 8 && result.validEnd == 2 * (LogRecord.headerSize + 5))
            #expect(result.damage == LogRecord.Damage(
                offset: 2 * (LogRecord.headerSize + 5), reason: "record sequence 10 where 9 was expected", laterValidRecord: nil))
        }
    }
}

/// A value shared between threads under a lock, for tests.
final class ThreadSafeBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.withLock { stored } }
    func mutate(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}

/// Runs `body(0..<count)` on `count` dedicated threads and waits for all of them (unlike
/// `concurrentPerform`, which uses only as many threads as there are cores).
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}
