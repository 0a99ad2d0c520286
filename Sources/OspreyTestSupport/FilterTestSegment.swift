import OspreyCore

/// An in-memory segment for filter tests: the columns of a `ColumnBatch`, cut into chunks
/// of `1 << chunkShift` rows so that chunk boundaries are exercised.
///
/// Vector columns are not exposed (filters never read them).
///
/// Thread safety: immutable after construction; safe to read from several threads.
package struct FilterTestSegment: SegmentColumns {
    package let rowCount: Int
    package let schema: CollectionSchema
    let views: [String: ColumnView]

    /// A segment over `batch` (whose columns must all have `batch.rowCount` rows).
    package init(schema: CollectionSchema, batch: ColumnBatch, chunkShift: Int = 62) {
        self.rowCount = batch.rowCount
        self.schema = schema
        var views: [String: ColumnView] = [:]
        for (name, column) in batch.columns {
            let field = schema.field(named: name)
                ?? FieldSchema(name: name, dataType: .json, nullable: name != CollectionSchema.dynamicFieldName)
            let values: ColumnView.Values
            switch column.data {
            case .bool(let v): values = .bool(FilterChunkStorage(v, chunkShift: chunkShift).view)
            case .int8(let v): values = .int8(FilterChunkStorage(v, chunkShift: chunkShift).view)
            case .int16(let v): values = .int16(FilterChunkStorage(v, chunkShift: chunkShift).view)
            case .int32(let v): values = .int32(FilterChunkStorage(v, chunkShift: chunkShift).view)
            case .int64(let v): values = .int64(FilterChunkStorage(v, chunkShift: chunkShift).view)
            case .float(let v): values = .float(FilterChunkStorage(v, chunkShift: chunkShift).view)
            case .double(let v): values = .double(FilterChunkStorage(v, chunkShift: chunkShift).view)
            case .string(let v): values = .string(FilterChunkStorage(v, chunkShift: chunkShift).view)
            case .json(let v): values = .json(FilterChunkStorage(v, chunkShift: chunkShift).view)
            case .array(let v): values = .array(FilterChunkStorage(v, chunkShift: chunkShift).view)
            default: continue
            }
            let validity = column.validity.map { FilterChunkStorage($0, chunkShift: chunkShift).view }
            views[name] = ColumnView(field: field, values: values, validity: validity)
        }
        self.views = views
    }

    /// A segment over rows in the embedding API's row form (missing or `.null` values are
    /// null; keys that are not fields go to `$meta` when the schema has the dynamic field).
    package init(schema: CollectionSchema, rows: [[String: FieldValue]], chunkShift: Int = 62) {
        var batch = ColumnBatch(rowCount: rows.count)
        for field in schema.fields where !field.dataType.isVector {
            let values = rows.map { $0[field.name] ?? .null }
            let validity = values.map { !$0.isNull }
            let data: ColumnData
            switch field.dataType {
            case .bool: data = .bool(values.map { if case .bool(let b) = $0 { return b } else { return false } })
            case .int8: data = .int8(values.map { Int8(truncatingIfNeeded: Self.int($0)) })
            case .int16: data = .int16(values.map { Int16(truncatingIfNeeded: Self.int($0)) })
            case .int32: data = .int32(values.map { Int32(truncatingIfNeeded: Self.int($0)) })
            case .int64: data = .int64(values.map(Self.int))
            case .float: data = .float(values.map { Float($0.numberValue ?? 0) })
            case .double: data = .double(values.map { $0.numberValue ?? 0 })
            case .varchar: data = .string(values.map { if case .string(let s) = $0 { return s } else { return "" } })
            case .json: data = .json(values.map { if case .json(let j) = $0 { return j } else { return .null } })
            case .array: data = .array(values.map { if case .array(let a) = $0 { return a } else { return [] } })
            default: continue
            }
            batch[field.name] = Column(data, validity: validity.allSatisfy { $0 } ? nil : validity)
        }
        if schema.enableDynamicField {
            let names = Set(schema.fields.map(\.name))
            let metas: [JSONValue] = rows.map { row in
                var o: [String: JSONValue] = [:]
                for (k, v) in row where !names.contains(k) { o[k] = v.jsonValue }
                return .object(o)
            }
            batch[CollectionSchema.dynamicFieldName] = Column(.json(metas))
        }
        self.init(schema: schema, batch: batch, chunkShift: chunkShift)
    }

    static func int(_ v: FieldValue) -> Int64 { if case .int(let i) = v { return i } else { return 0 } }

    package func column(named name: String) -> ColumnView? { views[name] }
}

/// Chunks of copied values that live as long as the views over them.
///
/// Thread safety: immutable after construction.
final class FilterChunkStorage<T>: @unchecked Sendable {
    let pointers: [UnsafeMutablePointer<T>]
    let counts: [Int]
    let chunkShift: Int
    let total: Int

    init(_ values: [T], chunkShift: Int) {
        let size = chunkShift >= 62 ? Swift.max(values.count, 1) : 1 << chunkShift
        var pointers: [UnsafeMutablePointer<T>] = []
        var counts: [Int] = []
        var start = 0
        while start < values.count {
            let n = Swift.min(size, values.count - start)
            let p = UnsafeMutablePointer<T>.allocate(capacity: n)
            values.withUnsafeBufferPointer { p.initialize(from: $0.baseAddress! + start, count: n) }
            pointers.append(p)
            counts.append(n)
            start += n
        }
        self.pointers = pointers
        self.counts = counts
        self.chunkShift = chunkShift
        self.total = values.count
    }

    deinit {
        for (p, n) in zip(pointers, counts) {
            p.deinitialize(count: n)
            p.deallocate()
        }
    }

    var view: ChunkedView<T> {
        ChunkedView(chunks: pointers.map { UnsafePointer($0) }, chunkShift: chunkShift, count: total, owner: self)
    }
}
