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
//   record (28-byte header + payload, no alignment, no padding):
//     0  crc      u32       CRC32C of bytes 4..<(28 + length)
//     4  length   u32       payload bytes
//     8  sequence u64       WAL: the LSN; manifest: edit number; consecutive within a file
//     16 synced   u64       every record with sequence ≤ synced was fsync'd before this one
//                           was written; always < sequence
//     24 kind     u8        nonzero; WAL: 1 = data; manifest: 1 = snapshot, 2 = edit
//     25 zero     3 bytes
//     28 payload  length bytes, opaque to this layer
//
// A damaged record is a torn write, and is cut, unless a later valid record's `synced`
// reaches its sequence: that proves it had been made durable, so the damage is reported.

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
    static let headerSize = 28

    /// Appends one framed record to `buffer`.
    static func append(
        to buffer: inout [UInt8], sequence: UInt64, synced: UInt64, kind: UInt8, payload: UnsafeRawBufferPointer
    ) {
        let start = buffer.count
        appendUnsealed(to: &buffer, sequence: sequence, kind: kind, payload: payload)
        buffer.withUnsafeMutableBytes { seal(UnsafeMutableRawBufferPointer(rebasing: $0[start...]), synced: synced) }
    }

    /// Appends a framed record whose `synced` and `crc` fields are left zero, to be filled in
    /// by `seal` when it is known what is durable at the moment of writing.
    static func appendUnsealed(
        to buffer: inout [UInt8], sequence: UInt64, kind: UInt8, payload: UnsafeRawBufferPointer
    ) {
        buffer.reserveCapacity(buffer.count + headerSize + payload.count)
        withUnsafeBytes(of: UInt32(0)) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: sequence.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(0)) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: [kind, 0, 0, 0])
        buffer.append(contentsOf: payload)
    }

    /// Fills in `synced` and the CRC of every record in `records` (consecutive, unsealed).
    static func seal(_ records: UnsafeMutableRawBufferPointer, synced: UInt64) {
        var offset = 0
        while offset + headerSize <= records.count {
            let length = Int(records.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian)
            let end = offset + headerSize + length
            records.storeBytes(of: synced.littleEndian, toByteOffset: offset + 16, as: UInt64.self)
            let covered = UnsafeRawBufferPointer(rebasing: records[(offset + 4)..<end])
            records.storeBytes(of: CRC32C.checksum(covered).littleEndian, toByteOffset: offset, as: UInt32.self)
            offset = end
        }
    }

    /// Where and why a scan stopped before the end of the buffer.
    ///
    /// Thread safety: a value type; safe to share.
    struct Damage: Equatable {
        /// Offset of the first byte that is not part of a valid record.
        var offset: Int
        var reason: String
        /// Offset of a later valid record whose `synced` field shows that the damaged
        /// record had been made durable; when present, the damage is in the middle of the
        /// log, not a torn write.
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
                    laterValidRecord: findDurabilityProof(buffer, after: offset, damagedSequence: expected, maxPayload: maxPayload))
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
    /// to search for any record whose `synced` is at least `minimumSynced`.
    private static func check(
        _ buffer: UnsafeRawBufferPointer, at offset: Int, expected: UInt64?, minimumSynced: UInt64 = 0,
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
        let synced = buffer.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self).littleEndian
        let kind = buffer[offset + 24]
        let wellFormed = kind != 0 && buffer[offset + 25] == 0 && buffer[offset + 26] == 0 && buffer[offset + 27] == 0
            && synced < sequence
        // When searching (no expected sequence), cheap checks come before the CRC; they
        // reject nearly every offset that is not the start of a record.
        if expected == nil {
            guard wellFormed, synced >= minimumSynced, sequence > minimumSynced,
                sequence - minimumSynced <= UInt64(buffer.count / headerSize) + 1
            else { return .invalid("not a record") }
        }
        let stored = buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian
        let covered = UnsafeRawBufferPointer(rebasing: buffer[(offset + 4)..<(offset + headerSize + length)])
        guard CRC32C.checksum(covered) == stored else { return .invalid("record checksum mismatch") }
        guard wellFormed else { return .invalid("malformed record header (kind \(kind), synced \(synced))") }
        if let expected, sequence != expected {
            return .invalid("record sequence \(sequence) where \(expected) was expected")
        }
        return .valid(length: length, kind: kind)
    }

    /// The offset of the first valid record after `offset` whose `synced` field is at least
    /// `damagedSequence` — proof that the damaged record had been fsync'd — if any. Cheap
    /// header checks reject most offsets before a CRC is computed.
    static func findDurabilityProof(
        _ buffer: UnsafeRawBufferPointer, after offset: Int, damagedSequence: UInt64, maxPayload: Int
    ) -> Int? {
        var p = offset + 1
        while p + headerSize <= buffer.count {
            if buffer[p + 24] != 0,
                case .valid = check(buffer, at: p, expected: nil, minimumSynced: damagedSequence, maxPayload: maxPayload)
            {
                return p
            }
            p += 1
        }
        return nil
    }
}
