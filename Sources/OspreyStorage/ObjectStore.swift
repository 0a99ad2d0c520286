import Synchronization

/// Where sealed segment and index files live: a flat namespace of immutable objects named
/// by "/"-separated keys, as in S3. The local implementation is a directory; an
/// S3-compatible one can follow behind the same protocol.
///
/// Keys are 1–1024 bytes of UTF-8: components separated by "/", none empty, "." or "..",
/// none starting with ".tmp-" (reserved for uploads in progress), no NUL bytes.
///
/// Thread safety: implementations are safe to call from any thread and task.
package protocol ObjectStore: Sendable {
    /// Stores `bytes` under `key`, replacing any object there. Atomic and durable: once it
    /// returns the object survives a crash, and readers see the old or the new object
    /// whole, never a mix.
    func put(_ key: String, bytes: [UInt8]) async throws
    /// Stores the contents of the local file at `localPath` under `key` (same guarantees).
    func put(_ key: String, contentsOf localPath: String) async throws
    /// The object's bytes; throws `StorageError.notFound` if there is none.
    func get(_ key: String) async throws -> [UInt8]
    /// Removes the object; removing a missing object is not an error.
    func delete(_ key: String) async throws
    /// The keys that start with `prefix`, sorted.
    func list(prefix: String) async throws -> [String]
    /// Whether an object exists under `key`.
    func exists(_ key: String) async throws -> Bool
    /// A read-only mapping of the object, for `SectionFile(mapped:)`. A local store maps
    /// the file itself; a remote store downloads it to a local cache first.
    func map(_ key: String) async throws -> MappedFile
}

/// Validation shared by object stores.
///
/// Thread safety: stateless.
package enum ObjectKey {
    package static let temporaryPrefix = ".tmp-"

    /// Throws `.invalidArgument` unless `key` follows the rules of `ObjectStore`.
    package static func validate(_ key: String) throws {
        let bytes = key.utf8
        guard !bytes.isEmpty, bytes.count <= 1024, !bytes.contains(0) else {
            throw StorageError.invalidArgument("object key must be 1–1024 bytes without NUL: \"\(key)\"")
        }
        for component in key.split(separator: "/", omittingEmptySubsequences: false) {
            guard !component.isEmpty, component != ".", component != "..",
                !component.hasPrefix(temporaryPrefix)
            else {
                throw StorageError.invalidArgument(
                    "object key \"\(key)\" has an empty, \".\", \"..\" or \"\(temporaryPrefix)\" component")
            }
        }
    }
}

/// An `ObjectStore` in a local directory: the object `a/b/c` is the file `<root>/a/b/c`.
///
/// `put` writes `<dir>/.tmp-<name>-<n>`, fsyncs it, renames it over the key's file and
/// fsyncs the directory. Objects are immutable by convention; mapping one and replacing it
/// later leaves the old mapping intact (rename does not change the mapped inode).
///
/// Thread safety: safe to call from any thread and task.
package final class LocalDirectoryObjectStore: ObjectStore {
    /// The directory holding the objects.
    package let root: String
    private let fs: any FileSystem
    private let uploads = Atomic<UInt64>(0)

    /// A store rooted at `root`, which is created if missing.
    package init(root: String, fileSystem: any FileSystem = PosixFileSystem()) throws {
        self.root = root
        fs = fileSystem
        try fs.createDirectory(root)
    }

    /// The local path of `key` (whether or not the object exists).
    package func localPath(for key: String) throws -> String {
        try ObjectKey.validate(key)
        return FilePath.join(root, key)
    }

    package func put(_ key: String, bytes: [UInt8]) async throws {
        try bytes.withUnsafeBytes { try write(key, $0) }
    }

    package func put(_ key: String, contentsOf localPath: String) async throws {
        let source = try fs.map(localPath)
        // The buffer below points into the mapping: keep it mapped to the end of the scope.
        defer { withExtendedLifetime(source) {} }
        try write(key, source.bytes)
    }

    private func write(_ key: String, _ bytes: UnsafeRawBufferPointer) throws {
        let path = try localPath(for: key)
        let directory = FilePath.parent(path)
        try fs.createDirectory(directory)
        let n = uploads.wrappingAdd(1, ordering: .relaxed).oldValue
        let temporary = FilePath.join(directory, "\(ObjectKey.temporaryPrefix)\(FilePath.name(path))-\(n)")
        try fs.writeAtomically(path, bytes: bytes, temporaryPath: temporary)
    }

    package func get(_ key: String) async throws -> [UInt8] {
        let path = try localPath(for: key)
        do {
            return try fs.readFile(path)
        } catch StorageError.notFound {
            throw StorageError.notFound(path: "object \(key) in \(root)")
        }
    }

    package func delete(_ key: String) async throws {
        let path = try localPath(for: key)
        do {
            try fs.remove(path)
        } catch StorageError.notFound {
            return
        }
        try fs.syncDirectory(FilePath.parent(path))
    }

    package func list(prefix: String) async throws -> [String] {
        // Start from the deepest directory the prefix names completely.
        var start = ""
        if let slash = prefix.lastIndex(of: "/") { start = String(prefix[..<slash]) }
        var keys: [String] = []
        try collect(start, into: &keys, prefix: prefix)
        return keys.sorted()
    }

    private func collect(_ relative: String, into keys: inout [String], prefix: String) throws {
        let directory = relative.isEmpty ? root : FilePath.join(root, relative)
        let names: [String]
        do {
            names = try fs.list(directory)
        } catch StorageError.notFound {
            return
        } catch let StorageError.io(_, _, code) where code == ENOTDIR {
            return
        }
        for name in names where !name.hasPrefix(ObjectKey.temporaryPrefix) {
            let key = relative.isEmpty ? name : relative + "/" + name
            guard key.hasPrefix(prefix) || prefix.hasPrefix(key + "/") else { continue }
            if fs.isDirectory(FilePath.join(root, key)) {
                try collect(key, into: &keys, prefix: prefix)
            } else if key.hasPrefix(prefix) {
                keys.append(key)
            }
        }
    }

    package func exists(_ key: String) async throws -> Bool {
        let path = try localPath(for: key)
        return fs.exists(path) && !fs.isDirectory(path)
    }

    package func map(_ key: String) async throws -> MappedFile {
        let path = try localPath(for: key)
        do {
            return try fs.map(path)
        } catch StorageError.notFound {
            throw StorageError.notFound(path: "object \(key) in \(root)")
        }
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
