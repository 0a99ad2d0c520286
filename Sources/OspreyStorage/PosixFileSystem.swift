#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The real file system, through POSIX calls.
///
/// `WritableFile.sync()` is `fdatasync` on Linux (it also persists the file size) and
/// `fsync` elsewhere; `syncDirectory` fsyncs the directory. Short writes and `EINTR` are
/// retried.
///
/// Thread safety: stateless; safe to call from any thread.
package struct PosixFileSystem: FileSystem {
    package init() {}

    package func createFile(_ path: String) throws -> any WritableFile {
        try PosixWritableFile(path: path, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC)
    }

    package func openForAppend(_ path: String) throws -> any WritableFile {
        try PosixWritableFile(path: path, flags: O_WRONLY | O_APPEND | O_CLOEXEC)
    }

    package func readFile(_ path: String) throws -> [UInt8] {
        let fd = try Posix.open(path, O_RDONLY | O_CLOEXEC)
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StorageError.io(operation: "fstat", path: path, errno: errno) }
        let size = Int(st.st_size)
        var result = [UInt8](repeating: 0, count: size)
        var done = 0
        try result.withUnsafeMutableBytes { buf in
            while done < size {
                let n = pread(fd, buf.baseAddress! + done, size - done, off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StorageError.io(operation: "read", path: path, errno: errno)
                }
                if n == 0 { break }
                done += n
            }
        }
        if done < size { result.removeSubrange(done...) }
        return result
    }

    package func map(_ path: String, access: MappedFile.Access) throws -> MappedFile {
        try MappedFile(mapping: path, access: access)
    }

    package func fileSize(_ path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw Posix.error("stat", path) }
        return Int(st.st_size)
    }

    package func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    package func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    package func rename(_ from: String, to: String) throws {
        guard Posix.renameFile(from, to) == 0 else { throw Posix.error("rename to \(to)", from) }
    }

    package func remove(_ path: String) throws {
        guard unlink(path) == 0 else { throw Posix.error("unlink", path) }
    }

    package func truncate(_ path: String, to length: Int) throws {
        let fd = try Posix.open(path, O_WRONLY | O_CLOEXEC)
        defer { _ = close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw Posix.error("ftruncate", path) }
        guard fsync(fd) == 0 else { throw Posix.error("fsync", path) }
    }

    package func list(_ directory: String) throws -> [String] {
        guard let dir = opendir(directory) else { throw Posix.error("opendir", directory) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    package func createDirectory(_ path: String) throws {
        if exists(path) { return }
        let parent = FilePath.parent(path)
        if parent != path && !exists(parent) { try createDirectory(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw Posix.error("mkdir", path) }
        try syncDirectory(parent)
    }

    package func syncDirectory(_ path: String) throws {
        let fd = try Posix.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { _ = close(fd) }
        guard fsync(fd) == 0 else { throw Posix.error("fsync directory", path) }
    }

    package func lockFile(_ path: String) throws -> any FileLock {
        try PosixFileLock(path: path)
    }
}

/// Small wrappers that turn errno into `StorageError`.
///
/// Thread safety: stateless (errno is per thread).
enum Posix {
    static func error(_ operation: String, _ path: String) -> StorageError {
        let e = errno
        if e == ENOENT { return .notFound(path: path) }
        return .io(operation: operation, path: path, errno: e)
    }

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = openFile(path, flags, mode)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw error("open", path)
        }
    }

    static func renameFile(_ from: String, _ to: String) -> Int32 { rename(from, to) }

    @discardableResult
    static func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }

    private static func openFile(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
        #if canImport(Glibc)
        Glibc.open(path, flags, mode)
        #else
        Darwin.open(path, flags, mode)
        #endif
    }

    static func syncData(_ fd: Int32) -> Int32 {
        #if os(Linux)
        return fdatasync(fd)
        #else
        return fsync(fd)
        #endif
    }
}

/// A POSIX file descriptor opened for appending.
///
/// Thread safety: operations are serialised by an internal lock.
final class PosixWritableFile: WritableFile {
    let path: String
    private let state: Mutex<(fd: Int32, size: Int)>

    init(path: String, flags: Int32) throws {
        self.path = path
        let fd = try Posix.open(path, flags)
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            Posix.closeDescriptor(fd)
            throw StorageError.io(operation: "fstat", path: path, errno: e)
        }
        state = Mutex((fd, Int(st.st_size)))
    }

    var size: Int { state.withLock { $0.size } }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try state.withLock { s in
            guard s.fd >= 0 else { throw StorageError.closed(path: path, reason: "file is closed") }
            var done = 0
            while done < bytes.count {
                let n = write(s.fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    let e = errno
                    s.size += done
                    throw StorageError.io(operation: "write", path: path, errno: e)
                }
                done += n
            }
            s.size += done
        }
    }

    func sync() throws {
        try state.withLock { s in
            guard s.fd >= 0 else { throw StorageError.closed(path: path, reason: "file is closed") }
            guard Posix.syncData(s.fd) == 0 else {
                throw StorageError.io(operation: "fdatasync", path: path, errno: errno)
            }
        }
    }

    func close() throws {
        try state.withLock { s in
            guard s.fd >= 0 else { return }
            let fd = s.fd
            s.fd = -1
            guard Posix.closeDescriptor(fd) == 0 else { throw StorageError.io(operation: "close", path: path, errno: errno) }
        }
    }

    deinit {
        state.withLock { s in if s.fd >= 0 { _ = Posix.closeDescriptor(s.fd) } }
    }
}

/// An exclusive `flock` on its own open file description of the lock file.
///
/// Thread safety: unlocking is serialised by an internal lock.
final class PosixFileLock: FileLock {
    let path: String
    private let fd: Mutex<Int32>

    init(path: String) throws {
        self.path = path
        let fd = try Posix.open(path, O_RDWR | O_CREAT | O_CLOEXEC)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            _ = close(fd)
            throw StorageError.io(operation: "flock", path: path, errno: e)
        }
        self.fd = Mutex(fd)
        // Informational only: which process holds the lock (docs/storage.md, "LOCK").
        let text = Array("osprey-lock pid=\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    func unlock() {
        fd.withLock { fd in
            guard fd >= 0 else { return }
            _ = flock(fd, LOCK_UN)
            _ = close(fd)
            fd = -1
        }
    }

    deinit { unlock() }
}
