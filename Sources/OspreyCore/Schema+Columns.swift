// Validation and normalisation of a columnar batch against a schema.

extension CollectionSchema {
    /// Checks a columnar batch and returns it normalised: every field present (nulls and
    /// defaults filled in), integer widths as declared, dynamic keys merged into `$meta`.
    ///
    /// - Throws: `ValidationError` naming the field (and row, where one is at fault): missing
    ///   non-nullable field, unknown field, wrong type, dimension mismatch, NaN or infinity in a
    ///   vector, string over max_length, array over max_capacity, column lengths that differ.
    public func normalized(_ batch: ColumnBatch) throws(ValidationError) -> ColumnBatch {
        let n = batch.rowCount
        guard n > 0 else { throw ValidationError(.invalidValue, "the batch has no rows") }
        var out = ColumnBatch(rowCount: n)
        for f in fields {
            if f.isPrimaryKey && f.autoID {
                if batch[f.name] != nil {
                    throw ValidationError(.invalidValue, "the primary key is generated (auto_id); leave it out of inserted rows", field: f.name)
                }
                continue
            }
            guard var col = batch[f.name] else {
                if f.nullable || f.defaultValue != nil {
                    out[f.name] = try Self.filledColumn(f, rows: n)
                    continue
                }
                throw ValidationError(.missingField, "the field is missing and is neither nullable nor has a default value", field: f.name)
            }
            guard col.count == n else {
                throw ValidationError(.invalidValue, "the column has \(col.count) rows; the batch has \(n)", field: f.name)
            }
            if let v = col.validity, v.count != n {
                throw ValidationError(.invalidValue, "the null mask has \(v.count) entries; the batch has \(n) rows", field: f.name)
            }
            col.data = try Self.checkedData(col.data, field: f, validity: col.validity)
            if let validity = col.validity, validity.contains(false) {
                col = try Self.fillNulls(col, field: f)
            } else {
                col.validity = nil
            }
            out[f.name] = col
        }
        let known = Set(fields.map(\.name))
        var extras: [(String, Column)] = []
        for (name, col) in batch.columns where !known.contains(name) && name != Self.dynamicFieldName {
            guard enableDynamicField else {
                throw ValidationError(.unknownField, "unknown field '\(name)' (the collection has no dynamic field)", field: name)
            }
            guard col.count == n else { throw ValidationError(.invalidValue, "the column has \(col.count) rows; the batch has \(n)", field: name) }
            extras.append((name, col))
        }
        if enableDynamicField {
            var metas: [JSONValue]
            if let m = batch[Self.dynamicFieldName] {
                guard case .json(let objs) = m.data, objs.count == n else {
                    throw ValidationError(.typeMismatch, "the dynamic field must be a JSON column with one object per row", field: Self.dynamicFieldName)
                }
                metas = []
                metas.reserveCapacity(n)
                for (r, o) in objs.enumerated() {
                    switch o {
                    case .object: metas.append(o)
                    case .null: metas.append(.object([:]))
                    default: throw ValidationError(.typeMismatch, "the dynamic field must hold a JSON object", field: Self.dynamicFieldName, row: r)
                    }
                }
            } else {
                metas = Array(repeating: .object([:]), count: n)
            }
            if !extras.isEmpty {
                for r in 0..<n {
                    guard case .object(var o) = metas[r] else { continue }
                    for (name, col) in extras where !col.isNull(r) { o[name] = col.value(at: r).jsonValue }
                    metas[r] = .object(o)
                }
            }
            out[Self.dynamicFieldName] = Column(.json(metas))
        } else if batch[Self.dynamicFieldName] != nil {
            throw ValidationError(.unknownField, "the collection has no dynamic field", field: Self.dynamicFieldName)
        }
        return out
    }

    static func filledColumn(_ f: FieldSchema, rows n: Int) throws(ValidationError) -> Column {
        var acc = ColumnAccumulator(field: f, capacity: n)
        let v = f.defaultValue ?? .null
        for r in 0..<n { try acc.append(v, row: r) }
        return acc.column()
    }

    static func fillNulls(_ col: Column, field f: FieldSchema) throws(ValidationError) -> Column {
        guard let validity = col.validity else { return col }
        if f.defaultValue == nil || f.defaultValue == .null {
            guard f.nullable else {
                let r = validity.firstIndex(of: false)!
                throw ValidationError(.missingField, "null in a field that is not nullable and has no default value", field: f.name, row: r)
            }
            return col
        }
        var acc = ColumnAccumulator(field: f, capacity: col.count)
        for r in 0..<col.count { try acc.append(validity[r] ? col.data.value(at: r) : f.defaultValue!, row: r) }
        return acc.column()
    }

    /// Checks a column's type and values against the field; returns the data in the declared width.
    static func checkedData(_ data: ColumnData, field f: FieldSchema, validity: [Bool]?) throws(ValidationError) -> ColumnData {
        let name = f.name
        func mismatch() -> ValidationError {
            ValidationError(.typeMismatch, "expected \(f.dataType) data, got \(data.dataType)", field: name)
        }
        func narrowed<T: FixedWidthInteger>(_ v: [Int64], _: T.Type) throws(ValidationError) -> [T] {
            var out: [T] = []
            out.reserveCapacity(v.count)
            for (r, x) in v.enumerated() {
                guard let y = T(exactly: x) else {
                    throw ValidationError(.outOfRange, "\(x) is out of the range of \(f.dataType)", field: name, row: r)
                }
                out.append(y)
            }
            return out
        }
        switch (f.dataType, data) {
        case (.bool, .bool), (.int64, .int64), (.double, .double), (.json, .json):
            return data
        case (.int8, .int8), (.int16, .int16), (.int32, .int32):
            return data
        case (.int8, .int64(let v)): return .int8(try narrowed(v, Int8.self))
        case (.int16, .int64(let v)): return .int16(try narrowed(v, Int16.self))
        case (.int32, .int64(let v)): return .int32(try narrowed(v, Int32.self))
        case (.int8, .int32(let v)): return .int8(try narrowed(v.map(Int64.init), Int8.self))
        case (.int16, .int32(let v)): return .int16(try narrowed(v.map(Int64.init), Int16.self))
        case (.float, .float): return data
        case (.float, .double(let v)): return .float(v.map { Float($0) })
        case (.double, .float(let v)): return .double(v.map { Double($0) })
        case (.varchar, .string(let v)):
            let ml = f.maxLength ?? CollectionSchema.maxVarcharLength
            for (r, s) in v.enumerated() where s.utf8.count > ml && (validity?[r] ?? true) {
                throw ValidationError(.valueTooLong, "the string is \(s.utf8.count) bytes long, more than max_length \(ml)", field: name, row: r)
            }
            return data
        case (.array, .array(let rows)):
            let et = f.elementType!, cap = f.maxCapacity ?? CollectionSchema.maxArrayCapacity
            var out: [[FieldValue]] = []
            out.reserveCapacity(rows.count)
            for (r, a) in rows.enumerated() {
                if validity?[r] == false { out.append([]); continue }
                guard a.count <= cap else {
                    throw ValidationError(.arrayTooLong, "the array has \(a.count) elements, more than max_capacity \(cap)", field: name, row: r)
                }
                var elems: [FieldValue] = []
                elems.reserveCapacity(a.count)
                for e in a {
                    do {
                        elems.append(try ValueCoercion.coerce(e, type: et, maxLength: f.maxLength))
                    } catch {
                        throw ValidationError(error.kind, "array element: \(error.message)", field: name, row: r)
                    }
                }
                out.append(elems)
            }
            return .array(out)
        case (.floatVector, .floatVector(let d, let v)):
            try checkDim(d, f)
            for (i, x) in v.enumerated() where !x.isFinite {
                throw ValidationError(.nonFiniteVector, "the vector contains \(x) at dimension \(i % d)", field: name, row: i / d)
            }
            return data
        case (.float16Vector, .float16Vector(let d, let v)):
            try checkDim(d, f)
            for (i, x) in v.enumerated() where HalfFloat.float16IsNonFinite(x) {
                throw ValidationError(.nonFiniteVector, "the vector contains NaN or infinity at dimension \(i % d)", field: name, row: i / d)
            }
            return data
        case (.bfloat16Vector, .bfloat16Vector(let d, let v)):
            try checkDim(d, f)
            for (i, x) in v.enumerated() where HalfFloat.bfloat16IsNonFinite(x) {
                throw ValidationError(.nonFiniteVector, "the vector contains NaN or infinity at dimension \(i % d)", field: name, row: i / d)
            }
            return data
        case (.float16Vector, .floatVector(let d, let v)):
            try checkDim(d, f)
            return try checkedData(.float16Vector(dim: d, v.map(HalfFloat.float16(from:))), field: f, validity: validity)
        case (.bfloat16Vector, .floatVector(let d, let v)):
            try checkDim(d, f)
            return try checkedData(.bfloat16Vector(dim: d, v.map(HalfFloat.bfloat16(from:))), field: f, validity: validity)
        case (.int8Vector, .int8Vector(let d, _)), (.binaryVector, .binaryVector(let d, _)):
            try checkDim(d, f)
            return data
        case (.sparseFloatVector, .sparseFloatVector(let v)):
            for (r, s) in v.enumerated() {
                guard s.indices.count == s.values.count else {
                    throw ValidationError(.invalidValue, "the sparse vector has \(s.indices.count) indices and \(s.values.count) values", field: name, row: r)
                }
                for i in s.indices.indices.dropFirst() where s.indices[i] <= s.indices[i - 1] {
                    throw ValidationError(.invalidValue, "sparse vector indices must be strictly increasing", field: name, row: r)
                }
                for x in s.values where !x.isFinite {
                    throw ValidationError(.nonFiniteVector, "the sparse vector contains \(x)", field: name, row: r)
                }
            }
            return data
        default:
            throw mismatch()
        }
    }

    static func checkDim(_ d: Int, _ f: FieldSchema) throws(ValidationError) {
        guard d == f.dim else {
            throw ValidationError(.dimensionMismatch, "the vectors have \(d) dimensions; the field has \(f.dim ?? 0)", field: f.name)
        }
    }
}
