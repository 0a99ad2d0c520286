import OspreyCore
import OspreyIndex
import OspreyStorage

// Sealed segment files, written through the object store under
// `segments/<collection id>/<segment id>/` (docs/storage.md §15). Both are
// section files (magic, version, per-section CRC32C, checksummed footer):
//
//   data       kind "OSEG" version 1
//     section "meta"        zigzag(collectionID) zigzag(segmentID) string(partition) varint(rows)
//     section "rows"        batch (ValueCodec.swift): every field, and `$meta` when dynamic
//     section "timestamps"  u64 × rows, the insert timestamp of each row
//   deletes-<lsn>   kind "ODEL" version 1, written at the checkpoint `lsn`
//     section "deletes"     varint(n) (varint(row) u64(delete timestamp))*n, rows ascending
//   index-<index id>        the vector index's own checksummed file image (`serialized()`,
//                           docs/index.md), loaded with `IndexFactory.load`

/// Writes and reads sealed segments and their delete states.
///
/// Thread safety: stateless apart from the store; safe to call from several threads for
/// different segments.
struct SegmentFiles: Sendable {
    static let dataKind = SectionFileKind("OSEG")
    static let deletesKind = SectionFileKind("ODEL")
    static let version: UInt32 = 1

    let store: LocalDirectoryObjectStore
    let fs: any FileSystem

    static func directoryKey(collection: Int64, segment: SegmentID) -> String { "segments/\(collection)/\(segment.rawValue)" }

    /// Writes the rows of a sealed segment; returns the object key.
    func writeData(_ seg: Segment, collection: Int64) throws -> String {
        let rows = seg.rowCount
        let key = Self.directoryKey(collection: collection, segment: seg.id) + "/data"
        var meta = ByteWriter()
        meta.writeSignedVarint(collection)
        meta.writeSignedVarint(Int64(bitPattern: seg.id.rawValue))
        meta.writeString(seg.partition)
        meta.writeVarint(UInt64(rows))
        let body = Self.encodeRows(seg, rows: rows)
        var ts = [UInt64](repeating: 0, count: rows)
        for r in 0..<rows { ts[r] = seg.insertTimestamp(row: r).littleEndian }
        let path = try store.localPath(for: key)
        try fs.createDirectory(FilePath.parent(path))
        let writer = try SectionFileWriter(path: path, fileSystem: fs, kind: Self.dataKind, kindVersion: Self.version)
        try writer.addSection("meta", bytes: meta.bytes)
        try writer.addSection("rows", bytes: body.bytes)
        try ts.withUnsafeBytes { try writer.addSection("timestamps", bytes: $0) }
        try writer.finish()
        return key
    }

    /// The rows of `seg` as a `batch` (ValueCodec.swift), encoded straight from the segment's
    /// column chunks: the same bytes as encoding the gathered `ColumnBatch`, without it.
    static func encodeRows(_ seg: Segment, rows: Int) -> ByteWriter {
        var names = seg.schema.fields.map(\.name)
        if seg.schema.enableDynamicField { names.append(CollectionSchema.dynamicFieldName) }
        let views = names.sorted().compactMap { seg.column(named: $0, rows: rows) }
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
        return w
    }

    /// Writes the delete state of a segment as of now; returns the object key.
    func writeDeletes(_ seg: Segment, collection: Int64, checkpoint: UInt64) throws -> String {
        let key = Self.directoryKey(collection: collection, segment: seg.id) + "/deletes-\(checkpoint)"
        var w = ByteWriter()
        var marks: [(Int, UInt64)] = []
        for r in 0..<seg.rowCount {
            let d = seg.deletes.deleteTimestamp(r)
            if d != .max { marks.append((r, d)) }
        }
        w.writeVarint(UInt64(marks.count))
        for (r, d) in marks { w.writeVarint(UInt64(r)); w.write(d) }
        let path = try store.localPath(for: key)
        try fs.createDirectory(FilePath.parent(path))
        let writer = try SectionFileWriter(path: path, fileSystem: fs, kind: Self.deletesKind, kindVersion: Self.version)
        try writer.addSection("deletes", bytes: w.bytes)
        try writer.finish()
        return key
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
    /// in the background like any other missing one.
    func loadIndexes(_ record: SegmentRecord, into seg: Segment, declared: [IndexDescription]) {
        for desc in declared {
            guard let key = record.indexKeys[desc.id], let path = try? store.localPath(for: key),
                  let bytes = try? fs.readFile(path), let index = try? IndexFactory.load(bytes), index.count == seg.rowCount
            else { continue }
            seg.installIndex(BuiltIndex(indexID: desc.id, field: desc.field, rows: seg.rowCount, index: index))
            seg.persistence.withLock { $0.indexKeys[desc.id] = key }
        }
    }

    /// Loads a sealed segment (into the in-memory stores) with its delete state.
    func load(_ record: SegmentRecord, collection: Int64, partition: String, schema: CollectionSchema) throws -> Segment {
        let path = try store.localPath(for: record.dataKey)
        let file = try SectionFile.open(path: path, fileSystem: fs, expectedKind: Self.dataKind)
        guard file.kindVersion == Self.version else {
            throw StorageError.unsupportedFormat(path: path, reason: "segment file version \(file.kindVersion); this build reads 1")
        }
        func corrupt(_ reason: String) -> StorageError { .corruption(path: path, offset: 0, reason: reason) }
        let (cid, sid, rows) = try file.withSection("meta") { raw in
            var r = ByteReader(raw)
            return (try r.readSignedVarint(), try r.readSignedVarint(), (try r.readString(), try r.readVarint()).1)
        }
        guard cid == collection, sid == record.segmentID, rows == UInt64(record.rows) else {
            throw corrupt("holds segment \(sid) of collection \(cid) with \(rows) rows; the manifest expects segment "
                          + "\(record.segmentID) of collection \(collection) with \(record.rows) rows")
        }
        let batch: ColumnBatch
        do { batch = try file.withSection("rows") { raw in var r = ByteReader(raw); return try ValueCodec.readBatch(&r) } } catch {
            throw corrupt("the rows section does not decode: \(error)")
        }
        let ts: [UInt64] = try file.withSection("timestamps") { raw in
            guard raw.count == record.rows * 8 else { throw corrupt("\(raw.count) bytes of timestamps for \(record.rows) rows") }
            var r = ByteReader(raw)
            return try ValueCodec.readRaw(&r, count: record.rows)
        }
        var fields = schema.fields.map(\.name)
        if schema.enableDynamicField { fields.append(CollectionSchema.dynamicFieldName) }
        guard batch.rowCount == record.rows, fields.allSatisfy({ batch[$0] != nil }) else {
            throw corrupt("the rows section does not match the collection's schema")
        }
        let seg = Segment(id: SegmentID(UInt64(bitPattern: record.segmentID)), partition: partition, schema: schema,
                          capacity: max(record.rows, 1))
        seg.append(batch, timestamps: ts.map { UInt64(littleEndian: $0) })
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
}
