import OspreyCore

// Binary codec for columns, values and schemas, used by WAL records and manifest edits.
// Everything is little-endian through ByteWriter (docs/storage.md §12).
//
//   batch      := varint(rows) varint(columns) column*          columns sorted by name
//   column     := string(name) u8(flags: bit 0 = has validity) validity? data
//   validity   := bitmask of `rows` bits, ceil(rows/8) bytes, bit i%8 of byte i/8 = row i valid
//   data       := u8(DataType raw value) payload
//     BOOL                   varint(n) u8*n                     0 or 1
//     INT8/16/32/64          varint(n) (i8|i16|i32|i64)*n       raw little-endian
//     FLOAT/DOUBLE           varint(n) (f32|f64)*n
//     VARCHAR                varint(n) string*n
//     JSON                   varint(n) json*n
//     ARRAY                  varint(n) (varint(m) value*m)*n
//     FLOAT/FLOAT16/BFLOAT16/INT8/BINARY_VECTOR
//                            varint(dim) varint(elements) element*elements
//                            (f32 | u16 | u16 | i8 | u8)
//     SPARSE_FLOAT_VECTOR    varint(n) (varint(nnz) u32*nnz f32*nnz)*n
//   json       := u8(tag) …  0 null | 1 false | 2 true | 3 zigzag(int) | 4 f64 | 5 string
//                            | 6 varint(n) json*n | 7 varint(n) (string json)*n (keys sorted)
//   value      := u8(tag) …  0 null | 1 bool u8 | 2 zigzag(int) | 3 f32 | 4 f64 | 5 string
//                            | 6 json | 7 varint(n) value*n | 8 varint(n) f32*n
//                            | 9 varint(n) u16*n (f16) | 10 varint(n) u16*n (bf16)
//                            | 11 varint(n) i8*n | 12 bytes (binary) | 13 sparse
//   sparse     := varint(nnz) u32*nnz f32*nnz

#if _endian(big)
#error("the record codecs copy fixed-width arrays as little-endian memory")
#endif

/// A decoding failure inside one engine record, before the caller names the file.
///
/// Thread safety: a value type; safe to share.
struct RecordDecodingError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
    init(_ message: String) { self.message = message }
}

/// Encoders and decoders for `ColumnBatch`, `FieldValue` and `JSONValue` (grammar above).
///
/// Thread safety: stateless.
enum ValueCodec {
    // MARK: - Batches

    static func write(_ batch: ColumnBatch, to w: inout ByteWriter) {
        w.writeVarint(UInt64(batch.rowCount))
        w.writeVarint(UInt64(batch.columns.count))
        for name in batch.columns.keys.sorted() {
            let c = batch.columns[name]!
            w.writeString(name)
            w.write(UInt8(c.validity == nil ? 0 : 1))
            if let v = c.validity { writeBitmask(v, to: &w) }
            write(c.data, to: &w)
        }
    }

    static func readBatch(_ r: inout ByteReader) throws -> ColumnBatch {
        let rows = try readCount(&r)
        let n = try readCount(&r)
        var batch = ColumnBatch(rowCount: rows)
        for _ in 0..<n {
            let name = try r.readString()
            let flags = try r.readUInt8()
            let validity = flags & 1 != 0 ? try readBitmask(&r, count: rows) : nil
            let data = try readData(&r)
            guard data.count == rows else {
                throw RecordDecodingError("column '\(name)' has \(data.count) rows, the batch \(rows)")
            }
            batch.columns[name] = Column(data, validity: validity)
        }
        return batch
    }

    static func writeBitmask(_ bits: [Bool], to w: inout ByteWriter) {
        var bytes = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (i, b) in bits.enumerated() where b { bytes[i >> 3] |= 1 << UInt8(i & 7) }
        w.writeRaw(bytes)
    }

    static func readBitmask(_ r: inout ByteReader, count: Int) throws -> [Bool] {
        let raw = try r.readRaw(count: (count + 7) / 8)
        return (0..<count).map { raw[$0 >> 3] & (1 << UInt8($0 & 7)) != 0 }
    }

    // MARK: - Column data

    static func write(_ data: ColumnData, to w: inout ByteWriter) {
        w.write(UInt8(data.dataType.rawValue))
        switch data {
        case .bool(let v): w.writeVarint(UInt64(v.count)); for b in v { w.write(b) }
        case .int8(let v): writeRaw(v, to: &w)
        case .int16(let v): writeRaw(v, to: &w)
        case .int32(let v): writeRaw(v, to: &w)
        case .int64(let v): writeRaw(v, to: &w)
        case .float(let v): writeRaw(v, to: &w)
        case .double(let v): writeRaw(v, to: &w)
        case .string(let v): w.writeVarint(UInt64(v.count)); for s in v { w.writeString(s) }
        case .json(let v): w.writeVarint(UInt64(v.count)); for j in v { write(j, to: &w) }
        case .array(let v):
            w.writeVarint(UInt64(v.count))
            for row in v {
                w.writeVarint(UInt64(row.count))
                for e in row { write(e, to: &w) }
            }
        case .floatVector(let d, let v): w.writeVarint(UInt64(d)); writeRaw(v, to: &w)
        case .float16Vector(let d, let v), .bfloat16Vector(let d, let v): w.writeVarint(UInt64(d)); writeRaw(v, to: &w)
        case .int8Vector(let d, let v): w.writeVarint(UInt64(d)); writeRaw(v, to: &w)
        case .binaryVector(let d, let v): w.writeVarint(UInt64(d)); writeRaw(v, to: &w)
        case .sparseFloatVector(let v): w.writeVarint(UInt64(v.count)); for s in v { write(s, to: &w) }
        }
    }

    static func readData(_ r: inout ByteReader) throws -> ColumnData {
        let raw = try r.readUInt8()
        guard let type = DataType(rawValue: Int32(raw)) else { throw RecordDecodingError("unknown data type \(raw)") }
        switch type {
        case .bool:
            let n = try readCount(&r)
            return .bool(try [UInt8](r.readRaw(count: n)).map { $0 != 0 })
        case .int8: return .int8(try readRaw(&r))
        case .int16: return .int16(try readRaw(&r))
        case .int32: return .int32(try readRaw(&r))
        case .int64: return .int64(try readRaw(&r))
        case .float: return .float(try readRaw(&r))
        case .double: return .double(try readRaw(&r))
        case .varchar:
            let n = try readCount(&r)
            var out: [String] = []
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(try r.readString()) }
            return .string(out)
        case .json:
            let n = try readCount(&r)
            var out: [JSONValue] = []
            for _ in 0..<n { out.append(try readJSON(&r, depth: 0)) }
            return .json(out)
        case .array:
            let n = try readCount(&r)
            var out: [[FieldValue]] = []
            for _ in 0..<n {
                let m = try readCount(&r)
                var row: [FieldValue] = []
                for _ in 0..<m { row.append(try readValue(&r, depth: 1)) }
                out.append(row)
            }
            return .array(out)
        case .floatVector: let d = try readCount(&r); return .floatVector(dim: d, try readRaw(&r))
        case .float16Vector: let d = try readCount(&r); return .float16Vector(dim: d, try readRaw(&r))
        case .bfloat16Vector: let d = try readCount(&r); return .bfloat16Vector(dim: d, try readRaw(&r))
        case .int8Vector: let d = try readCount(&r); return .int8Vector(dim: d, try readRaw(&r))
        case .binaryVector: let d = try readCount(&r); return .binaryVector(dim: d, try readRaw(&r))
        case .sparseFloatVector:
            let n = try readCount(&r)
            var out: [SparseVector] = []
            for _ in 0..<n { out.append(try readSparse(&r)) }
            return .sparseFloatVector(out)
        }
    }

    // MARK: - Values

    static func write(_ v: FieldValue, to w: inout ByteWriter) {
        switch v {
        case .null: w.write(UInt8(0))
        case .bool(let b): w.write(UInt8(1)); w.write(b)
        case .int(let i): w.write(UInt8(2)); w.writeSignedVarint(i)
        case .float(let f): w.write(UInt8(3)); w.write(f)
        case .double(let d): w.write(UInt8(4)); w.write(d)
        case .string(let s): w.write(UInt8(5)); w.writeString(s)
        case .json(let j): w.write(UInt8(6)); write(j, to: &w)
        case .array(let a): w.write(UInt8(7)); w.writeVarint(UInt64(a.count)); for e in a { write(e, to: &w) }
        case .floatVector(let v): w.write(UInt8(8)); writeRaw(v, to: &w)
        case .float16Vector(let v): w.write(UInt8(9)); writeRaw(v, to: &w)
        case .bfloat16Vector(let v): w.write(UInt8(10)); writeRaw(v, to: &w)
        case .int8Vector(let v): w.write(UInt8(11)); writeRaw(v, to: &w)
        case .binaryVector(let v): w.write(UInt8(12)); writeRaw(v, to: &w)
        case .sparseVector(let s): w.write(UInt8(13)); write(s, to: &w)
        }
    }

    static func readValue(_ r: inout ByteReader, depth: Int = 0) throws -> FieldValue {
        guard depth < 64 else { throw RecordDecodingError("values nested deeper than 64") }
        let tag = try r.readUInt8()
        switch tag {
        case 0: return .null
        case 1: return .bool(try r.readBool())
        case 2: return .int(try r.readSignedVarint())
        case 3: return .float(try r.readFloat())
        case 4: return .double(try r.readDouble())
        case 5: return .string(try r.readString())
        case 6: return .json(try readJSON(&r, depth: depth + 1))
        case 7:
            let n = try readCount(&r)
            var out: [FieldValue] = []
            for _ in 0..<n { out.append(try readValue(&r, depth: depth + 1)) }
            return .array(out)
        case 8: return .floatVector(try readRaw(&r))
        case 9: return .float16Vector(try readRaw(&r))
        case 10: return .bfloat16Vector(try readRaw(&r))
        case 11: return .int8Vector(try readRaw(&r))
        case 12: return .binaryVector(try readRaw(&r))
        case 13: return .sparseVector(try readSparse(&r))
        default: throw RecordDecodingError("unknown value tag \(tag)")
        }
    }

    static func write(_ j: JSONValue, to w: inout ByteWriter) {
        switch j {
        case .null: w.write(UInt8(0))
        case .bool(let b): w.write(UInt8(b ? 2 : 1))
        case .int(let i): w.write(UInt8(3)); w.writeSignedVarint(i)
        case .double(let d): w.write(UInt8(4)); w.write(d)
        case .string(let s): w.write(UInt8(5)); w.writeString(s)
        case .array(let a): w.write(UInt8(6)); w.writeVarint(UInt64(a.count)); for e in a { write(e, to: &w) }
        case .object(let o):
            w.write(UInt8(7))
            w.writeVarint(UInt64(o.count))
            for k in o.keys.sorted() { w.writeString(k); write(o[k]!, to: &w) }
        }
    }

    static func readJSON(_ r: inout ByteReader, depth: Int) throws -> JSONValue {
        guard depth < 256 else { throw RecordDecodingError("JSON nested deeper than 256") }
        let tag = try r.readUInt8()
        switch tag {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(try r.readSignedVarint())
        case 4: return .double(try r.readDouble())
        case 5: return .string(try r.readString())
        case 6:
            let n = try readCount(&r)
            var out: [JSONValue] = []
            for _ in 0..<n { out.append(try readJSON(&r, depth: depth + 1)) }
            return .array(out)
        case 7:
            let n = try readCount(&r)
            var out: [String: JSONValue] = [:]
            for _ in 0..<n { let k = try r.readString(); out[k] = try readJSON(&r, depth: depth + 1) }
            return .object(out)
        default: throw RecordDecodingError("unknown JSON tag \(tag)")
        }
    }

    static func write(_ s: SparseVector, to w: inout ByteWriter) {
        w.writeVarint(UInt64(s.indices.count))
        s.indices.withUnsafeBytes { w.writeRaw($0) }
        s.values.withUnsafeBytes { w.writeRaw($0) }
    }

    static func readSparse(_ r: inout ByteReader) throws -> SparseVector {
        let n = try readCount(&r)
        let indices: [UInt32] = try readRaw(&r, count: n)
        let values: [Float] = try readRaw(&r, count: n)
        return SparseVector(indices: indices, values: values)
    }

    // MARK: - Primitives

    /// A varint count that must fit in the bytes left (every element takes at least one).
    static func readCount(_ r: inout ByteReader) throws -> Int {
        let n = try r.readVarint()
        guard n <= UInt64(r.remaining) else { throw RecordDecodingError("count \(n) exceeds the \(r.remaining) bytes left") }
        return Int(n)
    }

    static func writeRaw<T: FixedWidthInteger>(_ v: [T], to w: inout ByteWriter) {
        w.writeVarint(UInt64(v.count))
        v.withUnsafeBytes { w.writeRaw($0) }
    }

    static func writeRaw<T: BinaryFloatingPoint>(_ v: [T], to w: inout ByteWriter) {
        w.writeVarint(UInt64(v.count))
        v.withUnsafeBytes { w.writeRaw($0) }
    }

    static func readRaw<T>(_ r: inout ByteReader) throws -> [T] {
        try readRaw(&r, count: try readCount(&r))
    }

    static func readRaw<T>(_ r: inout ByteReader, count n: Int) throws -> [T] {
        let size = MemoryLayout<T>.stride
        guard n <= r.remaining / size else { throw RecordDecodingError("\(n) elements exceed the \(r.remaining) bytes left") }
        let raw = try r.readRaw(count: n * size)
        return [T](unsafeUninitializedCapacity: n) { buf, initialized in
            UnsafeMutableRawBufferPointer(buf).copyMemory(from: raw)
            initialized = n
        }
    }
}
