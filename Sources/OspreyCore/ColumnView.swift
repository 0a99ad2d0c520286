// Read access to a segment's columns without copying, for filter evaluation, output and
// search. Growing segments hand out views over their append-only chunks; sealed segments
// over their (memory-mapped or loaded) buffers.

/// A read-only view of `count` values stored in equal-sized chunks (the last may be partial).
///
/// Row `i` lives in chunk `i >> chunkShift` at position `i & (chunkSize - 1)`. A sealed
/// column is one chunk. The view keeps `owner` alive, so its pointers stay valid for the
/// view's lifetime.
///
/// Thread safety: immutable; safe to read from several threads.
public struct ChunkedView<Element>: @unchecked Sendable {
    public let chunks: [UnsafePointer<Element>]
    public let chunkShift: Int
    public let count: Int
    let owner: AnyObject?

    /// A view over chunks of `1 << chunkShift` elements each.
    public init(chunks: [UnsafePointer<Element>], chunkShift: Int, count: Int, owner: AnyObject?) {
        self.chunks = chunks
        self.chunkShift = chunkShift
        self.count = count
        self.owner = owner
    }

    /// A view over one contiguous buffer.
    public init(buffer: UnsafeBufferPointer<Element>, owner: AnyObject?) {
        self.chunks = buffer.baseAddress.map { [$0] } ?? []
        self.chunkShift = 62
        self.count = buffer.count
        self.owner = owner
    }

    @inlinable public var chunkSize: Int { 1 << chunkShift }

    @inlinable public subscript(i: Int) -> Element {
        precondition(i >= 0 && i < count, "row out of range")
        return chunks[i >> chunkShift][i & ((1 << chunkShift) - 1)]
    }

    /// Calls `body` with each chunk's first row and its elements, in row order.
    @inlinable public func forEachChunk(_ body: (_ firstRow: Int, _ values: UnsafeBufferPointer<Element>) throws -> Void) rethrows {
        var start = 0
        var c = 0
        while start < count {
            let n = Swift.min(1 << chunkShift, count - start)
            try body(start, UnsafeBufferPointer(start: chunks[c], count: n))
            start += n
            c += 1
        }
    }
}

/// A view of fixed-size vectors: `count` rows of `bytesPerRow` bytes each, in chunks.
///
/// Thread safety: immutable; safe to read from several threads.
public struct VectorView: @unchecked Sendable {
    public let type: DataType
    public let dim: Int
    public let bytesPerRow: Int
    public let rows: ChunkedView<UInt8>  // count is in rows; chunk pointers point at bytes

    public init(type: DataType, dim: Int, chunks: [UnsafePointer<UInt8>], chunkShift: Int, count: Int, owner: AnyObject?) {
        self.type = type
        self.dim = dim
        self.bytesPerRow = type.vectorBytes(dim: dim)
        self.rows = ChunkedView(chunks: chunks, chunkShift: chunkShift, count: count, owner: owner)
    }

    public var count: Int { rows.count }

    /// The bytes of row `i`.
    @inlinable public func vector(at i: Int) -> UnsafeRawPointer {
        precondition(i >= 0 && i < rows.count, "row out of range")
        return UnsafeRawPointer(rows.chunks[i >> rows.chunkShift] + (i & ((1 << rows.chunkShift) - 1)) * bytesPerRow)
    }

    /// Calls `body` with each chunk's first row, its base address and its row count.
    @inlinable public func forEachChunk(_ body: (_ firstRow: Int, _ base: UnsafeRawPointer, _ rows: Int) throws -> Void) rethrows {
        var start = 0
        var c = 0
        let size = 1 << rows.chunkShift
        while start < rows.count {
            let n = Swift.min(size, rows.count - start)
            try body(start, UnsafeRawPointer(rows.chunks[c]), n)
            start += n
            c += 1
        }
    }
}

/// The values of one scalar field in one segment.
///
/// Integer fields keep their declared width. `validity` is nil when the field has no nulls
/// in the segment; otherwise `validity[i]` is false at null rows (whose data is a placeholder).
///
/// Thread safety: immutable; safe to read from several threads.
public struct ColumnView: Sendable {
    public enum Values: Sendable {
        case bool(ChunkedView<Bool>)
        case int8(ChunkedView<Int8>)
        case int16(ChunkedView<Int16>)
        case int32(ChunkedView<Int32>)
        case int64(ChunkedView<Int64>)
        case float(ChunkedView<Float>)
        case double(ChunkedView<Double>)
        case string(ChunkedView<String>)
        case json(ChunkedView<JSONValue>)
        /// ARRAY rows: scalar elements of the field's element type.
        case array(ChunkedView<[FieldValue]>)
        case vector(VectorView)
        case sparse(ChunkedView<SparseVector>)
    }

    public let field: FieldSchema
    public let values: Values
    public let validity: ChunkedView<Bool>?

    public init(field: FieldSchema, values: Values, validity: ChunkedView<Bool>?) {
        self.field = field
        self.values = values
        self.validity = validity
    }

    /// Whether row `i` is null.
    @inlinable public func isNull(_ i: Int) -> Bool { validity.map { !$0[i] } ?? false }

    /// Row `i` as a `FieldValue` (`.null` at null rows). Meant for output and tests, not hot loops.
    public func value(at i: Int) -> FieldValue {
        if isNull(i) { return .null }
        switch values {
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
        case .sparse(let v): return .sparseVector(v[i])
        case .vector(let v):
            let p = v.vector(at: i)
            switch v.type {
            case .floatVector: return .floatVector(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: v.dim)))
            case .float16Vector: return .float16Vector(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt16.self), count: v.dim)))
            case .bfloat16Vector: return .bfloat16Vector(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt16.self), count: v.dim)))
            case .int8Vector: return .int8Vector(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Int8.self), count: v.dim)))
            default: return .binaryVector(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: v.bytesPerRow)))
            }
        }
    }
}

/// Read access to the columns of one segment as of one snapshot: the rows `0 ..< rowCount`.
///
/// Filters evaluate against this (producing a `Bitset` of `rowCount` bits); the read path
/// fetches output fields through it. Rows that are deleted or not visible in the snapshot
/// are still present here; the engine masks them separately.
///
/// Thread safety: implementations are immutable snapshots, safe to read from several threads.
public protocol SegmentColumns: Sendable {
    /// The number of rows in this snapshot of the segment.
    var rowCount: Int { get }
    /// The schema the segment was written with.
    var schema: CollectionSchema { get }
    /// The column of a schema field (scalar or vector), or of `$meta` for the dynamic field;
    /// nil when there is no such field.
    func column(named name: String) -> ColumnView?
}
