#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exclusive ownership of a data directory, held through an `flock` on `<directory>/LOCK`.
///
/// A second `acquire` of the same directory — from another process, or from this one
/// through a separate open — fails with `StorageError.directoryLocked` naming the
/// directory. The lock is released by `release()`, on deinitialisation, or by the kernel
/// when the process exits (so a `kill -9` never leaves a stale lock). The LOCK file holds
/// `osprey-lock pid=<pid>\n` for people; only the `flock` counts. Format: docs/storage.md.
///
/// Thread safety: safe to release from any thread; releasing twice is harmless.
package final class DirectoryLock: Sendable {
    /// The locked data directory.
    package let directory: String
    private let lock: any FileLock

    private init(directory: String, lock: any FileLock) {
        self.directory = directory
        self.lock = lock
    }

    /// Creates `directory` if needed and locks it.
    ///
    /// - Throws: `StorageError.directoryLocked` if another opener holds it.
    package static func acquire(
        directory: String, fileSystem: any FileSystem = PosixFileSystem()
    ) throws -> DirectoryLock {
        try fileSystem.createDirectory(directory)
        do {
            let lock = try fileSystem.lockFile(FilePath.join(directory, FileNames.lock))
            return DirectoryLock(directory: directory, lock: lock)
        } catch let StorageError.io(operation, _, code) where operation == "flock" && (code == EWOULDBLOCK || code == EAGAIN) {
            throw StorageError.directoryLocked(directory: directory)
        }
    }

    /// Releases the lock.
    package func release() { lock.unlock() }

    deinit { lock.unlock() }
}
