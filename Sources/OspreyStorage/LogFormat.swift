import OspreyCore

// The framing shared by the write-ahead log and the manifest (docs/storage.md, "Log files").
//
//   log-file   := file-header record*
//   file-header (32 bytes):
//     0  magic    8 bytes   "OSPRYWAL" (WAL) or "OSPRYMAN" (manifest)
//     8  version  u32       1
//     12 reserved u32       0
//     16 base     u64       WAL: LSN of the first record; manifest: the manifest number
//     24 reserved u32       0
//     28 crc      u32       CRC32C of bytes 0..<28
//   record (20-byte header + payload, no alignment, no padding):
//     0  crc      u32       CRC32C of bytes 4..<(20 + length)
//     4  length   u32       payload bytes
//     8  sequence u64       WAL: the LSN; manifest: edit number; consecutive within a file
//     16 kind     u8        nonzero; WAL: 1 = data; manifest: 1 = snapshot, 2 = edit
//     17 zero     3 bytes
//     20 payload  length bytes, opaque to this layer

/// The 32-byte header at the start of every WAL and manifest file.
///
/// Thread safety: a value type; safe to share.
struct LogFileHeader: Equatable {
    static let size = 32
    static let version: UInt32 = 1
    static let walMagic = Array("OSPRYWAL".utf8)
    static let manifestMagic = Array("OSPRYMAN".utf8)

    var magic: [UInt8]
    var base: UInt64

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: Self.size)
        w.writeRaw(magic)
        w.write(Self.version)
        w.write(UInt32(0))
        w.write(base)
        w.write(UInt32(0))
        w.write(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Decodes and verifies the header at the start of `bytes`, read from `path`.
    static func decode(_ bytes: UnsafeRawBufferPointer, magic: [UInt8], path: String) throws -> LogFileHeader {
        guard bytes.count >= size else {
            throw StorageError.corruption(
                path: path, offset: 0, reason: "file header truncated: \(bytes.count) of \(size) bytes")
        }
        let header = UnsafeRawBufferPointer(rebasing: bytes[0..<size])
        guard Array(header[0..<8]) == magic else {
            throw StorageError.unsupportedFormat(
                path: path, reason: "magic is \(Array(header[0..<8])), not \(String(decoding: magic, as: UTF8.self))")
        }
        let stored = header.loadUnaligned(fromByteOffset: 28, as: UInt32.self).littleEndian
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: header[0..<28])) == stored else {
            throw StorageError.corruption(path: path, offset: 0, reason: "file header checksum mismatch")
        }
        let version = header.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
        guard version == Self.version else {
            throw StorageError.unsupportedFormat(path: path, reason: "version \(version); this build reads \(Self.version)")
        }
        let base = header.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian
        return LogFileHeader(magic: magic, base: base)
    }
}

/// Encoding and scanning of framed records (layout above).
///
/// Thread safety: stateless.
enum LogRecord {
    static let headerSize = 20

    /// Appends one framed record to `buffer`.
    static func append(
        to buffer: inout [UInt8], sequence: UInt64, kind: UInt8, payload: UnsafeRawBufferPointer
    ) {
        let start = buffer.count
        buffer.reserveCapacity(start + headerSize + payload.count)
        withUnsafeBytes(of: UInt32(0)) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: sequence.littleEndian) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: [kind, 0, 0, 0])
        buffer.append(contentsOf: payload)
        buffer.withUnsafeMutableBytes { raw in
            let covered = UnsafeRawBufferPointer(rebasing: raw[(start + 4)...])
            raw.storeBytes(of: CRC32C.checksum(covered).littleEndian, toByteOffset: start, as: UInt32.self)
        }
    }

    /// Where and why a scan stopped before the end of the buffer.
    ///
    /// Thread safety: a value type; safe to share.
    struct Damage: Equatable {
        /// Offset of the first byte that is not part of a valid record.
        var offset: Int
        var reason: String
        /// Offset of a later record that is valid and continues the sequence; when present,
        /// the damage is in the middle of the log, not a torn tail.
        var laterValidRecord: Int?
    }

    /// What a scan found.
    ///
    /// Thread safety: a value type; safe to share.
    struct ScanResult {
        /// End of the last valid record (where a torn tail would be cut).
        var validEnd: Int
        /// Sequence number of the last valid record, or nil when none.
        var lastSequence: UInt64?
        var recordCount: Int
        var damage: Damage?
    }

    /// Walks the records of `buffer` from `start`, calling `body` for each valid one in order,
    /// and stops at the end or at the first damaged record.
    ///
    /// `firstSequence` is the sequence the first record must carry (later ones follow by one).
    static func scan(
        _ buffer: UnsafeRawBufferPointer, from start: Int, firstSequence: UInt64, maxPayload: Int,
        _ body: (UInt64, UInt8, UnsafeRawBufferPointer) throws -> Void
    ) rethrows -> ScanResult {
        var offset = start
        var expected = firstSequence
        var result = ScanResult(validEnd: start, lastSequence: nil, recordCount: 0, damage: nil)
        while offset < buffer.count {
            switch check(buffer, at: offset, expected: expected, maxPayload: maxPayload) {
            case let .valid(length, kind):
                let payloadStart = offset + headerSize
                try body(expected, kind, UnsafeRawBufferPointer(rebasing: buffer[payloadStart..<(payloadStart + length)]))
                result.lastSequence = expected
                result.recordCount += 1
                expected += 1
                offset = payloadStart + length
                result.validEnd = offset
            case let .invalid(reason):
                result.damage = Damage(
                    offset: offset, reason: reason,
                    laterValidRecord: findValidRecord(buffer, after: offset, minimumSequence: expected, maxPayload: maxPayload))
                return result
            }
        }
        return result
    }

    private enum Check {
        case valid(length: Int, kind: UInt8)
        case invalid(String)
    }

    /// Validates the record at `offset`; `expected` is the sequence it must carry, or nil
    /// to accept any sequence.
    private static func check(
        _ buffer: UnsafeRawBufferPointer, at offset: Int, expected: UInt64?, minimumSequence: UInt64 = 0,
        maxPayload: Int
    ) -> Check {
        let remaining = buffer.count - offset
        guard remaining >= headerSize else {
            return .invalid("incomplete record header (\(remaining) of \(headerSize) bytes)")
        }
        let length = Int(buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian)
        guard length <= maxPayload else {
            return .invalid("record length \(length) exceeds the maximum \(maxPayload)")
        }
        guard length <= remaining - headerSize else {
            return .invalid("record of \(length) bytes extends \(length - (remaining - headerSize)) bytes past the end of the file")
        }
        let sequence = buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self).littleEndian
        let kind = buffer[offset + 16]
        let wellFormed = kind != 0 && buffer[offset + 17] == 0 && buffer[offset + 18] == 0 && buffer[offset + 19] == 0
        // When searching (no expected sequence), cheap checks come before the CRC; they
        // reject nearly every offset that is not the start of a record.
        if expected == nil {
            guard wellFormed, sequence >= minimumSequence,
                sequence - minimumSequence <= UInt64(buffer.count / headerSize)
            else { return .invalid("not a record") }
        }
        let stored = buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian
        let covered = UnsafeRawBufferPointer(rebasing: buffer[(offset + 4)..<(offset + headerSize + length)])
        guard CRC32C.checksum(covered) == stored else { return .invalid("record checksum mismatch") }
        guard wellFormed else { return .invalid("malformed record header (kind \(kind))") }
        if let expected, sequence != expected {
            return .invalid("record sequence \(sequence) where \(expected) was expected")
        }
        return .valid(length: length, kind: kind)
    }

    /// The offset of the first valid record after `offset` whose sequence is at least
    /// `minimumSequence`, if any. Cheap header checks reject most offsets before a CRC.
    static func findValidRecord(
        _ buffer: UnsafeRawBufferPointer, after offset: Int, minimumSequence: UInt64, maxPayload: Int
    ) -> Int? {
        var p = offset + 1
        while p + headerSize <= buffer.count {
            if buffer[p + 16] != 0,
                case .valid = check(buffer, at: p, expected: nil, minimumSequence: minimumSequence, maxPayload: maxPayload)
            {
                return p
            }
            p += 1
        }
        return nil
    }
}
