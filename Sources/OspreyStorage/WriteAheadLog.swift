#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import OspreyCore
import Synchronization

/// A log sequence number: the position of a record in the write-ahead log, from 1 upward
/// with no gaps. `LSN(0)` means "no record".
///
/// Thread safety: a value type; safe to share.
package struct LSN: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    package var rawValue: UInt64
    package init(rawValue: UInt64) { self.rawValue = rawValue }
    package init(_ rawValue: UInt64) { self.rawValue = rawValue }
    /// "No record": smaller than every LSN the log assigns.
    package static let zero = LSN(0)
    package static func < (a: LSN, b: LSN) -> Bool { a.rawValue < b.rawValue }
    package var next: LSN { LSN(rawValue + 1) }
    package var description: String { "LSN \(rawValue)" }
}

/// When the write-ahead log makes appended records durable.
///
/// Thread safety: a value type; safe to share.
package enum WALDurability: Sendable, Equatable {
    /// Default. An append returns only after its record is fsync'd; concurrent appends share
    /// one write and one fsync (group commit). Acknowledged records survive power loss.
    case syncEachCommit
    /// An append returns once its record is written to the operating system (it survives
    /// `kill -9`, not power loss); the log fsyncs at most every `milliseconds`.
    case syncInterval(milliseconds: Int)
    /// An append returns once written to the operating system; the log fsyncs only when it
    /// rolls to a new file, on `sync()` and on `close()`.
    case noSync
}

/// Tuning of a `WriteAheadLog`.
///
/// Thread safety: a value type; safe to share.
package struct WALOptions: Sendable {
    /// When appends are made durable. Default: `.syncEachCommit`.
    package var durability: WALDurability = .syncEachCommit
    /// A new file is started when the current one has reached this many bytes.
    package var maxFileSize: Int = 64 << 20
    /// The largest payload `append` accepts (and the largest length a reader believes).
    package var maxRecordSize: Int = 512 << 20
    package init() {}
    package init(durability: WALDurability, maxFileSize: Int = 64 << 20) {
        self.durability = durability
        self.maxFileSize = maxFileSize
    }
}

/// What `WriteAheadLog.open` found and repaired.
///
/// Thread safety: a value type; safe to share.
package struct WALRecoveryReport: Sendable, Equatable {
    /// The last LSN in the log after repair (`LSN.zero` if none).
    package var lastLSN: LSN
    /// The WAL files present after repair.
    package var fileCount: Int
    /// The file whose torn or corrupted tail was cut, the offset it was cut at and why.
    package var truncatedFile: String?
    package var truncatedAtOffset: Int?
    package var truncationReason: String?
    /// Bytes discarded from the tail.
    package var discardedBytes: Int = 0
    /// A file removed because a crash interrupted its creation (no complete header).
    package var removedIncompleteFile: String?

    package init(lastLSN: LSN, fileCount: Int) {
        self.lastLSN = lastLSN
        self.fileCount = fileCount
    }
}

/// Totals of a `WriteAheadLog.replay` call.
///
/// Thread safety: a value type; safe to share.
package struct WALReplayStatistics: Sendable, Equatable {
    package var records = 0
    package var payloadBytes = 0
    package var files = 0
    package var lastLSN = LSN.zero
    package init() {}
}

/// The write-ahead log: numbered, checksummed records in files `wal/<first LSN>.log`.
///
/// Appenders hand a payload to `append` and get its LSN once the record is as durable as
/// `WALOptions.durability` promises. A dedicated writer thread takes every record queued
/// since its last write and issues one write and (by default) one fsync for all of them —
/// group commit — so concurrent appenders share the cost of a sync. After an I/O error the
/// log refuses all further appends (the state of the file after a failed fsync is unknown);
/// reopen it to recover. Formats and recovery rules: docs/storage.md.
///
/// Use: `open` (which cuts a torn tail), `replay(from:)` the records after the last
/// checkpoint, then `append` concurrently; `removeFiles(through:)` after a checkpoint;
/// `close()` at the end (deinitialising without closing also stops the writer thread).
///
/// Thread safety: `append`, `sync`, `close` and the accessors are safe from any thread;
/// `replay` and `removeFiles` must not run concurrently with each other.
package final class WriteAheadLog: Sendable {
    private let core: WALCore

    /// The directory holding the log files.
    package var directory: String { core.directory }
    /// What opening found and repaired.
    package var recovery: WALRecoveryReport { core.recovery }

    private init(core: WALCore) { self.core = core }

    deinit { try? core.close() }

    /// Opens (or creates) the log in `directory`, checks the newest file and cuts a torn or
    /// corrupted tail found there; throws `StorageError.corruption` if a later record shows
    /// that the damaged one had been synced (durable data must not be silently dropped).
    package static func open(
        directory: String, fileSystem: any FileSystem = PosixFileSystem(), options: WALOptions = WALOptions()
    ) throws -> WriteAheadLog {
        guard options.maxFileSize > 0, options.maxRecordSize > 0, options.maxRecordSize <= Int(UInt32.max) else {
            throw StorageError.invalidArgument("WAL maxFileSize and maxRecordSize must be positive and below 4 GiB")
        }
        if case let .syncInterval(ms) = options.durability, ms <= 0 {
            throw StorageError.invalidArgument("WAL sync interval must be positive, got \(ms) ms")
        }
        return WriteAheadLog(core: try WALCore(directory: directory, fs: fileSystem, options: options))
    }

    /// Appends one record and returns its LSN once it is as durable as the policy promises.
    ///
    /// - Throws: `StorageError.invalidArgument` for a payload above `maxRecordSize`; the
    ///   I/O error that failed the log, or `.closed` after `close()`.
    package func append(_ payload: [UInt8]) async throws -> LSN {
        try await submit(payload).wait()
    }

    /// Queues one record and returns at once with its LSN assigned; `wait()` on the result
    /// returns when the record is as durable as the policy promises. Records are written in
    /// the order they are submitted, so a caller that must apply records in LSN order can
    /// submit and apply under its own lock, then wait for durability before acknowledging.
    ///
    /// - Throws: as `append`, for failures known at once.
    package func submit(_ payload: [UInt8]) throws -> WALCommit {
        try payload.withUnsafeBytes { try submit($0) }
    }

    /// Queues one record (see the other overload); the bytes are copied before it returns.
    package func submit(_ payload: UnsafeRawBufferPointer) throws -> WALCommit {
        let commit = WALCommit()
        let lsn = try core.enqueue(payload) { commit.complete($0) }.get()
        commit.assign(lsn)
        return commit
    }

    /// Appends one record, blocking the calling thread until it is durable per the policy.
    /// For callers outside Swift concurrency; do not call from a task on the shared pool in
    /// large numbers (each blocks a pool thread).
    package func appendBlocking(_ payload: UnsafeRawBufferPointer) throws -> LSN {
        try submit(payload).waitBlocking()
    }

    /// Appends one record, blocking the calling thread (see the other overload).
    package func appendBlocking(_ payload: [UInt8]) throws -> LSN {
        try payload.withUnsafeBytes { try appendBlocking($0) }
    }

    /// Makes every record appended so far durable (useful with the relaxed policies).
    package func sync() async throws {
        _ = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<LSN, any Error>) in
            core.requestSync { continuation.resume(with: $0.mapError { $0 as any Error }) }
        }
    }

    /// Makes every record appended so far durable, blocking the calling thread; returns the
    /// durable LSN, which covers every record submitted before the call. Costs no fsync when
    /// they already are durable. For callers outside Swift concurrency (checkpoints).
    ///
    /// - Throws: the I/O error that failed the log, or `.closed` after `close()`.
    @discardableResult
    package func syncBlocking() throws -> LSN {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<LSN, StorageError>?>(nil)
        core.requestSync { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// The LSN of the newest appended record (`LSN.zero` if none).
    package var lastLSN: LSN { core.lastAssignedLSN }
    /// Every record up to this LSN is durable (fsync'd).
    package var durableLSN: LSN { core.durableLSNValue }
    /// The log's files, oldest first, with the LSN of each file's first record.
    package var files: [(firstLSN: LSN, path: String)] { core.fileList.map { (LSN($0.firstLSN), $0.path) } }

    /// Calls `body` with every record whose LSN is at least `from`, in order. The payload
    /// buffer is valid only during the call. Throws `StorageError.corruption` for damage in
    /// any file but the last, a gap in the LSNs, or damage to records a later record shows
    /// had been synced.
    package func replay(
        from: LSN, _ body: (LSN, UnsafeRawBufferPointer) throws -> Void
    ) throws -> WALReplayStatistics {
        try core.replay(from: from.rawValue, body)
    }

    /// Reads the log in `directory` without opening it for appending and without repairing
    /// anything (for inspection tools): like `replay`, except that a damaged tail of the
    /// newest file simply ends the replay. Must not run while another process appends.
    package static func readOnlyReplay(
        directory: String, fileSystem: any FileSystem = PosixFileSystem(), from: LSN = LSN(1),
        maxRecordSize: Int = WALOptions().maxRecordSize, _ body: (LSN, UnsafeRawBufferPointer) throws -> Void
    ) throws -> WALReplayStatistics {
        try WALCore.replay(
            files: try WALCore.listFiles(directory, fs: fileSystem), fs: fileSystem, maxRecordSize: maxRecordSize,
            from: from.rawValue, body)
    }

    /// Removes the files all of whose records have LSN ≤ `checkpoint` (never the file being
    /// appended to). Returns the paths removed.
    @discardableResult
    package func removeFiles(through checkpoint: LSN) throws -> [String] {
        try core.removeFiles(through: checkpoint.rawValue)
    }

    /// Writes out and syncs what is queued, stops the writer thread and closes the file.
    /// Appends after this throw `.closed`. Calling it twice is harmless.
    package func close() throws { try core.close() }
}

/// One submitted WAL record: its LSN, known at once, and its durability, awaited with
/// `wait()` (or `waitBlocking()`), which returns the LSN or throws the error that kept the
/// record from becoming durable.
///
/// Thread safety: safe to share; any number of tasks and threads may wait on it.
package final class WALCommit: Sendable {
    private enum Outcome {
        case pending(continuations: [CheckedContinuation<LSN, any Error>], semaphores: [DispatchSemaphore])
        case done(Result<LSN, StorageError>)
    }

    private struct State {
        var lsn = LSN.zero
        var outcome = Outcome.pending(continuations: [], semaphores: [])
    }

    private let state = Mutex(State())

    init() {}

    /// The record's LSN.
    package var lsn: LSN { state.withLock { $0.lsn } }

    /// Whether the record is durable per the policy (or has failed).
    package var isDone: Bool {
        state.withLock { if case .done = $0.outcome { return true } else { return false } }
    }

    fileprivate func assign(_ lsn: LSN) { state.withLock { $0.lsn = lsn } }

    func complete(_ result: Result<LSN, StorageError>) {
        let (continuations, semaphores) = state.withLock { s -> ([CheckedContinuation<LSN, any Error>], [DispatchSemaphore]) in
            guard case let .pending(continuations, semaphores) = s.outcome else { return ([], []) }
            s.outcome = .done(result)
            return (continuations, semaphores)
        }
        for c in continuations { c.resume(with: result.mapError { $0 as any Error }) }
        for s in semaphores { s.signal() }
    }

    /// Waits until the record is durable per the policy and returns its LSN.
    package func wait() async throws -> LSN {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<LSN, any Error>) in
            let finished: Result<LSN, StorageError>? = state.withLock { s in
                switch s.outcome {
                case let .done(result): return result
                case .pending(var continuations, let semaphores):
                    continuations.append(continuation)
                    s.outcome = .pending(continuations: continuations, semaphores: semaphores)
                    return nil
                }
            }
            if let finished { continuation.resume(with: finished.mapError { $0 as any Error }) }
        }
    }

    /// Blocks the calling thread until the record is durable per the policy.
    package func waitBlocking() throws -> LSN {
        let semaphore = DispatchSemaphore(value: 0)
        let finished: Result<LSN, StorageError>? = state.withLock { s in
            switch s.outcome {
            case let .done(result): return result
            case .pending(let continuations, var semaphores):
                semaphores.append(semaphore)
                s.outcome = .pending(continuations: continuations, semaphores: semaphores)
                return nil
            }
        }
        if let finished { return try finished.get() }
        semaphore.wait()
        return try state.withLock { s in
            guard case let .done(result) = s.outcome else { preconditionFailure("signalled before completion") }
            return result
        }.get()
    }
}
