import OspreyCore

/// The result of a condition over all rows in three-valued logic: rows in `isTrue` are true,
/// rows in `isFalse` false, rows in neither unknown (they read a null).
///
/// `isFalse == nil` means "every row not true is false" (no unknowns), the common case,
/// which saves a bitset and its work.
///
/// Thread safety: a value type; safe to share.
package struct FilterTruth: Sendable {
    package var isTrue: Bitset
    package var isFalse: Bitset?

    package init(isTrue: Bitset, isFalse: Bitset?) {
        self.isTrue = isTrue
        self.isFalse = isFalse
    }

    /// The false rows as a bitset.
    package var falseRows: Bitset { isFalse ?? isTrue.inverted() }

    /// `isTrue` where `valid` holds; rows outside `valid` become unknown.
    static func masked(_ t: Bitset, valid: Bitset?) -> FilterTruth {
        guard let valid else { return FilterTruth(isTrue: t, isFalse: nil) }
        var isTrue = t
        isTrue.formIntersection(valid)
        var isFalse = valid
        isFalse.subtract(isTrue)
        return FilterTruth(isTrue: isTrue, isFalse: isFalse)
    }
}

/// Evaluates a typed plan against one segment, column by column, into a `Bitset`.
///
/// Common leaves run as tight loops over the column chunks: comparisons and ranges of
/// numeric, string and boolean fields with constants, `in` lists, `field op c1 cmp c2`
/// arithmetic, string `like` patterns (prefix, suffix, infix and exact directly), `is null`,
/// and conditions of one JSON path, ARRAY element, ARRAY length or ARRAY's contents against
/// constants. A scalar index of the segment (`FilterIndexSource`) answers the leaves it can.
/// Every other leaf (other arithmetic, two fields compared, functions of whole JSON values)
/// is evaluated row by row. `and`/`or`/`not` combine per-row
/// three-valued results (see docs/filters.md); `and` stops early once no row can pass.
///
/// Thread safety: a value type holding an immutable snapshot; `evaluate` may run on several
/// threads at once.
package struct FilterEvaluator<Segment: SegmentColumns> {
    package let segment: Segment
    let rowCount: Int
    let columns: [String: ColumnView]
    /// Scalar indexes of the columns the plan reads, when the segment has them.
    let indexes: [String: ScalarIndex]

    package init(segment: Segment, plan: FilterPlan) {
        self.segment = segment
        self.rowCount = segment.rowCount
        var cols: [String: ColumnView] = [:]
        var indexes: [String: ScalarIndex] = [:]
        let source = segment as? any FilterIndexSource
        for name in plan.columnNames {
            if let c = segment.column(named: name) { cols[name] = c }
            if let index = source?.scalarIndex(ofColumn: name), index.rowCount == segment.rowCount { indexes[name] = index }
        }
        self.columns = cols
        self.indexes = indexes
    }

    /// The rows for which `plan` is true.
    /// - Complexity: O(rows × leaves), with small constants for the column-wise leaves.
    package func evaluate(_ plan: FilterPlan) -> Bitset {
        truth(plan).isTrue
    }

    /// The three-valued result of `plan` over every row.
    package func truth(_ plan: FilterPlan) -> FilterTruth {
        switch plan {
        case .constant(let b):
            return FilterTruth(isTrue: Bitset(count: rowCount, filled: b), isFalse: nil)
        case .and(let terms):
            var acc = truth(terms[0])
            for term in terms.dropFirst() {
                if acc.isFalse == nil, acc.isTrue.isAllClear { break }
                let r = truth(term)
                if acc.isFalse != nil || r.isFalse != nil {
                    var f = acc.falseRows
                    f.formUnion(r.falseRows)
                    acc.isFalse = f
                }
                acc.isTrue.formIntersection(r.isTrue)
            }
            return acc
        case .or(let terms):
            var acc = truth(terms[0])
            for term in terms.dropFirst() {
                if acc.isFalse == nil, acc.isTrue.cardinality == rowCount { break }
                let r = truth(term)
                if acc.isFalse != nil || r.isFalse != nil {
                    var f = acc.falseRows
                    f.formIntersection(r.falseRows)
                    acc.isFalse = f
                }
                acc.isTrue.formUnion(r.isTrue)
            }
            return acc
        case .not(let inner):
            let r = truth(inner)
            if let f = r.isFalse { return FilterTruth(isTrue: f, isFalse: r.isTrue) }
            return FilterTruth(isTrue: r.isTrue.inverted(), isFalse: nil)
        default:
            return columnar(plan) ?? rowWise(plan)
        }
    }

    // MARK: - Row-wise leaves

    func rowWise(_ plan: FilterPlan) -> FilterTruth {
        var t = Bitset(count: rowCount)
        var f = Bitset(count: rowCount)
        var sawUnknown = false
        let rows = FilterRowReader(columns: columns)
        for i in 0..<rowCount {
            switch rows.truth(plan, row: i) {
            case .yes: t.set(i)
            case .no: f.set(i)
            case .unknown: sawUnknown = true
            }
        }
        return FilterTruth(isTrue: t, isFalse: sawUnknown ? f : nil)
    }

    // MARK: - Column-wise leaves

    /// The validity of a column as a bitset, or nil when it has no nulls.
    func validity(_ c: ColumnView) -> Bitset? {
        guard let v = c.validity else { return nil }
        var bits = Bitset(count: rowCount)
        FilterKernels.fill(v, rowCount: rowCount, into: &bits) { $0 }
        return bits
    }

    /// A column that is absent from the segment (e.g. added to the schema later) reads as null.
    func allUnknown() -> FilterTruth {
        FilterTruth(isTrue: Bitset(count: rowCount), isFalse: Bitset(count: rowCount))
    }

    func columnar(_ plan: FilterPlan) -> FilterTruth? {
        if !indexes.isEmpty, let t = indexed(plan) { return t }
        switch plan {
        case .compare(.element, _, .literal), .range(.element, _, _), .member(.element, _), .like(.element, _),
            .contains(.element, _, _), .truthy(.element), .exists,
            .compare(.arrayLength(.column), _, .literal), .range(.arrayLength(.column), _, _), .member(.arrayLength(.column), _),
            .contains(.column, _, _):
            return nestedLeaf(plan)
        case .isNull(let f):
            guard let c = columns[f.name] else { return FilterTruth(isTrue: Bitset(count: rowCount, filled: true), isFalse: nil) }
            guard let valid = validity(c) else { return FilterTruth(isTrue: Bitset(count: rowCount), isFalse: nil) }
            return FilterTruth(isTrue: valid.inverted(), isFalse: nil)
        case .truthy(.column(let f)) where f.dataType == .bool:
            guard let c = columns[f.name] else { return allUnknown() }
            guard case .bool(let view) = c.values else { return nil }
            return masked(c) { bits in FilterKernels.fill(view, rowCount: rowCount, into: &bits) { $0 } }
        case .compare(.column(let f), let op, .literal(let lit)) where f.dataType != .json && f.dataType != .array:
            guard let c = columns[f.name] else { return allUnknown() }
            if op == .ne {
                guard let eq = compareColumn(c, .eq, lit) else { return nil }
                return FilterTruth.masked(eq.inverted(), valid: validity(c))
            }
            guard let bits = compareColumn(c, op, lit) else { return nil }
            return FilterTruth.masked(bits, valid: validity(c))
        case .compare(.arithmetic(let op, .column(let f), .literal(.int(let operand))), let cmp, .literal(.int(let target)))
            where f.dataType.isInteger && op != .power:
            guard let c = columns[f.name] else { return allUnknown() }
            let bits: Bitset
            switch c.values {
            case .int8(let v): bits = FilterKernels.intArithmetic(v, op, operand, cmp, target, rowCount: rowCount)
            case .int16(let v): bits = FilterKernels.intArithmetic(v, op, operand, cmp, target, rowCount: rowCount)
            case .int32(let v): bits = FilterKernels.intArithmetic(v, op, operand, cmp, target, rowCount: rowCount)
            case .int64(let v): bits = FilterKernels.intArithmetic(v, op, operand, cmp, target, rowCount: rowCount)
            default: return nil
            }
            return FilterTruth.masked(bits, valid: validity(c))
        case .compare(.arithmetic(let op, .column(let f), .literal(let operand)), let cmp, .literal(let target))
            where f.dataType.isNumeric && operand.isNumber && target.isNumber:
            guard let c = columns[f.name] else { return allUnknown() }
            var bits = Bitset(count: rowCount)
            // One closure per row, no allocation: the operand and target stay JSON numbers so
            // that integer/double rules match `FilterSemantics` exactly.
            let check: (JSONValue) -> Bool = { v in
                guard let r = FilterSemantics.arithmetic(op, v, operand) else { return false }
                return FilterSemantics.compare(r, cmp, target) == true
            }
            switch c.values {
            case .int8(let v): FilterKernels.fill(v, rowCount: rowCount, into: &bits) { check(.int(Int64($0))) }
            case .int16(let v): FilterKernels.fill(v, rowCount: rowCount, into: &bits) { check(.int(Int64($0))) }
            case .int32(let v): FilterKernels.fill(v, rowCount: rowCount, into: &bits) { check(.int(Int64($0))) }
            case .int64(let v): FilterKernels.fill(v, rowCount: rowCount, into: &bits) { check(.int($0)) }
            case .float(let v): FilterKernels.fill(v, rowCount: rowCount, into: &bits) { check(.double(Double($0))) }
            case .double(let v): FilterKernels.fill(v, rowCount: rowCount, into: &bits) { check(.double($0)) }
            default: return nil
            }
            return FilterTruth.masked(bits, valid: validity(c))
        case .range(.column(let f), let lower, let upper) where f.dataType != .json && f.dataType != .array:
            guard let c = columns[f.name] else { return allUnknown() }
            guard let bits = rangeColumn(c, lower: lower, upper: upper) else { return nil }
            return FilterTruth.masked(bits, valid: validity(c))
        case .member(.column(let f), let items) where f.dataType != .json && f.dataType != .array:
            guard let c = columns[f.name] else { return allUnknown() }
            guard let bits = memberColumn(c, items) else { return nil }
            return FilterTruth.masked(bits, valid: validity(c))
        case .like(.column(let f), let pattern) where f.dataType == .varchar:
            guard let c = columns[f.name] else { return allUnknown() }
            guard case .string(let view) = c.values else { return nil }
            return masked(c) { bits in FilterKernels.like(view, pattern, rowCount: rowCount, into: &bits) }
        default:
            return nil
        }
    }

    /// A leaf answered from a scalar index, or nil when no index serves it.
    func indexed(_ plan: FilterPlan) -> FilterTruth? {
        let f: FilterFieldRef
        switch plan {
        case .compare(.column(let g), _, .literal), .range(.column(let g), _, _), .member(.column(let g), _), .like(.column(let g), _):
            f = g
        default:
            return nil
        }
        guard let index = indexes[f.name], let c = columns[f.name] else { return nil }
        let bits: Bitset?
        switch plan {
        case .compare(_, let op, .literal(let lit)):
            let b = FilterBound(lit, inclusive: true)
            switch op {
            case .eq: bits = index.rows(lower: b, upper: b)
            case .ne: bits = index.rows(lower: b, upper: b).map { $0.inverted() }
            case .lt: bits = index.rows(lower: nil, upper: FilterBound(lit, inclusive: false))
            case .le: bits = index.rows(lower: nil, upper: b)
            case .gt: bits = index.rows(lower: FilterBound(lit, inclusive: false), upper: nil)
            case .ge: bits = index.rows(lower: b, upper: nil)
            }
        case .range(_, let lower, let upper):
            bits = index.rows(lower: lower, upper: upper)
        case .member(_, let items):
            bits = index.rows(equalToAnyOf: items)
        case .like(_, let pattern):
            switch pattern.shape {
            case .prefix(let p): bits = index.rows(withPrefix: p)
            case .exact(let t): bits = index.rows(equalToAnyOf: [.string(t)])
            default: bits = nil
            }
        default:
            bits = nil
        }
        return bits.map { FilterTruth.masked($0, valid: validity(c)) }
    }

    /// Whether every leaf of a plan is answered from a scalar index (so evaluating it costs
    /// about as much as the matching postings, not a pass over the rows).
    package func isIndexAnswerable(_ plan: FilterPlan) -> Bool {
        switch plan {
        case .constant: return true
        case .and(let ps), .or(let ps): return ps.allSatisfy(isIndexAnswerable)
        case .not(let p): return isIndexAnswerable(p)
        case .compare(.column(let f), _, .literal), .range(.column(let f), _, _), .member(.column(let f), _):
            return indexes[f.name] != nil && columns[f.name] != nil
        case .like(.column(let f), let pattern):
            guard indexes[f.name] != nil, columns[f.name] != nil else { return false }
            switch pattern.shape {
            case .prefix, .exact: return true
            default: return false
            }
        default:
            return false
        }
    }

    /// The value a leaf tests and the test against its constants (nil for other leaves).
    func leafTest(_ plan: FilterPlan) -> (FilterValue, (JSONValue) -> Bool)? {
        switch plan {
        case .compare(let v, let op, .literal(let lit)):
            return (v, { FilterSemantics.compare($0, op, lit) == true })
        case .range(let v, let lower, let upper):
            return (v, { x in
                if let lower, FilterSemantics.compare(x, lower.inclusive ? .ge : .gt, lower.value) != true { return false }
                if let upper, FilterSemantics.compare(x, upper.inclusive ? .le : .lt, upper.value) != true { return false }
                return true
            })
        case .member(let v, let items):
            return (v, { x in items.contains { FilterSemantics.equal(x, $0) } })
        case .like(let v, let pattern):
            return (v, { if case .string(let s) = $0 { return pattern.matches(s) } else { return false } })
        case .contains(let v, let mode, let items):
            return (v, { x in
                guard case .array(let elements) = x else { return false }
                return Self.contains(elements.count, { elements[$0] }, mode, items)
            })
        case .truthy(let v):
            return (v, { $0 == .bool(true) })
        default:
            return nil
        }
    }

    /// `*_contains*` over `count` elements read by `element`.
    @inline(__always)
    static func contains(_ count: Int, _ element: (Int) -> JSONValue?, _ mode: FilterContainsMode, _ items: [JSONValue]) -> Bool {
        func has(_ item: JSONValue) -> Bool {
            for i in 0..<count { if let e = element(i), FilterSemantics.equal(e, item) { return true } }
            return false
        }
        switch mode {
        case .contains: return has(items[0])
        case .all: return items.allSatisfy(has)
        case .any: return items.contains(where: has)
        }
    }

    /// Conditions on a JSON path, an ARRAY element, an ARRAY's length or an ARRAY's contents
    /// against constants, run over the column's chunks directly (no per-row column lookup
    /// and no boxing of whole documents or arrays).
    func nestedLeaf(_ plan: FilterPlan) -> FilterTruth? {
        if case .exists(let f, let path) = plan {
            guard let c = columns[f.name] else { return allUnknown() }
            guard case .json(let view) = c.values else { return nil }
            var bits = Bitset(count: rowCount)
            FilterKernels.fill(view, rowCount: rowCount, into: &bits) { Self.walk($0, path) != nil }
            return FilterTruth.masked(bits, valid: validity(c))
        }
        // ARRAY contents: compare elements one by one, without building a JSON array.
        if case .contains(.column(let f), let mode, let items) = plan, f.dataType == .array {
            guard let c = columns[f.name] else { return allUnknown() }
            guard case .array(let view) = c.values else { return nil }
            var bits = Bitset(count: rowCount)
            FilterKernels.fill(view, rowCount: rowCount, into: &bits) { a in
                Self.contains(a.count, { FilterSemantics.literal(a[$0]) }, mode, items)
            }
            return FilterTruth.masked(bits, valid: validity(c))
        }
        guard let (operand, test) = leafTest(plan) else { return nil }
        var bits = Bitset(count: rowCount)
        let c: ColumnView
        switch operand {
        case .element(let f, let path) where f.dataType == .json:
            guard let col = columns[f.name] else { return allUnknown() }
            guard case .json(let view) = col.values else { return nil }
            c = col
            FilterKernels.fill(view, rowCount: rowCount, into: &bits) { doc in
                // A missing path or a JSON null at its end is "missing": the condition is false.
                guard let v = Self.walk(doc, path), v != .null else { return false }
                return test(v)
            }
        case .element(let f, let path) where f.dataType == .array:
            guard path.count == 1, case .index(let i) = path[0] else { return nil }
            guard let col = columns[f.name] else { return allUnknown() }
            guard case .array(let view) = col.values else { return nil }
            c = col
            FilterKernels.fill(view, rowCount: rowCount, into: &bits) { a in
                guard i < a.count, let v = FilterSemantics.literal(a[i]) else { return false }
                return test(v)
            }
        case .arrayLength(.column(let f)) where f.dataType == .array:
            guard let col = columns[f.name] else { return allUnknown() }
            guard case .array(let view) = col.values else { return nil }
            c = col
            FilterKernels.fill(view, rowCount: rowCount, into: &bits) { test(.int(Int64($0.count))) }
        case .arrayLength(.column(let f)) where f.dataType == .json:
            guard let col = columns[f.name] else { return allUnknown() }
            guard case .json(let view) = col.values else { return nil }
            c = col
            FilterKernels.fill(view, rowCount: rowCount, into: &bits) { doc in
                guard case .array(let a) = doc else { return false }
                return test(.int(Int64(a.count)))
            }
        default:
            return nil
        }
        return FilterTruth.masked(bits, valid: validity(c))
    }

    /// The value at `path` inside `doc`, or nil when a step is missing.
    @inline(__always)
    static func walk(_ doc: JSONValue, _ path: [FilterPathStep]) -> JSONValue? {
        if path.count == 1, case .key(let k) = path[0], case .object(let o) = doc { return o[k] }
        var node = doc
        for step in path {
            switch (node, step) {
            case (.object(let o), .key(let k)):
                guard let next = o[k] else { return nil }
                node = next
            case (.array(let a), .index(let i)):
                guard i < a.count else { return nil }
                node = a[i]
            default:
                return nil
            }
        }
        return node
    }

    func masked(_ c: ColumnView, _ body: (inout Bitset) -> Void) -> FilterTruth {
        var bits = Bitset(count: rowCount)
        body(&bits)
        return FilterTruth.masked(bits, valid: validity(c))
    }

    func compareColumn(_ c: ColumnView, _ op: FilterCompareOp, _ lit: JSONValue) -> Bitset? {
        switch op {
        case .eq: return rangeColumn(c, lower: FilterBound(lit, inclusive: true), upper: FilterBound(lit, inclusive: true))
        case .lt: return rangeColumn(c, lower: nil, upper: FilterBound(lit, inclusive: false))
        case .le: return rangeColumn(c, lower: nil, upper: FilterBound(lit, inclusive: true))
        case .gt: return rangeColumn(c, lower: FilterBound(lit, inclusive: false), upper: nil)
        case .ge: return rangeColumn(c, lower: FilterBound(lit, inclusive: true), upper: nil)
        case .ne: return nil
        }
    }

    /// Rows whose value lies within the bounds (ignoring validity).
    func rangeColumn(_ c: ColumnView, lower: FilterBound?, upper: FilterBound?) -> Bitset? {
        var bits = Bitset(count: rowCount)
        switch c.values {
        case .int8(let v): return FilterKernels.intRange(v, lower, upper, rowCount: rowCount)
        case .int16(let v): return FilterKernels.intRange(v, lower, upper, rowCount: rowCount)
        case .int32(let v): return FilterKernels.intRange(v, lower, upper, rowCount: rowCount)
        case .int64(let v): return FilterKernels.intRange(v, lower, upper, rowCount: rowCount)
        case .float(let v):
            guard let (lo, hi) = FilterKernels.doubleInterval(lower, upper) else { return bits }
            FilterKernels.fill(v, rowCount: rowCount, into: &bits) { let d = Double($0); return d >= lo && d <= hi }
            return bits
        case .double(let v):
            guard let (lo, hi) = FilterKernels.doubleInterval(lower, upper) else { return bits }
            FilterKernels.fill(v, rowCount: rowCount, into: &bits) { $0 >= lo && $0 <= hi }
            return bits
        case .string(let v):
            var lo: (String, Bool)?
            var hi: (String, Bool)?
            if let lower {
                guard case .string(let s) = lower.value else { return bits }
                lo = (s, lower.inclusive)
            }
            if let upper {
                guard case .string(let s) = upper.value else { return bits }
                hi = (s, upper.inclusive)
            }
            if let lo, let hi, lo.1, hi.1, lo.0 == hi.0 {
                let s = lo.0
                FilterKernels.fill(v, rowCount: rowCount, into: &bits) { $0 == s }
                return bits
            }
            FilterKernels.fill(v, rowCount: rowCount, into: &bits) { s in
                if let lo, lo.1 ? s < lo.0 : s <= lo.0 { return false }
                if let hi, hi.1 ? s > hi.0 : s >= hi.0 { return false }
                return true
            }
            return bits
        case .bool(let v):
            // Only equality reaches here (the type check allows no ordering of booleans).
            guard let lower, let upper, lower.inclusive, upper.inclusive, lower.value == upper.value,
                case .bool(let b) = lower.value
            else { return nil }
            FilterKernels.fill(v, rowCount: rowCount, into: &bits) { $0 == b }
            return bits
        default:
            return nil
        }
    }

    func memberColumn(_ c: ColumnView, _ items: [JSONValue]) -> Bitset? {
        var bits = Bitset(count: rowCount)
        switch c.values {
        case .int8(let v): return FilterKernels.intMember(v, items, rowCount: rowCount)
        case .int16(let v): return FilterKernels.intMember(v, items, rowCount: rowCount)
        case .int32(let v): return FilterKernels.intMember(v, items, rowCount: rowCount)
        case .int64(let v): return FilterKernels.intMember(v, items, rowCount: rowCount)
        case .float(let v):
            let set = FilterKernels.exactDoubles(items)
            FilterKernels.fill(v, rowCount: rowCount, into: &bits) { set.contains(Double($0)) }
            return bits
        case .double(let v):
            let set = FilterKernels.exactDoubles(items)
            FilterKernels.fill(v, rowCount: rowCount, into: &bits) { set.contains($0) }
            return bits
        case .string(let v):
            let strings = items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
            if strings.count <= 4 {
                FilterKernels.fill(v, rowCount: rowCount, into: &bits) { strings.contains($0) }
            } else {
                let set = Set(strings)
                FilterKernels.fill(v, rowCount: rowCount, into: &bits) { set.contains($0) }
            }
            return bits
        case .bool(let v):
            var hasTrue = false, hasFalse = false
            for item in items { if case .bool(let b) = item { if b { hasTrue = true } else { hasFalse = true } } }
            FilterKernels.fill(v, rowCount: rowCount, into: &bits) { $0 ? hasTrue : hasFalse }
            return bits
        default:
            return nil
        }
    }
}
