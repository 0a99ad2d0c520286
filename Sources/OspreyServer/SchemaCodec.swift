import Foundation
import Osprey
import OspreyCore

/// Converts between the engine's `CollectionSchema` and Milvus's `schema.CollectionSchema`
/// (sent as bytes in `CreateCollection` and returned by `DescribeCollection`).
///
/// ```
/// CollectionSchema  1 name, 2 description, 3 autoID, 4 fields[], 5 enable_dynamic_field, 7 functions[]
/// FieldSchema       1 fieldID, 2 name, 3 is_primary_key, 4 description, 5 data_type,
///                   6 type_params {dim, max_length, max_capacity, other keys kept as given},
///                   8 autoID, 10 element_type, 11 default_value, 12 is_dynamic,
///                   13 is_partition_key, 15 nullable
/// ```
///
/// Thread safety: stateless; safe to use from any thread.
package enum SchemaCodec {
    /// Type parameters the codec maps to `FieldSchema` properties; others go to `extraParams`.
    static let knownParams: Set<String> = ["dim", "max_length", "max_capacity"]

    /// The engine schema described by `bytes` (field ids are assigned by the engine).
    package static func decode(_ bytes: Data) throws -> CollectionSchema {
        let proto: Schema_CollectionSchema
        do {
            proto = try Schema_CollectionSchema(serializedBytes: bytes)
        } catch {
            throw MilvusError.invalid("the schema is not a valid schema.CollectionSchema message: \(error)")
        }
        return try decode(proto)
    }

    package static func decode(_ proto: Schema_CollectionSchema) throws -> CollectionSchema {
        guard proto.functions.isEmpty else {
            throw MilvusError.invalid("schema functions (\(proto.functions.map(\.name).joined(separator: ", "))) are not supported by Osprey")
        }
        guard proto.structArrayFields.isEmpty else { throw MilvusError.invalid("struct array fields are not supported by Osprey") }
        var fields: [FieldSchema] = []
        for f in proto.fields where !f.isDynamic {
            fields.append(try decodeField(f, schemaAutoID: proto.autoID))
        }
        return CollectionSchema(fields: fields, description: proto.description_p, enableDynamicField: proto.enableDynamicField)
    }

    static func decodeField(_ f: Schema_FieldSchema, schemaAutoID: Bool) throws -> FieldSchema {
        let name = f.name
        let type = try dataType(f.dataType, field: name)
        var params: [String: String] = [:]
        for kv in f.typeParams { params[kv.key] = kv.value }
        func intParam(_ key: String) throws -> Int? {
            guard let raw = params[key] else { return nil }
            guard let v = Int(raw.trimmingCharacters(in: .whitespaces)) else {
                throw MilvusError.invalid("field '\(name)': type param \(key) must be an integer, got '\(raw)'")
            }
            return v
        }
        var field = FieldSchema(
            name: name, dataType: type, isPrimaryKey: f.isPrimaryKey, autoID: f.autoID || (f.isPrimaryKey && schemaAutoID),
            description: f.description_p, dim: type.isDenseVector ? try intParam("dim") : nil,
            maxLength: try intParam("max_length"),
            elementType: type == .array ? try dataType(f.elementType, field: name) : nil,
            maxCapacity: try intParam("max_capacity"), nullable: f.nullable,
            isPartitionKey: f.isPartitionKey,
            extraParams: params.filter { !knownParams.contains($0.key) })
        if f.hasDefaultValue { field.defaultValue = defaultValue(f.defaultValue) }
        return field
    }

    static func dataType(_ t: Schema_DataType, field: String) throws -> DataType {
        if t == .string { return .varchar }
        guard let type = DataType(rawValue: Int32(t.rawValue)) else {
            throw MilvusError.invalid("field '\(field)': data type \(t) is not supported by Osprey")
        }
        return type
    }

    static func defaultValue(_ v: Schema_ValueField) -> FieldValue? {
        switch v.data {
        case .boolData(let b)?: return .bool(b)
        case .intData(let i)?: return .int(Int64(i))
        case .longData(let l)?: return .int(l)
        case .floatData(let f)?: return .float(f)
        case .doubleData(let d)?: return .double(d)
        case .stringData(let s)?: return .string(s)
        default: return nil
        }
    }

    // MARK: - Encoding

    /// The wire schema of a collection (name, fields with their ids, dynamic field flag).
    package static func encode(_ schema: CollectionSchema, name: String) -> Schema_CollectionSchema {
        var proto = Schema_CollectionSchema()
        proto.name = name
        proto.description_p = schema.description
        proto.enableDynamicField = schema.enableDynamicField
        proto.autoID = schema.fields.contains { $0.isPrimaryKey && $0.autoID }
        proto.fields = schema.fields.map(encodeField)
        return proto
    }

    static func encodeField(_ f: FieldSchema) -> Schema_FieldSchema {
        var p = Schema_FieldSchema()
        p.fieldID = f.fieldID
        p.name = f.name
        p.isPrimaryKey = f.isPrimaryKey
        p.description_p = f.description
        p.dataType = Schema_DataType(rawValue: Int(f.dataType.rawValue)) ?? .none
        var params: [(String, String)] = []
        if let d = f.dim { params.append(("dim", String(d))) }
        if let m = f.maxLength { params.append(("max_length", String(m))) }
        if let c = f.maxCapacity { params.append(("max_capacity", String(c))) }
        params += f.extraParams.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        p.typeParams = params.map { Common_KeyValuePair(key: $0.0, value: $0.1) }
        p.autoID = f.autoID
        if let e = f.elementType { p.elementType = Schema_DataType(rawValue: Int(e.rawValue)) ?? .none }
        if let dv = f.defaultValue, let value = valueField(dv, type: f.dataType) { p.defaultValue = value }
        p.isPartitionKey = f.isPartitionKey
        p.nullable = f.nullable
        return p
    }

    static func valueField(_ v: FieldValue, type: DataType) -> Schema_ValueField? {
        var out = Schema_ValueField()
        switch (v, type) {
        case (.bool(let b), _): out.boolData = b
        case (.int(let i), .int8), (.int(let i), .int16), (.int(let i), .int32): out.intData = Int32(truncatingIfNeeded: i)
        case (.int(let i), _): out.longData = i
        case (.float(let f), _): out.floatData = f
        case (.double(let d), .float): out.floatData = Float(d)
        case (.double(let d), _): out.doubleData = d
        case (.string(let s), _): out.stringData = s
        default: return nil
        }
        return out
    }
}

extension Common_KeyValuePair {
    /// A key–value pair.
    package init(key: String, value: String) {
        self.init()
        self.key = key
        self.value = value
    }
}

extension Array where Element == Common_KeyValuePair {
    /// The pairs as a dictionary (a later duplicate key wins).
    package var dictionary: [String: String] {
        var out: [String: String] = [:]
        for kv in self { out[kv.key] = kv.value }
        return out
    }
}

extension Dictionary where Key == String, Value == String {
    /// The entries as key–value pairs, sorted by key.
    package var keyValuePairs: [Common_KeyValuePair] {
        sorted { $0.key < $1.key }.map { Common_KeyValuePair(key: $0.key, value: $0.value) }
    }
}
