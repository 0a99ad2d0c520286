import OspreyCore
import Synchronization

/// What `Manifest.open` read: the newest snapshot and the edits recorded after it.
///
/// Thread safety: a value type; safe to share.
package struct ManifestContents: Sendable, Equatable {
    /// The number of the live manifest file (`MANIFEST-<number>`).
    package var manifestNumber: UInt64
    /// The payload of the newest snapshot record.
    package var snapshot: [UInt8]
    /// The payloads of the edit records after that snapshot, oldest first.
    package var edits: [[UInt8]]
    /// Bytes cut from a torn tail (an edit whose append never completed), 0 if none.
    package var discardedBytes: Int

    package init(manifestNumber: UInt64, snapshot: [UInt8], edits: [[UInt8]], discardedBytes: Int = 0) {
        self.manifestNumber = manifestNumber
        self.snapshot = snapshot
        self.edits = edits
        self.discardedBytes = discardedBytes
    }
}

/// The catalog's durable edit log: a file `MANIFEST-<n>` holding a snapshot record and the
/// edit records appended after it, plus `CURRENT`, which names the live manifest and is
/// replaced atomically (write `CURRENT.tmp`, fsync, rename, fsync the directory).
///
/// Payloads are opaque bytes: the engine defines snapshots and edits. Every `append` is
/// fsync'd before it returns. `rewrite(snapshot:)` starts a new manifest holding only a
/// snapshot, so the log does not grow forever. After an I/O error the object refuses
/// further work; reopen to recover. Formats: docs/storage.md, "Manifest".
///
/// Thread safety: all methods are safe from any thread; they are serialised internally.
package final class Manifest: Sendable {
    static let snapshotKind: UInt8 = 1
    static let editKind: UInt8 = 2
    static let maxRecordSize = 1 << 30

    private struct State {
        var file: (any WritableFile)?
        var number: UInt64
        var nextSequence: UInt64
        var editsSinceSnapshot: Int
        var failure: StorageError?
    }

    /// The data directory holding CURRENT and the manifests.
    package let directory: String
    private let fs: any FileSystem
    private let state: Mutex<State>

    private init(directory: String, fs: any FileSystem, file: any WritableFile, number: UInt64,
                 nextSequence: UInt64, edits: Int) {
        self.directory = directory
        self.fs = fs
        state = Mutex(State(file: file, number: number, nextSequence: nextSequence, editsSinceSnapshot: edits))
    }

    // MARK: - Opening

    /// Creates the first manifest (`MANIFEST-000001`, holding `snapshot`) and CURRENT in
    /// `directory`, which is created if missing. Throws `.alreadyExists` if CURRENT exists.
    package static func create(
        directory: String, fileSystem fs: any FileSystem = PosixFileSystem(), snapshot: [UInt8]
    ) throws -> Manifest {
        try fs.createDirectory(directory)
        let current = FilePath.join(directory, FileNames.current)
        if fs.exists(current) { throw StorageError.alreadyExists(path: current) }
        let file = try writeNewManifest(directory: directory, fs: fs, number: 1, snapshot: snapshot)
        try installCurrent(directory: directory, fs: fs, number: 1)
        return Manifest(directory: directory, fs: fs, file: file, number: 1, nextSequence: 2, edits: 0)
    }

    /// Opens the manifest CURRENT names, cuts a torn last edit, removes manifests left by an
    /// interrupted rewrite, and returns the newest snapshot with the edits after it.
    ///
    /// - Throws: `.notFound` when there is no CURRENT (a new directory: call `create`);
    ///   `.corruption` / `.unsupportedFormat` for a damaged CURRENT or manifest.
    package static func open(
        directory: String, fileSystem fs: any FileSystem = PosixFileSystem()
    ) throws -> (Manifest, ManifestContents) {
        let temporary = FilePath.join(directory, FileNames.currentTemporary)
        if fs.exists(temporary) { try fs.remove(temporary) }
        let number = try readCurrent(directory: directory, fs: fs)
        let path = FilePath.join(directory, FileNames.manifest(number))
        guard fs.exists(path) else {
            throw StorageError.corruption(
                path: FilePath.join(directory, FileNames.current), offset: 0,
                reason: "names \(FileNames.manifest(number)), which does not exist")
        }
        let mapped = try fs.map(path, access: .sequential)
        // The buffer below points into the mapping: keep it mapped to the end of the scope.
        defer { withExtendedLifetime(mapped) {} }
        let header = try LogFileHeader.decode(mapped.bytes, magic: LogFileHeader.manifestMagic, path: path)
        guard header.base == number else {
            throw StorageError.corruption(
                path: path, offset: 16, reason: "header says manifest \(header.base), the file name says \(number)")
        }
        var snapshot: [UInt8]?
        var edits: [[UInt8]] = []
        var kindError: (Int, String)?
        var recordOffset = LogFileHeader.size
        let scan = LogRecord.scan(mapped.bytes, from: LogFileHeader.size, firstSequence: 1, maxPayload: maxRecordSize) {
            sequence, kind, payload in
            defer { recordOffset += LogRecord.headerSize + payload.count }
            switch kind {
            case snapshotKind:
                snapshot = [UInt8](payload)
                edits.removeAll()
            case editKind where snapshot != nil:
                edits.append([UInt8](payload))
            case editKind:
                if kindError == nil { kindError = (recordOffset, "edit \(sequence) comes before any snapshot") }
            default:
                if kindError == nil { kindError = (recordOffset, "record \(sequence) has unknown kind \(kind)") }
            }
        }
        if let (offset, reason) = kindError {
            throw StorageError.corruption(path: path, offset: offset, reason: reason)
        }
        var discarded = 0
        if let damage = scan.damage {
            if let later = damage.laterValidRecord {
                throw StorageError.corruption(
                    path: path, offset: damage.offset,
                    reason: "\(damage.reason); the valid record at offset \(later) was written after this "
                        + "one had been synced, so this is damage to durable data, not a torn write")
            }
            guard snapshot != nil else {
                throw StorageError.corruption(path: path, offset: damage.offset, reason: "the snapshot record is damaged: \(damage.reason)")
            }
            discarded = mapped.bytes.count - scan.validEnd
            try fs.truncate(path, to: scan.validEnd)
        }
        guard let snapshot else {
            throw StorageError.corruption(path: path, offset: LogFileHeader.size, reason: "the manifest holds no snapshot")
        }
        // Manifests other than the live one are leftovers: older ones whose removal was
        // interrupted, or a newer one from a rewrite that crashed before CURRENT moved.
        for name in try fs.list(directory) {
            if let other = FileNames.manifestNumber(name), other != number {
                try fs.remove(FilePath.join(directory, name))
            }
        }
        let file = try fs.openForAppend(path)
        let manifest = Manifest(
            directory: directory, fs: fs, file: file, number: number,
            nextSequence: (scan.lastSequence ?? 0) + 1, edits: edits.count)
        return (manifest, ManifestContents(manifestNumber: number, snapshot: snapshot, edits: edits, discardedBytes: discarded))
    }

    // MARK: - Writing

    /// The number of the live manifest file.
    package var manifestNumber: UInt64 { state.withLock { $0.number } }
    /// Edits appended since the live manifest's snapshot (a hint for when to `rewrite`).
    package var editsSinceSnapshot: Int { state.withLock { $0.editsSinceSnapshot } }
    /// Size of the live manifest file in bytes.
    package var fileSize: Int { state.withLock { $0.file?.size ?? 0 } }

    /// Appends one edit and fsyncs it.
    package func append(_ edit: [UInt8]) throws {
        try state.withLock { s in
            let file = try usableFile(&s)
            guard edit.count <= Self.maxRecordSize else {
                throw StorageError.invalidArgument("manifest edit of \(edit.count) bytes exceeds \(Self.maxRecordSize)")
            }
            var buffer: [UInt8] = []
            edit.withUnsafeBytes {
                LogRecord.append(
                    to: &buffer, sequence: s.nextSequence, synced: s.nextSequence - 1, kind: Self.editKind, payload: $0)
            }
            do {
                try file.append(buffer)
                try file.sync()
            } catch let error as StorageError {
                s.failure = error
                throw error
            }
            s.nextSequence += 1
            s.editsSinceSnapshot += 1
        }
    }

    /// Starts a new manifest holding only `snapshot` (which must describe the whole catalog),
    /// points CURRENT at it and removes the old one. If it fails before CURRENT moves, the
    /// old manifest stays live and usable.
    package func rewrite(snapshot: [UInt8]) throws {
        try state.withLock { s in
            let old = try usableFile(&s)
            let number = s.number + 1
            let newPath = FilePath.join(directory, FileNames.manifest(number))
            let file: any WritableFile
            do {
                file = try Self.writeNewManifest(directory: directory, fs: fs, number: number, snapshot: snapshot)
            } catch {
                if fs.exists(newPath) { try? fs.remove(newPath) }
                throw error
            }
            do {
                try Self.installCurrent(directory: directory, fs: fs, number: number)
            } catch let error as StorageError {
                // Whether the rename happened is unknown; only reopening can tell.
                try? file.close()
                s.failure = error
                throw error
            }
            try? old.close()
            let oldPath = FilePath.join(directory, FileNames.manifest(s.number))
            s.file = file
            s.number = number
            s.nextSequence = 2
            s.editsSinceSnapshot = 0
            // Best effort: a leftover is removed by the next open.
            try? fs.remove(oldPath)
        }
    }

    /// Closes the live manifest file; later calls throw `.closed`.
    package func close() throws {
        try state.withLock { s in
            let file = s.file
            s.file = nil
            if s.failure == nil { s.failure = .closed(path: directory, reason: "the manifest is closed") }
            try file?.close()
        }
    }

    private func usableFile(_ s: inout State) throws -> any WritableFile {
        if let failure = s.failure {
            if case .closed = failure { throw failure }
            throw StorageError.closed(path: directory, reason: "the manifest failed earlier and must be reopened: \(failure)")
        }
        return s.file!
    }

    // MARK: - Files

    /// Writes `MANIFEST-<number>` holding a header and one snapshot record, synced, with
    /// its directory entry synced; returns it open for appending.
    private static func writeNewManifest(
        directory: String, fs: any FileSystem, number: UInt64, snapshot: [UInt8]
    ) throws -> any WritableFile {
        guard snapshot.count <= maxRecordSize else {
            throw StorageError.invalidArgument("manifest snapshot of \(snapshot.count) bytes exceeds \(maxRecordSize)")
        }
        var buffer = LogFileHeader(magic: LogFileHeader.manifestMagic, base: number).encoded()
        snapshot.withUnsafeBytes { LogRecord.append(to: &buffer, sequence: 1, synced: 0, kind: snapshotKind, payload: $0) }
        let file = try fs.createFile(FilePath.join(directory, FileNames.manifest(number)))
        do {
            try file.append(buffer)
            try file.sync()
            try fs.syncDirectory(directory)
        } catch {
            try? file.close()
            throw error
        }
        return file
    }

    // CURRENT (docs/storage.md): one line of ASCII,
    //   "osprey-current 1 MANIFEST-<n> <crc>\n"
    // magic word, format version, the manifest's file name, and the CRC32C of that name
    // as 8 lowercase hex digits.
    static let currentMagic = "osprey-current"

    static func encodeCurrent(_ number: UInt64) -> [UInt8] {
        let name = FileNames.manifest(number)
        let crc = String(CRC32C.checksum(Array(name.utf8)), radix: 16)
        let hex = String(repeating: "0", count: 8 - crc.count) + crc
        return Array("\(currentMagic) 1 \(name) \(hex)\n".utf8)
    }

    /// Replaces CURRENT with one naming manifest `number`: temp file, fsync, rename, fsync dir.
    private static func installCurrent(directory: String, fs: any FileSystem, number: UInt64) throws {
        try encodeCurrent(number).withUnsafeBytes {
            try fs.writeAtomically(
                FilePath.join(directory, FileNames.current), bytes: $0,
                temporaryPath: FilePath.join(directory, FileNames.currentTemporary))
        }
    }

    /// Reads and verifies CURRENT; returns the manifest number it names.
    static func readCurrent(directory: String, fs: any FileSystem) throws -> UInt64 {
        let path = FilePath.join(directory, FileNames.current)
        guard fs.exists(path) else { throw StorageError.notFound(path: path) }
        let bytes = try fs.readFile(path)
        guard let text = String(validating: bytes, as: UTF8.self), text.hasSuffix("\n") else {
            throw StorageError.corruption(path: path, offset: 0, reason: "not a single line of text")
        }
        let fields = text.dropLast().split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 4, fields[0] == currentMagic else {
            throw StorageError.unsupportedFormat(path: path, reason: "does not start with \"\(currentMagic)\"")
        }
        guard fields[1] == "1" else {
            throw StorageError.unsupportedFormat(path: path, reason: "version \(fields[1]); this build reads 1")
        }
        let name = String(fields[2])
        guard let crc = UInt32(fields[3], radix: 16), fields[3].count == 8,
            crc == CRC32C.checksum(Array(name.utf8))
        else {
            throw StorageError.corruption(path: path, offset: 0, reason: "checksum of the manifest name does not match")
        }
        guard let number = FileNames.manifestNumber(name) else {
            throw StorageError.corruption(path: path, offset: 0, reason: "\"\(name)\" is not a manifest name")
        }
        return number
    }
}
