import OspreyCore

/// Which fields a read returns: schema fields by name and, from the dynamic field, either
/// every key or the named ones.
struct OutputSpec: Sendable {
    var fields: [String]
    var dynamicKeys: [String]
    var allDynamic: Bool

    /// Resolves Milvus-style output field names: `*` is every field (vectors included) and the
    /// whole dynamic field; `$meta` is the whole dynamic field; other names are fields or, when
    /// the dynamic field is on, dynamic keys.
    static func resolve(_ names: [String], schema: CollectionSchema, collection: String, includePrimaryKey: Bool) throws(OspreyError) -> OutputSpec {
        var spec = OutputSpec(fields: [], dynamicKeys: [], allDynamic: false)
        var seen = Set<String>()
        func add(_ f: String) { if seen.insert(f).inserted { spec.fields.append(f) } }
        if includePrimaryKey { add(schema.primaryKey.name) }
        for raw in names {
            let name = raw.trimmingSpaces
            if name.isEmpty { continue }
            if name == "*" {
                for f in schema.fields { add(f.name) }
                if schema.enableDynamicField { spec.allDynamic = true }
            } else if schema.field(named: name) != nil {
                add(name)
            } else if name == CollectionSchema.dynamicFieldName, schema.enableDynamicField {
                spec.allDynamic = true
            } else if schema.enableDynamicField {
                if !spec.dynamicKeys.contains(name) { spec.dynamicKeys.append(name) }
            } else {
                throw .fieldNotFound(collection: collection, field: name)
            }
        }
        return spec
    }

    var wantsDynamic: Bool { allDynamic || !dynamicKeys.isEmpty }

    /// Gathers the output columns for `hits` (segment snapshot, row) in order.
    func gather(_ hits: [(SegmentSnapshot, Int)], schema: CollectionSchema) -> ColumnBatch {
        var out = ColumnBatch(rowCount: hits.count)
        // Group column views per segment once.
        var viewsBySegment: [SegmentID: [String: ColumnView]] = [:]
        let names = fields + (wantsDynamic ? [CollectionSchema.dynamicFieldName] : [])
        for (snap, _) in hits where viewsBySegment[snap.segment.id] == nil {
            var views: [String: ColumnView] = [:]
            for n in names { views[n] = snap.column(named: n) }
            viewsBySegment[snap.segment.id] = views
        }
        for name in fields {
            guard let field = schema.field(named: name) else { continue }
            out[name] = OutputSpec.gatherColumn(field: field, hits: hits) { viewsBySegment[$0.segment.id]![name]! }
        }
        if wantsDynamic {
            var metas: [JSONValue] = []
            metas.reserveCapacity(hits.count)
            for (snap, row) in hits {
                guard case .json(let v) = viewsBySegment[snap.segment.id]![CollectionSchema.dynamicFieldName]!.values,
                      case .object(let o) = v[row] else { metas.append(.object([:])); continue }
                if allDynamic {
                    metas.append(.object(o))
                } else {
                    var picked: [String: JSONValue] = [:]
                    for k in dynamicKeys { if let x = o[k] { picked[k] = x } }
                    metas.append(.object(picked))
                }
            }
            out[CollectionSchema.dynamicFieldName] = Column(.json(metas))
        }
        return out
    }

    static func gatherColumn(field: FieldSchema, hits: [(SegmentSnapshot, Int)], view: (SegmentSnapshot) -> ColumnView) -> Column {
        var validity: [Bool]? = field.nullable ? [] : nil
        func collect<T>(_ pick: (ColumnView.Values) -> ChunkedView<T>?) -> [T] {
            var out: [T] = []
            out.reserveCapacity(hits.count)
            for (snap, row) in hits {
                let v = view(snap)
                out.append(pick(v.values)![row])
                validity?.append(!v.isNull(row))
            }
            return out
        }
        let data: ColumnData
        switch field.dataType {
        case .bool: data = .bool(collect { if case .bool(let c) = $0 { c } else { nil } })
        case .int8: data = .int8(collect { if case .int8(let c) = $0 { c } else { nil } })
        case .int16: data = .int16(collect { if case .int16(let c) = $0 { c } else { nil } })
        case .int32: data = .int32(collect { if case .int32(let c) = $0 { c } else { nil } })
        case .int64: data = .int64(collect { if case .int64(let c) = $0 { c } else { nil } })
        case .float: data = .float(collect { if case .float(let c) = $0 { c } else { nil } })
        case .double: data = .double(collect { if case .double(let c) = $0 { c } else { nil } })
        case .varchar: data = .string(collect { if case .string(let c) = $0 { c } else { nil } })
        case .json: data = .json(collect { if case .json(let c) = $0 { c } else { nil } })
        case .array: data = .array(collect { if case .array(let c) = $0 { c } else { nil } })
        case .sparseFloatVector: data = .sparseFloatVector(collect { if case .sparse(let c) = $0 { c } else { nil } })
        case .floatVector, .float16Vector, .bfloat16Vector, .int8Vector, .binaryVector:
            let dim = field.dim!
            let bytes = field.dataType.vectorBytes(dim: dim)
            var raw = [UInt8](repeating: 0, count: hits.count * bytes)
            raw.withUnsafeMutableBytes { dst in
                for (i, (snap, row)) in hits.enumerated() {
                    guard case .vector(let vv) = view(snap).values else { continue }
                    (dst.baseAddress! + i * bytes).copyMemory(from: vv.vector(at: row), byteCount: bytes)
                }
            }
            switch field.dataType {
            case .floatVector: data = .floatVector(dim: dim, raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
            case .float16Vector: data = .float16Vector(dim: dim, raw.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) })
            case .bfloat16Vector: data = .bfloat16Vector(dim: dim, raw.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) })
            case .int8Vector: data = .int8Vector(dim: dim, raw.withUnsafeBytes { Array($0.bindMemory(to: Int8.self)) })
            default: data = .binaryVector(dim: dim, raw)
            }
        }
        if let v = validity, !v.contains(false) { validity = nil }
        return Column(data, validity: validity)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
