/// One value of one field of one row, as the embedding API takes and returns it.
///
/// Numbers are coerced to the field's type at the boundary (an `.int` fits an INT8 field
/// if it is in range; a `.double` or `.int` fits a FLOAT or DOUBLE field). Vectors carry
/// their elements; FLOAT16 and BFLOAT16 elements are the raw 16-bit patterns.
///
/// Thread safety: a value type; safe to share.
public enum FieldValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case float(Float)
    case double(Double)
    case string(String)
    case json(JSONValue)
    case array([FieldValue])
    case floatVector([Float])
    case float16Vector([UInt16])
    case bfloat16Vector([UInt16])
    case int8Vector([Int8])
    /// Packed bits, 8 dimensions per byte, first dimension in the lowest bit of byte 0.
    case binaryVector([UInt8])
    case sparseVector(SparseVector)

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .int: return "integer"
        case .float: return "float"
        case .double: return "double"
        case .string: return "string"
        case .json: return "JSON"
        case .array: return "array"
        case .floatVector: return "float vector"
        case .float16Vector: return "float16 vector"
        case .bfloat16Vector: return "bfloat16 vector"
        case .int8Vector: return "int8 vector"
        case .binaryVector: return "binary vector"
        case .sparseVector: return "sparse vector"
        }
    }

    /// The value as a Double, for numbers.
    public var numberValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .float(let f): return Double(f)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The value as JSON (vectors become arrays of numbers).
    public var jsonValue: JSONValue {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .float(let f): return .double(Double(f))
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .json(let j): return j
        case .array(let a): return .array(a.map(\.jsonValue))
        case .floatVector(let v): return .array(v.map { .double(Double($0)) })
        case .float16Vector(let v), .bfloat16Vector(let v): return .array(v.map { .int(Int64($0)) })
        case .int8Vector(let v): return .array(v.map { .int(Int64($0)) })
        case .binaryVector(let v): return .array(v.map { .int(Int64($0)) })
        case .sparseVector(let s):
            var o: [String: JSONValue] = [:]
            for (i, v) in zip(s.indices, s.values) { o[String(i)] = .double(Double(v)) }
            return .object(o)
        }
    }

    public var description: String {
        switch self {
        case .string(let s): return "\"\(s)\""
        case .floatVector(let v): return "\(v)"
        default: return jsonValue.serialized()
        }
    }
}

extension FieldValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral
{
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: FieldValue...) { self = .array(elements) }
}

/// A sparse float vector: strictly increasing dimension indices with their values.
///
/// Thread safety: a value type; safe to share.
public struct SparseVector: Sendable, Hashable {
    public var indices: [UInt32]
    public var values: [Float]

    /// Builds a sparse vector from (index, value) pairs in any order; duplicate indices are an error.
    public init(_ pairs: [(UInt32, Float)]) throws(ValidationError) {
        let sorted = pairs.sorted { $0.0 < $1.0 }
        for i in sorted.indices.dropFirst() where sorted[i].0 == sorted[i - 1].0 {
            throw ValidationError(.invalidValue, "sparse vector has index \(sorted[i].0) twice")
        }
        self.indices = sorted.map(\.0)
        self.values = sorted.map(\.1)
    }

    /// Builds a sparse vector from parallel arrays that are already sorted by index.
    public init(indices: [UInt32], values: [Float]) {
        self.indices = indices
        self.values = values
    }

    /// The number of non-zero entries.
    public var count: Int { indices.count }

    /// The dot product with another sparse vector, or nil when they share no dimension
    /// (a sparse search leaves such rows out, as Milvus's sparse indexes do).
    public func dotIfOverlapping(_ other: SparseVector) -> Float? {
        var i = 0, j = 0, sum: Float = 0, shared = false
        while i < indices.count, j < other.indices.count {
            if indices[i] == other.indices[j] {
                sum += values[i] * other.values[j]; i += 1; j += 1; shared = true
            } else if indices[i] < other.indices[j] { i += 1 } else { j += 1 }
        }
        return shared ? sum : nil
    }

    /// The dot product with another sparse vector.
    public func dot(_ other: SparseVector) -> Float {
        var i = 0, j = 0, sum: Float = 0
        while i < indices.count, j < other.indices.count {
            if indices[i] == other.indices[j] {
                sum += values[i] * other.values[j]; i += 1; j += 1
            } else if indices[i] < other.indices[j] { i += 1 } else { j += 1 }
        }
        return sum
    }
}

/// Conversions between Float and the 16-bit float formats stored in FLOAT16 and BFLOAT16 vectors.
public enum HalfFloat {
    /// IEEE 754 binary16 bits → Float.
    public static func float(fromFloat16 h: UInt16) -> Float {
        #if arch(x86_64) || arch(arm64)
        return Float(Float16(bitPattern: h))
        #else
        let sign = UInt32(h >> 15) << 31
        let exp = Int((h >> 10) & 0x1F), mant = UInt32(h & 0x3FF)
        if exp == 0 { return Float(sign: sign != 0 ? .minus : .plus, exponent: -24, significand: Float(mant)) }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
        #endif
    }

    /// Float → IEEE 754 binary16 bits (round to nearest even).
    public static func float16(from f: Float) -> UInt16 {
        Float16(f).bitPattern
    }

    /// bfloat16 bits → Float.
    @inlinable public static func float(fromBFloat16 b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    /// Float → bfloat16 bits (round to nearest even; NaN stays NaN).
    public static func bfloat16(from f: Float) -> UInt16 {
        let bits = f.bitPattern
        if f.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounding = ((bits >> 16) & 1) + 0x7FFF
        return UInt16((bits &+ rounding) >> 16)
    }

    /// Whether binary16 bits encode NaN or ±infinity.
    @inlinable public static func float16IsNonFinite(_ h: UInt16) -> Bool { h & 0x7C00 == 0x7C00 }
    /// Whether bfloat16 bits encode NaN or ±infinity.
    @inlinable public static func bfloat16IsNonFinite(_ b: UInt16) -> Bool { b & 0x7F80 == 0x7F80 }
}
