#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import OspreyCore

/// The state and writer thread behind `WriteAheadLog`.
///
/// Thread safety: fields marked "guarded" are read and written with `lock` held; fields
/// marked "writer" belong to the writer thread (and to `init`/`close` when it is not running).
final class WALCore: @unchecked Sendable {
    typealias Completion = @Sendable (Result<LSN, StorageError>) -> Void

    static let dataKind: UInt8 = 1

    let directory: String
    let fs: any FileSystem
    let options: WALOptions
    private(set) var recovery: WALRecoveryReport

    let lock = ConditionLock()
    // guarded
    private var pending: [UInt8] = []
    private var spare: [UInt8] = []
    private var pendingWaiters: [(lsn: UInt64, completion: Completion)] = []
    private var syncWaiters: [Completion] = []
    private var nextLSN: UInt64
    private var writtenLSN: UInt64
    private var durableLSN: UInt64
    private var failure: StorageError?
    private var closing = false
    private var closed = false
    var files: [(firstLSN: UInt64, path: String)]
    private var thread: pthread_t?
    // writer
    private var active: (any WritableFile)?
    private var activeHasRecords: Bool
    private var lastSyncNanos: UInt64 = ConditionLock.now()

    init(directory: String, fs: any FileSystem, options: WALOptions) throws {
        self.directory = directory
        self.fs = fs
        self.options = options
        try fs.createDirectory(directory)
        var report = WALRecoveryReport(lastLSN: .zero, fileCount: 0)
        var found = try Self.listFiles(directory, fs: fs)

        // A crash while a new file was being created can leave it without a complete,
        // valid header (short, or zeros where the header never reached the disk); nothing
        // was ever appended to it, so it is removed.
        if let last = found.last, try WALCore.isIncompleteNewFile(last.path, fs: fs) {
            try fs.remove(last.path)
            try fs.syncDirectory(directory)
            report.removedIncompleteFile = last.path
            found.removeLast()
        }

        var next: UInt64
        var hasRecords = false
        if let last = found.last {
            let mapped = try fs.map(last.path, access: .sequential)
            // The buffer below points into the mapping: keep it mapped to the end of the scope.
            defer { withExtendedLifetime(mapped) {} }
            let header = try LogFileHeader.decode(mapped.bytes, magic: LogFileHeader.walMagic, path: last.path)
            guard header.base == last.firstLSN else {
                throw StorageError.corruption(
                    path: last.path, offset: 16,
                    reason: "header says the first LSN is \(header.base) but the file name says \(last.firstLSN)")
            }
            let scan = LogRecord.scan(
                mapped.bytes, from: LogFileHeader.size, firstSequence: header.base,
                maxPayload: options.maxRecordSize) { _, _, _ in }
            if let damage = scan.damage {
                if let later = damage.laterValidRecord {
                    throw StorageError.corruption(
                        path: last.path, offset: damage.offset,
                        reason: "\(damage.reason); the valid record at offset \(later) was written after this "
                            + "one had been synced, so this is damage to durable data, not a torn write; "
                            + "refusing to discard it")
                }
                report.truncatedFile = last.path
                report.truncatedAtOffset = scan.validEnd
                report.truncationReason = damage.reason
                report.discardedBytes = mapped.bytes.count - scan.validEnd
                try fs.truncate(last.path, to: scan.validEnd)
            }
            next = (scan.lastSequence ?? (header.base - 1)) + 1
            hasRecords = scan.recordCount > 0
            active = try fs.openForAppend(last.path)
        } else {
            next = report.removedIncompleteFile.flatMap { FileNames.walFileLSN(FilePath.name($0)) } ?? 1
            let path = FilePath.join(directory, FileNames.walFile(firstLSN: next))
            active = try WALCore.createLogFile(path, firstLSN: next, fs: fs, directory: directory)
            found = [(next, path)]
        }
        report.lastLSN = LSN(next - 1)
        report.fileCount = found.count
        recovery = report
        files = found
        nextLSN = next
        writtenLSN = next - 1
        durableLSN = next - 1
        activeHasRecords = hasRecords
        try startWriter()
    }

    static func isIncompleteNewFile(_ path: String, fs: any FileSystem) throws -> Bool {
        let size = try fs.fileSize(path)
        if size < LogFileHeader.size { return true }
        if size > LogFileHeader.size { return false }
        let bytes = try fs.readFile(path)
        let valid = bytes.withUnsafeBytes {
            (try? LogFileHeader.decode($0, magic: LogFileHeader.walMagic, path: path)) != nil
        }
        return !valid
    }

    static func createLogFile(_ path: String, firstLSN: UInt64, fs: any FileSystem, directory: String) throws
        -> any WritableFile
    {
        let file = try fs.createFile(path)
        try file.append(LogFileHeader(magic: LogFileHeader.walMagic, base: firstLSN).encoded())
        try file.sync()
        try fs.syncDirectory(directory)
        return file
    }

    // MARK: - Accessors

    var lastAssignedLSN: LSN { lock.withLock { LSN(nextLSN - 1) } }
    var durableLSNValue: LSN { lock.withLock { LSN(durableLSN) } }
    var fileList: [(firstLSN: UInt64, path: String)] { lock.withLock { files } }

    // MARK: - Appending

    /// Queues a record for the writer thread and returns its LSN; `completion` runs later,
    /// on that thread, once the record is as durable as the policy promises. On an
    /// immediate failure (log failed or closed, payload too large) it returns the error and
    /// never calls `completion`.
    func enqueue(_ payload: UnsafeRawBufferPointer, completion: @escaping Completion) -> Result<LSN, StorageError> {
        lock.lock()
        defer { lock.unlock() }
        if let failure { return .failure(Self.refusal(failure, directory)) }
        if closing { return .failure(.closed(path: directory, reason: "the write-ahead log is closed")) }
        if payload.count > options.maxRecordSize {
            return .failure(.invalidArgument(
                "WAL record of \(payload.count) bytes exceeds maxRecordSize \(options.maxRecordSize)"))
        }
        let lsn = nextLSN
        nextLSN += 1
        LogRecord.appendUnsealed(to: &pending, sequence: lsn, kind: Self.dataKind, payload: payload)
        pendingWaiters.append((lsn, completion))
        lock.signal()
        return .success(LSN(lsn))
    }

    func requestSync(_ completion: @escaping Completion) {
        lock.lock()
        if let failure {
            lock.unlock()
            return completion(.failure(Self.refusal(failure, directory)))
        }
        if closing {
            // The writer thread may be gone: nobody would complete the request.
            lock.unlock()
            return completion(.failure(.closed(path: directory, reason: "the write-ahead log is closed")))
        }
        syncWaiters.append(completion)
        lock.signal()
        lock.unlock()
    }

    private static func refusal(_ failure: StorageError, _ directory: String) -> StorageError {
        if case .closed = failure { return failure }
        return .closed(path: directory, reason: "the write-ahead log failed earlier and must be reopened: \(failure)")
    }

    // MARK: - Writer thread

    private func startWriter() throws {
        let retained = Unmanaged.passRetained(self)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let core = Unmanaged<WALCore>.fromOpaque(arg!).takeRetainedValue()
            core.writerLoop()
            return nil
        }, retained.toOpaque())
        guard rc == 0 else {
            retained.release()
            throw StorageError.io(operation: "pthread_create (WAL writer)", path: directory, errno: rc)
        }
        thread = t
    }

    private var syncIntervalNanos: UInt64? {
        if case let .syncInterval(ms) = options.durability { return UInt64(ms) * 1_000_000 }
        return nil
    }

    private func writerLoop() {
        lock.lock()
        while true {
            if pending.isEmpty && syncWaiters.isEmpty {
                if closing { break }
                if let interval = syncIntervalNanos, writtenLSN > durableLSN, failure == nil {
                    let deadline = lastSyncNanos + interval
                    if ConditionLock.now() < deadline {
                        lock.wait(untilNanoseconds: deadline)
                        continue
                    }
                } else {
                    lock.wait()
                    continue
                }
            }
            // Take everything queued as one batch.
            var batch = pending
            pending = spare
            spare = []
            let waiters = pendingWaiters
            pendingWaiters = []
            let syncers = syncWaiters
            syncWaiters = []
            let firstLSN = waiters.first?.lsn
            let lastLSN = waiters.last?.lsn
            let alreadyWritten = writtenLSN
            let alreadyDurable = durableLSN
            let earlierFailure = failure
            lock.unlock()

            var result: Result<Void, StorageError> = .success(())
            var newDurable = alreadyDurable
            if let earlierFailure {
                result = .failure(Self.refusal(earlierFailure, directory))
            } else {
                do {
                    if let firstLSN, !batch.isEmpty {
                        if activeHasRecords, let active, active.size >= options.maxFileSize {
                            try roll(firstLSN: firstLSN)
                            newDurable = firstLSN - 1
                        }
                        // Each record says what was durable when it was written (docs/storage.md §3).
                        batch.withUnsafeMutableBytes { LogRecord.seal($0, synced: newDurable) }
                        try active!.append(batch)
                        activeHasRecords = true
                    }
                    let written = lastLSN ?? alreadyWritten
                    let now = ConditionLock.now()
                    let due: Bool
                    switch options.durability {
                    case .syncEachCommit: due = true
                    case .syncInterval: due = now >= lastSyncNanos + (syncIntervalNanos ?? 0)
                    case .noSync: due = false
                    }
                    if written > newDurable && (due || !syncers.isEmpty) {
                        try active!.sync()
                        lastSyncNanos = now
                        newDurable = written
                    }
                } catch let error as StorageError {
                    result = .failure(error)
                } catch {
                    result = .failure(.io(operation: "\(error)", path: directory, errno: EIO))
                }
            }

            lock.lock()
            switch result {
            case .success:
                if let lastLSN { writtenLSN = lastLSN }
                durableLSN = max(durableLSN, newDurable)
            case let .failure(error):
                if failure == nil { failure = error }
            }
            let durableNow = durableLSN
            batch.removeAll(keepingCapacity: true)
            spare = batch
            lock.unlock()

            for waiter in waiters { waiter.completion(result.map { LSN(waiter.lsn) }) }
            for syncer in syncers { syncer(result.map { LSN(durableNow) }) }
            lock.lock()
        }
        lock.unlock()
    }

    /// Syncs and closes the current file and starts `<firstLSN>.log` (writer thread).
    private func roll(firstLSN: UInt64) throws {
        try active!.sync()
        try active!.close()
        let path = FilePath.join(directory, FileNames.walFile(firstLSN: firstLSN))
        active = try WALCore.createLogFile(path, firstLSN: firstLSN, fs: fs, directory: directory)
        activeHasRecords = false
        lock.withLock { files.append((firstLSN, path)) }
    }

    // MARK: - Closing

    func close() throws {
        let t: pthread_t? = lock.withLock {
            if closed { return nil }
            closed = true
            closing = true
            lock.signal()
            return thread
        }
        guard let t else { return }
        if pthread_equal(t, pthread_self()) != 0 {
            // Released from a completion on the writer thread itself: it exits on its own.
            pthread_detach(t)
            return
        }
        pthread_join(t, nil)
        // The writer has drained the queue and exited; the file is ours now.
        let (failed, unsynced) = lock.withLock { (failure, writtenLSN > durableLSN) }
        defer { try? active?.close(); active = nil }
        if let failed { throw failed }
        if unsynced {
            try active?.sync()
            lock.withLock { durableLSN = writtenLSN }
        }
        try active?.close()
    }
}

// MARK: - Replay and truncation

extension WALCore {
    func replay(
        from: UInt64, _ body: (LSN, UnsafeRawBufferPointer) throws -> Void
    ) throws -> WALReplayStatistics {
        try Self.replay(files: fileList, fs: fs, maxRecordSize: options.maxRecordSize, from: from, body)
    }

    /// The WAL files in `directory`, oldest first.
    static func listFiles(_ directory: String, fs: any FileSystem) throws -> [(firstLSN: UInt64, path: String)] {
        try fs.list(directory).compactMap { name in
            FileNames.walFileLSN(name).map { (firstLSN: $0, path: FilePath.join(directory, name)) }
        }.sorted { $0.firstLSN < $1.firstLSN }
    }

    static func replay(
        files snapshot: [(firstLSN: UInt64, path: String)], fs: any FileSystem, maxRecordSize: Int, from: UInt64,
        _ body: (LSN, UnsafeRawBufferPointer) throws -> Void
    ) throws -> WALReplayStatistics {
        var stats = WALReplayStatistics()
        guard let oldest = snapshot.first else { return stats }
        if from < oldest.firstLSN && !(from == 0 && oldest.firstLSN == 1) {
            throw StorageError.invalidArgument(
                "cannot replay the WAL from LSN \(from): records before LSN \(oldest.firstLSN) were removed")
        }
        // Start with the newest file whose first LSN is at or before `from`.
        let startIndex = snapshot.lastIndex { $0.firstLSN <= from } ?? 0
        var expectedNext: UInt64? = nil
        for index in startIndex..<snapshot.count {
            let (firstLSN, path) = snapshot[index]
            let isLast = index == snapshot.count - 1
            let mapped = try fs.map(path, access: .sequential)
            // The buffer below points into the mapping: keep it mapped to the end of the scope.
            defer { withExtendedLifetime(mapped) {} }
            let header = try LogFileHeader.decode(mapped.bytes, magic: LogFileHeader.walMagic, path: path)
            guard header.base == firstLSN else {
                throw StorageError.corruption(
                    path: path, offset: 16,
                    reason: "header says the first LSN is \(header.base) but the file name says \(firstLSN)")
            }
            if let expectedNext, expectedNext != firstLSN {
                throw StorageError.corruption(
                    path: path, offset: 0,
                    reason: "WAL gap: the previous file ends before LSN \(expectedNext) but this one starts at \(firstLSN)")
            }
            stats.files += 1
            let scan = try LogRecord.scan(
                mapped.bytes, from: LogFileHeader.size, firstSequence: firstLSN, maxPayload: maxRecordSize
            ) { sequence, _, payload in
                guard sequence >= from else { return }
                stats.records += 1
                stats.payloadBytes += payload.count
                stats.lastLSN = LSN(sequence)
                try body(LSN(sequence), payload)
            }
            if let damage = scan.damage {
                // The newest file may end in a record still being written; anything else is damage.
                if !isLast || damage.laterValidRecord != nil {
                    let follow = damage.laterValidRecord.map {
                        "; the valid record at offset \($0) was written after this one had been synced"
                    }
                        ?? "; later WAL files follow"
                    throw StorageError.corruption(path: path, offset: damage.offset, reason: damage.reason + follow)
                }
            }
            expectedNext = (scan.lastSequence ?? (firstLSN - 1)) + 1
        }
        return stats
    }

    func removeFiles(through checkpoint: UInt64) throws -> [String] {
        let victims: [String] = lock.withLock {
            var count = 0
            while count + 1 < files.count && files[count + 1].firstLSN <= checkpoint + 1 { count += 1 }
            let removed = files.prefix(count).map(\.path)
            files.removeFirst(count)
            return removed
        }
        for path in victims { try fs.remove(path) }
        if !victims.isEmpty { try fs.syncDirectory(directory) }
        return victims
    }
}
