import OspreyCore

/// Errors from the vector-index layer: bad parameters and data from the caller, or damaged
/// files and internal failures on the service's side.
///
/// Thread safety: a value type; safe to share.
package enum IndexError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A dimension that is zero, negative, too large, or not a multiple of 8 for binary vectors.
    case invalidDimension(Int, reason: String)
    /// The metric does not apply to the vector type (e.g. HAMMING on FLOAT_VECTOR).
    case metricNotSupported(metric: String, type: DataType)
    /// The index type cannot index this vector type (e.g. HNSW on BINARY_VECTOR).
    case typeNotSupported(indexType: String, type: DataType)
    /// An index_type that Osprey does not know.
    case unknownIndexType(String)
    /// A metric_type that Osprey does not know.
    case unknownMetric(String)
    /// A parameter whose value is malformed or out of range.
    case invalidParameter(name: String, value: String, reason: String)
    /// A required parameter was not given.
    case missingParameter(String)
    /// Vectors whose size does not match the index's dimension.
    case dimensionMismatch(expectedBytes: Int, actualBytes: Int)
    /// A row position outside the index.
    case rowOutOfRange(row: Int, count: Int)
    /// The index must be trained (IVF centroids, PQ codebooks) before vectors are added.
    case notTrained(String)
    /// The index cannot hold more rows.
    case capacityExceeded(Int)
    /// An index file is damaged: bad magic, checksum mismatch, inconsistent structure.
    case corruptFile(String)
    /// An index file written by a newer or unknown format version.
    case unsupportedVersion(found: UInt32, supported: UInt32)
    /// Reading or writing an index file failed.
    case io(String)

    /// Whether the caller is at fault (bad request) rather than the service (damaged data, I/O).
    package var isCallerFault: Bool {
        switch self {
        case .invalidDimension, .metricNotSupported, .typeNotSupported, .unknownIndexType, .unknownMetric,
             .invalidParameter, .missingParameter, .dimensionMismatch, .rowOutOfRange, .notTrained,
             .capacityExceeded:
            return true
        case .corruptFile, .unsupportedVersion, .io:
            return false
        }
    }

    package var description: String {
        switch self {
        case let .invalidDimension(dim, reason):
            return "invalid vector dimension \(dim): \(reason)"
        case let .metricNotSupported(metric, type):
            let allowed = type.supportedMetrics.map(\.rawValue).joined(separator: ", ")
            return "metric type \(metric) does not apply to \(type.milvusName) (supported: \(allowed))"
        case let .typeNotSupported(indexType, type):
            return "index type \(indexType) cannot index \(type.milvusName)"
        case let .unknownIndexType(name):
            return "unknown index type \"\(name)\" (supported: \(IndexType.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .unknownMetric(name):
            return "unknown metric type \"\(name)\" (supported: L2, IP, COSINE, HAMMING, JACCARD)"
        case let .invalidParameter(name, value, reason):
            return "invalid value \"\(value)\" for parameter \(name): \(reason)"
        case let .missingParameter(name):
            return "missing required parameter \(name)"
        case let .dimensionMismatch(expected, actual):
            return "vector data of \(actual) bytes does not fit vectors of \(expected) bytes each"
        case let .rowOutOfRange(row, count):
            return "row \(row) is outside the index's \(count) rows"
        case let .notTrained(what):
            return "index is not trained: \(what)"
        case let .capacityExceeded(n):
            return "an index holds at most \(n) rows"
        case let .corruptFile(what):
            return "index file is corrupt: \(what)"
        case let .unsupportedVersion(found, supported):
            return "index file format version \(found) is not supported (this build reads version \(supported))"
        case let .io(what):
            return "index file I/O failed: \(what)"
        }
    }
}
