/// The type of a field, with Milvus's names and wire numbers (schema.proto `DataType`).
///
/// Thread safety: a value type; safe to share.
public enum DataType: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case bool = 1
    case int8 = 2
    case int16 = 3
    case int32 = 4
    case int64 = 5
    case float = 10
    case double = 11
    case varchar = 21
    case array = 22
    case json = 23
    case binaryVector = 100
    case floatVector = 101
    case float16Vector = 102
    case bfloat16Vector = 103
    case sparseFloatVector = 104
    case int8Vector = 105

    /// Milvus's name of the type, as pymilvus prints it (`INT64`, `FLOAT_VECTOR`, …).
    public var milvusName: String {
        switch self {
        case .bool: return "BOOL"
        case .int8: return "INT8"
        case .int16: return "INT16"
        case .int32: return "INT32"
        case .int64: return "INT64"
        case .float: return "FLOAT"
        case .double: return "DOUBLE"
        case .varchar: return "VARCHAR"
        case .array: return "ARRAY"
        case .json: return "JSON"
        case .binaryVector: return "BINARY_VECTOR"
        case .floatVector: return "FLOAT_VECTOR"
        case .float16Vector: return "FLOAT16_VECTOR"
        case .bfloat16Vector: return "BFLOAT16_VECTOR"
        case .sparseFloatVector: return "SPARSE_FLOAT_VECTOR"
        case .int8Vector: return "INT8_VECTOR"
        }
    }

    /// Parses Milvus's name (`INT64`, `FloatVector`, `VarChar`, …), case- and underscore-insensitively.
    public init?(milvusName: String) {
        let key = milvusName.uppercased().filter { $0 != "_" }
        guard let t = DataType.allCases.first(where: {
            $0.milvusName.filter { $0 != "_" } == key
        }) ?? (key == "STRING" ? .varchar : nil) else { return nil }
        self = t
    }

    public var description: String { milvusName }

    /// Dense or sparse vector types.
    @inlinable public var isVector: Bool { rawValue >= 100 }
    /// Dense vector types with a fixed dimension.
    @inlinable public var isDenseVector: Bool { isVector && self != .sparseFloatVector }
    @inlinable public var isInteger: Bool { self == .int8 || self == .int16 || self == .int32 || self == .int64 }
    @inlinable public var isFloatingPoint: Bool { self == .float || self == .double }
    @inlinable public var isNumeric: Bool { isInteger || isFloatingPoint }
    /// Types that can be an ARRAY's element type.
    @inlinable public var isArrayElementType: Bool { isNumeric || self == .bool || self == .varchar }
    /// Types that can be the primary key.
    @inlinable public var canBePrimaryKey: Bool { self == .int64 || self == .varchar }

    /// Bytes one dense vector of `dim` elements occupies (`dim` is in bits for binary vectors).
    public func vectorBytes(dim: Int) -> Int {
        switch self {
        case .floatVector: return dim * 4
        case .float16Vector, .bfloat16Vector: return dim * 2
        case .int8Vector: return dim
        case .binaryVector: return (dim + 7) / 8
        default: return 0
        }
    }

    /// The metrics that apply to vectors of this type.
    public var supportedMetrics: [Metric] {
        switch self {
        case .floatVector, .float16Vector, .bfloat16Vector, .int8Vector: return [.l2, .ip, .cosine]
        case .binaryVector: return [.hamming, .jaccard]
        case .sparseFloatVector: return [.ip]
        default: return []
        }
    }
}
