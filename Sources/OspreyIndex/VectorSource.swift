import OspreyCore

/// Where an index reads the vectors it indexes: rows `0..<count` of one element type and dimension.
///
/// Indexes copy what they need while building (HNSW keeps each vector beside its links), so a
/// source only has to stay valid for the duration of a `train` or `add` call.
///
/// Thread safety: implementations must allow concurrent reads from several threads.
package protocol VectorSource: Sendable {
    /// The vector type of every row.
    var type: DataType { get }
    /// Elements per vector (bits for binary vectors).
    var dim: Int { get }
    /// The number of rows.
    var count: Int { get }
    /// Calls `body` with rows `range` laid out contiguously, `type.vectorBytes(dim:)` bytes apart.
    func withVectors<R>(in range: Range<Int>, _ body: (UnsafeRawPointer) throws -> R) rethrows -> R
}

extension VectorSource {
    /// Bytes per vector.
    package var vectorBytes: Int { type.vectorBytes(dim: dim) }
}

/// A ``VectorSource`` over one contiguous byte array.
///
/// Thread safety: an immutable value; safe to share.
package struct ContiguousVectorSource: VectorSource {
    package let type: DataType
    package let dim: Int
    package let bytes: [UInt8]
    package var count: Int { let b = type.vectorBytes(dim: dim); return b == 0 ? 0 : bytes.count / b }

    /// Vectors of `type` from raw little-endian bytes (whole vectors only).
    package init(type: DataType, dim: Int, bytes: [UInt8]) throws(IndexError) {
        let vb = type.vectorBytes(dim: dim)
        guard vb > 0 else { throw .invalidDimension(dim, reason: "no bytes per vector for \(type)") }
        guard bytes.count % vb == 0 else { throw .dimensionMismatch(expectedBytes: vb, actualBytes: bytes.count % vb) }
        self.type = type
        self.dim = dim
        self.bytes = bytes
    }

    /// Float32 vectors from row-major floats.
    package init(floats: [Float], dim: Int) throws(IndexError) {
        guard dim > 0, floats.count % dim == 0 else {
            throw .invalidDimension(dim, reason: "\(floats.count) floats are not whole vectors")
        }
        let raw = floats.withUnsafeBytes { [UInt8]($0) }
        try self.init(type: .floatVector, dim: dim, bytes: raw)
    }

    package func withVectors<R>(in range: Range<Int>, _ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "rows out of range")
        return try bytes.withUnsafeBytes { raw in
            try body(raw.baseAddress! + range.lowerBound * type.vectorBytes(dim: dim))
        }
    }
}
