import OspreyCore
import OspreyQuery
import OspreyStorage
import Synchronization

/// A segment's storage for one field: typed append-only chunks and, for nullable fields, a
/// validity column.
enum FieldStore: @unchecked Sendable {
    case bool(ChunkedStore<Bool>)
    case int8(ChunkedStore<Int8>)
    case int16(ChunkedStore<Int16>)
    case int32(ChunkedStore<Int32>)
    case int64(ChunkedStore<Int64>)
    case float(ChunkedStore<Float>)
    case double(ChunkedStore<Double>)
    case string(ChunkedStore<String>)
    case json(ChunkedStore<JSONValue>)
    case array(ChunkedStore<[FieldValue]>)
    case vector(ChunkedStore<UInt8>)
    case sparse(ChunkedStore<SparseVector>)

    init(field f: FieldSchema, chunkShift: Int, maxRows: Int) {
        func s<T>(_: T.Type, _ per: Int = 1) -> ChunkedStore<T> { ChunkedStore(elementsPerRow: per, chunkShift: chunkShift, maxRows: maxRows) }
        switch f.dataType {
        case .bool: self = .bool(s(Bool.self))
        case .int8: self = .int8(s(Int8.self))
        case .int16: self = .int16(s(Int16.self))
        case .int32: self = .int32(s(Int32.self))
        case .int64: self = .int64(s(Int64.self))
        case .float: self = .float(s(Float.self))
        case .double: self = .double(s(Double.self))
        case .varchar: self = .string(s(String.self))
        case .json: self = .json(s(JSONValue.self))
        case .array: self = .array(s([FieldValue].self))
        case .sparseFloatVector: self = .sparse(s(SparseVector.self))
        case .floatVector, .float16Vector, .bfloat16Vector, .int8Vector, .binaryVector:
            self = .vector(s(UInt8.self, f.dataType.vectorBytes(dim: f.dim!)))
        }
    }

    /// Appends a normalised column's data (writer only).
    func append(_ data: ColumnData) {
        switch (self, data) {
        case let (.bool(s), .bool(v)): s.append(contentsOf: v)
        case let (.int8(s), .int8(v)): s.append(contentsOf: v)
        case let (.int16(s), .int16(v)): s.append(contentsOf: v)
        case let (.int32(s), .int32(v)): s.append(contentsOf: v)
        case let (.int64(s), .int64(v)): s.append(contentsOf: v)
        case let (.float(s), .float(v)): s.append(contentsOf: v)
        case let (.double(s), .double(v)): s.append(contentsOf: v)
        case let (.string(s), .string(v)): s.append(contentsOf: v)
        case let (.json(s), .json(v)): s.append(contentsOf: v)
        case let (.array(s), .array(v)): s.append(contentsOf: v)
        case let (.sparse(s), .sparseFloatVector(v)): s.append(contentsOf: v)
        case let (.vector(s), .floatVector(_, v)): v.withUnsafeBytes { s.append($0.bindMemory(to: UInt8.self), rows: $0.count / s.elementsPerRow) }
        case let (.vector(s), .float16Vector(_, v)), let (.vector(s), .bfloat16Vector(_, v)):
            v.withUnsafeBytes { s.append($0.bindMemory(to: UInt8.self), rows: $0.count / s.elementsPerRow) }
        case let (.vector(s), .int8Vector(_, v)): v.withUnsafeBytes { s.append($0.bindMemory(to: UInt8.self), rows: $0.count / s.elementsPerRow) }
        case let (.vector(s), .binaryVector(_, v)): s.append(contentsOf: v)
        default: preconditionFailure("column type does not match the field's storage (normalisation missed it)")
        }
    }

    /// Bytes of rows `0 ..< rows` borrowed from a file, 0 when the store owns its memory.
    func borrowedBytes(rows: Int) -> Int {
        func b<T>(_ s: ChunkedStore<T>) -> Int { s.isBorrowed ? rows * s.elementsPerRow * MemoryLayout<T>.stride : 0 }
        switch self {
        case .bool(let s): return b(s)
        case .int8(let s): return b(s)
        case .int16(let s): return b(s)
        case .int32(let s): return b(s)
        case .int64(let s): return b(s)
        case .float(let s): return b(s)
        case .double(let s): return b(s)
        case .vector(let s): return b(s)
        case .string, .json, .array, .sparse: return 0
        }
    }

    /// A reader's view of rows `0 ..< rows`.
    func view(field: FieldSchema, rows: Int, validity: ChunkedStore<Bool>?, owner: AnyObject) -> ColumnView {
        func v<T>(_ s: ChunkedStore<T>) -> ChunkedView<T> {
            ChunkedView(chunks: s.chunkPointers(rows: rows), chunkShift: s.chunkShift, count: rows, owner: owner)
        }
        let values: ColumnView.Values
        switch self {
        case .bool(let s): values = .bool(v(s))
        case .int8(let s): values = .int8(v(s))
        case .int16(let s): values = .int16(v(s))
        case .int32(let s): values = .int32(v(s))
        case .int64(let s): values = .int64(v(s))
        case .float(let s): values = .float(v(s))
        case .double(let s): values = .double(v(s))
        case .string(let s): values = .string(v(s))
        case .json(let s): values = .json(v(s))
        case .array(let s): values = .array(v(s))
        case .sparse(let s): values = .sparse(v(s))
        case .vector(let s):
            values = .vector(VectorView(type: field.dataType, dim: field.dim!, chunks: s.chunkPointers(rows: rows),
                                        chunkShift: s.chunkShift, count: rows, owner: owner))
        }
        return ColumnView(field: field, values: values, validity: validity.map { v($0) })
    }
}

/// A horizontal slice of a partition's rows: columns, insert timestamps and delete marks.
///
/// A segment grows by appends until it is sealed (full, or flushed); it never changes after
/// that except for delete marks. Rows are appended in timestamp order, so the rows visible
/// at a timestamp are a prefix, and the rows expired by a TTL are a prefix too.
///
/// Thread safety: one writer (the collection's write path) appends and marks deletes; any
/// number of readers see the rows below the published `watermark` without locks.
final class Segment: @unchecked Sendable {
    static let chunkShift = 12

    let id: SegmentID
    let partition: String
    let schema: CollectionSchema
    let capacity: Int
    /// Stores aligned with `schema.fields`, then `$meta` last when the dynamic field is on.
    let stores: [FieldStore]
    let validity: [ChunkedStore<Bool>?]
    let fieldsWithMeta: [FieldSchema]
    let timestamps: ChunkedStore<UInt64>
    let deletes: DeleteTimestamps
    let pkFieldIndex: Int

    /// Vector indexes built over the sealed rows, by field name.
    let indexes = Mutex<[String: BuiltIndex]>([:])
    /// Scalar indexes built over the sealed rows, by field name (used by filters).
    let scalarIndexes = Mutex<[String: ScalarIndex]>([:])

    /// Which WAL records the segment's rows came from, and what of it is on disk (durable
    /// databases; see docs/storage.md §15).
    ///
    /// Thread safety: a value type, kept in a `Mutex` by the segment.
    struct Persistence: Sendable {
        /// LSN of the first record with rows here (0: none yet).
        var firstLSN: UInt64 = 0
        /// LSN of the last record with rows here, and how many of that record's rows for this
        /// partition are in this segment or earlier ones.
        var lastLSN: UInt64 = 0
        var lastRows = 0
        /// The segment's file once written, and the deleted-row count its delete state holds.
        var dataKey: String?
        var deletesKey: String?
        var persistedDeletes = 0
        /// Saved vector indexes: object key by index id.
        var indexKeys: [Int64: String] = [:]
    }
    let persistence = Mutex(Persistence())

    private let published = Atomic<Int>(0)
    private let deletedRows = Atomic<Int>(0)
    private let isSealed = Atomic<Bool>(false)

    /// The file that sealed columns are read from in place (a mapping, or the heap copy of a
    /// file system that cannot map); nil when every column lives in the segment's own memory.
    let backingFile: MappedFile?

    /// The stored fields of `schema`: its fields in order, then `$meta` when dynamic.
    static func storedFields(of schema: CollectionSchema) -> [FieldSchema] {
        var fields = schema.fields
        if schema.enableDynamicField {
            fields.append(FieldSchema(name: CollectionSchema.dynamicFieldName, dataType: .json, fieldID: 99))
        }
        return fields
    }

    /// An empty, growing segment with room for `capacity` rows.
    init(id: SegmentID, partition: String, schema: CollectionSchema, capacity: Int) {
        self.id = id
        self.partition = partition
        self.schema = schema
        self.capacity = capacity
        let fields = Segment.storedFields(of: schema)
        self.fieldsWithMeta = fields
        self.stores = fields.map { FieldStore(field: $0, chunkShift: Segment.chunkShift, maxRows: capacity) }
        self.validity = fields.map { $0.nullable ? ChunkedStore(elementsPerRow: 1, chunkShift: Segment.chunkShift, maxRows: capacity) : nil }
        self.timestamps = ChunkedStore(elementsPerRow: 1, chunkShift: Segment.chunkShift, maxRows: capacity)
        self.deletes = DeleteTimestamps(chunkShift: Segment.chunkShift, maxRows: capacity)
        self.pkFieldIndex = schema.fields.firstIndex(where: \.isPrimaryKey)!
        backingFile = nil
    }

    /// A full segment over stores that already hold all `rows` rows (a segment read from its
    /// file: fixed-width columns borrowed from `backingFile`, the others decoded), aligned with
    /// `storedFields(of: schema)`; a nil validity store means the field has no nulls here. The
    /// caller applies the delete state, then publishes and seals it.
    init(id: SegmentID, partition: String, schema: CollectionSchema, rows: Int, stores: [FieldStore],
         validity: [ChunkedStore<Bool>?], timestamps: ChunkedStore<UInt64>, backingFile: MappedFile?) {
        precondition(rows > 0 && timestamps.count == rows, "a loaded segment holds all of its rows")
        self.id = id
        self.partition = partition
        self.schema = schema
        self.capacity = rows
        self.fieldsWithMeta = Segment.storedFields(of: schema)
        precondition(stores.count == fieldsWithMeta.count && validity.count == fieldsWithMeta.count)
        self.stores = stores
        self.validity = validity
        self.timestamps = timestamps
        self.deletes = DeleteTimestamps(chunkShift: Segment.chunkShift, maxRows: rows)
        deletes.grow(to: rows)
        self.pkFieldIndex = schema.fields.firstIndex(where: \.isPrimaryKey)!
        self.backingFile = backingFile
    }

    /// Bytes of this segment's rows read in place from a file mapping (columns and insert
    /// timestamps), as opposed to held in its own memory.
    var mappedColumnBytes: Int {
        guard backingFile?.isMapped == true else { return 0 }
        var total = timestamps.isBorrowed ? rowCount * 8 : 0
        for store in stores { total += store.borrowedBytes(rows: rowCount) }
        for v in validity { if let v, v.isBorrowed { total += rowCount } }
        return total
    }

    /// Rows published to readers.
    var rowCount: Int { published.load(ordering: .acquiring) }
    /// Rows marked deleted (at any timestamp).
    var deletedCount: Int { deletedRows.load(ordering: .relaxed) }
    var sealed: Bool { isSealed.load(ordering: .acquiring) }
    /// Rows the writer may still append.
    var remainingCapacity: Int { capacity - timestamps.count }

    // MARK: - Writer

    /// Appends a normalised batch, all with timestamp `ts`; not yet visible to readers until
    /// `publish()`. Returns the first new row.
    func append(_ batch: ColumnBatch, ts: Timestamp) -> Int {
        let first = timestamps.count
        append(batch, timestamps: Array(repeating: ts.rawValue, count: batch.rowCount))
        return first
    }

    /// Appends rows with their own insert timestamps (also when loading a sealed segment).
    func append(_ batch: ColumnBatch, timestamps ts: [UInt64]) {
        let first = timestamps.count
        let n = batch.rowCount
        for (i, f) in fieldsWithMeta.enumerated() {
            let col = batch[f.name]!
            stores[i].append(col.data)
            if let v = validity[i] { v.append(contentsOf: col.validity ?? Array(repeating: true, count: n)) }
        }
        timestamps.append(contentsOf: ts)
        deletes.grow(to: first + n)
    }

    /// Notes that rows of WAL record `lsn` were appended; `rowsSoFar` counts that record's rows
    /// for this partition in this segment and the ones before it (writer only).
    func noteWAL(lsn: UInt64, rowsSoFar: Int) {
        guard lsn > 0 else { return }
        persistence.withLock { d in
            if d.firstLSN == 0 { d.firstLSN = lsn }
            d.lastLSN = lsn
            d.lastRows = rowsSoFar
        }
    }

    /// Marks a row deleted at `ts` (writer only). Returns false if it already was.
    @discardableResult
    func markDeleted(row: Int, at ts: Timestamp) -> Bool {
        guard deletes.markDeleted(row, at: ts.rawValue) else { return false }
        deletedRows.add(1, ordering: .relaxed)
        return true
    }

    /// Makes every appended row visible to readers.
    func publish() { published.store(timestamps.count, ordering: .releasing) }

    /// Stops appends; the segment is immutable from now on except for delete marks.
    func seal() { isSealed.store(true, ordering: .releasing) }

    // MARK: - Readers

    /// The primary key of `row`.
    func primaryKey(row: Int) -> PrimaryKey {
        switch stores[pkFieldIndex] {
        case .int64(let s): return .int(s.element(row: row))
        case .string(let s): return .string(s.element(row: row))
        default: preconditionFailure("primary key column has an unexpected type")
        }
    }

    func insertTimestamp(row: Int) -> UInt64 { timestamps.element(row: row) }

    /// Whether `row` (below the watermark) is live at `ts`.
    func isVisible(row: Int, at ts: Timestamp) -> Bool {
        timestamps.element(row: row) <= ts.rawValue && deletes.deleteTimestamp(row) > ts.rawValue
    }

    /// The column of `name` for rows `0 ..< rows`.
    func column(named name: String, rows: Int) -> ColumnView? {
        guard let i = fieldsWithMeta.firstIndex(where: { $0.name == name }) else { return nil }
        return stores[i].view(field: fieldsWithMeta[i], rows: rows, validity: validity[i], owner: self)
    }

    /// The first row whose insert timestamp is greater than `ts`, searching rows `0 ..< rows`.
    func firstRow(after ts: UInt64, rows: Int) -> Int {
        var lo = 0, hi = rows
        while lo < hi {
            let mid = (lo + hi) >> 1
            if timestamps.element(row: mid) <= ts { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// A reader's snapshot of this segment at `ts`, optionally hiding rows inserted before
    /// `expiredBefore` (retention).
    func snapshot(at ts: Timestamp, expiredBefore: UInt64?) -> SegmentSnapshot {
        let rows = rowCount
        let hi = firstRow(after: ts.rawValue, rows: rows)
        let lo = expiredBefore.map { firstRow(after: $0 &- 1, rows: hi) } ?? 0
        var deleted: Bitset? = nil
        if deletedCount > 0 {
            var b = Bitset(count: hi)
            for r in lo..<hi where deletes.deleteTimestamp(r) <= ts.rawValue { b.set(r) }
            if !b.isAllClear { deleted = b }
        }
        return SegmentSnapshot(segment: self, rowCount: hi, liveRange: lo..<hi, deleted: deleted, timestamp: ts)
    }
}

/// One segment as a reader sees it at one timestamp: rows `0 ..< rowCount`, of which those in
/// `liveRange` and not in `deleted` are visible.
///
/// Thread safety: immutable; safe to read from several threads.
struct SegmentSnapshot: SegmentColumns, FilterIndexSource {
    let segment: Segment
    let rowCount: Int
    let liveRange: Range<Int>
    let deleted: Bitset?
    let timestamp: Timestamp

    var schema: CollectionSchema { segment.schema }

    func column(named name: String) -> ColumnView? { segment.column(named: name, rows: rowCount) }

    /// The segment's scalar index on a column, when it covers exactly this snapshot's rows.
    func scalarIndex(ofColumn name: String) -> ScalarIndex? {
        segment.scalarIndexes.withLock { $0[name] }.flatMap { $0.rowCount == rowCount ? $0 : nil }
    }

    /// The number of visible rows.
    var visibleCount: Int { liveRange.count - (deleted?.cardinality ?? 0) }

    /// The visible rows as a bitset of `rowCount` bits.
    func visibilityMask() -> Bitset {
        var b = Bitset(count: rowCount)
        for r in liveRange { b.set(r) }
        if let deleted { b.subtract(deleted) }
        return b
    }

    /// Whether every row is visible (no mask needed).
    var allVisible: Bool { liveRange == 0..<rowCount && deleted == nil }
}
