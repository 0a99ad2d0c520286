import OspreyCore

/// Checks a parsed filter against a collection's schema and turns it into a typed plan.
///
/// Resolves names (schema fields first; any other name is a key of `$meta` when the
/// collection has the dynamic field), fills `{name}` placeholders from the template values,
/// folds constant sub-expressions, and rejects what cannot be evaluated: unknown fields,
/// vector fields, mismatched operand types, `like` on non-strings, wrong arity, missing
/// template values.
///
/// Thread safety: a value type; `check` does not mutate it.
package struct FilterTypeChecker {
    package let schema: CollectionSchema
    package let templateValues: [String: FilterTemplateValue]

    package init(schema: CollectionSchema, templateValues: [String: FilterTemplateValue] = [:]) {
        self.schema = schema
        self.templateValues = templateValues
    }

    /// The static type of a value.
    enum StaticType: Equatable {
        case bool, int, float, string, json
        case array(DataType)
        case list

        var isNumeric: Bool { self == .int || self == .float }
    }

    /// The typed plan of a parsed expression (nil, the empty expression, is every row).
    package func check(_ node: FilterNode?) throws(FilterError) -> FilterPlan {
        guard let node else { return .constant(true) }
        return try predicate(node)
    }

    // MARK: - Conditions

    func predicate(_ n: FilterNode) throws(FilterError) -> FilterPlan {
        switch n.kind {
        case .and(let terms):
            var out: [FilterPlan] = []
            for t in terms {
                switch try predicate(t) {
                case .constant(true): continue
                case .constant(false): return .constant(false)
                case .and(let inner): out += inner
                case let p: out.append(p)
                }
            }
            return out.isEmpty ? .constant(true) : (out.count == 1 ? out[0] : .and(out))
        case .or(let terms):
            var out: [FilterPlan] = []
            for t in terms {
                switch try predicate(t) {
                case .constant(false): continue
                case .constant(true): return .constant(true)
                case .or(let inner): out += inner
                case let p: out.append(p)
                }
            }
            return out.isEmpty ? .constant(false) : (out.count == 1 ? out[0] : .or(out))
        case .not(let inner):
            switch try predicate(inner) {
            case .constant(let b): return .constant(!b)
            case .not(let p): return p
            case let p: return .not(p)
            }
        case .compare(let op, let l, let r):
            return try comparison(op, l, r, at: n.offset)
        case .range(let lo, let op1, let mid, let op2, let hi):
            return try range(lo, op1, mid, op2, hi, at: n.offset)
        case .inList(let v, let list, let negated):
            let p = try membership(v, list)
            if case .constant(let b) = p { return .constant(negated ? !b : b) }
            return negated ? .not(p) : p
        case .like(let v, let pattern):
            return try like(v, pattern)
        case .isNull(let v, let negated):
            let f = try nullTestTarget(v)
            if !f.nullable && f.dataType != .json && f.dataType != .array { return .constant(negated) }
            return negated ? .not(.isNull(f)) : .isNull(f)
        case .exists(let v):
            guard case .field = v.kind, case .element(let f, let path) = try value(v).0, f.dataType == .json else {
                throw FilterError(.typeMismatch, at: v.offset, "'exists' needs a JSON path such as meta[\"key\"] or a dynamic key")
            }
            return .exists(f, path)
        case .call(let name, let args):
            return try callPredicate(name, args, at: n.offset)
        case .boolean(let b):
            return .constant(b)
        case .template(let name):
            guard case .bool(let b) = try template(name, at: n.offset) else {
                throw FilterError(.typeMismatch, at: n.offset, "template parameter '{\(name)}' is used as a condition but its value is not a boolean")
            }
            return .constant(b)
        case .field:
            let (v, t) = try value(n)
            switch t {
            case .bool, .json: return .truthy(v)
            default:
                throw FilterError(.typeMismatch, at: n.offset, "\(describe(n, t)) is not a condition; compare it with a value")
            }
        case .integer, .float, .string, .list, .negate, .arithmetic:
            let t = try value(n).1
            throw FilterError(.typeMismatch, at: n.offset, "\(describe(n, t)) is not a condition")
        }
    }

    func comparison(_ op: FilterCompareOp, _ l: FilterNode, _ r: FilterNode, at offset: Int) throws(FilterError) -> FilterPlan {
        var (lv, lt) = try value(l)
        var (rv, rt) = try value(r)
        try checkComparable(op, l, lt, r, rt, at: offset)
        if case .literal(let a) = lv, case .literal(let b) = rv {
            return .constant(FilterSemantics.compare(a, op, b) ?? false)
        }
        var op = op
        if case .literal = lv {
            swap(&lv, &rv)
            swap(&lt, &rt)
            op = op.swapped
        }
        return .compare(lv, op, rv)
    }

    func checkComparable(_ op: FilterCompareOp, _ l: FilterNode, _ lt: StaticType, _ r: FilterNode, _ rt: StaticType, at offset: Int) throws(FilterError) {
        let equality = op == .eq || op == .ne
        switch (lt, rt) {
        case _ where lt.isNumeric && rt.isNumeric: return
        case (.string, .string): return
        case (.bool, .bool) where equality: return
        case (.json, .list), (.list, .json), (.array, .list), (.list, .array), (.list, .list), (.array, .array):
            if equality { return }
        case (.json, .array), (.array, .json): break
        case (.json, _), (_, .json): return
        default: break
        }
        if case .bool = lt, case .bool = rt {
            throw FilterError(.typeMismatch, at: offset, "booleans compare only with '==' and '!=', not '\(op.rawValue)'")
        }
        throw FilterError(.typeMismatch, at: offset, "cannot compare \(describe(l, lt)) with \(describe(r, rt)) using '\(op.rawValue)'")
    }

    func range(_ lo: FilterNode, _ op1: FilterCompareOp, _ mid: FilterNode, _ op2: FilterCompareOp, _ hi: FilterNode, at offset: Int) throws(FilterError) -> FilterPlan {
        let (lov, lot) = try value(lo)
        let (mv, mt) = try value(mid)
        let (hiv, hit) = try value(hi)
        try checkComparable(op1, lo, lot, mid, mt, at: offset)
        try checkComparable(op2, mid, mt, hi, hit, at: offset)
        if case .literal(let a) = lov, case .literal(let b) = hiv, !isLiteral(mv),
            a.numberValue != nil || a.isString, b.numberValue != nil || b.isString
        {
            let ascending = op1 == .lt || op1 == .le
            let lower = ascending ? FilterBound(a, inclusive: op1 == .le) : FilterBound(b, inclusive: op2 == .ge)
            let upper = ascending ? FilterBound(b, inclusive: op2 == .le) : FilterBound(a, inclusive: op1 == .ge)
            return .range(mv, lower: lower, upper: upper)
        }
        let first = try comparison(op1, lo, mid, at: offset)
        let second = try comparison(op2, mid, hi, at: offset)
        return simplifyAnd(first, second)
    }

    func simplifyAnd(_ a: FilterPlan, _ b: FilterPlan) -> FilterPlan {
        switch (a, b) {
        case (.constant(false), _), (_, .constant(false)): return .constant(false)
        case (.constant(true), let p), (let p, .constant(true)): return p
        default: return .and([a, b])
        }
    }

    func isLiteral(_ v: FilterValue) -> Bool { if case .literal = v { return true } else { return false } }

    func membership(_ v: FilterNode, _ list: FilterNode) throws(FilterError) -> FilterPlan {
        let (vv, vt) = try value(v)
        let (lv, _) = try value(list)
        guard case .literal(.array(let items)) = lv else {
            throw FilterError(.typeMismatch, at: list.offset, "'in' needs a list such as [1, 2, 3] (or a template parameter holding one)")
        }
        switch vt {
        case .array, .list:
            throw FilterError(.typeMismatch, at: v.offset, "\(describe(v, vt)) cannot be tested with 'in'; use array_contains_any")
        default: break
        }
        for (i, item) in items.enumerated() where !fits(item, vt) {
            throw FilterError(.typeMismatch, at: list.offset, "element \(i) of the list (\(item)) does not match \(describe(v, vt))")
        }
        if case .literal(let x) = vv {
            return .constant(items.contains { FilterSemantics.equal(x, $0) })
        }
        return .member(vv, items)
    }

    /// Whether a literal can equal values of static type `t`.
    func fits(_ item: JSONValue, _ t: StaticType) -> Bool {
        switch t {
        case .int, .float: return item.numberValue != nil
        case .string: return item.isString
        case .bool: if case .bool = item { return true } else { return false }
        case .json: return true
        case .array, .list: return false
        }
    }

    func like(_ v: FilterNode, _ pattern: FilterNode) throws(FilterError) -> FilterPlan {
        let (vv, vt) = try value(v)
        let (pv, _) = try value(pattern)
        guard case .literal(.string(let p)) = pv else {
            throw FilterError(.typeMismatch, at: pattern.offset, "the pattern of 'like' must be a string")
        }
        guard vt == .string || vt == .json else {
            throw FilterError(.typeMismatch, at: v.offset, "'like' needs a VARCHAR field or a JSON value, but \(describe(v, vt)) is not one")
        }
        let compiled = FilterLikePattern(p)
        if case .literal(let x) = vv {
            if case .string(let s) = x { return .constant(compiled.matches(s)) }
            return .constant(false)
        }
        return .like(vv, compiled)
    }

    func nullTestTarget(_ v: FilterNode) throws(FilterError) -> FilterFieldRef {
        guard case .field = v.kind else {
            throw FilterError(.typeMismatch, at: v.offset, "'is null' applies to a field, not to \(describe(v, (try? value(v).1) ?? .json))")
        }
        switch try value(v).0 {
        case .column(let f), .element(let f, _): return f
        default: throw FilterError(.typeMismatch, at: v.offset, "'is null' applies to a field")
        }
    }

    // MARK: - Functions

    static let containsFunctions: [String: FilterContainsMode] = [
        "json_contains": .contains, "json_contains_all": .all, "json_contains_any": .any,
        "array_contains": .contains, "array_contains_all": .all, "array_contains_any": .any,
    ]
    static let unsupportedFunctions: Set<String> = [
        "text_match", "phrase_match", "random_sample", "element_filter", "match_all", "match_any",
        "match_least", "match_most", "match_exact", "st_equals", "st_touches", "st_overlaps",
        "st_crosses", "st_contains", "st_intersects", "st_within", "st_dwithin", "st_isvalid",
    ]

    /// The function's canonical (lower-case) name if it is spelled as Milvus accepts it.
    static func functionName(_ name: String) -> String? {
        let lower = String(name.unicodeScalars.map { $0 >= "A" && $0 <= "Z" ? Character(Unicode.Scalar($0.value + 32)!) : Character($0) })
        guard name == lower || name == lower.uppercased() else { return nil }
        return lower
    }

    func callPredicate(_ name: String, _ args: [FilterNode], at offset: Int) throws(FilterError) -> FilterPlan {
        guard let fn = Self.functionName(name) else {
            throw FilterError(.wrongArity, at: offset, "unknown function '\(name)'")
        }
        if let mode = Self.containsFunctions[fn] {
            guard args.count == 2 else {
                throw FilterError(.wrongArity, at: offset, "\(fn) takes 2 arguments (a JSON or ARRAY value and \(mode == .contains ? "a value" : "a list")), got \(args.count)")
            }
            let (target, tt) = try value(args[0])
            switch tt {
            case .json, .array: break
            default:
                throw FilterError(.typeMismatch, at: args[0].offset, "\(fn) needs a JSON or ARRAY value as its first argument, but \(describe(args[0], tt)) is not one")
            }
            let (second, _) = try value(args[1])
            guard case .literal(let lit) = second else {
                throw FilterError(.typeMismatch, at: args[1].offset, "the second argument of \(fn) must be a constant")
            }
            let items: [JSONValue]
            if mode == .contains {
                items = [lit]
            } else {
                guard case .array(let a) = lit else {
                    throw FilterError(.typeMismatch, at: args[1].offset, "the second argument of \(fn) must be a list")
                }
                items = a
            }
            if case .array(let element) = tt {
                let et = Self.elementStaticType(element)
                for item in items where !fits(item, et) {
                    throw FilterError(.typeMismatch, at: args[1].offset, "\(item) does not match the element type \(element) of \(describe(args[0], tt))")
                }
            }
            if case .literal = target { throw FilterError(.typeMismatch, at: args[0].offset, "the first argument of \(fn) must be a field") }
            return .contains(target, mode, items)
        }
        if fn == "array_length" {
            throw FilterError(.typeMismatch, at: offset, "array_length(…) is a number, not a condition; compare it with a value")
        }
        if Self.unsupportedFunctions.contains(fn) {
            throw FilterError(.unsupported, at: offset, "\(fn) is not supported")
        }
        throw FilterError(.wrongArity, at: offset, "unknown function '\(name)'")
    }

    // MARK: - Values

    static func elementStaticType(_ t: DataType) -> StaticType {
        switch t {
        case .bool: return .bool
        case .int8, .int16, .int32, .int64: return .int
        case .float, .double: return .float
        case .varchar: return .string
        default: return .json
        }
    }

    static func literalType(_ v: JSONValue) -> StaticType {
        switch v {
        case .bool: return .bool
        case .int: return .int
        case .double: return .float
        case .string: return .string
        case .array: return .list
        case .null, .object: return .json
        }
    }

    func template(_ name: String, at offset: Int) throws(FilterError) -> JSONValue {
        guard let v = templateValues[name] else {
            throw FilterError(.missingTemplateValue, at: offset, "no value was sent for the template parameter '{\(name)}'")
        }
        return v.literal
    }

    func value(_ n: FilterNode) throws(FilterError) -> (FilterValue, StaticType) {
        switch n.kind {
        case .integer(let i): return (.literal(.int(i)), .int)
        case .float(let d): return (.literal(.double(d)), .float)
        case .string(let s): return (.literal(.string(s)), .string)
        case .boolean(let b): return (.literal(.bool(b)), .bool)
        case .template(let name):
            let v = try template(name, at: n.offset)
            return (.literal(v), Self.literalType(v))
        case .list(let items):
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for item in items {
                guard case .literal(let v) = try value(item).0 else {
                    throw FilterError(.typeMismatch, at: item.offset, "list elements must be constants")
                }
                out.append(v)
            }
            return (.literal(.array(out)), .list)
        case .field(let name, let path):
            return try resolve(name, path, at: n.offset)
        case .negate(let x):
            let (v, t) = try value(x)
            guard t.isNumeric || t == .json else {
                throw FilterError(.typeMismatch, at: n.offset, "unary '-' needs a number, not \(describe(x, t))")
            }
            if case .literal(let lit) = v, let r = FilterSemantics.negate(lit) { return (.literal(r), t) }
            return (.negate(v), t)
        case .arithmetic(let op, let a, let b):
            let (av, at) = try value(a)
            let (bv, bt) = try value(b)
            for (node, t) in [(a, at), (b, bt)] where !(t.isNumeric || t == .json) {
                throw FilterError(.typeMismatch, at: node.offset, "'\(op.rawValue)' needs numbers, not \(describe(node, t))")
            }
            let type: StaticType = (at == .json || bt == .json) ? .json : ((at == .int && bt == .int && op != .power) ? .int : .float)
            if case .literal(let x) = av, case .literal(let y) = bv {
                guard let r = FilterSemantics.arithmetic(op, x, y) else {
                    throw FilterError(.typeMismatch, at: n.offset, "division by zero in a constant expression")
                }
                return (.literal(r), type)
            }
            return (.arithmetic(op, av, bv), type)
        case .call(let name, let args):
            guard let fn = Self.functionName(name), fn == "array_length" else {
                if let fn = Self.functionName(name), Self.containsFunctions[fn] != nil {
                    throw FilterError(.typeMismatch, at: n.offset, "\(fn)(…) is a condition, not a value")
                }
                throw FilterError(.wrongArity, at: n.offset, "unknown function '\(name)'")
            }
            guard args.count == 1 else {
                throw FilterError(.wrongArity, at: n.offset, "array_length takes 1 argument, got \(args.count)")
            }
            let (v, t) = try value(args[0])
            switch t {
            case .array, .json: break
            default:
                throw FilterError(.typeMismatch, at: args[0].offset, "array_length needs an ARRAY field or a JSON value, not \(describe(args[0], t))")
            }
            if case .literal = v { throw FilterError(.typeMismatch, at: args[0].offset, "array_length needs a field") }
            return (.arrayLength(v), .int)
        case .compare, .range, .inList, .like, .isNull, .exists, .not, .and, .or:
            throw FilterError(.typeMismatch, at: n.offset, "a condition cannot be used as a value here")
        }
    }

    func resolve(_ name: String, _ path: [FilterPathStep], at offset: Int) throws(FilterError) -> (FilterValue, StaticType) {
        if name == CollectionSchema.dynamicFieldName {
            guard schema.enableDynamicField else {
                throw FilterError(.unknownField, at: offset, "'$meta' is not available: the collection has no dynamic field")
            }
            return path.isEmpty ? (.column(.dynamic), .json) : (.element(.dynamic, path), .json)
        }
        guard let field = schema.field(named: name) else {
            guard schema.enableDynamicField else {
                throw FilterError(.unknownField, at: offset, "unknown field '\(name)' (the collection has no such field and no dynamic field)")
            }
            return (.element(.dynamic, [.key(name)] + path), .json)
        }
        let ref = FilterFieldRef(field)
        if field.dataType.isVector {
            throw FilterError(.vectorField, at: offset, "vector field '\(name)' (\(field.dataType)) cannot be used in a filter")
        }
        switch field.dataType {
        case .json:
            return path.isEmpty ? (.column(ref), .json) : (.element(ref, path), .json)
        case .array:
            let element = field.elementType ?? .int64
            if path.isEmpty { return (.column(ref), .array(element)) }
            guard path.count == 1, case .index = path[0] else {
                throw FilterError(.typeMismatch, at: offset, "ARRAY field '\(name)' takes one integer index, such as \(name)[0]")
            }
            return (.element(ref, path), Self.elementStaticType(element))
        default:
            guard path.isEmpty else {
                throw FilterError(.typeMismatch, at: offset, "'\(name)' is \(field.dataType); only JSON and ARRAY fields take '[ ]'")
            }
            return (.column(ref), Self.elementStaticType(field.dataType))
        }
    }

    /// A phrase naming a node and its type for error messages.
    func describe(_ n: FilterNode, _ t: StaticType) -> String {
        if case .field(let name, let path) = n.kind {
            let text = name + path.map(\.description).joined()
            if path.isEmpty, let f = schema.field(named: name) {
                return f.dataType == .array ? "ARRAY<\(f.elementType ?? .int64)> field '\(name)'" : "\(f.dataType) field '\(name)'"
            }
            return "'\(text)'"
        }
        switch t {
        case .bool: return "a boolean"
        case .int, .float: return "a number"
        case .string: return "a string"
        case .json: return "a JSON value"
        case .array: return "an array"
        case .list: return "a list"
        }
    }
}

extension JSONValue {
    var isString: Bool { if case .string = self { return true } else { return false } }
}
