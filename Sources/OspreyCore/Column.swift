/// The values of one field for every row of a batch, in the field's storage type.
///
/// Vectors are flattened row-major: row `i` of a FLOAT_VECTOR column with dimension `d` is
/// elements `i*d ..< (i+1)*d`. BINARY_VECTOR dimensions are in bits (`d/8` bytes per row).
///
/// Thread safety: a value type; safe to share.
public enum ColumnData: Sendable, Hashable {
    case bool([Bool])
    case int8([Int8])
    case int16([Int16])
    case int32([Int32])
    case int64([Int64])
    case float([Float])
    case double([Double])
    case string([String])
    case json([JSONValue])
    /// One array per row; elements are scalar `FieldValue`s of the element type.
    case array([[FieldValue]])
    case floatVector(dim: Int, [Float])
    case float16Vector(dim: Int, [UInt16])
    case bfloat16Vector(dim: Int, [UInt16])
    case int8Vector(dim: Int, [Int8])
    case binaryVector(dim: Int, [UInt8])
    case sparseFloatVector([SparseVector])

    /// The data type this column holds (INT8/16/32 by their width; ARRAY for arrays).
    public var dataType: DataType {
        switch self {
        case .bool: return .bool
        case .int8: return .int8
        case .int16: return .int16
        case .int32: return .int32
        case .int64: return .int64
        case .float: return .float
        case .double: return .double
        case .string: return .varchar
        case .json: return .json
        case .array: return .array
        case .floatVector: return .floatVector
        case .float16Vector: return .float16Vector
        case .bfloat16Vector: return .bfloat16Vector
        case .int8Vector: return .int8Vector
        case .binaryVector: return .binaryVector
        case .sparseFloatVector: return .sparseFloatVector
        }
    }

    /// The number of rows (for vectors: elements / dim; a dim of 0 gives 0 rows).
    public var count: Int {
        switch self {
        case .bool(let v): return v.count
        case .int8(let v): return v.count
        case .int16(let v): return v.count
        case .int32(let v): return v.count
        case .int64(let v): return v.count
        case .float(let v): return v.count
        case .double(let v): return v.count
        case .string(let v): return v.count
        case .json(let v): return v.count
        case .array(let v): return v.count
        case .floatVector(let d, let v): return d > 0 ? v.count / d : 0
        case .float16Vector(let d, let v), .bfloat16Vector(let d, let v): return d > 0 ? v.count / d : 0
        case .int8Vector(let d, let v): return d > 0 ? v.count / d : 0
        case .binaryVector(let d, let v): return d > 0 ? v.count / ((d + 7) / 8) : 0
        case .sparseFloatVector(let v): return v.count
        }
    }

    /// The value of row `i` as a `FieldValue`.
    public func value(at i: Int) -> FieldValue {
        switch self {
        case .bool(let v): return .bool(v[i])
        case .int8(let v): return .int(Int64(v[i]))
        case .int16(let v): return .int(Int64(v[i]))
        case .int32(let v): return .int(Int64(v[i]))
        case .int64(let v): return .int(v[i])
        case .float(let v): return .float(v[i])
        case .double(let v): return .double(v[i])
        case .string(let v): return .string(v[i])
        case .json(let v): return .json(v[i])
        case .array(let v): return .array(v[i])
        case .floatVector(let d, let v): return .floatVector(Array(v[i * d ..< (i + 1) * d]))
        case .float16Vector(let d, let v): return .float16Vector(Array(v[i * d ..< (i + 1) * d]))
        case .bfloat16Vector(let d, let v): return .bfloat16Vector(Array(v[i * d ..< (i + 1) * d]))
        case .int8Vector(let d, let v): return .int8Vector(Array(v[i * d ..< (i + 1) * d]))
        case .binaryVector(let d, let v):
            let b = (d + 7) / 8
            return .binaryVector(Array(v[i * b ..< (i + 1) * b]))
        case .sparseFloatVector(let v): return .sparseVector(v[i])
        }
    }
}

/// A field's column with its null mask.
///
/// Thread safety: a value type; safe to share.
public struct Column: Sendable, Hashable {
    public var data: ColumnData
    /// One flag per row, true where the row has a value; nil when every row has one.
    /// At null rows `data` holds a placeholder (zero, empty string, …).
    public var validity: [Bool]?

    public init(_ data: ColumnData, validity: [Bool]? = nil) {
        self.data = data
        self.validity = validity
    }

    public var count: Int { data.count }

    public func isNull(_ i: Int) -> Bool { validity.map { !$0[i] } ?? false }

    public func value(at i: Int) -> FieldValue { isNull(i) ? .null : data.value(at: i) }
}

/// Rows in columnar form: each named field's column, all of the same length.
///
/// This is the form the write path takes (the row form is converted to it) and the form
/// results come back in. The dynamic field, when present, is the JSON column `$meta`.
///
/// Thread safety: a value type; safe to share.
public struct ColumnBatch: Sendable, Hashable {
    public var rowCount: Int
    public var columns: [String: Column]

    public init(rowCount: Int, columns: [String: Column] = [:]) {
        self.rowCount = rowCount
        self.columns = columns
    }

    public subscript(name: String) -> Column? {
        get { columns[name] }
        set { columns[name] = newValue }
    }

    /// Row `i` as a dictionary of its non-null values (dynamic keys are merged in, and
    /// `$meta` itself is left out).
    public func row(_ i: Int) -> [String: FieldValue] {
        var r: [String: FieldValue] = [:]
        for (name, c) in columns where name != CollectionSchema.dynamicFieldName {
            r[name] = c.value(at: i)
        }
        if let meta = columns[CollectionSchema.dynamicFieldName], case .json(let objs) = meta.data,
            case .object(let o) = objs[i]
        {
            for (k, v) in o where r[k] == nil { r[k] = .json(v) }
        }
        return r
    }
}
