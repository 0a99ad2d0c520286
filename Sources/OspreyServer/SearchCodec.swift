import Foundation
import Osprey
import OspreyCore

/// Decodes the parts of read requests that are not columns: query vectors in a
/// `PlaceholderGroup`, filter template values, and the string-valued search and rank
/// parameters.
///
/// ```
/// PlaceholderGroup  1 placeholders[]: PlaceholderValue {1 tag "$0", 2 type, 3 values[] (one per query)}
///   FloatVector 101   dim × f32 LE       Float16 102 / BFloat16 103   dim × 2 bytes LE
///   BinaryVector 100  dim/8 bytes        Int8Vector 105               dim bytes
///   SparseFloatVector 104  (u32 LE index, f32 LE value)*
/// search_params     topk, metric_type, anns_field, round_decimal, offset, params (JSON object), …
/// ```
///
/// Thread safety: stateless; safe to use from any thread.
package enum SearchCodec {
    // MARK: - Query vectors

    /// The query vectors of a serialized `PlaceholderGroup`, one per query.
    package static func vectors(_ bytes: Data) throws -> [FieldValue] {
        let group: Common_PlaceholderGroup
        do {
            group = try Common_PlaceholderGroup(serializedBytes: bytes)
        } catch {
            throw MilvusError.invalid("the placeholder group is not a valid PlaceholderGroup message: \(error)")
        }
        guard let p = group.placeholders.first else { throw MilvusError.invalid("the search carries no query vectors") }
        return try p.values.enumerated().map { i, v in try vector(v, type: p.type, index: i) }
    }

    static func vector(_ bytes: Data, type: Common_PlaceholderType, index: Int) throws -> FieldValue {
        switch type {
        case .floatVector:
            guard bytes.count % 4 == 0 else { throw MilvusError.invalid("query vector \(index) has \(bytes.count) bytes, not a multiple of 4") }
            var out = [Float](repeating: 0, count: bytes.count / 4)
            bytes.withUnsafeBytes { raw in
                for i in out.indices {
                    out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            }
            return .floatVector(out)
        case .float16Vector: return .float16Vector(FieldDataCodec.halfWords(bytes))
        case .bfloat16Vector: return .bfloat16Vector(FieldDataCodec.halfWords(bytes))
        case .binaryVector: return .binaryVector([UInt8](bytes))
        case .int8Vector: return .int8Vector(bytes.map { Int8(bitPattern: $0) })
        case .sparseFloatVector: return .sparseVector(try FieldDataCodec.sparseRow(bytes, field: "query", row: index))
        case .varChar:
            throw MilvusError.invalid("text queries need a BM25 or embedding function, which Osprey does not support")
        default:
            throw MilvusError.invalid("query vectors of type \(type) are not supported by Osprey")
        }
    }

    // MARK: - Filter templates

    /// The filter's `{name}` values.
    package static func templateValues(_ values: [String: Schema_TemplateValue]) throws -> [String: FieldValue] {
        var out: [String: FieldValue] = [:]
        for (k, v) in values { out[k] = try templateValue(v, name: k) }
        return out
    }

    static func templateValue(_ v: Schema_TemplateValue, name: String) throws -> FieldValue {
        switch v.val {
        case .boolVal(let b)?: return .bool(b)
        case .int64Val(let i)?: return .int(i)
        case .floatVal(let d)?: return .double(d)
        case .stringVal(let s)?: return .string(s)
        case .arrayVal(let a)?: return .array(try templateArray(a, name: name))
        default: throw MilvusError.invalid("filter parameter '\(name)' has no supported value")
        }
    }

    static func templateArray(_ a: Schema_TemplateArrayValue, name: String) throws -> [FieldValue] {
        switch a.data {
        case .boolData(let x)?: return x.data.map { .bool($0) }
        case .longData(let x)?: return x.data.map { .int($0) }
        case .doubleData(let x)?: return x.data.map { .double($0) }
        case .stringData(let x)?: return x.data.map { .string($0) }
        case .arrayData(let x)?: return try x.data.map { .array(try templateArray($0, name: name)) }
        case .jsonData(let x)?: return try x.data.map { .json(try FieldDataCodec.parseJSON($0, field: name)) }
        case nil: return []
        }
    }

    // MARK: - Parameters

    /// A JSON object's members as strings (numbers in their shortest form, nested values as JSON).
    package static func flatten(jsonObject text: String, what: String) throws -> [String: String] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return [:] }
        let value: JSONValue
        do { value = try JSONValue.parse(trimmed) } catch {
            throw MilvusError.invalid("\(what) is not valid JSON: \(error.description)")
        }
        guard case .object(let members) = value else { throw MilvusError.invalid("\(what) must be a JSON object, got \(trimmed)") }
        return members.mapValues(string(of:))
    }

    /// A JSON value as the string Milvus's parameter maps carry.
    static func string(of value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): return b ? "true" : "false"
        default: return value.serialized()
        }
    }

    /// A parameter map as a JSON object with numbers where values are numeric (for `params` in
    /// DescribeIndex, which pymilvus parses).
    package static func jsonObject(_ params: [String: String]) -> String {
        var members: [String: JSONValue] = [:]
        for (k, v) in params {
            if let i = Int64(v) {
                members[k] = .int(i)
            } else if let d = Double(v), d.isFinite {
                members[k] = .double(d)
            } else if v == "true" || v == "false" {
                members[k] = .bool(v == "true")
            } else {
                members[k] = .string(v)
            }
        }
        return JSONValue.object(members).serialized()
    }

    /// An integer parameter; `fallback` when absent or empty.
    package static func int(_ params: [String: String], _ key: String, default fallback: Int) throws -> Int {
        guard let raw = params[key]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return fallback }
        if let v = Int(raw) { return v }
        if let d = Double(raw), d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        throw MilvusError.invalid("\(key) must be an integer, got '\(raw)'")
    }

    /// A boolean parameter (Python's `True`/`False` too); `false` when absent.
    package static func bool(_ params: [String: String], _ key: String) -> Bool {
        params[key].map { ["true", "1"].contains($0.lowercased()) } ?? false
    }

    /// The metric named by `metric_type`, nil when absent or empty.
    package static func metric(_ params: [String: String]) throws -> Metric? {
        guard let raw = params["metric_type"], !raw.isEmpty else { return nil }
        guard let m = Metric(milvusName: raw) else {
            throw MilvusError.invalid("unknown metric_type '\(raw)'; use L2, IP, COSINE, HAMMING or JACCARD")
        }
        return m
    }
}
