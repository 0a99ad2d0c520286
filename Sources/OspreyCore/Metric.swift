/// A distance metric, with Milvus's names.
///
/// Internally every index and kernel works with a *distance* where smaller is better:
///
/// | metric  | internal distance          | score reported to clients |
/// |---------|----------------------------|---------------------------|
/// | L2      | squared Euclidean          | the same (ascending)      |
/// | IP      | −(a·b)                     | a·b (descending)          |
/// | COSINE  | −cos(a, b)                 | cos(a, b) (descending)    |
/// | HAMMING | number of differing bits   | the same (ascending)      |
/// | JACCARD | 1 − \|a∧b\| / \|a∨b\|      | the same (ascending)      |
///
/// Thread safety: a value type; safe to share.
public enum Metric: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case l2 = "L2"
    case ip = "IP"
    case cosine = "COSINE"
    case hamming = "HAMMING"
    case jaccard = "JACCARD"

    /// Parses Milvus's metric name, case-insensitively.
    public init?(milvusName: String) {
        self.init(rawValue: milvusName.uppercased())
    }

    /// Whether the metric applies to binary vectors (as opposed to float vectors).
    @inlinable public var isBinary: Bool { self == .hamming || self == .jaccard }

    /// Whether a larger client-facing score is better (IP, COSINE).
    @inlinable public var higherScoreIsBetter: Bool { self == .ip || self == .cosine }

    /// Converts an internal distance (smaller is better) to the score clients see.
    @inlinable public func score(fromDistance d: Float) -> Float {
        higherScoreIsBetter ? -d : d
    }

    /// Converts a client-facing score to the internal distance (smaller is better).
    @inlinable public func distance(fromScore s: Float) -> Float {
        higherScoreIsBetter ? -s : s
    }

    public var description: String { rawValue }
}
