// Little-endian binary encoding: every on-disk and catalog format in Osprey is written
// with ByteWriter and read back with ByteReader. Grammar (docs/storage.md, "Primitives"):
//
//   u8 | u16 | u32 | u64 | i32 | i64      fixed width, little-endian, unaligned
//   f32 | f64                             IEEE 754 bit pattern as u32 | u64
//   varint                                LEB128: 7 bits per byte, low bits first,
//                                         high bit set on every byte but the last; ≤ 10 bytes
//   zigzag                                signed as varint of (n << 1) ^ (n >> 63)
//   bytes  := varint(length) byte*length
//   string := bytes holding UTF-8

/// An error decoding bytes: the input is shorter than its contents claim or malformed.
///
/// It says where (the byte offset inside the buffer being decoded); the layer that
/// called the reader adds which file or record that buffer came from.
package enum ByteCodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `needed` more bytes were required at `offset`, but only `available` remain.
    case truncated(offset: Int, needed: Int, available: Int)
    /// A varint at `offset` runs past 10 bytes or overflows 64 bits.
    case malformedVarint(offset: Int)
    /// A length at `offset` is larger than the rest of the input or than the platform allows.
    case lengthOutOfRange(offset: Int, length: UInt64)
    /// A string at `offset` is not valid UTF-8.
    case invalidUTF8(offset: Int)

    package var description: String {
        switch self {
        case let .truncated(offset, needed, available):
            "truncated input: \(needed) bytes needed at offset \(offset), \(available) available"
        case let .malformedVarint(offset):
            "malformed varint at offset \(offset)"
        case let .lengthOutOfRange(offset, length):
            "length \(length) at offset \(offset) exceeds the remaining input"
        case let .invalidUTF8(offset):
            "invalid UTF-8 in string at offset \(offset)"
        }
    }
}

/// Appends little-endian fixed-width integers, floats, varints and length-prefixed data
/// to a growing byte array.
///
/// Thread safety: a value type; use one per thread.
package struct ByteWriter: Sendable {
    /// The bytes written so far.
    package private(set) var bytes: [UInt8]

    package init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Number of bytes written so far.
    @inlinable package var count: Int { bytes.count }

    package mutating func write(_ value: UInt8) { bytes.append(value) }
    package mutating func write(_ value: UInt16) { writeLittleEndian(value) }
    package mutating func write(_ value: UInt32) { writeLittleEndian(value) }
    package mutating func write(_ value: UInt64) { writeLittleEndian(value) }
    package mutating func write(_ value: Int32) { writeLittleEndian(UInt32(bitPattern: value)) }
    package mutating func write(_ value: Int64) { writeLittleEndian(UInt64(bitPattern: value)) }
    package mutating func write(_ value: Float) { writeLittleEndian(value.bitPattern) }
    package mutating func write(_ value: Double) { writeLittleEndian(value.bitPattern) }
    package mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    private mutating func writeLittleEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
    }

    /// Writes `value` as an unsigned LEB128 varint (1 to 10 bytes).
    package mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Writes a signed value zigzag-encoded as a varint, so small magnitudes stay short.
    package mutating func writeSignedVarint(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Appends raw bytes with no length prefix.
    package mutating func writeRaw(_ raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }
    /// Appends raw bytes with no length prefix.
    package mutating func writeRaw(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }

    /// Appends `count` zero bytes.
    package mutating func writeZeros(_ count: Int) {
        bytes.append(contentsOf: repeatElement(0, count: count))
    }

    /// Appends zero bytes until `count` is a multiple of `alignment`.
    package mutating func pad(toMultipleOf alignment: Int) {
        let r = bytes.count % alignment
        if r != 0 { writeZeros(alignment - r) }
    }

    /// Writes a varint length followed by the bytes.
    package mutating func writeLengthPrefixed(_ raw: [UInt8]) {
        writeVarint(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// Writes a varint length followed by the bytes.
    package mutating func writeLengthPrefixed(_ raw: UnsafeRawBufferPointer) {
        writeVarint(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// Writes a string as length-prefixed UTF-8.
    package mutating func writeString(_ string: String) {
        var s = string
        s.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Overwrites four bytes at `offset` (already written) with `value`, little-endian.
    package mutating func overwrite(_ value: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= bytes.count, "overwrite outside the written bytes")
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }

    /// Empties the writer, keeping its capacity.
    package mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }
}

/// Reads what `ByteWriter` wrote from a borrowed buffer; every read checks the remaining
/// length and throws `ByteCodingError` on truncation or malformed input — it never traps.
///
/// The reader does not own its buffer: the buffer must outlive it (use `withReader` for
/// arrays). Slices it returns point into that buffer.
///
/// Thread safety: a value type over borrowed memory; use one per thread.
package struct ByteReader {
    /// The buffer being read.
    package let buffer: UnsafeRawBufferPointer
    /// Offset of the next byte to read.
    package private(set) var offset: Int

    package init(_ buffer: UnsafeRawBufferPointer, offset: Int = 0) {
        self.buffer = buffer
        self.offset = offset
    }

    /// Runs `body` with a reader over `bytes`.
    package static func withReader<T>(
        _ bytes: [UInt8], _ body: (inout ByteReader) throws -> T
    ) rethrows -> T {
        try bytes.withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            return try body(&reader)
        }
    }

    /// Bytes not read yet.
    @inlinable package var remaining: Int { buffer.count - offset }
    /// Whether every byte has been read.
    @inlinable package var isAtEnd: Bool { offset >= buffer.count }

    private func require(_ n: Int) throws {
        if n > remaining || n < 0 {
            throw ByteCodingError.truncated(offset: offset, needed: n, available: remaining)
        }
    }

    private mutating func readLittleEndian<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try require(MemoryLayout<T>.size)
        let v = buffer.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    package mutating func readUInt8() throws -> UInt8 {
        try require(1)
        defer { offset += 1 }
        return buffer[offset]
    }
    package mutating func readUInt16() throws -> UInt16 { try readLittleEndian(UInt16.self) }
    package mutating func readUInt32() throws -> UInt32 { try readLittleEndian(UInt32.self) }
    package mutating func readUInt64() throws -> UInt64 { try readLittleEndian(UInt64.self) }
    package mutating func readInt32() throws -> Int32 { Int32(bitPattern: try readUInt32()) }
    package mutating func readInt64() throws -> Int64 { Int64(bitPattern: try readUInt64()) }
    package mutating func readFloat() throws -> Float { Float(bitPattern: try readUInt32()) }
    package mutating func readDouble() throws -> Double { Double(bitPattern: try readUInt64()) }
    package mutating func readBool() throws -> Bool { try readUInt8() != 0 }

    /// Reads an unsigned LEB128 varint.
    package mutating func readVarint() throws -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < buffer.count else {
                throw ByteCodingError.truncated(offset: offset, needed: 1, available: 0)
            }
            let byte = buffer[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw ByteCodingError.malformedVarint(offset: start) }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw ByteCodingError.malformedVarint(offset: start) }
        }
    }

    /// Reads a zigzag-encoded signed varint.
    package mutating func readSignedVarint() throws -> Int64 {
        let u = try readVarint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    /// Returns the next `count` bytes as a slice of the underlying buffer.
    package mutating func readRaw(count: Int) throws -> UnsafeRawBufferPointer {
        try require(count)
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + count)])
    }

    /// Skips `count` bytes.
    package mutating func skip(_ count: Int) throws {
        try require(count)
        offset += count
    }

    private mutating func readLength() throws -> Int {
        let start = offset
        let length = try readVarint()
        guard length <= UInt64(remaining) else {
            throw ByteCodingError.lengthOutOfRange(offset: start, length: length)
        }
        return Int(length)
    }

    /// Reads a varint length and that many bytes, as a slice of the underlying buffer.
    package mutating func readLengthPrefixedRaw() throws -> UnsafeRawBufferPointer {
        try readRaw(count: try readLength())
    }

    /// Reads a varint length and that many bytes, copied into an array.
    package mutating func readLengthPrefixed() throws -> [UInt8] {
        [UInt8](try readLengthPrefixedRaw())
    }

    /// Reads a length-prefixed UTF-8 string.
    package mutating func readString() throws -> String {
        let start = offset
        let raw = try readLengthPrefixedRaw()
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw ByteCodingError.invalidUTF8(offset: start)
        }
        return s
    }
}
