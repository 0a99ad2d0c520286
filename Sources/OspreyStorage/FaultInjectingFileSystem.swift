#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import OspreyCore

/// A file system for crash tests: real files underneath, plus a record of what has not
/// been made durable, so that `simulateCrash` can throw it away the way a power cut would.
///
/// It tracks, per file written through it, how many bytes were synced, and per directory
/// the creations and renames not yet covered by `syncDirectory`. A simulated crash cuts
/// every file back to its synced length (or, for torn writes, keeps a random part of the
/// unsynced tail and garbles its end), undoes unsynced renames and deletes unsynced new
/// files; files opened before the crash refuse further use. Removals are treated as
/// durable at once. It can also fail the next write part-way or the next sync, slow syncs
/// down, count them, flip bits in files, and stop mapping files (`mapsFiles`), to exercise
/// the heap fallback of file systems that cannot map.
///
/// Thread safety: safe to call from any thread; `simulateCrash` should not race with writes
/// that the test expects to survive.
package final class FaultInjectingFileSystem: FileSystem {
    /// What survives of unsynced data in a simulated crash.
    package enum CrashMode: Sendable {
        /// Every unsynced byte is lost.
        case dropUnsynced
        /// A random prefix (possibly empty, possibly all) of each file's unsynced bytes
        /// survives, and up to 64 bytes at the end of that prefix are replaced by garbage.
        case tornWrites(seed: UInt64)
        /// All unsynced bytes survive except one random 4 KiB page of them, which reads as
        /// zeros or garbage: pages written back out of order when the power went.
        case lostPage(seed: UInt64)
    }

    private enum DirectoryOperation {
        case created(path: String)
        case renamed(from: String, to: String, replaced: [UInt8]?)
    }

    private struct State {
        var syncedSize: [String: Int] = [:]
        var pendingDirectoryOperations: [String: [DirectoryOperation]] = [:]
        var generation = 0
        var failNextWriteAfterBytes: Int?
        var failNextSync = false
        var syncDelayMicroseconds: UInt32 = 0
        var syncCount = 0
        var appendCount = 0
        var mapsFiles = true
    }

    private let base = PosixFileSystem()
    private let state = Mutex(State())

    package init() {}

    // MARK: - Fault controls

    /// The next append writes only its first `bytes` bytes, then fails with `EIO`.
    package func failNextWrite(afterBytes bytes: Int) {
        state.withLock { $0.failNextWriteAfterBytes = bytes }
    }

    /// The next file sync fails with `EIO` without syncing.
    package func failNextSync() { state.withLock { $0.failNextSync = true } }

    /// Every file sync sleeps this long first (to make group commit observable).
    package func setSyncDelay(microseconds: UInt32) {
        state.withLock { $0.syncDelayMicroseconds = microseconds }
    }

    /// Whether `map` memory-maps files (the default) or, like a file system that cannot map,
    /// reads them into an aligned heap buffer (`MappedFile(reading:)`).
    package var mapsFiles: Bool {
        get { state.withLock { $0.mapsFiles } }
        set { state.withLock { $0.mapsFiles = newValue } }
    }

    /// File syncs performed so far.
    package var syncCount: Int { state.withLock { $0.syncCount } }
    /// Appends performed so far.
    package var appendCount: Int { state.withLock { $0.appendCount } }

    /// Flips bit `bit` (0–7) of the byte at `offset` of `path`, in place.
    package func flipBit(_ path: String, offset: Int, bit: Int = 0) throws {
        var byte = try readBytes(path, offset: offset, count: 1)
        byte[0] ^= UInt8(1 << (bit & 7))
        try overwrite(path, offset: offset, with: byte)
    }

    /// Overwrites bytes of `path` at `offset`, in place.
    package func overwrite(_ path: String, offset: Int, with bytes: [UInt8]) throws {
        let fd = try Posix.open(path, O_WRONLY | O_CLOEXEC)
        defer { Posix.closeDescriptor(fd) }
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == bytes.count else { throw StorageError.io(operation: "pwrite", path: path, errno: errno) }
    }

    /// Cuts `path` to `length` bytes, as if the end had never been written.
    package func chop(_ path: String, to length: Int) throws { try base.truncate(path, to: length) }

    private func readBytes(_ path: String, offset: Int, count: Int) throws -> [UInt8] {
        let all = try base.readFile(path)
        guard offset >= 0, offset + count <= all.count else {
            throw StorageError.invalidArgument("offset \(offset) outside \(path) (\(all.count) bytes)")
        }
        return Array(all[offset..<(offset + count)])
    }

    // MARK: - Crash

    /// Simulates a power cut: loses what was not synced (see `CrashMode`). Files opened
    /// before the crash throw on every later operation.
    package func simulateCrash(_ mode: CrashMode = .dropUnsynced) throws {
        var rng = SplitMix64(seed: {
            switch mode {
            case .dropUnsynced: 0
            case let .tornWrites(seed), let .lostPage(seed): seed
            }
        }())
        let snapshot = state.withLock { s -> State in
            s.generation += 1
            let copy = s
            s.syncedSize = [:]
            s.pendingDirectoryOperations = [:]
            return copy
        }
        for path in snapshot.syncedSize.keys.sorted() {
            let synced = snapshot.syncedSize[path]!
            guard let size = try? base.fileSize(path), size > synced else { continue }
            switch mode {
            case .dropUnsynced:
                try base.truncate(path, to: synced)
            case .tornWrites:
                let keep = synced + Int(rng.next() % UInt64(size - synced + 1))
                try base.truncate(path, to: keep)
                let garbage = min(keep - synced, Int(rng.next() % 65))
                if garbage > 0 {
                    let junk = (0..<garbage).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    try overwrite(path, offset: keep - garbage, with: junk)
                }
            case .lostPage:
                let page = 4096
                let firstPage = synced / page, lastPage = (size - 1) / page
                let lost = firstPage + Int(rng.next() % UInt64(lastPage - firstPage + 1))
                let start = max(lost * page, synced), end = min((lost + 1) * page, size)
                let zeros = rng.next() % 2 == 0
                let junk = (start..<end).map { _ in zeros ? 0 : UInt8(truncatingIfNeeded: rng.next()) }
                try overwrite(path, offset: start, with: junk)
            }
        }
        for directory in snapshot.pendingDirectoryOperations.keys.sorted() {
            for operation in snapshot.pendingDirectoryOperations[directory]!.reversed() {
                switch operation {
                case let .created(path):
                    if base.exists(path) { try base.remove(path) }
                case let .renamed(from, to, replaced):
                    if base.exists(to) { try base.rename(to, to: from) }
                    if let replaced {
                        let f = try base.createFile(to)
                        try f.append(replaced)
                        try f.sync()
                        try f.close()
                    }
                }
            }
        }
    }

    // MARK: - Bookkeeping used by the files

    fileprivate func checkGeneration(_ generation: Int, _ path: String) throws {
        let current = state.withLock { $0.generation }
        if current != generation {
            throw StorageError.closed(path: path, reason: "opened before a simulated crash")
        }
    }

    fileprivate func willAppend(_ count: Int) -> Int? {
        state.withLock { s in
            s.appendCount += 1
            defer { s.failNextWriteAfterBytes = nil }
            return s.failNextWriteAfterBytes.map { min($0, count) }
        }
    }

    fileprivate func willSync() throws {
        let (fail, delay) = state.withLock { s -> (Bool, UInt32) in
            defer { s.failNextSync = false }
            return (s.failNextSync, s.syncDelayMicroseconds)
        }
        if delay > 0 { usleep(delay) }
        if fail { throw StorageError.io(operation: "fdatasync (injected)", path: "", errno: EIO) }
    }

    fileprivate func didSync(_ path: String, size: Int) {
        state.withLock { s in
            s.syncCount += 1
            if let old = s.syncedSize[path], old < size { s.syncedSize[path] = size }
        }
    }

    private func recordDirectoryOperation(_ directory: String, _ op: DirectoryOperation) {
        state.withLock { $0.pendingDirectoryOperations[directory, default: []].append(op) }
    }

    private func generation() -> Int { state.withLock { $0.generation } }

    // MARK: - FileSystem

    package func createFile(_ path: String) throws -> any WritableFile {
        let existed = base.exists(path)
        let file = try base.createFile(path)
        state.withLock { $0.syncedSize[path] = 0 }
        if !existed { recordDirectoryOperation(FilePath.parent(path), .created(path: path)) }
        return FaultInjectingFile(file, fs: self, generation: generation())
    }

    package func openForAppend(_ path: String) throws -> any WritableFile {
        let file = try base.openForAppend(path)
        state.withLock { s in if s.syncedSize[path] == nil { s.syncedSize[path] = file.size } }
        return FaultInjectingFile(file, fs: self, generation: generation())
    }

    package func readFile(_ path: String) throws -> [UInt8] { try base.readFile(path) }
    package func map(_ path: String, access: MappedFile.Access) throws -> MappedFile {
        mapsFiles ? try base.map(path, access: access) : try MappedFile(reading: path)
    }
    package func fileSize(_ path: String) throws -> Int { try base.fileSize(path) }
    package func exists(_ path: String) -> Bool { base.exists(path) }
    package func isDirectory(_ path: String) -> Bool { base.isDirectory(path) }

    package func rename(_ from: String, to: String) throws {
        let replaced = base.exists(to) ? try base.readFile(to) : nil
        try base.rename(from, to: to)
        state.withLock { s in
            if let synced = s.syncedSize.removeValue(forKey: from) { s.syncedSize[to] = synced }
        }
        recordDirectoryOperation(FilePath.parent(to), .renamed(from: from, to: to, replaced: replaced))
    }

    package func remove(_ path: String) throws {
        try base.remove(path)
        state.withLock { _ = $0.syncedSize.removeValue(forKey: path) }
    }

    package func truncate(_ path: String, to length: Int) throws {
        try base.truncate(path, to: length)
        state.withLock { s in if let old = s.syncedSize[path], old > length { s.syncedSize[path] = length } }
    }

    package func list(_ directory: String) throws -> [String] { try base.list(directory) }
    package func createDirectory(_ path: String) throws { try base.createDirectory(path) }

    package func syncDirectory(_ path: String) throws {
        try base.syncDirectory(path)
        state.withLock { _ = $0.pendingDirectoryOperations.removeValue(forKey: path) }
    }

    package func lockFile(_ path: String) throws -> any FileLock { try base.lockFile(path) }
}

/// A file whose appends and syncs are reported to, and can be failed by, its file system.
///
/// Thread safety: as the wrapped file.
private final class FaultInjectingFile: WritableFile {
    let wrapped: any WritableFile
    let fs: FaultInjectingFileSystem
    let generation: Int

    init(_ wrapped: any WritableFile, fs: FaultInjectingFileSystem, generation: Int) {
        self.wrapped = wrapped
        self.fs = fs
        self.generation = generation
    }

    var path: String { wrapped.path }
    var size: Int { wrapped.size }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try fs.checkGeneration(generation, path)
        if let partial = fs.willAppend(bytes.count) {
            try wrapped.append(UnsafeRawBufferPointer(rebasing: bytes[0..<partial]))
            throw StorageError.io(operation: "write (injected, \(partial) of \(bytes.count) bytes)", path: path, errno: EIO)
        }
        try wrapped.append(bytes)
    }

    func sync() throws {
        try fs.checkGeneration(generation, path)
        try fs.willSync()
        let size = wrapped.size
        try wrapped.sync()
        fs.didSync(path, size: size)
    }

    func close() throws { try wrapped.close() }
}
