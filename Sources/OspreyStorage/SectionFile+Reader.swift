import OspreyCore

/// A verified, memory-mapped section file (see `SectionFileWriter` for the layout).
///
/// Opening checks the header, footer and table and, unless told not to, every section's
/// CRC32C; damaged or truncated files give `StorageError.corruption` or
/// `.unsupportedFormat` naming the file and offset, never a trap: every offset is checked
/// against the file's size before it is read, so a truncated file cannot fault. Section
/// buffers point into the mapping and stay valid as long as this object is alive; sections
/// start on 64-byte boundaries, so a section of fixed-width values can be read in place.
///
/// Thread safety: immutable after opening; safe to read from any thread.
package final class SectionFile: Sendable {
    /// One entry of the section table.
    package struct Section: Sendable, Equatable {
        package var name: String
        package var offset: Int
        package var length: Int
        package var crc: UInt32

        package init(name: String, offset: Int, length: Int, crc: UInt32) {
            self.name = name
            self.offset = offset
            self.length = length
            self.crc = crc
        }
    }

    /// The file's path (or object key).
    package let path: String
    /// The writer's file type and its format version.
    package let kind: SectionFileKind
    package let kindVersion: UInt32
    /// The sections, in the order they were written.
    package let sections: [Section]
    private let mapped: MappedFile

    /// Maps and verifies the file at `path`.
    ///
    /// - Parameters:
    ///   - expectedKind: if given, a file of another kind is rejected.
    ///   - verifyChecksums: check every section's CRC32C now (reading the whole file); when
    ///     false, only the header, table and footer are checked and `verify(section:)` can
    ///     be called later.
    package static func open(
        path: String, fileSystem: any FileSystem = PosixFileSystem(), expectedKind: SectionFileKind? = nil,
        verifyChecksums: Bool = true
    ) throws -> SectionFile {
        try SectionFile(mapped: try fileSystem.map(path), expectedKind: expectedKind, verifyChecksums: verifyChecksums)
    }

    /// Verifies a file already mapped (for example by an `ObjectStore`).
    package init(mapped: MappedFile, expectedKind: SectionFileKind? = nil, verifyChecksums: Bool = true) throws {
        typealias F = SectionFileFormat
        let path = mapped.path
        let bytes = mapped.bytes
        func corrupt(_ offset: Int, _ reason: String) -> StorageError {
            .corruption(path: path, offset: offset, reason: reason)
        }
        if bytes.count >= 8, Array(bytes[0..<8]) != F.magic {
            throw StorageError.unsupportedFormat(path: path, reason: "not a section file (magic \(Array(bytes[0..<8])))")
        }
        guard bytes.count >= F.headerSize + F.footerSize else {
            throw corrupt(0, "file of \(bytes.count) bytes is shorter than a header and footer (\(F.headerSize + F.footerSize))")
        }
        let headerCRC = bytes.loadUnaligned(fromByteOffset: 60, as: UInt32.self).littleEndian
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<60])) == headerCRC else {
            throw corrupt(0, "header checksum mismatch")
        }
        let version = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
        guard version == F.version else {
            throw StorageError.unsupportedFormat(path: path, reason: "section-file version \(version); this build reads \(F.version)")
        }
        let kind = SectionFileKind(raw: Array(bytes[12..<16]))
        if let expectedKind, expectedKind != kind {
            throw StorageError.unsupportedFormat(path: path, reason: "file kind is \(kind), expected \(expectedKind)")
        }
        kindVersion = bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self).littleEndian

        // Footer.
        let footerOffset = bytes.count - F.footerSize
        let footer = UnsafeRawBufferPointer(rebasing: bytes[footerOffset...])
        guard Array(footer[24..<32]) == F.endMagic else {
            throw corrupt(footerOffset + 24, "footer magic missing: the file is truncated or was not finished")
        }
        guard F.checksumFooter(footer) == footer.loadUnaligned(fromByteOffset: 20, as: UInt32.self).littleEndian else {
            throw corrupt(footerOffset, "footer checksum mismatch")
        }
        let tableOffset = footer.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        let tableLength = footer.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian
        guard tableOffset >= UInt64(F.headerSize), tableOffset <= UInt64(footerOffset),
            tableLength == UInt64(footerOffset) - tableOffset
        else {
            throw corrupt(footerOffset, "table at \(tableOffset) of \(tableLength) bytes does not end at the footer")
        }
        let table = UnsafeRawBufferPointer(rebasing: bytes[Int(tableOffset)..<footerOffset])
        guard CRC32C.checksum(table) == footer.loadUnaligned(fromByteOffset: 16, as: UInt32.self).littleEndian else {
            throw corrupt(Int(tableOffset), "section table checksum mismatch")
        }

        // Table.
        var parsed: [Section] = []
        do {
            var reader = ByteReader(table)
            let count = try reader.readUInt32()
            guard Int(count) <= table.count / 14 else {
                throw corrupt(Int(tableOffset), "section count \(count) does not fit in a table of \(table.count) bytes")
            }
            var end = F.headerSize
            for _ in 0..<count {
                let entryOffset = Int(tableOffset) + reader.offset
                let name = try reader.readString()
                let offset = try reader.readUInt64()
                let length = try reader.readUInt64()
                let crc = try reader.readUInt32()
                guard offset % UInt64(F.alignment) == 0, offset >= UInt64(end), offset <= tableOffset,
                    length <= tableOffset - offset
                else {
                    throw corrupt(entryOffset, "section \"\(name)\" at \(offset) of \(length) bytes is misplaced")
                }
                guard !parsed.contains(where: { $0.name == name }) else {
                    throw corrupt(entryOffset, "duplicate section \"\(name)\"")
                }
                parsed.append(Section(name: name, offset: Int(offset), length: Int(length), crc: crc))
                end = Int(offset + length)
            }
            guard reader.isAtEnd else { throw corrupt(Int(tableOffset) + reader.offset, "bytes after the last table entry") }
        } catch {
            throw StorageError.decoding(error, path: path, base: Int(tableOffset))
        }
        self.path = path
        self.kind = kind
        self.mapped = mapped
        self.sections = parsed
        if verifyChecksums {
            for section in parsed { try verify(section: section.name) }
            // Padding is not covered by a section checksum; it must be zero.
            var gapStart = F.headerSize
            for gap in parsed.map({ ($0.offset, $0.offset + $0.length) }) + [(Int(tableOffset), Int(tableOffset))] {
                if let bad = bytes[gapStart..<gap.0].firstIndex(where: { $0 != 0 }) {
                    throw corrupt(bad, "nonzero padding byte")
                }
                gapStart = gap.1
            }
        }
    }

    /// The mapping (or, where the file system cannot map, the aligned heap copy) the section
    /// buffers point into. Anything that keeps a section buffer beyond a call keeps this
    /// reader alive as the buffer's owner.
    package var mapping: MappedFile { mapped }

    /// The names of the sections, in the order they were written.
    package var sectionNames: [String] { sections.map(\.name) }

    /// The bytes of the section `name`, or nil if there is none.
    package func sectionIfPresent(_ name: String) -> UnsafeRawBufferPointer? {
        guard let s = sections.first(where: { $0.name == name }) else { return nil }
        return UnsafeRawBufferPointer(rebasing: mapped.bytes[s.offset..<(s.offset + s.length)])
    }

    /// The bytes of the section `name`; a missing section is corruption (the writer of
    /// this kind always writes it).
    package func section(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let bytes = sectionIfPresent(name) else {
            throw StorageError.corruption(path: path, offset: 0, reason: "no section named \"\(name)\" (has \(sectionNames))")
        }
        return bytes
    }

    /// Calls `body` with the bytes of section `name`, keeping this reader (and so the
    /// mapping) alive for the duration of the call.
    package func withSection<T>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        try withExtendedLifetime(self) { try body(try section(name)) }
    }

    /// A copy of the bytes of section `name`.
    package func copySection(_ name: String) throws -> [UInt8] {
        try withSection(name) { [UInt8]($0) }
    }

    /// Checks the CRC32C of section `name`.
    package func verify(section name: String) throws {
        guard let s = sections.first(where: { $0.name == name }), let bytes = sectionIfPresent(name) else {
            throw StorageError.invalidArgument("no section named \"\(name)\" in \(path)")
        }
        guard CRC32C.checksum(bytes) == s.crc else {
            throw StorageError.corruption(path: path, offset: s.offset, reason: "section \"\(name)\" checksum mismatch")
        }
    }
}
