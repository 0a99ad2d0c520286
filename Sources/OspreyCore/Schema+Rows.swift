// Validation of incoming rows against a schema: the row form is converted to columns, and
// every column is checked and normalised (types, dimensions, lengths, nulls, defaults,
// dynamic keys) before the write path sees it.

/// Coercion of one value to a field's type.
enum ValueCoercion {
    struct Failure: Error { var kind: ValidationError.Kind; var message: String }

    /// Returns the value in the canonical case for the field's scalar type, or throws.
    static func coerceScalar(_ v: FieldValue, to f: FieldSchema) throws(Failure) -> FieldValue {
        try coerce(v, type: f.dataType, maxLength: f.maxLength)
    }

    static func coerce(_ v: FieldValue, type: DataType, maxLength: Int?) throws(Failure) -> FieldValue {
        func mismatch() -> Failure { Failure(kind: .typeMismatch, message: "expected \(type), got \(v.kindName)") }
        switch type {
        case .bool:
            guard case .bool = v else { throw mismatch() }
            return v
        case .int8, .int16, .int32, .int64:
            let i: Int64
            switch v {
            case .int(let x): i = x
            case .double(let d) where d == d.rounded() && abs(d) < 9.2e18: i = Int64(d)
            default: throw mismatch()
            }
            let range: ClosedRange<Int64>
            switch type {
            case .int8: range = Int64(Int8.min)...Int64(Int8.max)
            case .int16: range = Int64(Int16.min)...Int64(Int16.max)
            case .int32: range = Int64(Int32.min)...Int64(Int32.max)
            default: range = Int64.min...Int64.max
            }
            guard range.contains(i) else { throw Failure(kind: .outOfRange, message: "\(i) is out of the range of \(type)") }
            return .int(i)
        case .float:
            guard let d = v.numberValue else { throw mismatch() }
            let f = Float(d)
            guard d.isFinite == f.isFinite || d.isNaN else { throw Failure(kind: .outOfRange, message: "\(d) is out of the range of FLOAT") }
            return .float(f)
        case .double:
            guard let d = v.numberValue else { throw mismatch() }
            return .double(d)
        case .varchar:
            guard case .string(let s) = v else { throw mismatch() }
            if let ml = maxLength, s.utf8.count > ml {
                throw Failure(kind: .valueTooLong, message: "the string is \(s.utf8.count) bytes long, more than max_length \(ml)")
            }
            return v
        case .json:
            switch v {
            case .json: return v
            case .string(let s):
                do { return .json(try JSONValue.parse(s)) } catch { throw Failure(kind: .invalidValue, message: "\(error)") }
            default: return .json(v.jsonValue)
            }
        default:
            throw mismatch()
        }
    }
}

/// Appends row values of one field into a typed column.
struct ColumnAccumulator {
    let field: FieldSchema
    var data: ColumnData
    var validity: [Bool] = []
    var anyNull = false

    init(field: FieldSchema, capacity: Int) {
        self.field = field
        let d = field.dim ?? 0
        switch field.dataType {
        case .bool: data = .bool([])
        case .int8: data = .int8([])
        case .int16: data = .int16([])
        case .int32: data = .int32([])
        case .int64: data = .int64([])
        case .float: data = .float([])
        case .double: data = .double([])
        case .varchar: data = .string([])
        case .json: data = .json([])
        case .array: data = .array([])
        case .floatVector: data = .floatVector(dim: d, [])
        case .float16Vector: data = .float16Vector(dim: d, [])
        case .bfloat16Vector: data = .bfloat16Vector(dim: d, [])
        case .int8Vector: data = .int8Vector(dim: d, [])
        case .binaryVector: data = .binaryVector(dim: d, [])
        case .sparseFloatVector: data = .sparseFloatVector([])
        }
        validity.reserveCapacity(capacity)
    }

    mutating func append(_ value: FieldValue, row: Int) throws(ValidationError) {
        let name = field.name
        func err(_ k: ValidationError.Kind, _ m: String) -> ValidationError { ValidationError(k, m, field: name, row: row) }
        let isNull = value.isNull
        validity.append(!isNull)
        if isNull { anyNull = true }
        do {
            switch data {
            case .bool(var a):
                data = .bool([]); a.append(isNull ? false : try { () throws(ValueCoercion.Failure) -> Bool in
                    guard case .bool(let b) = try ValueCoercion.coerceScalar(value, to: field) else { return false }; return b }())
                data = .bool(a)
            case .int8(var a):
                data = .int8([]); a.append(isNull ? 0 : Int8(try intValue(value))); data = .int8(a)
            case .int16(var a):
                data = .int16([]); a.append(isNull ? 0 : Int16(try intValue(value))); data = .int16(a)
            case .int32(var a):
                data = .int32([]); a.append(isNull ? 0 : Int32(try intValue(value))); data = .int32(a)
            case .int64(var a):
                data = .int64([]); a.append(isNull ? 0 : try intValue(value)); data = .int64(a)
            case .float(var a):
                data = .float([])
                if isNull { a.append(0) } else if case .float(let f) = try ValueCoercion.coerceScalar(value, to: field) { a.append(f) }
                data = .float(a)
            case .double(var a):
                data = .double([])
                if isNull { a.append(0) } else if case .double(let f) = try ValueCoercion.coerceScalar(value, to: field) { a.append(f) }
                data = .double(a)
            case .string(var a):
                data = .string([])
                if isNull { a.append("") } else if case .string(let s) = try ValueCoercion.coerceScalar(value, to: field) { a.append(s) }
                data = .string(a)
            case .json(var a):
                data = .json([])
                if isNull { a.append(.null) } else if case .json(let j) = try ValueCoercion.coerceScalar(value, to: field) { a.append(j) }
                data = .json(a)
            case .array(var a):
                data = .array([])
                if isNull {
                    a.append([])
                } else {
                    guard case .array(let elems) = value else { throw err(.typeMismatch, "expected ARRAY, got \(value.kindName)") }
                    a.append(elems)
                }
                data = .array(a)
            case .floatVector(let d, var a):
                data = .floatVector(dim: d, [])
                switch value {
                case .floatVector(let v):
                    guard v.count == d else { throw err(.dimensionMismatch, "the vector has \(v.count) dimensions; the field has \(d)") }
                    a.append(contentsOf: v)
                case .array(let elems):
                    guard elems.count == d else { throw err(.dimensionMismatch, "the vector has \(elems.count) dimensions; the field has \(d)") }
                    for e in elems {
                        guard let x = e.numberValue else { throw err(.typeMismatch, "a FLOAT_VECTOR element is \(e.kindName), not a number") }
                        a.append(Float(x))
                    }
                case .null: throw err(.missingField, "the vector is missing")
                default: throw err(.typeMismatch, "expected FLOAT_VECTOR, got \(value.kindName)")
                }
                data = .floatVector(dim: d, a)
            case .float16Vector(let d, var a):
                data = .float16Vector(dim: d, [])
                a.append(contentsOf: try halfVector(value, dim: d, bfloat: false))
                data = .float16Vector(dim: d, a)
            case .bfloat16Vector(let d, var a):
                data = .bfloat16Vector(dim: d, [])
                a.append(contentsOf: try halfVector(value, dim: d, bfloat: true))
                data = .bfloat16Vector(dim: d, a)
            case .int8Vector(let d, var a):
                data = .int8Vector(dim: d, [])
                guard case .int8Vector(let v) = value else { throw err(.typeMismatch, "expected INT8_VECTOR, got \(value.kindName)") }
                guard v.count == d else { throw err(.dimensionMismatch, "the vector has \(v.count) dimensions; the field has \(d)") }
                a.append(contentsOf: v)
                data = .int8Vector(dim: d, a)
            case .binaryVector(let d, var a):
                data = .binaryVector(dim: d, [])
                guard case .binaryVector(let v) = value else { throw err(.typeMismatch, "expected BINARY_VECTOR, got \(value.kindName)") }
                guard v.count * 8 == d else { throw err(.dimensionMismatch, "the vector has \(v.count * 8) dimensions; the field has \(d)") }
                a.append(contentsOf: v)
                data = .binaryVector(dim: d, a)
            case .sparseFloatVector(var a):
                data = .sparseFloatVector([])
                guard case .sparseVector(let v) = value else { throw err(.typeMismatch, "expected SPARSE_FLOAT_VECTOR, got \(value.kindName)") }
                a.append(v)
                data = .sparseFloatVector(a)
            }
        } catch let f as ValueCoercion.Failure {
            throw err(f.kind, f.message)
        } catch let e as ValidationError {
            throw e
        } catch {
            throw err(.invalidValue, "\(error)")
        }
    }

    private func intValue(_ v: FieldValue) throws(ValueCoercion.Failure) -> Int64 {
        guard case .int(let i) = try ValueCoercion.coerceScalar(v, to: field) else { return 0 }
        return i
    }

    private func halfVector(_ v: FieldValue, dim: Int, bfloat: Bool) throws(ValidationError) -> [UInt16] {
        let bits: [UInt16]
        switch v {
        case .float16Vector(let b) where !bfloat: bits = b
        case .bfloat16Vector(let b) where bfloat: bits = b
        case .floatVector(let f): bits = f.map { bfloat ? HalfFloat.bfloat16(from: $0) : HalfFloat.float16(from: $0) }
        default: throw ValidationError(.typeMismatch, "expected \(field.dataType), got \(v.kindName)", field: field.name)
        }
        guard bits.count == dim else {
            throw ValidationError(.dimensionMismatch, "the vector has \(bits.count) dimensions; the field has \(dim)", field: field.name)
        }
        return bits
    }

    func column() -> Column { Column(data, validity: anyNull ? validity : nil) }
}

extension CollectionSchema {
    /// Converts rows (field name → value) to columns and validates them.
    ///
    /// Keys that are not fields go to the dynamic field when it is enabled, and are an error
    /// otherwise. Auto-generated primary keys must be left out.
    public func columns(fromRows rows: [[String: FieldValue]]) throws(ValidationError) -> ColumnBatch {
        var accs = fields.filter { !($0.isPrimaryKey && $0.autoID) }.map { ColumnAccumulator(field: $0, capacity: rows.count) }
        let known = Set(fields.map(\.name))
        let autoKey = fields.first(where: { $0.isPrimaryKey && $0.autoID })?.name
        var dynamic: [JSONValue] = []
        if enableDynamicField { dynamic.reserveCapacity(rows.count) }
        for (r, row) in rows.enumerated() {
            if let autoKey, let v = row[autoKey], !v.isNull {
                throw ValidationError(.invalidValue, "the primary key is generated (auto_id); leave it out of inserted rows", field: autoKey, row: r)
            }
            for i in accs.indices {
                try accs[i].append(row[accs[i].field.name] ?? .null, row: r)
            }
            var extra: [String: JSONValue] = [:]
            for (k, v) in row where !known.contains(k) {
                if k == Self.dynamicFieldName, enableDynamicField, case .json(.object(let o)) = v {
                    for (mk, mv) in o { extra[mk] = mv }
                    continue
                }
                guard enableDynamicField else {
                    throw ValidationError(.unknownField, "unknown field '\(k)' (the collection has no dynamic field)", field: k, row: r)
                }
                extra[k] = v.jsonValue
            }
            if enableDynamicField { dynamic.append(.object(extra)) }
        }
        var batch = ColumnBatch(rowCount: rows.count)
        for a in accs { batch[a.field.name] = a.column() }
        if enableDynamicField { batch[Self.dynamicFieldName] = Column(.json(dynamic)) }
        return try normalized(batch)
    }
}
