import OspreyCore

/// A value sent beside a filter expression to fill one `{name}` placeholder.
///
/// It mirrors Milvus's `TemplateValue` message so that the server maps it one to one:
/// `bool_val` → `.bool`, `int64_val` → `.int`, `float_val` (a double) → `.float`,
/// `string_val` → `.string`, and `array_val` → `.array` whose elements are the array's
/// `bool_data`, `long_data`, `double_data` or `string_data` items, nested `array_data`
/// arrays, or `json_data` documents (each parsed to `.json`).
///
/// Thread safety: a value type; safe to share.
package indirect enum FilterTemplateValue: Sendable, Hashable {
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case array([FilterTemplateValue])
    case json(JSONValue)

    /// The value as a literal of the filter language.
    package var literal: JSONValue {
        switch self {
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .float(let d): return .double(d)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map(\.literal))
        case .json(let j): return j
        }
    }

    /// Converts an embedding-API value (numbers, strings, booleans, arrays, JSON); nil for
    /// null and vectors, which are not values of the filter language.
    package init?(_ value: FieldValue) {
        switch value {
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .float(let f): self = .float(Double(f))
        case .double(let d): self = .float(d)
        case .string(let s): self = .string(s)
        case .json(let j): self = .json(j)
        case .array(let items):
            var out: [FilterTemplateValue] = []
            for item in items {
                guard let v = FilterTemplateValue(item) else { return nil }
                out.append(v)
            }
            self = .array(out)
        default: return nil
        }
    }
}
