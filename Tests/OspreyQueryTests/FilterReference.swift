import OspreyCore
@testable import OspreyQuery
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The test oracle: evaluates a parsed expression (the AST, not the typed plan) against one
/// row in the embedding API's row form, as plainly as possible.
///
/// It shares only the parser with the engine: name resolution, literal handling, number
/// comparison, arithmetic, `like` matching and three-valued logic are written again here,
/// deliberately naively (a dynamic-programming `like`, extended-precision comparisons).
struct FilterReference {
    enum Truth { case t, f, u }
    enum Value: Equatable { case null, missing, some(JSONValue) }

    let schema: CollectionSchema
    let templates: [String: FilterTemplateValue]
    let fieldNames: Set<String>

    init(schema: CollectionSchema, templates: [String: FilterTemplateValue]) {
        self.schema = schema
        self.templates = templates
        self.fieldNames = Set(schema.fields.map(\.name))
    }

    /// A row with its dynamic keys gathered into the `$meta` object once.
    struct Row {
        let values: [String: FieldValue]
        let meta: [String: JSONValue]
        subscript(name: String) -> FieldValue? { values[name] }
    }

    func passes(_ node: FilterNode?, _ values: [String: FieldValue]) -> Bool {
        guard let node else { return true }
        var meta: [String: JSONValue] = [:]
        for (k, v) in values where !fieldNames.contains(k) { meta[k] = json(v) ?? .null }
        return truth(node, Row(values: values, meta: meta)) == .t
    }

    // MARK: Logic

    func truth(_ n: FilterNode, _ row: Row) -> Truth {
        switch n.kind {
        case .and(let xs):
            let ts = xs.map { truth($0, row) }
            if ts.contains(.f) { return .f }
            return ts.contains(.u) ? .u : .t
        case .or(let xs):
            let ts = xs.map { truth($0, row) }
            if ts.contains(.t) { return .t }
            return ts.contains(.u) ? .u : .f
        case .not(let x):
            switch truth(x, row) {
            case .t: return .f
            case .f: return .t
            case .u: return .u
            }
        case .boolean(let b): return b ? .t : .f
        case .template(let name):
            if case .bool(let b) = templates[name]! { return b ? .t : .f }
            return .f
        case .field:
            switch value(n, row) {
            case .null: return .u
            case .some(.bool(true)): return .t
            default: return .f
            }
        case .compare(let op, let a, let b):
            return compare(value(a, row), op, value(b, row))
        case .range(let lo, let op1, let mid, let op2, let hi):
            let first = compare(value(lo, row), op1, value(mid, row))
            let second = compare(value(mid, row), op2, value(hi, row))
            if first == .f || second == .f { return .f }
            if first == .u || second == .u { return .u }
            return .t
        case .inList(let x, let list, let negated):
            let r: Truth
            switch value(x, row) {
            case .null: r = .u
            case .missing: r = .f
            case .some(let v):
                guard case .some(.array(let items)) = value(list, row) else { return .f }
                r = items.contains { same(v, $0) } ? .t : .f
            }
            return negated ? (r == .t ? .f : (r == .f ? .t : .u)) : r
        case .like(let x, let p):
            guard case .some(.string(let pattern)) = value(p, row) else { return .f }
            switch value(x, row) {
            case .null: return .u
            case .some(.string(let s)): return like(s, pattern) ? .t : .f
            default: return .f
            }
        case .isNull(let x, let negated):
            guard case .field(let name, _) = x.kind else { return .f }
            let isNull: Bool
            if let field = schema.field(named: name) {
                isNull = (row[field.name] ?? .null).isNull
            } else {
                isNull = false  // `$meta` is never null
            }
            return (isNull != negated) ? .t : .f
        case .exists(let x):
            guard case .field(let name, let path) = x.kind else { return .f }
            let (base, steps) = root(name, path, row)
            guard case .some(var node) = base else { return base == .null ? .u : .f }
            for s in steps {
                guard let next = step(node, s) else { return .f }
                node = next
            }
            return .t
        case .call(let name, let args):
            let fn = name.lowercased()
            let all = fn.hasSuffix("_all"), any = fn.hasSuffix("_any")
            let target = value(args[0], row)
            guard case .some(let needle) = value(args[1], row) else { return .f }
            switch target {
            case .null: return .u
            case .some(.array(let elements)):
                func has(_ x: JSONValue) -> Bool { elements.contains { same($0, x) } }
                if all || any {
                    guard case .array(let items) = needle else { return .f }
                    return (all ? items.allSatisfy(has) : items.contains(where: has)) ? .t : .f
                }
                return has(needle) ? .t : .f
            default: return .f
            }
        default:
            return .f
        }
    }

    func compare(_ a: Value, _ op: FilterCompareOp, _ b: Value) -> Truth {
        if a == .null || b == .null { return .u }
        guard case .some(let x) = a, case .some(let y) = b else { return .f }
        switch (x, y) {
        case (.string(let p), .string(let q)):
            return holds(op, p < q ? -1 : (p == q ? 0 : 1))
        case (.bool(let p), .bool(let q)):
            if op == .eq { return p == q ? .t : .f }
            if op == .ne { return p != q ? .t : .f }
            return .f
        case (.array, .array):
            if op == .eq { return same(x, y) ? .t : .f }
            if op == .ne { return same(x, y) ? .f : .t }
            return .f
        default:
            guard let p = wide(x), let q = wide(y), !p.isNaN, !q.isNaN else { return .f }
            return holds(op, p < q ? -1 : (p == q ? 0 : 1))
        }
    }

    func holds(_ op: FilterCompareOp, _ c: Int) -> Truth {
        let r: Bool
        switch op {
        case .eq: r = c == 0
        case .ne: r = c != 0
        case .lt: r = c < 0
        case .le: r = c <= 0
        case .gt: r = c > 0
        case .ge: r = c >= 0
        }
        return r ? .t : .f
    }

    #if arch(x86_64) && !os(Windows)
    typealias Wide = Float80
    #else
    typealias Wide = Double
    #endif

    /// A number widened so that every Int64 and every Double is exact (on x86-64).
    func wide(_ v: JSONValue) -> Wide? {
        switch v {
        case .int(let i): return Wide(i)
        case .double(let d): return Wide(d)
        default: return nil
        }
    }

    func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x), .object(let y)): return x.keys.sorted() == y.keys.sorted() && x.keys.allSatisfy { same(x[$0]!, y[$0]!) }
        default:
            if let p = wide(a), let q = wide(b) { return p == q }
            return a == b
        }
    }

    /// `like` by dynamic programming over Unicode scalars.
    func like(_ s: String, _ pattern: String) -> Bool {
        enum P: Equatable { case c(Unicode.Scalar), one, many }
        var ps: [P] = []
        var it = pattern.unicodeScalars.makeIterator()
        while let u = it.next() {
            switch u {
            case "\\": ps.append(.c(it.next() ?? "\\"))
            case "%": ps.append(.many)
            case "_": ps.append(.one)
            default: ps.append(.c(u))
            }
        }
        let t = Array(s.unicodeScalars)
        // m[i][j]: the first i scalars of t match the first j pieces.
        var m = Array(repeating: Array(repeating: false, count: ps.count + 1), count: t.count + 1)
        m[0][0] = true
        for j in 0..<ps.count where ps[j] == .many { m[0][j + 1] = m[0][j] }
        for i in 0..<t.count {
            for j in 0..<ps.count {
                switch ps[j] {
                case .many: m[i + 1][j + 1] = m[i][j + 1] || m[i + 1][j]
                case .one: m[i + 1][j + 1] = m[i][j]
                case .c(let u): m[i + 1][j + 1] = m[i][j] && t[i] == u
                }
            }
        }
        return m[t.count][ps.count]
    }

    // MARK: Values

    func json(_ v: FieldValue) -> JSONValue? {
        switch v {
        case .null: return nil
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .float(let f): return .double(Double(f))
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .json(let j): return j
        case .array(let a): return .array(a.compactMap(json))
        default: return nil
        }
    }

    func step(_ node: JSONValue, _ s: FilterPathStep) -> JSONValue? {
        switch (node, s) {
        case (.object(let o), .key(let k)): return o[k]
        case (.array(let a), .index(let i)): return i < a.count ? a[i] : nil
        default: return nil
        }
    }

    /// The value a name starts from, and the path steps still to walk.
    func root(_ name: String, _ path: [FilterPathStep], _ row: Row) -> (Value, [FilterPathStep]) {
        if name == "$meta" { return (.some(.object(row.meta)), path) }
        if let field = schema.field(named: name) {
            guard let v = json(row[field.name] ?? .null) else { return (.null, path) }
            return (.some(v), path)
        }
        return (.some(.object(row.meta)), [.key(name)] + path)
    }

    func value(_ n: FilterNode, _ row: Row) -> Value {
        switch n.kind {
        case .integer(let i): return .some(.int(i))
        case .float(let d): return .some(.double(d))
        case .string(let s): return .some(.string(s))
        case .boolean(let b): return .some(.bool(b))
        case .template(let name): return .some(templates[name]!.literal)
        case .list(let items):
            return .some(.array(items.map { if case .some(let v) = value($0, row) { return v } else { return .null } }))
        case .field(let name, let path):
            let (base, steps) = root(name, path, row)
            guard case .some(var node) = base else { return base }
            if steps.isEmpty { return .some(node) }
            for s in steps {
                guard let next = step(node, s) else { return .missing }
                node = next
            }
            return node == .null ? .missing : .some(node)
        case .negate(let x):
            guard case .some(let v) = value(x, row) else { return value(x, row) }
            switch v {
            case .int(let i): return .some(.int(0 &- i))
            case .double(let d): return .some(.double(-d))
            default: return .missing
            }
        case .arithmetic(let op, let a, let b):
            let x = value(a, row), y = value(b, row)
            if x == .null || y == .null { return .null }
            guard case .some(let p) = x, case .some(let q) = y else { return .missing }
            return arithmetic(op, p, q)
        case .call(_, let args):
            switch value(args[0], row) {
            case .null: return .null
            case .some(.array(let a)): return .some(.int(Int64(a.count)))
            default: return .missing
            }
        default:
            return .missing
        }
    }

    func arithmetic(_ op: FilterArithmeticOp, _ p: JSONValue, _ q: JSONValue) -> Value {
        if case .int(let x) = p, case .int(let y) = q, op != .power {
            switch op {
            case .add: return .some(.int(x &+ y))
            case .subtract: return .some(.int(x &- y))
            case .multiply: return .some(.int(x &* y))
            case .divide:
                if y == 0 { return .missing }
                if x == .min && y == -1 { return .some(.int(.min)) }
                return .some(.int(x / y))
            case .modulo:
                if y == 0 { return .missing }
                if y == -1 { return .some(.int(0)) }
                return .some(.int(x % y))
            case .power: return .missing
            }
        }
        func d(_ v: JSONValue) -> Double? {
            if case .int(let i) = v { return Double(i) }
            if case .double(let x) = v { return x }
            return nil
        }
        guard let x = d(p), let y = d(q) else { return .missing }
        switch op {
        case .add: return .some(.double(x + y))
        case .subtract: return .some(.double(x - y))
        case .multiply: return .some(.double(x * y))
        case .divide: return y == 0 ? .missing : .some(.double(x / y))
        case .modulo: return y == 0 ? .missing : .some(.double(fmod(x, y)))
        case .power: return .some(.double(pow(x, y)))
        }
    }
}
