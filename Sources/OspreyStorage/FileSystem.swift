#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file-system operations OspreyStorage needs, as a seam: `PosixFileSystem` is the real
/// one, `FaultInjectingFileSystem` simulates crashes, torn writes and bit flips for tests.
///
/// Paths are plain strings; directories are separated by "/". Durability follows POSIX:
/// data appended to a file survives a crash only after `WritableFile.sync()`, and a new,
/// renamed or removed directory entry only after `syncDirectory` on its parent.
///
/// Thread safety: implementations are safe to call from any thread.
package protocol FileSystem: Sendable {
    /// Creates `path` (truncating an existing file) and opens it for appending.
    func createFile(_ path: String) throws -> any WritableFile
    /// Opens the existing file `path` for appending at its end.
    func openForAppend(_ path: String) throws -> any WritableFile
    /// Reads the whole file.
    func readFile(_ path: String) throws -> [UInt8]
    /// The whole file, read-only, at a fixed address for as long as the returned object lives:
    /// a memory mapping where the file system allows one, otherwise (the default
    /// implementation) a copy in an aligned heap buffer.
    func map(_ path: String, access: MappedFile.Access) throws -> MappedFile
    /// The size of the file in bytes.
    func fileSize(_ path: String) throws -> Int
    /// Whether a file or directory exists at `path`.
    func exists(_ path: String) -> Bool
    /// Whether `path` exists and is a directory.
    func isDirectory(_ path: String) -> Bool
    /// Atomically replaces `to` with `from` (POSIX rename).
    func rename(_ from: String, to: String) throws
    /// Removes a file.
    func remove(_ path: String) throws
    /// Cuts the file to `length` bytes and syncs it.
    func truncate(_ path: String, to length: Int) throws
    /// The names (not paths) of the entries of a directory, sorted, without "." and "..".
    func list(_ directory: String) throws -> [String]
    /// Creates a directory and any missing parents, syncing each parent it changed.
    func createDirectory(_ path: String) throws
    /// Makes the directory's entries (creations, renames, removals) durable.
    func syncDirectory(_ path: String) throws
    /// Creates `path` if needed and takes an exclusive, non-blocking advisory lock on a new
    /// open file description of it; throws `StorageError.io` with `EWOULDBLOCK` if held.
    func lockFile(_ path: String) throws -> any FileLock
}

/// A file open for appending.
///
/// Thread safety: implementations serialise their operations internally, but appends from
/// several threads interleave in an unspecified order; OspreyStorage uses each from one
/// thread at a time.
package protocol WritableFile: AnyObject, Sendable {
    /// The path it was opened with.
    var path: String { get }
    /// Bytes in the file, including appended but unsynced ones.
    var size: Int { get }
    /// Appends all of `bytes` (retrying short writes) or throws.
    func append(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes every appended byte durable (fdatasync on Linux, fsync elsewhere).
    func sync() throws
    /// Closes the file; further calls throw. Does not sync.
    func close() throws
}

extension FileSystem {
    /// Replaces `path` with `bytes` atomically and durably: writes `temporaryPath`, syncs
    /// it, renames it over `path` and syncs the directory. On failure the temporary file is
    /// removed and `path` is unchanged (unless the rename itself happened).
    package func writeAtomically(_ path: String, bytes: UnsafeRawBufferPointer, temporaryPath: String) throws {
        let file = try createFile(temporaryPath)
        do {
            try file.append(bytes)
            try file.sync()
            try file.close()
            try rename(temporaryPath, to: path)
        } catch {
            try? file.close()
            if exists(temporaryPath) { try? remove(temporaryPath) }
            throw error
        }
        try syncDirectory(FilePath.parent(path))
    }
}

extension FileSystem {
    /// Maps the whole file read-only for random access.
    package func map(_ path: String) throws -> MappedFile { try map(path, access: .random) }

    /// The fallback for a file system that cannot map files: the whole file read into a
    /// 64-byte aligned heap buffer, which readers use exactly as they would a mapping.
    package func map(_ path: String, access: MappedFile.Access) throws -> MappedFile {
        MappedFile(copying: try readFile(path), path: path)
    }
}

extension WritableFile {
    /// Appends all of `bytes`.
    package func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }
}

/// An advisory lock held on a file until `unlock()` or deinitialisation.
///
/// Thread safety: safe to unlock from any thread; unlocking twice is harmless.
package protocol FileLock: AnyObject, Sendable {
    /// The locked path.
    var path: String { get }
    /// Releases the lock.
    func unlock()
}

/// The bytes of a whole file, read-only: a memory mapping (`mmap` with `PROT_READ`,
/// `MAP_SHARED`), or — for file systems that cannot map, and in tests — a copy in a 64-byte
/// aligned heap buffer. Either way `bytes` stays valid, at a fixed address, for as long as the
/// object lives; a mapping is unmapped in `deinit`.
///
/// The size is taken from `fstat` when the file is opened and every reader checks offsets
/// against `bytes.count` before touching a page, so a short or truncated file gives an error,
/// never a `SIGBUS`. A `SIGBUS` could still come from another process truncating the file
/// while it is mapped; Osprey never does that to its own files (they are immutable: replaced
/// by rename, removed by unlink, both of which leave a mapping of the old inode intact).
///
/// Thread safety: immutable; `bytes` may be read from any thread while the object lives.
package final class MappedFile: @unchecked Sendable {
    /// The path that was mapped.
    package let path: String
    /// The file's bytes; valid as long as this object is alive. The start is page-aligned
    /// (mapped) or 64-byte aligned (heap copy).
    package let bytes: UnsafeRawBufferPointer
    private enum Storage { case none, mapped, heap }
    private let storage: Storage

    /// How a mapping will be read.
    package enum Access: Sendable {
        /// Any order (segments, indexes): pages are faulted in on demand.
        case random
        /// Once, front to back (log replay): all pages are faulted in at once and
        /// read-ahead is enabled.
        case sequential
    }

    /// A hint to the kernel about how pages will be used next (`madvise`).
    package enum Advice: Sendable {
        /// The default read-ahead.
        case normal
        /// No read-ahead: reads land anywhere (graph traversal).
        case random
        /// Aggressive read-ahead; pages behind the reader may be dropped early.
        case sequential
        /// Start reading the pages in now.
        case willNeed
    }

    /// Whether `bytes` is a file mapping (page cache, reclaimable by the kernel) rather than a
    /// heap copy.
    package var isMapped: Bool { storage == .mapped }

    /// Opens `path` read-only and returns the descriptor (the caller closes it) and the size.
    private static func openForReading(_ path: String) throws -> (fd: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw StorageError.notFound(path: path) }
            throw StorageError.io(operation: "open", path: path, errno: e)
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            _ = close(fd)
            throw StorageError.io(operation: "fstat", path: path, errno: e)
        }
        return (fd, Int(st.st_size))
    }

    /// Maps `path` read-only (an empty file gives an empty buffer).
    package init(mapping path: String, access: Access = .random) throws {
        let (fd, size) = try Self.openForReading(path)
        defer { _ = close(fd) }
        self.path = path
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            storage = .none
            return
        }
        var flags = MAP_SHARED
        #if os(Linux)
        if access == .sequential { flags |= MAP_POPULATE }
        #endif
        let p = mmap(nil, size, PROT_READ, flags, fd, 0)
        guard let p, p != MAP_FAILED else { throw StorageError.io(operation: "mmap", path: path, errno: errno) }
        if access == .sequential { _ = madvise(p, size, MADV_SEQUENTIAL) }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
        storage = .mapped
    }

    /// Reads the whole file at `path` into a 64-byte aligned heap buffer (the fallback for
    /// file systems that cannot map).
    package init(reading path: String) throws {
        let (fd, size) = try Self.openForReading(path)
        defer { _ = close(fd) }
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 64)
        var done = 0
        while done < size {
            let n = pread(fd, p + done, size - done, off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                p.deallocate()
                throw StorageError.io(operation: "read", path: path, errno: e)
            }
            if n == 0 { break }  // the file shrank since fstat: keep what was read
            done += n
        }
        self.path = path
        bytes = UnsafeRawBufferPointer(start: p, count: done)
        storage = .heap
    }

    /// Wraps bytes copied into memory (for stores that are not local files); they are freed
    /// with the object.
    package init(copying data: [UInt8], path: String) {
        self.path = path
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.withUnsafeBytes { src in
            if let s = src.baseAddress { p.baseAddress!.copyMemory(from: s, byteCount: src.count) }
        }
        bytes = UnsafeRawBufferPointer(start: p.baseAddress, count: data.count)
        storage = .heap
    }

    /// Tells the kernel how the pages of `range` (default: the whole file) will be used; a
    /// no-op for a heap copy. Advice is a hint: failures are ignored.
    package func advise(_ advice: Advice, range: Range<Int>? = nil) {
        guard storage == .mapped, let base = bytes.baseAddress else { return }
        let r = range ?? 0..<bytes.count
        guard r.lowerBound >= 0, r.upperBound <= bytes.count, !r.isEmpty else { return }
        // madvise wants a page-aligned start; the mapping itself starts on a page.
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = r.lowerBound & ~(page - 1)
        let code: Int32
        switch advice {
        case .normal: code = MADV_NORMAL
        case .random: code = MADV_RANDOM
        case .sequential: code = MADV_SEQUENTIAL
        case .willNeed: code = MADV_WILLNEED
        }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), r.upperBound - start, code)
    }

    deinit {
        switch storage {
        case .none: break
        case .heap: UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.deallocate()
        case .mapped: _ = munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        }
    }
}

/// Helpers for joining and splitting "/"-separated paths.
///
/// Thread safety: stateless.
package enum FilePath {
    /// `directory` + "/" + `name`.
    package static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The directory part of `path` ("." when it has none).
    package static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// The last component of `path`.
    package static func name(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
