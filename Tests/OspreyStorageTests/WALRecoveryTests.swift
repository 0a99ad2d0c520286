import Foundation
import Testing
import OspreyCore
@testable import OspreyStorage

/// Crashes, torn tails and corruption in the write-ahead log.
@Suite struct WALRecoveryTests {
    static let recordSize = 300
    /// Bytes one record takes in a file.
    static let framed = LogRecord.headerSize + recordSize

    /// Writes `count` records with the default policy and closes the log; returns its file.
    func writeLog(_ dir: TemporaryDirectory, count: Int) async throws -> String {
        let wal = try WriteAheadLog.open(directory: dir.join("wal"))
        for i in 0..<count { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
        let path = wal.files.last!.path
        try wal.close()
        return path
    }

    func expectPrefix(_ records: [(LSN, [UInt8])], count: Int) {
        #expect(records.count == count)
        for (i, record) in records.enumerated() {
            #expect(record.0 == LSN(UInt64(i + 1)))
            #expect(record.1 == testPayload(i, size: Self.recordSize))
        }
    }

    @Test func tornTailIsCutAtEveryCutPoint() async throws {
        let dir = TemporaryDirectory()
        let path = try await writeLog(dir, count: 5)
        let full = try PosixFileSystem().readFile(path)
        let fs = FaultInjectingFileSystem()
        let lastStart = LogFileHeader.size + 4 * Self.framed
        // Every cut inside the last record's header, a few inside its payload.
        for cut in Array(lastStart..<(lastStart + LogRecord.headerSize + 4)) + [lastStart + 100, full.count - 1] {
            let f = try fs.createFile(path)
            try f.append(Array(full[..<cut]))
            try f.close()
            let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
            if cut == lastStart {
                #expect(wal.recovery.truncatedFile == nil, "a cut on a record boundary is a clean end")
            } else {
                #expect(wal.recovery.truncatedFile == path)
                #expect(wal.recovery.truncatedAtOffset == lastStart)
                #expect(wal.recovery.discardedBytes == cut - lastStart)
            }
            #expect(wal.lastLSN == LSN(4))
            expectPrefix(try replayAll(wal), count: 4)
            // The log continues after the cut with the next LSN.
            #expect(try wal.appendBlocking(testPayload(4, size: Self.recordSize)) == LSN(5))
            try wal.close()
            #expect(try fs.readFile(path) == full, "re-appending rebuilds the same bytes")
        }
    }

    @Test func zeroFilledTailIsCut() async throws {
        let dir = TemporaryDirectory()
        let path = try await writeLog(dir, count: 3)
        let f = try PosixFileSystem().openForAppend(path)
        try f.append([UInt8](repeating: 0, count: 4096))
        try f.close()
        let wal = try WriteAheadLog.open(directory: dir.join("wal"))
        #expect(wal.recovery.discardedBytes == 4096)
        expectPrefix(try replayAll(wal), count: 3)
        try wal.close()
    }

    @Test func bitFlipInTheMiddleIsReportedNotDropped() async throws {
        let dir = TemporaryDirectory()
        let path = try await writeLog(dir, count: 10)
        let fs = FaultInjectingFileSystem()
        let damaged = LogFileHeader.size + 3 * Self.framed
        try fs.flipBit(path, offset: damaged + LogRecord.headerSize + 7, bit: 3)
        do {
            _ = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
            Issue.record("opening a log with a damaged middle must fail")
        } catch let error as StorageError {
            #expect(error.isCorruption)
            #expect(error.corruptionOffset == damaged)
            let text = error.description
            #expect(text.contains(path) && text.contains("checksum mismatch") && text.contains("not a torn write"))
        }
        #expect(try fs.fileSize(path) == LogFileHeader.size + 10 * Self.framed, "nothing was cut")
    }

    /// Records 1–40 synced, 41–80 written without a sync (as a power cut could leave them:
    /// later pages on disk, an earlier one not), then `extra` more after a sync.
    func writeWithUnsyncedMiddle(_ dir: TemporaryDirectory, extra: Int) async throws -> String {
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), options: WALOptions(durability: .noSync))
        for i in 0..<40 { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
        try await wal.sync()
        for i in 40..<80 { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
        if extra > 0 {
            try await wal.sync()
            for i in 80..<(80 + extra) { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
        }
        let path = wal.files[0].path
        try wal.close()
        return path
    }

    @Test func damageOnlyFollowedByUnsyncedRecordsIsATornWrite() async throws {
        let dir = TemporaryDirectory()
        let path = try await writeWithUnsyncedMiddle(dir, extra: 0)
        let record45 = LogFileHeader.size + 44 * Self.framed
        try FaultInjectingFileSystem().flipBit(path, offset: record45 + LogRecord.headerSize + 9)
        // Records 46–80 are valid but say that only 1–40 were durable when they were
        // written: nothing proves record 45 was ever on disk, so the tail is cut there.
        let wal = try WriteAheadLog.open(directory: dir.join("wal"))
        #expect(wal.recovery.truncatedAtOffset == record45)
        #expect(wal.recovery.discardedBytes == 36 * Self.framed)
        expectPrefix(try replayAll(wal), count: 44)
        try wal.close()
    }

    @Test func damageFollowedByAProofOfDurabilityIsReported() async throws {
        let dir = TemporaryDirectory()
        let path = try await writeWithUnsyncedMiddle(dir, extra: 5)
        let record45 = LogFileHeader.size + 44 * Self.framed
        try FaultInjectingFileSystem().flipBit(path, offset: record45 + LogRecord.headerSize + 9)
        // Record 81 was written after 1–80 were synced, so record 45 had been durable.
        do {
            _ = try WriteAheadLog.open(directory: dir.join("wal"))
            Issue.record("damage in synced records must be reported")
        } catch let error as StorageError {
            #expect(error.corruptionOffset == record45)
            #expect(error.description.contains("offset \(LogFileHeader.size + 80 * Self.framed)"))
        }
    }

    @Test func bitFlipInTheLastRecordIsCutLikeATornWrite() async throws {
        let dir = TemporaryDirectory()
        let path = try await writeLog(dir, count: 4)
        try FaultInjectingFileSystem().flipBit(path, offset: LogFileHeader.size + 3 * Self.framed + 50)
        let wal = try WriteAheadLog.open(directory: dir.join("wal"))
        #expect(wal.recovery.truncationReason == "record checksum mismatch")
        expectPrefix(try replayAll(wal), count: 3)
        try wal.close()
    }

    @Test func damageInAnOlderFileFailsReplay() async throws {
        let dir = TemporaryDirectory()
        var options = WALOptions()
        options.maxFileSize = 2000
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), options: options)
        for i in 0..<30 { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
        let first = wal.files[0].path
        try wal.close()
        // Damage the last record of the first file: a tail there is still damage, because
        // the file was synced before the next one was started.
        let size = try PosixFileSystem().fileSize(first)
        try FaultInjectingFileSystem().flipBit(first, offset: size - 10)
        let reopened = try WriteAheadLog.open(directory: dir.join("wal"), options: options)
        #expect {
            _ = try replayAll(reopened)
        } throws: { error in
            (error as? StorageError)?.isCorruption == true && "\(error)".contains(first)
        }
        try reopened.close()
    }

    @Test func acknowledgedRecordsSurviveACrashAndUnsyncedOnesDoNot() async throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        do {
            let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
            for i in 0..<20 { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
            try fs.simulateCrash()
            // The crash cut the process off: further appends fail.
            await #expect(throws: StorageError.self) { try await wal.append([1]) }
            try? wal.close()
        }
        do {
            let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
            expectPrefix(try replayAll(wal), count: 20)
            try wal.close()
        }
        // With no fsync per append, only what was synced survives.
        let relaxed = WALOptions(durability: .noSync)
        do {
            let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs, options: relaxed)
            for i in 20..<30 { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
            try await wal.sync()
            for i in 30..<45 { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
            try fs.simulateCrash(.dropUnsynced)
            try? wal.close()
        }
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
        #expect(wal.recovery.truncatedFile == nil, "dropped data leaves a clean end")
        expectPrefix(try replayAll(wal), count: 30)
        try wal.close()
    }

    @Test(arguments: 0..<12)
    func tornWritesNeverLoseSyncedRecordsOrSurfaceGarbage(seed: Int) async throws {
        try await crashAndRecover(.tornWrites(seed: UInt64(seed)))
    }

    @Test(arguments: 0..<12)
    func lostUnsyncedPagesNeverLoseSyncedRecordsOrSurfaceGarbage(seed: Int) async throws {
        // One file, so that the lost page can lie before other unsynced records.
        try await crashAndRecover(.lostPage(seed: UInt64(seed)), maxFileSize: 1 << 20)
    }

    func crashAndRecover(_ mode: FaultInjectingFileSystem.CrashMode, maxFileSize: Int = 8 << 10) async throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        var options = WALOptions(durability: .noSync)
        options.maxFileSize = maxFileSize
        do {
            let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs, options: options)
            for i in 0..<40 { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
            try await wal.sync()
            for i in 40..<80 { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
            try fs.simulateCrash(mode)
            try? wal.close()
        }
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs, options: options)
        let records = try replayAll(wal)
        #expect(records.count >= 40 && records.count <= 80, "\(mode): \(records.count) records")
        expectPrefix(records, count: records.count)
        #expect(try wal.appendBlocking([7]) == LSN(UInt64(records.count + 1)))
        try wal.close()
    }

    @Test func failedWriteFailsTheLogAndReopeningCutsThePartialRecord() async throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
        for i in 0..<3 { _ = try await wal.append(testPayload(i, size: Self.recordSize)) }
        fs.failNextWrite(afterBytes: 100)
        await #expect(throws: StorageError.self) { try await wal.append(testPayload(3, size: Self.recordSize)) }
        // Later appends are refused rather than written after a partial record.
        do {
            _ = try await wal.append([1])
            Issue.record("append after a failed write must throw")
        } catch let error as StorageError {
            #expect(error.fault == .environment)
            #expect(error.description.contains("must be reopened"))
        }
        #expect(throws: StorageError.self) { try wal.close() }

        let reopened = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
        #expect(reopened.recovery.discardedBytes == 100)
        expectPrefix(try replayAll(reopened), count: 3)
        try reopened.close()
    }

    @Test func failedSyncIsReportedToTheAppender() async throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
        _ = try await wal.append([1])
        fs.failNextSync()
        await #expect(throws: StorageError.self) { try await wal.append([2]) }
        #expect(wal.durableLSN == LSN(1))
        try? wal.close()
    }

    @Test func crashWhileCreatingAFileRemovesIt() async throws {
        let dir = TemporaryDirectory()
        _ = try await writeLog(dir, count: 2)
        // A new file whose header never made it to disk.
        let stray = dir.join("wal/" + FileNames.walFile(firstLSN: 3))
        let f = try PosixFileSystem().createFile(stray)
        try f.append([0x4F, 0x53])
        try f.close()
        var wal = try WriteAheadLog.open(directory: dir.join("wal"))
        #expect(wal.recovery.removedIncompleteFile == stray)
        try wal.close()
        // A header-sized file of zeros: the size reached the disk, the header did not.
        let zeros = try PosixFileSystem().createFile(stray)
        try zeros.append([UInt8](repeating: 0, count: LogFileHeader.size))
        try zeros.close()
        wal = try WriteAheadLog.open(directory: dir.join("wal"))
        #expect(wal.recovery.removedIncompleteFile == stray)
        #expect(wal.lastLSN == LSN(2))
        #expect(try await wal.append(testPayload(2, size: Self.recordSize)) == LSN(3))
        expectPrefix(try replayAll(wal), count: 3)
        try wal.close()
    }

    @Test func foreignOrDamagedHeaderIsAClearError() async throws {
        let dir = TemporaryDirectory()
        let path = try await writeLog(dir, count: 2)
        let fs = FaultInjectingFileSystem()
        try fs.overwrite(path, offset: 0, with: Array("NOTAWAL!".utf8))
        #expect(throws: StorageError.self) { try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs) }
        try fs.overwrite(path, offset: 0, with: LogFileHeader.walMagic)
        try fs.flipBit(path, offset: 20)
        #expect(throws: StorageError.corruption(path: path, offset: 0, reason: "file header checksum mismatch")) {
            try WriteAheadLog.open(directory: dir.join("wal"), fileSystem: fs)
        }
    }
}
