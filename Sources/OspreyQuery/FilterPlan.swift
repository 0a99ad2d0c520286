import OspreyCore

/// A field a typed plan reads: a schema field, or `$meta` for the dynamic field.
///
/// Thread safety: a value type; safe to share.
package struct FilterFieldRef: Sendable, Hashable, CustomStringConvertible {
    /// The column name (`$meta` for the dynamic field).
    package var name: String
    package var dataType: DataType
    /// The element type of an ARRAY field.
    package var elementType: DataType?
    package var nullable: Bool
    package var isPrimaryKey: Bool

    package init(_ field: FieldSchema) {
        self.name = field.name
        self.dataType = field.dataType
        self.elementType = field.elementType
        self.nullable = field.nullable
        self.isPrimaryKey = field.isPrimaryKey
    }

    /// The dynamic field's JSON column.
    package static let dynamic = FilterFieldRef(name: CollectionSchema.dynamicFieldName, dataType: .json)

    package init(name: String, dataType: DataType, elementType: DataType? = nil, nullable: Bool = false, isPrimaryKey: Bool = false) {
        self.name = name
        self.dataType = dataType
        self.elementType = elementType
        self.nullable = nullable
        self.isPrimaryKey = isPrimaryKey
    }

    package var description: String { name }
}

/// A value-producing part of a typed plan: a literal, a field, a path into JSON or an
/// ARRAY, `array_length`, or arithmetic over them.
///
/// Literals are `JSONValue`s (`.int`, `.double`, `.string`, `.bool`, `.array`).
///
/// Thread safety: a value type; safe to share.
package indirect enum FilterValue: Sendable, Hashable {
    case literal(JSONValue)
    /// A whole field (scalar, JSON or ARRAY).
    case column(FilterFieldRef)
    /// A path into a JSON field or `$meta` (`meta["a"][0]`), or one index into an ARRAY (`tags[0]`).
    case element(FilterFieldRef, [FilterPathStep])
    /// The length of an ARRAY field or of a JSON array.
    case arrayLength(FilterValue)
    case arithmetic(FilterArithmeticOp, FilterValue, FilterValue)
    case negate(FilterValue)

    /// The fields this value reads.
    package var fields: [FilterFieldRef] {
        switch self {
        case .literal: return []
        case .column(let f), .element(let f, _): return [f]
        case .arrayLength(let v), .negate(let v): return v.fields
        case .arithmetic(_, let a, let b): return a.fields + b.fields
        }
    }
}

/// One end of a range: the bound and whether it is included.
///
/// Thread safety: a value type; safe to share.
package struct FilterBound: Sendable, Hashable {
    package var value: JSONValue
    package var inclusive: Bool

    package init(_ value: JSONValue, inclusive: Bool) {
        self.value = value
        self.inclusive = inclusive
    }
}

/// A type-checked filter: a tree of conditions over typed values.
///
/// Evaluation follows three-valued logic (see docs/filters.md): a condition that reads a
/// null field is unknown, `not` of unknown is unknown, and only rows whose whole filter is
/// true pass.
///
/// Thread safety: a value type; safe to share.
package indirect enum FilterPlan: Sendable, Hashable {
    case constant(Bool)
    case and([FilterPlan])
    case or([FilterPlan])
    case not(FilterPlan)
    /// A BOOL field, a JSON value or a BOOL array element used as a condition: true when it is `true`.
    case truthy(FilterValue)
    case compare(FilterValue, FilterCompareOp, FilterValue)
    /// `lower <(=) value <(=) upper`; bounds are literals (numbers or strings).
    case range(FilterValue, lower: FilterBound?, upper: FilterBound?)
    /// `value in [literals]` (`not in` is `.not(.member(…))`).
    case member(FilterValue, [JSONValue])
    case like(FilterValue, FilterLikePattern)
    /// The whole field is null (`is not null` is `.not(.isNull(…))`).
    case isNull(FilterFieldRef)
    /// The JSON path is present (`exists meta["a"]`).
    case exists(FilterFieldRef, [FilterPathStep])
    /// `json_contains*` / `array_contains*` on an ARRAY field or a JSON array.
    case contains(FilterValue, FilterContainsMode, [JSONValue])

    /// The names of the columns the plan reads.
    package var columnNames: Set<String> {
        var out = Set<String>()
        collectColumns(into: &out)
        return out
    }

    func collectColumns(into out: inout Set<String>) {
        switch self {
        case .constant: break
        case .and(let ps), .or(let ps): for p in ps { p.collectColumns(into: &out) }
        case .not(let p): p.collectColumns(into: &out)
        case .truthy(let v), .range(let v, _, _), .member(let v, _), .like(let v, _), .contains(let v, _, _):
            for f in v.fields { out.insert(f.name) }
        case .compare(let a, _, let b):
            for f in a.fields + b.fields { out.insert(f.name) }
        case .isNull(let f), .exists(let f, _): out.insert(f.name)
        }
    }
}

extension FilterValue: CustomStringConvertible {
    /// The value in the filter language's own syntax.
    package var description: String {
        switch self {
        case .literal(let v): return FilterPlan.literalText(v)
        case .column(let f): return f.name
        case .element(let f, let path): return f.name + path.map(\.description).joined()
        case .arrayLength(let v): return "array_length(\(v))"
        case .arithmetic(let op, let a, let b): return "(\(a) \(op.rawValue) \(b))"
        case .negate(let v): return "-\(v)"
        }
    }
}

extension FilterPlan: CustomStringConvertible {
    /// The plan in the filter language's own syntax (fully parenthesised), for logs and
    /// explanations; it parses back to an equivalent plan.
    package var description: String {
        switch self {
        case .constant(let b): return b ? "true" : "false"
        case .and(let ps): return "(" + ps.map(\.description).joined(separator: " and ") + ")"
        case .or(let ps): return "(" + ps.map(\.description).joined(separator: " or ") + ")"
        case .not(let p): return "not \(p)"
        case .truthy(let v): return "\(v)"
        case .compare(let a, let op, let b): return "\(a) \(op.rawValue) \(b)"
        case .range(let v, let lower, let upper):
            switch (lower, upper) {
            case let (l?, u?): return "\(Self.literalText(l.value)) \(l.inclusive ? "<=" : "<") \(v) \(u.inclusive ? "<=" : "<") \(Self.literalText(u.value))"
            case let (l?, nil): return "\(v) \(l.inclusive ? ">=" : ">") \(Self.literalText(l.value))"
            case let (nil, u?): return "\(v) \(u.inclusive ? "<=" : "<") \(Self.literalText(u.value))"
            case (nil, nil): return "true"
            }
        case .member(let v, let items): return "\(v) in \(Self.literalText(.array(items)))"
        case .like(let v, let p): return "\(v) like \(Self.literalText(.string(p.source)))"
        case .isNull(let f): return "\(f.name) is null"
        case .exists(let f, let path): return "exists \(f.name)\(path.map(\.description).joined())"
        case .contains(let v, let mode, let items):
            switch mode {
            case .contains: return "json_contains(\(v), \(Self.literalText(items[0])))"
            case .all: return "json_contains_all(\(v), \(Self.literalText(.array(items))))"
            case .any: return "json_contains_any(\(v), \(Self.literalText(.array(items))))"
            }
        }
    }

    /// A literal as filter-language text (strings double-quoted with escapes).
    static func literalText(_ v: JSONValue) -> String {
        switch v {
        case .string(let s):
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default: out.unicodeScalars.append(u)
                }
            }
            return out + "\""
        case .double(let d):
            let text = "\(d)"
            return text.contains(".") || text.contains("e") || text.contains("n") ? text : text + ".0"
        default:
            return v.serialized()
        }
    }
}
