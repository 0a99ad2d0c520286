import OspreyCore

/// Milvus's index types, by the names clients send as `index_type`.
///
/// Thread safety: a value type; safe to share.
package enum IndexType: String, Sendable, CaseIterable, CustomStringConvertible {
    case flat = "FLAT"
    case hnsw = "HNSW"
    case ivfFlat = "IVF_FLAT"
    case ivfSQ8 = "IVF_SQ8"
    case ivfPQ = "IVF_PQ"
    case binFlat = "BIN_FLAT"
    case binIVFFlat = "BIN_IVF_FLAT"
    /// Milvus's "choose for me": HNSW for float vectors, BIN_FLAT for binary ones.
    case autoIndex = "AUTOINDEX"

    /// Parses `index_type` case-insensitively.
    package init(milvusName: String) throws(IndexError) {
        guard let t = IndexType(rawValue: milvusName.uppercased()) else { throw .unknownIndexType(milvusName) }
        self = t
    }

    /// The vector types this index type can index.
    package var supportedTypes: Set<DataType> {
        switch self {
        case .flat, .hnsw, .autoIndex: return [.floatVector, .float16Vector, .bfloat16Vector, .int8Vector]
        case .ivfFlat, .ivfSQ8, .ivfPQ: return [.floatVector]
        case .binFlat, .binIVFFlat: return [.binaryVector]
        }
    }

    package var description: String { rawValue }
}
