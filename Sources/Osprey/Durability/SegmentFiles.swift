import OspreyCore
import OspreyIndex
import OspreyStorage

// Sealed segment files, written through the object store under
// `segments/<collection id>/<segment id>/` (docs/storage.md §15). Both are
// section files (magic, version, per-section CRC32C, checksummed footer):
//
//   data       kind "OSEG" version 2 (written), 1 (still read)
//     section "meta"        zigzag(collectionID) zigzag(segmentID) string(partition) varint(rows)
//                           v2 only: varint(c) column*c, sorted by name, every field and `$meta`
//       column := string(name) u8(DataType) varint(dim; 0 unless a dense vector) u8(flags)
//                 flags bit 0: section "n<i>" holds the column's validity
//     section "timestamps"  u64 × rows, the insert timestamp of each row (non-decreasing)
//     v2: section "c<i>"    the values of column i of the meta's list:
//                             BOOL, INT8/16/32/64, FLOAT, DOUBLE   rows × width, little-endian
//                                                                  (BOOL: one byte, 0 or 1)
//                             dense vectors                        rows × bytes per vector
//                             VARCHAR, JSON, ARRAY, SPARSE         data (ValueCodec.swift)
//     v2: section "n<i>"    u8 × rows, 1 = value, 0 = null (only when the column has a null)
//     v1: section "rows"    batch (ValueCodec.swift): every field, and `$meta` when dynamic
//   deletes-<lsn>   kind "ODEL" version 1, written at the checkpoint `lsn`
//     section "deletes"     varint(n) (varint(row) u64(delete timestamp))*n, rows ascending
//   index-<index id>        the vector index's own checksummed file image (`serialized()`,
//                           docs/index.md), loaded with `IndexFactory.load`
//
// Sections start on 64-byte boundaries of the file, and a mapping starts on a page, so the
// fixed-width sections of a version-2 file are read in place: the segment's columns and
// timestamps point into the mapping.

/// Writes and reads sealed segments and their delete states.
///
/// Thread safety: stateless apart from the store; safe to call from several threads for
/// different segments.
struct SegmentFiles: Sendable {
    static let dataKind = SectionFileKind("OSEG")
    static let deletesKind = SectionFileKind("ODEL")
    /// The data-file version written; version 1 (one `rows` batch section) is still read.
    static let version: UInt32 = 2
    static let deletesVersion: UInt32 = 1

    let store: LocalDirectoryObjectStore
    let fs: any FileSystem

    static func directoryKey(collection: Int64, segment: SegmentID) -> String { "segments/\(collection)/\(segment.rawValue)" }

    /// Writes the rows of a sealed segment (in the version-2 layout unless `version` says 1, the
    /// layout older builds wrote); returns the object key.
    func writeData(_ seg: Segment, collection: Int64, version: UInt32 = SegmentFiles.version) throws -> String {
        let rows = seg.rowCount
        let key = Self.directoryKey(collection: collection, segment: seg.id) + "/data"
        var meta = ByteWriter()
        meta.writeSignedVarint(collection)
        meta.writeSignedVarint(Int64(bitPattern: seg.id.rawValue))
        meta.writeString(seg.partition)
        meta.writeVarint(UInt64(rows))
        let path = try store.localPath(for: key)
        try fs.createDirectory(FilePath.parent(path))
        let writer = try SectionFileWriter(path: path, fileSystem: fs, kind: Self.dataKind, kindVersion: version)
        if version == 1 {
            try writer.addSection("meta", bytes: meta.bytes)
            try writer.addSection("rows", bytes: Self.encodeRows(seg, rows: rows).bytes)
            try Self.writeTimestamps(seg, rows: rows, to: writer)
        } else {
            let views = Self.storedColumns(seg, rows: rows)
            let masks = views.map { Self.validityBytes($0, rows: rows) }
            meta.writeVarint(UInt64(views.count))
            for (v, mask) in zip(views, masks) {
                meta.writeString(v.field.name)
                meta.write(UInt8(v.field.dataType.rawValue))
                meta.writeVarint(UInt64(v.field.dataType.isDenseVector ? v.field.dim ?? 0 : 0))
                meta.write(UInt8(mask == nil ? 0 : 1))
            }
            try writer.addSection("meta", bytes: meta.bytes)
            try Self.writeTimestamps(seg, rows: rows, to: writer)
            for (i, (v, mask)) in zip(views, masks).enumerated() {
                try writer.beginSection("c\(i)")
                try Self.writeValues(v, rows: rows, to: writer)
                try writer.endSection()
                if let mask { try writer.addSection("n\(i)", bytes: mask) }
            }
        }
        try writer.finish()
        return key
    }

    /// The columns a data file stores, sorted by name: every field, and `$meta` when dynamic.
    static func storedColumns(_ seg: Segment, rows: Int) -> [ColumnView] {
        var names = seg.schema.fields.map(\.name)
        if seg.schema.enableDynamicField { names.append(CollectionSchema.dynamicFieldName) }
        return names.sorted().compactMap { seg.column(named: $0, rows: rows) }
    }

    static func writeTimestamps(_ seg: Segment, rows: Int, to writer: SectionFileWriter) throws {
        try writer.beginSection("timestamps")
        for (c, chunk) in seg.timestamps.chunkPointers(rows: rows).enumerated() {
            let n = min(seg.timestamps.chunkRows, rows - c * seg.timestamps.chunkRows)
            try writer.write(UnsafeRawBufferPointer(start: chunk, count: n * 8))
        }
        try writer.endSection()
    }

    /// One byte per row (1 = value, 0 = null), or nil when no row of the column is null.
    static func validityBytes(_ v: ColumnView, rows: Int) -> [UInt8]? {
        guard let validity = v.validity else { return nil }
        var bytes = [UInt8](repeating: 1, count: rows)
        var nulls = 0
        validity.forEachChunk { first, values in
            for (i, valid) in values.enumerated() where !valid {
                bytes[first + i] = 0
                nulls += 1
            }
        }
        return nulls > 0 ? bytes : nil
    }

    /// The values of a column in the version-2 layout: fixed-width columns streamed from their
    /// chunks as raw little-endian memory, the others as `data` (ValueCodec.swift).
    static func writeValues(_ v: ColumnView, rows: Int, to writer: SectionFileWriter) throws {
        func raw<T>(_ view: ChunkedView<T>) throws {
            try view.forEachChunk { _, values in try writer.write(UnsafeRawBufferPointer(values)) }
        }
        switch v.values {
        case .bool(let c): try raw(c)
        case .int8(let c): try raw(c)
        case .int16(let c): try raw(c)
        case .int32(let c): try raw(c)
        case .int64(let c): try raw(c)
        case .float(let c): try raw(c)
        case .double(let c): try raw(c)
        case .vector(let vv):
            try vv.forEachChunk { _, base, n in try writer.write(UnsafeRawBufferPointer(start: base, count: n * vv.bytesPerRow)) }
        case .string, .json, .array, .sparse:
            var w = ByteWriter()
            writeData(v, rows: rows, to: &w)
            try writer.write(w.bytes)
        }
    }

    /// The rows of `seg` as a `batch` (ValueCodec.swift), encoded straight from the segment's
    /// column chunks: the same bytes as encoding the gathered `ColumnBatch`, without it. This
    /// is the `rows` section of a version-1 data file.
    static func encodeRows(_ seg: Segment, rows: Int) -> ByteWriter {
        let views = storedColumns(seg, rows: rows)
        let bytes = views.reduce(64) { n, v in
            if case .vector(let vv) = v.values { return n + rows * vv.bytesPerRow + 32 }
            return n + rows * 9 + 32
        }
        var w = ByteWriter(capacity: bytes)
        w.writeVarint(UInt64(rows))
        w.writeVarint(UInt64(views.count))
        for v in views {
            w.writeString(v.field.name)
            // A validity mask only when some row is null (as the batch codec has it).
            var mask: [UInt8]?
            if let validity = v.validity {
                var bits = [UInt8](repeating: 0, count: (rows + 7) / 8)
                var nulls = 0
                validity.forEachChunk { first, values in
                    for (i, valid) in values.enumerated() {
                        if valid { bits[(first + i) >> 3] |= 1 << UInt8((first + i) & 7) } else { nulls += 1 }
                    }
                }
                if nulls > 0 { mask = bits }
            }
            w.write(UInt8(mask == nil ? 0 : 1))
            if let mask { w.writeRaw(mask) }
            writeData(v, rows: rows, to: &w)
        }
        return w
    }

    /// A column's values as `data` (ValueCodec.swift): the type, then its payload.
    static func writeData(_ v: ColumnView, rows: Int, to w: inout ByteWriter) {
        func raw<T>(_ type: DataType, _ view: ChunkedView<T>) {
            w.write(UInt8(type.rawValue))
            w.writeVarint(UInt64(rows))
            view.forEachChunk { _, values in w.writeRaw(UnsafeRawBufferPointer(values)) }
        }
        switch v.values {
        case .bool(let c): raw(.bool, c)
        case .int8(let c): raw(.int8, c)
        case .int16(let c): raw(.int16, c)
        case .int32(let c): raw(.int32, c)
        case .int64(let c): raw(.int64, c)
        case .float(let c): raw(.float, c)
        case .double(let c): raw(.double, c)
        case .string(let c):
            w.write(UInt8(DataType.varchar.rawValue))
            w.writeVarint(UInt64(rows))
            c.forEachChunk { _, values in for x in values { w.writeString(x) } }
        case .json(let c):
            w.write(UInt8(DataType.json.rawValue))
            w.writeVarint(UInt64(rows))
            c.forEachChunk { _, values in for x in values { ValueCodec.write(x, to: &w) } }
        case .array(let c):
            w.write(UInt8(DataType.array.rawValue))
            w.writeVarint(UInt64(rows))
            c.forEachChunk { _, values in
                for row in values {
                    w.writeVarint(UInt64(row.count))
                    for e in row { ValueCodec.write(e, to: &w) }
                }
            }
        case .sparse(let c):
            w.write(UInt8(DataType.sparseFloatVector.rawValue))
            w.writeVarint(UInt64(rows))
            c.forEachChunk { _, values in for x in values { ValueCodec.write(x, to: &w) } }
        case .vector(let vv):
            let elementSize: Int
            switch vv.type {
            case .floatVector: elementSize = 4
            case .float16Vector, .bfloat16Vector: elementSize = 2
            default: elementSize = 1
            }
            w.write(UInt8(vv.type.rawValue))
            w.writeVarint(UInt64(vv.dim))
            w.writeVarint(UInt64(rows * vv.bytesPerRow / elementSize))
            vv.forEachChunk { _, base, n in w.writeRaw(UnsafeRawBufferPointer(start: base, count: n * vv.bytesPerRow)) }
        }
    }

    /// Writes the delete state of a segment as of timestamp `asOf` (deletes at or before it);
    /// returns the object key and the number of deleted rows written.
    func writeDeletes(_ seg: Segment, collection: Int64, checkpoint: UInt64, asOf: UInt64 = .max) throws -> (key: String, deleted: Int) {
        let key = Self.directoryKey(collection: collection, segment: seg.id) + "/deletes-\(checkpoint)"
        var w = ByteWriter()
        var marks: [(Int, UInt64)] = []
        for r in 0..<seg.rowCount {
            let d = seg.deletes.deleteTimestamp(r)
            if d != .max && d <= asOf { marks.append((r, d)) }
        }
        w.writeVarint(UInt64(marks.count))
        for (r, d) in marks { w.writeVarint(UInt64(r)); w.write(d) }
        let path = try store.localPath(for: key)
        try fs.createDirectory(FilePath.parent(path))
        let writer = try SectionFileWriter(path: path, fileSystem: fs, kind: Self.deletesKind, kindVersion: Self.deletesVersion)
        try writer.addSection("deletes", bytes: w.bytes)
        try writer.finish()
        return (key, marks.count)
    }

    /// Saves a built vector index of a sealed segment; returns the object key.
    func writeIndex(_ built: BuiltIndex, segment seg: Segment, collection: Int64) throws -> String {
        let key = Self.directoryKey(collection: collection, segment: seg.id) + "/index-\(built.indexID)"
        let path = try store.localPath(for: key)
        try fs.createDirectory(FilePath.parent(path))
        let image = built.index.serialized()
        try image.withUnsafeBytes {
            try fs.writeAtomically(path, bytes: $0, temporaryPath: FilePath.join(FilePath.parent(path), ".tmp-index-\(built.indexID)"))
        }
        return key
    }

    /// Installs the saved indexes of a loaded segment that are still declared. An index file
    /// that is missing or damaged is not an error: the index is derived data and is rebuilt
    /// in the background like any other missing one. Files are mapped, and the indexes whose
    /// layout allows it (FLAT, HNSW) search the mapping in place.
    func loadIndexes(_ record: SegmentRecord, into seg: Segment, declared: [IndexDescription]) {
        for desc in declared {
            guard let key = record.indexKeys[desc.id], let path = try? store.localPath(for: key),
                  let index = try? Self.loadIndex(path: path, fileSystem: fs), index.count == seg.rowCount
            else { continue }
            seg.installIndex(BuiltIndex(indexID: desc.id, field: desc.field, rows: seg.rowCount, index: index))
            seg.persistence.withLock { $0.indexKeys[desc.id] = key }
        }
    }

    /// Loads the index file at `path` from its mapping (or the file system's heap copy).
    static func loadIndex(path: String, fileSystem fs: any FileSystem) throws -> any VectorIndex {
        let mapped = try fs.map(path)
        let index = try IndexFactory.load(IndexFile.parse(IndexImage(region: mapped.bytes, mapped: mapped.isMapped, owner: mapped)))
        // Verification read the file front to back; a graph is then read in no order.
        if index.configuration.indexType == .hnsw { mapped.advise(.random) }
        return index
    }

    /// Opens a sealed segment's data file — every section's CRC32C is verified here, so a
    /// damaged file stops the open rather than a later read — and applies its delete state. A
    /// version-2 file's fixed-width columns and timestamps are read in place from the mapping;
    /// its variable-length columns, and every column of a version-1 file, are decoded into
    /// memory.
    func load(_ record: SegmentRecord, collection: Int64, partition: String, schema: CollectionSchema) throws -> Segment {
        let path = try store.localPath(for: record.dataKey)
        let file = try SectionFile.open(path: path, fileSystem: fs, expectedKind: Self.dataKind)
        guard file.kindVersion == 1 || file.kindVersion == Self.version else {
            throw StorageError.unsupportedFormat(
                path: path, reason: "segment file version \(file.kindVersion); this build reads 1 and \(Self.version)")
        }
        func corrupt(_ reason: String) -> StorageError { .corruption(path: path, offset: 0, reason: reason) }
        var meta = ByteReader(try file.section("meta"))
        let (cid, sid, rows): (Int64, Int64, UInt64)
        do {
            (cid, sid, rows) = (try meta.readSignedVarint(), try meta.readSignedVarint(), (try meta.readString(), try meta.readVarint()).1)
        } catch {
            throw corrupt("the meta section does not decode: \(error)")
        }
        guard cid == collection, sid == record.segmentID, rows == UInt64(record.rows) else {
            throw corrupt("holds segment \(sid) of collection \(cid) with \(rows) rows; the manifest expects segment "
                          + "\(record.segmentID) of collection \(collection) with \(record.rows) rows")
        }
        let id = SegmentID(UInt64(bitPattern: record.segmentID))
        let seg: Segment
        if file.kindVersion == 1 || record.rows == 0 {
            seg = try loadDecoded(file, rows: record.rows, id: id, partition: partition, schema: schema)
        } else {
            let reader = SegmentFileColumns(file: file, rows: record.rows, schema: schema)
            seg = try reader.segment(meta: &meta, id: id, partition: partition)
        }
        var deleted = 0
        if !record.deletesKey.isEmpty {
            let dpath = try store.localPath(for: record.deletesKey)
            let dfile = try SectionFile.open(path: dpath, fileSystem: fs, expectedKind: Self.deletesKind)
            try dfile.withSection("deletes") { raw in
                var r = ByteReader(raw)
                for _ in 0..<(try ValueCodec.readCount(&r)) {
                    let row = try r.readVarint(), d = try r.readUInt64()
                    guard row < UInt64(record.rows) else {
                        throw StorageError.corruption(path: dpath, offset: r.offset, reason: "row \(row) of \(record.rows)")
                    }
                    if seg.markDeleted(row: Int(row), at: Timestamp(rawValue: d)) { deleted += 1 }
                }
            }
        }
        seg.publish()
        seg.seal()
        seg.persistence.withLock {
            $0 = Segment.Persistence(firstLSN: record.firstLSN, lastLSN: record.lastLSN, lastRows: record.lastRows,
                                     dataKey: record.dataKey, deletesKey: record.deletesKey.isEmpty ? nil : record.deletesKey,
                                     persistedDeletes: deleted)
        }
        return seg
    }

    /// A version-1 file (or one without rows): the `rows` batch decoded and copied into a
    /// segment's own stores.
    private func loadDecoded(_ file: SectionFile, rows: Int, id: SegmentID, partition: String, schema: CollectionSchema) throws -> Segment {
        func corrupt(_ reason: String) -> StorageError { .corruption(path: file.path, offset: 0, reason: reason) }
        let fields = Segment.storedFields(of: schema).map(\.name)
        let seg = Segment(id: id, partition: partition, schema: schema, capacity: max(rows, 1))
        guard rows > 0 else { return seg }
        let batch: ColumnBatch
        do { batch = try file.withSection("rows") { raw in var r = ByteReader(raw); return try ValueCodec.readBatch(&r) } } catch {
            throw corrupt("the rows section does not decode: \(error)")
        }
        let ts = try SegmentFileColumns.timestamps(file, rows: rows)
        guard batch.rowCount == rows, fields.allSatisfy({ batch[$0] != nil }) else {
            throw corrupt("the rows section does not match the collection's schema")
        }
        seg.append(batch, timestamps: (0..<rows).map { UInt64(littleEndian: ts.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) })
        return seg
    }
}

/// Reads the columns of a version-2 data file into a sealed segment: fixed-width columns,
/// validity and timestamps become stores borrowed from the file's mapping (checked for size,
/// alignment and, for BOOL and validity bytes, values 0 or 1); VARCHAR, JSON, ARRAY and
/// SPARSE_FLOAT_VECTOR columns are decoded into the segment's own stores.
///
/// Thread safety: a value type used by one thread while loading.
struct SegmentFileColumns {
    let file: SectionFile
    let rows: Int
    let schema: CollectionSchema

    private func corrupt(_ reason: String) -> StorageError { .corruption(path: file.path, offset: 0, reason: reason) }

    /// The segment, reading the column list from the rest of the meta section.
    func segment(meta: inout ByteReader, id: SegmentID, partition: String) throws -> Segment {
        struct Entry { var index: Int; var type: DataType; var dim: Int; var hasValidity: Bool }
        var entries: [String: Entry] = [:]
        do {
            let count = try ValueCodec.readCount(&meta)
            for i in 0..<count {
                let name = try meta.readString()
                let code = try meta.readUInt8()
                guard let type = DataType(rawValue: Int32(code)) else { throw RecordDecodingError("unknown data type \(code)") }
                let dim = try meta.readVarint(), flags = try meta.readUInt8()
                guard dim <= 1 << 20, entries[name] == nil else { throw RecordDecodingError("column \(name) listed twice or with dim \(dim)") }
                entries[name] = Entry(index: i, type: type, dim: Int(dim), hasValidity: flags & 1 != 0)
            }
            guard meta.isAtEnd else { throw RecordDecodingError("bytes after the column list") }
        } catch {
            throw corrupt("the meta section does not decode: \(error)")
        }
        let fields = Segment.storedFields(of: schema)
        var stores: [FieldStore] = []
        var validity: [ChunkedStore<Bool>?] = []
        for f in fields {
            guard let e = entries[f.name] else { throw corrupt("no column for field '\(f.name)'") }
            guard e.type == f.dataType, !f.dataType.isDenseVector || e.dim == f.dim else {
                throw corrupt("column '\(f.name)' holds \(e.type) (dim \(e.dim)); the schema says \(f.dataType) (dim \(f.dim ?? 0))")
            }
            stores.append(try store(f, try file.section("c\(e.index)")))
            if e.hasValidity {
                guard f.nullable else { throw corrupt("column '\(f.name)' has nulls but the field is not nullable") }
                validity.append(try bools(try file.section("n\(e.index)"), what: "validity of '\(f.name)'"))
            } else {
                validity.append(nil)
            }
        }
        let ts = try Self.timestamps(file, rows: rows)
        let stamps: ChunkedStore<UInt64> = try borrowed(ts, perRow: 1, what: "timestamps")
        return Segment(id: id, partition: partition, schema: schema, rows: rows, stores: stores, validity: validity,
                       timestamps: stamps, backingFile: file.mapping)
    }

    /// The insert timestamps, checked for size and order.
    static func timestamps(_ file: SectionFile, rows: Int) throws -> UnsafeRawBufferPointer {
        let raw = try file.section("timestamps")
        func corrupt(_ reason: String) -> StorageError { .corruption(path: file.path, offset: 0, reason: reason) }
        guard raw.count == rows * 8 else { throw corrupt("\(raw.count) bytes of timestamps for \(rows) rows") }
        var previous: UInt64 = 0
        for r in 0..<rows {
            let t = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: r * 8, as: UInt64.self))
            guard t >= previous else { throw corrupt("insert timestamps decrease at row \(r)") }
            previous = t
        }
        return raw
    }

    private func store(_ f: FieldSchema, _ raw: UnsafeRawBufferPointer) throws -> FieldStore {
        switch f.dataType {
        case .bool: return .bool(try bools(raw, what: "column '\(f.name)'"))
        case .int8: return .int8(try borrowed(raw, perRow: 1, what: f.name))
        case .int16: return .int16(try borrowed(raw, perRow: 1, what: f.name))
        case .int32: return .int32(try borrowed(raw, perRow: 1, what: f.name))
        case .int64: return .int64(try borrowed(raw, perRow: 1, what: f.name))
        case .float: return .float(try borrowed(raw, perRow: 1, what: f.name))
        case .double: return .double(try borrowed(raw, perRow: 1, what: f.name))
        case .floatVector, .float16Vector, .bfloat16Vector, .int8Vector, .binaryVector:
            return .vector(try borrowed(raw, perRow: f.dataType.vectorBytes(dim: f.dim!), what: f.name))
        case .varchar, .json, .array, .sparseFloatVector:
            let data: ColumnData
            do { var r = ByteReader(raw); data = try ValueCodec.readData(&r); guard r.isAtEnd else { throw RecordDecodingError("trailing bytes") } } catch {
                throw corrupt("column '\(f.name)' does not decode: \(error)")
            }
            guard data.dataType == f.dataType, data.count == rows else {
                throw corrupt("column '\(f.name)' holds \(data.count) values of \(data.dataType) for \(rows) rows of \(f.dataType)")
            }
            let s = FieldStore(field: f, chunkShift: Segment.chunkShift, maxRows: rows)
            s.append(data)
            return s
        }
    }

    /// A store of `rows` × `perRow` values of `T` read in place, or copied when the bytes are
    /// not aligned for `T` (never the case for a mapping or the heap fallback, whose sections
    /// start on 64-byte boundaries).
    private func borrowed<T: BitwiseCopyable>(_ raw: UnsafeRawBufferPointer, perRow: Int, what: String) throws -> ChunkedStore<T> {
        let n = rows * perRow
        guard raw.count == n * MemoryLayout<T>.stride, let base = raw.baseAddress else {
            throw corrupt("\(what): \(raw.count) bytes for \(rows) rows of \(perRow * MemoryLayout<T>.stride) bytes")
        }
        if Int(bitPattern: base) % MemoryLayout<T>.alignment == 0 {
            return ChunkedStore(borrowing: base.bindMemory(to: T.self, capacity: n), rows: rows, elementsPerRow: perRow, owner: file)
        }
        let s = ChunkedStore<T>(elementsPerRow: perRow, chunkShift: Segment.chunkShift, maxRows: rows)
        let copy = [T](unsafeUninitializedCapacity: n) { b, filled in
            UnsafeMutableRawPointer(b.baseAddress!).copyMemory(from: base, byteCount: raw.count)
            filled = n
        }
        s.append(contentsOf: copy)
        return s
    }

    /// One byte per row that must be 0 or 1, read in place as `Bool`.
    private func bools(_ raw: UnsafeRawBufferPointer, what: String) throws -> ChunkedStore<Bool> {
        if let bad = raw.firstIndex(where: { $0 > 1 }) { throw corrupt("\(what): byte \(raw[bad]) at row \(bad) is not 0 or 1") }
        return try borrowed(raw, perRow: 1, what: what)
    }
}
