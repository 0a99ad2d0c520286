import OspreyCore

// Framing of immutable segment and index files (docs/storage.md, "Section files").
//
//   file    := header section* padding table footer
//   header  (64 bytes):
//     0  magic         8 bytes  "OSPRYSEC"
//     8  version       u32      1 (this framing)
//     12 kind          4 bytes  the caller's file type, four ASCII characters ("SEGC", "HNSW")
//     16 kindVersion   u32      the caller's format version for that kind
//     20 zero          40 bytes
//     60 crc           u32      CRC32C of bytes 0..<60
//   section := bytes at an offset that is a multiple of 64, zero-padded up to the next
//   table   (at a multiple of 64):
//     count u32, then per section: name string (varint length + UTF-8), offset u64,
//     length u64, crc u32 (CRC32C of the section's bytes), in the order written
//   footer  (last 32 bytes):
//     0  tableOffset   u64
//     8  tableLength   u64
//     16 tableCRC      u32      CRC32C of the table
//     20 footerCRC     u32      CRC32C of footer bytes 0..<20 and 24..<32
//     24 magic         8 bytes  "OSPRYEND"

/// The type of a section file, as four ASCII characters chosen by the layer that writes it.
///
/// Thread safety: a value type; safe to share.
package struct SectionFileKind: Hashable, Sendable, CustomStringConvertible {
    /// The four characters, in file order.
    package let bytes: [UInt8]

    /// A kind from exactly four ASCII characters, e.g. `SectionFileKind("HNSW")`.
    package init(_ code: String) {
        let utf8 = Array(code.utf8)
        precondition(utf8.count == 4 && utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F },
                     "a section file kind is four printable ASCII characters")
        bytes = utf8
    }

    init(raw: [UInt8]) { bytes = raw }

    package var description: String { String(decoding: bytes, as: UTF8.self) }
}

/// Constants of the section-file layout (above).
///
/// Thread safety: stateless.
enum SectionFileFormat {
    static let headerSize = 64
    static let footerSize = 32
    static let alignment = 64
    static let version: UInt32 = 1
    static let magic = Array("OSPRYSEC".utf8)
    static let endMagic = Array("OSPRYEND".utf8)
    static let maxNameLength = 255
}

/// Writes a section file: a header, named 64-byte-aligned sections, a table of their
/// offsets, lengths and CRC32Cs, and a checksummed footer.
///
/// The file is written as `<path>.tmp` and appears at `path` only when `finish()` has
/// synced it, renamed it and synced the directory, so a reader never sees a partial file.
/// Sections are added whole (`addSection`) or streamed (`beginSection`, `write`,
/// `endSection`). Writes are buffered in 1 MiB chunks.
///
/// Thread safety: not thread-safe; use from one thread.
package final class SectionFileWriter {
    package let path: String
    private let temporaryPath: String
    private let fs: any FileSystem
    private let file: any WritableFile
    private var buffer: [UInt8] = []
    private var offset = 0
    private var sections: [(name: String, offset: Int, length: Int, crc: UInt32)] = []
    private var open: (name: String, offset: Int, crc: UInt32)?
    private var finished = false
    private static let bufferLimit = 1 << 20

    /// Starts writing `path` (via `<path>.tmp`) as a file of `kind` at `kindVersion`.
    package init(path: String, fileSystem: any FileSystem = PosixFileSystem(), kind: SectionFileKind,
                 kindVersion: UInt32) throws {
        self.path = path
        temporaryPath = path + FileNames.temporarySuffix
        fs = fileSystem
        file = try fs.createFile(temporaryPath)
        var header = ByteWriter(capacity: SectionFileFormat.headerSize)
        header.writeRaw(SectionFileFormat.magic)
        header.write(SectionFileFormat.version)
        header.writeRaw(kind.bytes)
        header.write(kindVersion)
        header.writeZeros(60 - header.count)
        header.write(CRC32C.checksum(header.bytes))
        try emit(header.bytes)
    }

    deinit {
        if !finished {
            try? file.close()
            try? fs.remove(temporaryPath)
        }
    }

    /// Adds a whole section.
    package func addSection(_ name: String, bytes: UnsafeRawBufferPointer) throws {
        try beginSection(name)
        try write(bytes)
        try endSection()
    }

    /// Adds a whole section.
    package func addSection(_ name: String, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try addSection(name, bytes: $0) }
    }

    /// Starts a section named `name` (1–255 bytes of UTF-8, unique in the file).
    package func beginSection(_ name: String) throws {
        guard !finished, open == nil else {
            throw StorageError.invalidArgument("beginSection(\(name)) while another section is open or after finish")
        }
        let length = name.utf8.count
        guard length > 0, length <= SectionFileFormat.maxNameLength else {
            throw StorageError.invalidArgument("section name must be 1–255 bytes of UTF-8, got \(length)")
        }
        guard !sections.contains(where: { $0.name == name }) else {
            throw StorageError.invalidArgument("duplicate section name \"\(name)\" in \(path)")
        }
        try pad()
        open = (name, offset, 0)
    }

    /// Appends bytes to the open section.
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard open != nil else { throw StorageError.invalidArgument("write outside a section in \(path)") }
        open!.crc = CRC32C.extend(open!.crc, bytes)
        try emit(bytes)
    }

    /// Appends bytes to the open section.
    package func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Ends the open section.
    package func endSection() throws {
        guard let section = open else { throw StorageError.invalidArgument("endSection without beginSection in \(path)") }
        sections.append((section.name, section.offset, offset - section.offset, section.crc))
        open = nil
    }

    /// Writes the table and footer, syncs the file, renames it into place and syncs the
    /// directory. The writer cannot be used afterwards.
    package func finish() throws {
        guard !finished, open == nil else {
            throw StorageError.invalidArgument("finish() with a section open or twice for \(path)")
        }
        try pad()
        var table = ByteWriter()
        table.write(UInt32(sections.count))
        for s in sections {
            table.writeString(s.name)
            table.write(UInt64(s.offset))
            table.write(UInt64(s.length))
            table.write(s.crc)
        }
        let tableOffset = offset
        try emit(table.bytes)
        var footer = ByteWriter(capacity: SectionFileFormat.footerSize)
        footer.write(UInt64(tableOffset))
        footer.write(UInt64(table.count))
        footer.write(CRC32C.checksum(table.bytes))
        footer.write(UInt32(0))
        footer.writeRaw(SectionFileFormat.endMagic)
        footer.overwrite(SectionFileFormat.footerChecksum(footer.bytes), at: 20)
        try emit(footer.bytes)
        try flush()
        try file.sync()
        try file.close()
        try fs.rename(temporaryPath, to: path)
        try fs.syncDirectory(FilePath.parent(path))
        finished = true
    }

    private func pad() throws {
        let r = offset % SectionFileFormat.alignment
        if r != 0 { try emit([UInt8](repeating: 0, count: SectionFileFormat.alignment - r)) }
    }

    private func emit(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try emit($0) } }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        offset += bytes.count
        if buffer.count + bytes.count > Self.bufferLimit {
            try flush()
            if bytes.count >= Self.bufferLimit {
                try file.append(bytes)
                return
            }
        }
        buffer.append(contentsOf: bytes)
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try file.append(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

extension SectionFileFormat {
    /// CRC32C of footer bytes 0..<20 and 24..<32 (the checksum field itself excluded).
    static func footerChecksum(_ footer: [UInt8]) -> UInt32 {
        footer.withUnsafeBytes { checksumFooter($0) }
    }

    static func checksumFooter(_ footer: UnsafeRawBufferPointer) -> UInt32 {
        CRC32C.extend(
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: footer[0..<20])),
            UnsafeRawBufferPointer(rebasing: footer[24..<32]))
    }
}
