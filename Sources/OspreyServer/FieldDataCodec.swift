import Foundation
import Osprey
import OspreyCore

/// Converts between Milvus's column-wise `schema.FieldData` and the engine's `Column`s.
///
/// Wire forms (MILVUS-PROTOCOL.md §2.6):
///
/// ```
/// BOOL                  scalars.bool_data
/// INT8 | INT16 | INT32  scalars.int_data (int32 each)
/// INT64                 scalars.long_data
/// FLOAT | DOUBLE        scalars.float_data | scalars.double_data
/// VARCHAR               scalars.string_data
/// JSON                  scalars.json_data: one UTF-8 JSON document per row ($meta: objects, is_dynamic)
/// ARRAY                 scalars.array_data: one ScalarField per row, typed by element_type
/// FLOAT_VECTOR          vectors.dim + vectors.float_vector: rows × dim floats, row-major
/// FLOAT16 | BFLOAT16    vectors.float16_vector | bfloat16_vector: 2 bytes per element, LE
/// INT8_VECTOR           vectors.int8_vector: 1 byte per element
/// BINARY_VECTOR         vectors.binary_vector: dim/8 bytes per row (dim in bits)
/// SPARSE_FLOAT_VECTOR   vectors.sparse_float_vector.contents: per row (u32 LE index, f32 LE value)*
/// ```
///
/// Nullable fields arrive compact (only the valid values) with `valid_data` marking the
/// rows; they are expanded to full length with placeholders. Results go out full length
/// with `valid_data`, as pymilvus reads them.
///
/// Thread safety: stateless; safe to use from any thread.
package enum FieldDataCodec {
    // MARK: - Requests → columns

    /// The batch a write carries: one column per `FieldData`, keyed by field name (the
    /// dynamic field under `$meta`).
    package static func decodeBatch(_ fieldsData: [Schema_FieldData], numRows: Int) throws -> ColumnBatch {
        var columns: [String: Column] = [:]
        for fd in fieldsData {
            let name = fd.isDynamic ? CollectionSchema.dynamicFieldName : fd.fieldName
            guard !name.isEmpty else { throw MilvusError.invalid("a fields_data entry has no field name") }
            guard columns[name] == nil else { throw MilvusError.invalid("field '\(name)' is sent twice") }
            columns[name] = try decodeColumn(fd)
        }
        let rows = numRows > 0 ? numRows : (columns.values.first?.count ?? 0)
        return ColumnBatch(rowCount: rows, columns: columns)
    }

    /// One column from its `FieldData`, expanded to full length when `valid_data` is sent.
    package static func decodeColumn(_ fd: Schema_FieldData) throws -> Column {
        let name = fd.fieldName
        var data: ColumnData
        switch fd.field {
        case .scalars(let s)?:
            switch s.data {
            case .boolData(let a)?: data = .bool(a.data)
            case .intData(let a)?: data = .int32(a.data)
            case .longData(let a)?: data = .int64(a.data)
            case .floatData(let a)?: data = .float(a.data)
            case .doubleData(let a)?: data = .double(a.data)
            case .stringData(let a)?: data = .string(a.data)
            case .jsonData(let a)?: data = .json(try a.data.map { try parseJSON($0, field: name) })
            case .arrayData(let a)?: data = .array(try a.data.map { try arrayElements($0, field: name) })
            case nil: data = try emptyData(fd.type, field: name)
            default: throw MilvusError.invalid("field '\(name)': \(fd.type) data is not supported by Osprey")
            }
        case .vectors(let v)?:
            let dim = Int(v.dim)
            switch v.data {
            case .floatVector(let a)?:
                try checkDim(dim, elements: a.data.count, field: name)
                data = .floatVector(dim: dim, a.data)
            case .float16Vector(let b)?:
                try checkDim(dim, elements: b.count / 2, field: name)
                data = .float16Vector(dim: dim, halfWords(b))
            case .bfloat16Vector(let b)?:
                try checkDim(dim, elements: b.count / 2, field: name)
                data = .bfloat16Vector(dim: dim, halfWords(b))
            case .int8Vector(let b)?:
                try checkDim(dim, elements: b.count, field: name)
                data = .int8Vector(dim: dim, b.map { Int8(bitPattern: $0) })
            case .binaryVector(let b)?:
                guard dim > 0, dim % 8 == 0, b.count % (dim / 8) == 0 else {
                    throw MilvusError.invalid("field '\(name)': \(b.count) bytes of binary vectors do not fit dim \(dim)")
                }
                data = .binaryVector(dim: dim, [UInt8](b))
            case .sparseFloatVector(let s)?:
                data = .sparseFloatVector(try s.contents.enumerated().map { try sparseRow($0.element, field: name, row: $0.offset) })
            case nil: data = try emptyData(fd.type, field: name)
            default: throw MilvusError.invalid("field '\(name)': \(fd.type) vectors are not supported by Osprey")
            }
        case nil:
            data = try emptyData(fd.type, field: name)
        default:
            throw MilvusError.invalid("field '\(name)': struct fields are not supported by Osprey")
        }
        guard !fd.validData.isEmpty else { return Column(data) }
        let valid = fd.validData
        if data.count != valid.count {
            let present = valid.lazy.filter { $0 }.count
            guard data.count == present else {
                throw MilvusError.invalid("field '\(name)': valid_data marks \(present) rows present but \(data.count) values were sent")
            }
            data = expand(data, valid)
        }
        return Column(data, validity: valid.contains(false) ? valid : nil)
    }

    static func checkDim(_ dim: Int, elements: Int, field: String) throws {
        guard dim > 0 else { throw MilvusError.invalid("field '\(field)': the vectors have no dim") }
        guard elements % dim == 0 else {
            throw MilvusError.invalid("field '\(field)': \(elements) vector elements are not a multiple of dim \(dim)")
        }
    }

    static func emptyData(_ type: Schema_DataType, field: String) throws -> ColumnData {
        switch type {
        case .bool: return .bool([])
        case .int8, .int16, .int32: return .int32([])
        case .int64: return .int64([])
        case .float: return .float([])
        case .double: return .double([])
        case .string, .varChar: return .string([])
        case .json: return .json([])
        case .array: return .array([])
        case .sparseFloatVector: return .sparseFloatVector([])
        default: throw MilvusError.invalid("field '\(field)' carries no data")
        }
    }

    static func parseJSON(_ bytes: Data, field: String) throws -> JSONValue {
        do {
            return try JSONValue.parse(bytes: bytes)
        } catch {
            throw MilvusError.invalid("field '\(field)': \(error.description)")
        }
    }

    /// The elements of one ARRAY row.
    static func arrayElements(_ s: Schema_ScalarField, field: String) throws -> [FieldValue] {
        switch s.data {
        case .boolData(let a)?: return a.data.map { .bool($0) }
        case .intData(let a)?: return a.data.map { .int(Int64($0)) }
        case .longData(let a)?: return a.data.map { .int($0) }
        case .floatData(let a)?: return a.data.map { .float($0) }
        case .doubleData(let a)?: return a.data.map { .double($0) }
        case .stringData(let a)?: return a.data.map { .string($0) }
        case nil: return []
        default: throw MilvusError.invalid("field '\(field)': unsupported ARRAY element data")
        }
    }

    /// 16-bit little-endian words (FLOAT16/BFLOAT16 elements).
    static func halfWords(_ bytes: Data) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: bytes.count / 2)
        bytes.withUnsafeBytes { raw in
            for i in out.indices { out[i] = UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8 }
        }
        return out
    }

    /// One sparse row: (u32 LE index, f32 LE value) pairs sorted by index.
    package static func sparseRow(_ bytes: Data, field: String, row: Int) throws -> SparseVector {
        guard bytes.count % 8 == 0 else {
            throw MilvusError.invalid("field '\(field)': sparse row \(row) has \(bytes.count) bytes, not a multiple of 8")
        }
        let n = bytes.count / 8
        var indices = [UInt32](repeating: 0, count: n), values = [Float](repeating: 0, count: n)
        bytes.withUnsafeBytes { raw in
            for i in 0..<n {
                indices[i] = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt32.self))
                values[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i + 4, as: UInt32.self)))
            }
        }
        if zip(indices, indices.dropFirst()).allSatisfy({ $0 < $1 }) {
            return SparseVector(indices: indices, values: values)
        }
        do {
            return try SparseVector(Array(zip(indices, values)))
        } catch {
            throw MilvusError.invalid("field '\(field)', row \(row): \(error.message)")
        }
    }

    /// Spreads compact values over the rows marked valid, with placeholders elsewhere.
    static func expand(_ data: ColumnData, _ valid: [Bool]) -> ColumnData {
        func spread<T>(_ v: [T], _ zero: T) -> [T] {
            var out: [T] = []
            out.reserveCapacity(valid.count)
            var it = v.makeIterator()
            for ok in valid { out.append(ok ? (it.next() ?? zero) : zero) }
            return out
        }
        switch data {
        case .bool(let v): return .bool(spread(v, false))
        case .int8(let v): return .int8(spread(v, 0))
        case .int16(let v): return .int16(spread(v, 0))
        case .int32(let v): return .int32(spread(v, 0))
        case .int64(let v): return .int64(spread(v, 0))
        case .float(let v): return .float(spread(v, 0))
        case .double(let v): return .double(spread(v, 0))
        case .string(let v): return .string(spread(v, ""))
        case .json(let v): return .json(spread(v, .null))
        case .array(let v): return .array(spread(v, []))
        case .sparseFloatVector(let v): return .sparseFloatVector(spread(v, SparseVector(indices: [], values: [])))
        case .floatVector, .float16Vector, .bfloat16Vector, .int8Vector, .binaryVector:
            return data  // nullable vectors are not supported; the engine rejects the mask
        }
    }

    // MARK: - Columns → results

    /// One `FieldData` holding `parts` one after another (search results of several queries).
    ///
    /// - Parameters:
    ///   - field: the schema field; nil for the dynamic field `$meta`.
    package static func encode(name: String, field: FieldSchema?, parts: [Column]) -> Schema_FieldData {
        var fd = Schema_FieldData()
        fd.fieldName = name
        guard let field else {
            fd.type = .json
            fd.isDynamic = true
            var json = Schema_JSONArray()
            for p in parts {
                if case .json(let v) = p.data { json.data.append(contentsOf: v.map { Data($0.serialized().utf8) }) }
            }
            fd.scalars.jsonData = json
            return fd
        }
        fd.fieldID = field.fieldID
        fd.type = Schema_DataType(rawValue: Int(field.dataType.rawValue)) ?? .none
        if field.nullable {
            for p in parts { fd.validData.append(contentsOf: p.validity ?? [Bool](repeating: true, count: p.count)) }
        }
        if field.dataType.isVector {
            fd.vectors = encodeVectors(field: field, parts: parts)
        } else {
            fd.scalars = encodeScalars(field: field, parts: parts)
        }
        return fd
    }

    static func encodeScalars(field: FieldSchema, parts: [Column]) -> Schema_ScalarField {
        var s = Schema_ScalarField()
        switch field.dataType {
        case .bool:
            var a = Schema_BoolArray()
            for p in parts { if case .bool(let v) = p.data { a.data.append(contentsOf: v) } }
            s.boolData = a
        case .int8, .int16, .int32:
            var a = Schema_IntArray()
            for p in parts {
                switch p.data {
                case .int8(let v): a.data.append(contentsOf: v.map(Int32.init))
                case .int16(let v): a.data.append(contentsOf: v.map(Int32.init))
                case .int32(let v): a.data.append(contentsOf: v)
                default: break
                }
            }
            s.intData = a
        case .int64:
            var a = Schema_LongArray()
            for p in parts { if case .int64(let v) = p.data { a.data.append(contentsOf: v) } }
            s.longData = a
        case .float:
            var a = Schema_FloatArray()
            for p in parts { if case .float(let v) = p.data { a.data.append(contentsOf: v) } }
            s.floatData = a
        case .double:
            var a = Schema_DoubleArray()
            for p in parts { if case .double(let v) = p.data { a.data.append(contentsOf: v) } }
            s.doubleData = a
        case .varchar:
            var a = Schema_StringArray()
            for p in parts { if case .string(let v) = p.data { a.data.append(contentsOf: v) } }
            s.stringData = a
        case .json:
            var a = Schema_JSONArray()
            for p in parts { if case .json(let v) = p.data { a.data.append(contentsOf: v.map { Data($0.serialized().utf8) }) } }
            s.jsonData = a
        case .array:
            var a = Schema_ArrayArray()
            let element = field.elementType ?? .int64
            a.elementType = Schema_DataType(rawValue: Int(element.rawValue)) ?? .none
            for p in parts {
                if case .array(let rows) = p.data { a.data.append(contentsOf: rows.map { arrayRow($0, element: element) }) }
            }
            s.arrayData = a
        default:
            break
        }
        return s
    }

    /// One ARRAY row as a `ScalarField` of its element type.
    static func arrayRow(_ values: [FieldValue], element: DataType) -> Schema_ScalarField {
        var s = Schema_ScalarField()
        switch element {
        case .bool:
            var a = Schema_BoolArray()
            a.data = values.map { if case .bool(let b) = $0 { b } else { false } }
            s.boolData = a
        case .int8, .int16, .int32:
            var a = Schema_IntArray()
            a.data = values.map { Int32(truncatingIfNeeded: Int64($0.numberValue ?? 0)) }
            s.intData = a
        case .int64:
            var a = Schema_LongArray()
            a.data = values.map { if case .int(let i) = $0 { i } else { Int64($0.numberValue ?? 0) } }
            s.longData = a
        case .float:
            var a = Schema_FloatArray()
            a.data = values.map { Float($0.numberValue ?? 0) }
            s.floatData = a
        case .double:
            var a = Schema_DoubleArray()
            a.data = values.map { $0.numberValue ?? 0 }
            s.doubleData = a
        default:
            var a = Schema_StringArray()
            a.data = values.map { if case .string(let t) = $0 { t } else { $0.description } }
            s.stringData = a
        }
        return s
    }

    static func encodeVectors(field: FieldSchema, parts: [Column]) -> Schema_VectorField {
        var v = Schema_VectorField()
        v.dim = Int64(field.dim ?? 0)
        switch field.dataType {
        case .floatVector:
            var a = Schema_FloatArray()
            for p in parts { if case .floatVector(_, let x) = p.data { a.data.append(contentsOf: x) } }
            v.floatVector = a
        case .float16Vector, .bfloat16Vector:
            var bytes = Data()
            for p in parts {
                switch p.data {
                case .float16Vector(_, let x), .bfloat16Vector(_, let x):
                    for w in x { bytes.append(UInt8(w & 0xFF)); bytes.append(UInt8(w >> 8)) }
                default: break
                }
            }
            if field.dataType == .float16Vector { v.float16Vector = bytes } else { v.bfloat16Vector = bytes }
        case .int8Vector:
            var bytes = Data()
            for p in parts { if case .int8Vector(_, let x) = p.data { bytes.append(contentsOf: x.map { UInt8(bitPattern: $0) }) } }
            v.int8Vector = bytes
        case .binaryVector:
            var bytes = Data()
            for p in parts { if case .binaryVector(_, let x) = p.data { bytes.append(contentsOf: x) } }
            v.binaryVector = bytes
        case .sparseFloatVector:
            var a = Schema_SparseFloatArray()
            var maxIndex: Int64 = -1
            for p in parts {
                guard case .sparseFloatVector(let rows) = p.data else { continue }
                for row in rows {
                    a.contents.append(sparseBytes(row))
                    if let last = row.indices.last { maxIndex = max(maxIndex, Int64(last)) }
                }
            }
            a.dim = maxIndex + 1
            v.dim = a.dim
            v.sparseFloatVector = a
        default:
            break
        }
        return v
    }

    /// One sparse row in the wire encoding.
    package static func sparseBytes(_ row: SparseVector) -> Data {
        var out = Data(capacity: 8 * row.count)
        for (i, x) in zip(row.indices, row.values) {
            withUnsafeBytes(of: i.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// The result columns of a batch in a stable order: the primary key, the schema's
    /// fields in order, then `$meta`.
    package static func encodeBatch(_ parts: [ColumnBatch], schema: CollectionSchema) -> [Schema_FieldData] {
        guard let first = parts.first else { return [] }
        var out: [Schema_FieldData] = []
        let names = schema.fields.map(\.name).filter { first.columns[$0] != nil }
        let ordered = [schema.primaryKey.name].filter { names.contains($0) } + names.filter { $0 != schema.primaryKey.name }
        for name in ordered {
            out.append(encode(name: name, field: schema.field(named: name), parts: parts.compactMap { $0.columns[name] }))
        }
        if first.columns[CollectionSchema.dynamicFieldName] != nil {
            out.append(encode(name: CollectionSchema.dynamicFieldName, field: nil,
                              parts: parts.compactMap { $0.columns[CollectionSchema.dynamicFieldName] }))
        }
        return out
    }

    /// A column of scalar values of `type` (nulls marked in the validity mask).
    package static func column(_ values: [FieldValue], type: DataType) -> Column {
        let validity = values.map { !$0.isNull }
        func number(_ v: FieldValue) -> Int64 { if case .int(let i) = v { i } else { Int64(v.numberValue ?? 0) } }
        let data: ColumnData
        switch type {
        case .bool: data = .bool(values.map { if case .bool(let b) = $0 { b } else { false } })
        case .int8, .int16, .int32: data = .int32(values.map { Int32(truncatingIfNeeded: number($0)) })
        case .int64: data = .int64(values.map(number))
        case .float: data = .float(values.map { Float($0.numberValue ?? 0) })
        case .double: data = .double(values.map { $0.numberValue ?? 0 })
        case .json: data = .json(values.map(\.jsonValue))
        default: data = .string(values.map { if case .string(let t) = $0 { t } else { "" } })
        }
        return Column(data, validity: validity.contains(false) ? validity : nil)
    }

    // MARK: - Primary keys

    /// Primary keys as `schema.IDs` (int_id or str_id by the key's type).
    package static func ids(_ keys: [PrimaryKey], type: DataType) -> Schema_IDs {
        var ids = Schema_IDs()
        if type == .varchar {
            var a = Schema_StringArray()
            a.data = keys.map { if case .string(let s) = $0 { s } else { $0.description } }
            ids.strID = a
        } else {
            var a = Schema_LongArray()
            a.data = keys.map { if case .int(let i) = $0 { i } else { 0 } }
            ids.intID = a
        }
        return ids
    }

    /// The keys in a `schema.IDs`.
    package static func keys(_ ids: Schema_IDs) -> [PrimaryKey] {
        switch ids.idField {
        case .intID(let a)?: return a.data.map { .int($0) }
        case .strID(let a)?: return a.data.map { .string($0) }
        case nil: return []
        }
    }
}
