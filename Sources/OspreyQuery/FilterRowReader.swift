import OspreyCore

/// A truth value in three-valued logic.
///
/// Thread safety: a value type; safe to share.
package enum FilterTri: Sendable, Hashable {
    case yes, no, unknown

    package init(_ b: Bool) { self = b ? .yes : .no }

    package static prefix func ! (a: FilterTri) -> FilterTri {
        switch a {
        case .yes: return .no
        case .no: return .yes
        case .unknown: return .unknown
        }
    }
}

/// A value read from one row: present, absent (a missing JSON key, an index past the end, a
/// JSON null, a division by zero — conditions on it are false), or null (the field is null —
/// conditions on it are unknown).
///
/// Thread safety: a value type; safe to share.
package enum FilterRowValue: Sendable, Hashable {
    case null
    case missing
    case value(JSONValue)
}

/// Evaluates plans one row at a time over a segment's columns: the general path of
/// `FilterEvaluator`, and the sampler of the selectivity estimate.
///
/// Thread safety: a value type over immutable column views; safe to use from several threads.
package struct FilterRowReader: Sendable {
    let columns: [String: ColumnView]

    package init(columns: [String: ColumnView]) {
        self.columns = columns
    }

    /// The three-valued result of `plan` at `row`.
    package func truth(_ plan: FilterPlan, row: Int) -> FilterTri {
        switch plan {
        case .constant(let b): return FilterTri(b)
        case .and(let terms):
            var result = FilterTri.yes
            for t in terms {
                switch truth(t, row: row) {
                case .no: return .no
                case .unknown: result = .unknown
                case .yes: break
                }
            }
            return result
        case .or(let terms):
            var result = FilterTri.no
            for t in terms {
                switch truth(t, row: row) {
                case .yes: return .yes
                case .unknown: result = .unknown
                case .no: break
                }
            }
            return result
        case .not(let p): return !truth(p, row: row)
        case .truthy(let v):
            switch value(v, row: row) {
            case .null: return .unknown
            case .missing: return .no
            case .value(let x): return FilterTri(x == .bool(true))
            }
        case .compare(let a, let op, let b):
            let x = value(a, row: row), y = value(b, row: row)
            guard case .value(let xv) = x, case .value(let yv) = y else {
                return x == .null || y == .null ? .unknown : .no
            }
            return FilterTri(FilterSemantics.compare(xv, op, yv) ?? false)
        case .range(let v, let lower, let upper):
            switch value(v, row: row) {
            case .null: return .unknown
            case .missing: return .no
            case .value(let x):
                if let lower, FilterSemantics.compare(x, lower.inclusive ? .ge : .gt, lower.value) != true { return .no }
                if let upper, FilterSemantics.compare(x, upper.inclusive ? .le : .lt, upper.value) != true { return .no }
                return .yes
            }
        case .member(let v, let items):
            switch value(v, row: row) {
            case .null: return .unknown
            case .missing: return .no
            case .value(let x): return FilterTri(items.contains { FilterSemantics.equal(x, $0) })
            }
        case .like(let v, let pattern):
            switch value(v, row: row) {
            case .null: return .unknown
            case .value(.string(let s)): return FilterTri(pattern.matches(s))
            default: return .no
            }
        case .isNull(let f):
            guard let c = columns[f.name] else { return .yes }
            return FilterTri(c.isNull(row))
        case .exists(let f, let path):
            guard let c = columns[f.name], !c.isNull(row), case .json(let view) = c.values else { return .unknown }
            var node = view[row]
            for step in path {
                guard let next = Self.step(node, step) else { return .no }
                node = next
            }
            return .yes
        case .contains(let v, let mode, let items):
            switch value(v, row: row) {
            case .null: return .unknown
            case .value(.array(let elements)):
                func has(_ item: JSONValue) -> Bool { elements.contains { FilterSemantics.equal($0, item) } }
                switch mode {
                case .contains: return FilterTri(has(items[0]))
                case .all: return FilterTri(items.allSatisfy(has))
                case .any: return FilterTri(items.contains(where: has))
                }
            default: return .no
            }
        }
    }

    static func step(_ node: JSONValue, _ step: FilterPathStep) -> JSONValue? {
        switch step {
        case .key(let k): return node[k]
        case .index(let i): return node[i]
        }
    }

    /// The value of `v` at `row`.
    package func value(_ v: FilterValue, row: Int) -> FilterRowValue {
        switch v {
        case .literal(let x): return .value(x)
        case .column(let f):
            guard let c = columns[f.name], !c.isNull(row) else { return .null }
            return FilterSemantics.literal(c.value(at: row)).map { .value($0) } ?? .null
        case .element(let f, let path):
            guard let c = columns[f.name], !c.isNull(row) else { return .null }
            switch c.values {
            case .json(let view):
                var node = view[row]
                for s in path {
                    guard let next = Self.step(node, s) else { return .missing }
                    node = next
                }
                return node == .null ? .missing : .value(node)
            case .array(let view):
                guard path.count == 1, case .index(let i) = path[0] else { return .missing }
                let elements = view[row]
                guard i < elements.count, let x = FilterSemantics.literal(elements[i]) else { return .missing }
                return .value(x)
            default:
                return .missing
            }
        case .arrayLength(let inner):
            switch value(inner, row: row) {
            case .null: return .null
            case .value(.array(let a)): return .value(.int(Int64(a.count)))
            default: return .missing
            }
        case .arithmetic(let op, let a, let b):
            let x = value(a, row: row), y = value(b, row: row)
            guard case .value(let xv) = x, case .value(let yv) = y else {
                return x == .null || y == .null ? .null : .missing
            }
            return FilterSemantics.arithmetic(op, xv, yv).map { .value($0) } ?? .missing
        case .negate(let a):
            guard case .value(let x) = value(a, row: row) else { return value(a, row: row) }
            return FilterSemantics.negate(x).map { .value($0) } ?? .missing
        }
    }
}
