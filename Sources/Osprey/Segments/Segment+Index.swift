import OspreyCore
import OspreyIndex
import Synchronization

/// A vector index built over a sealed segment's rows `0 ..< rows`.
struct BuiltIndex: @unchecked Sendable {
    let indexID: Int64
    let field: String
    let rows: Int
    let index: any VectorIndexRead
}

/// The rows of one vector field of a segment, as an index reads them while building.
///
/// Thread safety: immutable; safe to read from several threads.
struct SegmentVectorSource: VectorSource {
    let view: VectorView
    var type: DataType { view.type }
    var dim: Int { view.dim }
    var count: Int { view.count }

    func withVectors<R>(in range: Range<Int>, _ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
        guard !range.isEmpty else { return try body(UnsafeRawPointer(bitPattern: 1)!) }
        let shift = view.rows.chunkShift
        if range.lowerBound >> shift == (range.upperBound - 1) >> shift {
            return try body(view.vector(at: range.lowerBound))
        }
        let bytes = view.bytesPerRow
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: range.count * bytes, alignment: 64)
        defer { buffer.deallocate() }
        for (i, r) in range.enumerated() { (buffer + i * bytes).copyMemory(from: view.vector(at: r), byteCount: bytes) }
        return try body(UnsafeRawPointer(buffer))
    }
}

extension Segment {
    /// The index built for `field` with this id, if it is ready.
    func builtIndex(field: String, indexID: Int64) -> BuiltIndex? {
        indexes.withLock { $0[field] }.flatMap { $0.indexID == indexID ? $0 : nil }
    }

    func installIndex(_ built: BuiltIndex) { indexes.withLock { $0[built.field] = built } }

    func removeIndex(field: String) { _ = indexes.withLock { $0.removeValue(forKey: field) } }

    /// Builds the index `desc` over this sealed segment's rows. Runs on the build queue.
    func buildIndex(_ desc: IndexDescription, field: FieldSchema) throws(IndexError) -> BuiltIndex {
        let rows = rowCount
        guard case .vector(let view) = column(named: field.name, rows: rows)?.values else {
            throw .invalidParameter(name: "field", value: field.name, reason: "not a dense vector field")
        }
        let index = try IndexFactory.make(indexType: desc.indexType, metricType: desc.metric?.rawValue ?? "",
                                          params: desc.params, type: field.dataType, dim: field.dim!)
        let source = SegmentVectorSource(view: view)
        if !index.isTrained { try index.train(source) }
        try index.add(source)
        return BuiltIndex(indexID: desc.id, field: field.name, rows: rows, index: index)
    }
}

/// Builds indexes in the background, one segment at a time (each build uses every core).
///
/// Thread safety: safe to call from several threads.
final class IndexBuildQueue: Sendable {
    private let queue = DispatchQueue(label: "osprey.index-build", qos: .utility)
    private let pendingCount = Atomic<Int>(0)

    /// Builds waiting or running.
    var pending: Int { pendingCount.load(ordering: .acquiring) }

    func schedule(_ work: @escaping @Sendable () -> Void) {
        pendingCount.add(1, ordering: .relaxed)
        queue.async {
            work()
            self.pendingCount.subtract(1, ordering: .releasing)
        }
    }

    /// Blocks until every build scheduled so far has finished.
    func waitUntilIdle() { queue.sync {} }
}

import Dispatch
