import OspreyCore

/// Append-only storage of rows in fixed-size chunks that never move.
///
/// Each row holds `elementsPerRow` elements (1 for scalars, the vector's bytes for vectors).
/// The chunk table is allocated once for `maxRows`, so readers can follow chunk pointers
/// for rows below a published watermark while the writer appends further rows.
///
/// A sealed column of fixed-width values read from a segment file is a *borrowed* store
/// instead (`init(borrowing:rows:elementsPerRow:owner:)`): one chunk pointing into the file's
/// mapping, kept alive by `owner`, holding no heap memory of its own and taking no appends.
///
/// Thread safety: one writer (`append`) at a time; any number of readers of rows that were
/// published to them through a release/acquire watermark (see `Segment`).
final class ChunkedStore<Element>: @unchecked Sendable {
    let chunkShift: Int
    let elementsPerRow: Int
    let maxChunks: Int
    private let table: UnsafeMutablePointer<UnsafeMutablePointer<Element>?>
    /// Rows written so far (writer's view; readers use the segment's watermark).
    private(set) var count = 0
    /// What keeps borrowed rows valid (a mapped file); nil when the store owns its chunks.
    private let owner: AnyObject?

    @inlinable var chunkRows: Int { 1 << chunkShift }

    init(elementsPerRow: Int, chunkShift: Int, maxRows: Int) {
        precondition(elementsPerRow > 0 && maxRows > 0)
        self.chunkShift = chunkShift
        self.elementsPerRow = elementsPerRow
        self.maxChunks = (maxRows + (1 << chunkShift) - 1) >> chunkShift
        self.table = .allocate(capacity: maxChunks)
        table.initialize(repeating: nil, count: maxChunks)
        owner = nil
    }

    /// A sealed store of `rows` rows that already lie contiguously at `base`, which `owner`
    /// keeps valid (for a segment file: the `SectionFile` holding the mapping). One chunk; no
    /// copy, no appends. The caller has checked that `base` is aligned for `Element` and that
    /// the memory holds valid values of it (BOOL bytes are 0 or 1).
    init(borrowing base: UnsafePointer<Element>, rows: Int, elementsPerRow: Int, owner: AnyObject) where Element: BitwiseCopyable {
        precondition(elementsPerRow > 0 && rows > 0)
        chunkShift = Self.borrowedChunkShift
        self.elementsPerRow = elementsPerRow
        maxChunks = 1
        table = .allocate(capacity: 1)
        table.initialize(to: UnsafeMutablePointer(mutating: base))
        count = rows
        self.owner = owner
    }

    /// The chunk shift of a borrowed store: larger than any row count, so one chunk.
    static var borrowedChunkShift: Int { 62 }

    /// Whether the rows live in memory the store does not own (a mapped file).
    var isBorrowed: Bool { owner != nil }

    deinit {
        if owner != nil {
            table.deallocate()
            return
        }
        var remaining = count
        for c in 0..<maxChunks {
            guard let chunk = table[c] else { break }
            let rows = Swift.min(remaining, chunkRows)
            chunk.deinitialize(count: rows * elementsPerRow)
            chunk.deallocate()
            remaining -= rows
        }
        table.deallocate()
    }

    /// Appends `rows` rows whose elements come from `source` (rows × elementsPerRow elements).
    /// The caller guarantees capacity (`count + rows <= maxChunks * chunkRows`).
    func append(_ source: UnsafeBufferPointer<Element>, rows: Int) {
        precondition(owner == nil, "a borrowed store is sealed")
        precondition(source.count == rows * elementsPerRow, "element count does not match rows")
        precondition(count + rows <= maxChunks << chunkShift, "segment capacity exceeded")
        var done = 0
        while done < rows {
            let c = (count + done) >> chunkShift
            let off = (count + done) & (chunkRows - 1)
            if table[c] == nil { table[c] = .allocate(capacity: chunkRows * elementsPerRow) }
            let n = Swift.min(rows - done, chunkRows - off)
            (table[c]! + off * elementsPerRow).initialize(from: source.baseAddress! + done * elementsPerRow, count: n * elementsPerRow)
            done += n
        }
        count += rows
    }

    func append(contentsOf array: [Element]) {
        array.withUnsafeBufferPointer { append($0, rows: $0.count / elementsPerRow) }
    }

    func append(_ value: Element) {
        withUnsafePointer(to: value) { append(UnsafeBufferPointer(start: $0, count: 1), rows: 1) }
    }

    /// The element at row `row`, position `k` within the row.
    @inlinable func element(row: Int, _ k: Int = 0) -> Element {
        table[row >> chunkShift]![(row & (chunkRows - 1)) * elementsPerRow + k]
    }

    /// Pointer to the elements of row `row`.
    @inlinable func pointer(row: Int) -> UnsafePointer<Element> {
        UnsafePointer(table[row >> chunkShift]! + (row & (chunkRows - 1)) * elementsPerRow)
    }

    /// The chunk pointers covering rows `0 ..< rows` (rows must have been written).
    func chunkPointers(rows: Int) -> [UnsafePointer<Element>] {
        let n = (rows + chunkRows - 1) >> chunkShift
        return (0..<n).map { UnsafePointer(table[$0]!) }
    }
}

/// Per-row delete timestamps: `UInt64.max` for a live row, otherwise the timestamp of the
/// delete (or of the upsert that replaced the row).
///
/// Thread safety: one writer sets entries; readers load them atomically at any time.
final class DeleteTimestamps: @unchecked Sendable {
    private let chunkShift: Int
    private let table: UnsafeMutablePointer<UnsafeMutablePointer<UInt64>?>
    private let maxChunks: Int
    private var allocatedRows = 0

    init(chunkShift: Int, maxRows: Int) {
        self.chunkShift = chunkShift
        self.maxChunks = (maxRows + (1 << chunkShift) - 1) >> chunkShift
        self.table = .allocate(capacity: maxChunks)
        table.initialize(repeating: nil, count: maxChunks)
    }

    deinit {
        for c in 0..<maxChunks { table[c]?.deallocate() }
        table.deallocate()
    }

    /// Makes room for rows up to `rows`, initialising new entries to live (writer only).
    func grow(to rows: Int) {
        while allocatedRows < rows {
            let c = allocatedRows >> chunkShift
            let p = UnsafeMutablePointer<UInt64>.allocate(capacity: 1 << chunkShift)
            p.initialize(repeating: .max, count: 1 << chunkShift)
            table[c] = p
            allocatedRows += 1 << chunkShift
        }
    }

    @inline(__always) private func slot(_ row: Int) -> UnsafeMutablePointer<UInt64> {
        table[row >> chunkShift]! + (row & ((1 << chunkShift) - 1))
    }

    /// Marks `row` deleted at `ts` unless it already is (writer only).
    func markDeleted(_ row: Int, at ts: UInt64) -> Bool {
        let p = slot(row)
        let old = atomicLoad(p)
        guard old == .max else { return false }
        atomicStore(p, ts)
        return true
    }

    /// The delete timestamp of `row` (`UInt64.max` when live).
    @inline(__always) func deleteTimestamp(_ row: Int) -> UInt64 { atomicLoad(slot(row)) }
}

// 64-bit aligned loads and stores are single instructions on every platform Swift runs on;
// these go through the Synchronization module so that the compiler treats them as atomic.
import Synchronization

@inline(__always) private func atomicLoad(_ p: UnsafeMutablePointer<UInt64>) -> UInt64 {
    UnsafeMutableRawPointer(p).withMemoryRebound(to: Atomic<UInt64>.self, capacity: 1) { $0.pointee.load(ordering: .relaxed) }
}

@inline(__always) private func atomicStore(_ p: UnsafeMutablePointer<UInt64>, _ v: UInt64) {
    UnsafeMutableRawPointer(p).withMemoryRebound(to: Atomic<UInt64>.self, capacity: 1) { $0.pointee.store(v, ordering: .relaxed) }
}
