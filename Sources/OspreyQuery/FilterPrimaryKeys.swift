import OspreyCore

/// One end of a primary-key range.
///
/// Thread safety: a value type; safe to share.
package struct FilterKeyBound: Sendable, Hashable {
    package var key: PrimaryKey
    package var inclusive: Bool

    package init(_ key: PrimaryKey, inclusive: Bool) {
        self.key = key
        self.inclusive = inclusive
    }
}

/// What a filter says about the primary key, so the engine can use its primary-key index
/// for `delete(filter)`, `get(ids)` and the query iterator instead of scanning.
///
/// Only rows whose key is in `keys` (when set) and within `lower`/`upper` (when set) can
/// pass. When `isExact` is true the restriction *is* the filter: every such row passes, and
/// the engine need not evaluate anything else; otherwise it evaluates the filter on the
/// rows the restriction leaves.
///
/// Thread safety: a value type; safe to share.
package struct FilterPrimaryKeyRestriction: Sendable, Hashable {
    /// The keys, deduplicated and sorted, when the filter names them (`pk in [..]`, `pk == x`).
    package var keys: [PrimaryKey]?
    package var lower: FilterKeyBound?
    package var upper: FilterKeyBound?
    package var isExact: Bool

    package init(keys: [PrimaryKey]? = nil, lower: FilterKeyBound? = nil, upper: FilterKeyBound? = nil, isExact: Bool) {
        self.keys = keys
        self.lower = lower
        self.upper = upper
        self.isExact = isExact
    }

    /// Whether `key` satisfies the bounds.
    package func boundsContain(_ key: PrimaryKey) -> Bool {
        if let lower, lower.inclusive ? key < lower.key : key <= lower.key { return false }
        if let upper, upper.inclusive ? key > upper.key : key >= upper.key { return false }
        return true
    }

    /// Whether `key` can pass (in `keys` if set, and within the bounds).
    package func contains(_ key: PrimaryKey) -> Bool {
        if let keys, !keys.contains(key) { return false }
        return boundsContain(key)
    }
}

extension CompiledFilter {
    /// The restriction the filter puts on the primary key, or nil when it puts none that an
    /// index can use (e.g. `pk != 3`, or an `or` whose branches do not all name keys).
    ///
    /// Recognised: `pk == x`, `pk in [...]`, `pk <(=) x`, `pk >(=) x`, `a < pk <= b`, and
    /// `and`s (intersecting what each side says, the rest left to evaluation) and `or`s of
    /// key lists (their union).
    package var primaryKeyRestriction: FilterPrimaryKeyRestriction? {
        guard let pk = primaryKeyName else { return nil }
        return FilterKeyAnalysis(pk: pk).restriction(plan)
    }
}

/// Derives a `FilterPrimaryKeyRestriction` from a plan.
///
/// Thread safety: a value type; stateless apart from the key name.
struct FilterKeyAnalysis {
    let pk: String

    func key(_ v: JSONValue) -> PrimaryKey? {
        switch v {
        case .int(let i): return .int(i)
        case .double(let d): return Int64(exactly: d).map { .int($0) }
        case .string(let s): return .string(s)
        default: return nil
        }
    }

    func restriction(_ plan: FilterPlan) -> FilterPrimaryKeyRestriction? {
        switch plan {
        case .constant(false):
            return FilterPrimaryKeyRestriction(keys: [], isExact: true)
        case .member(.column(let f), let items) where f.name == pk:
            let keys = Array(Set(items.compactMap(key))).sorted()
            return FilterPrimaryKeyRestriction(keys: keys, isExact: true)
        case .compare(.column(let f), let op, .literal(let lit)) where f.name == pk:
            switch op {
            case .eq: return FilterPrimaryKeyRestriction(keys: key(lit).map { [$0] } ?? [], isExact: true)
            case .ne: return nil
            case .lt: return bounds(f, nil, FilterBound(lit, inclusive: false))
            case .le: return bounds(f, nil, FilterBound(lit, inclusive: true))
            case .gt: return bounds(f, FilterBound(lit, inclusive: false), nil)
            case .ge: return bounds(f, FilterBound(lit, inclusive: true), nil)
            }
        case .range(.column(let f), let lower, let upper) where f.name == pk:
            return bounds(f, lower, upper)
        case .and(let terms):
            var result: FilterPrimaryKeyRestriction?
            var exact = true
            for t in terms {
                guard let r = restriction(t) else { exact = false; continue }
                exact = exact && r.isExact
                result = result.map { intersect($0, r) } ?? r
            }
            guard var r = result else { return nil }
            r.isExact = exact
            return normalised(r)
        case .or(let terms):
            var keys = Set<PrimaryKey>()
            var exact = true
            for t in terms {
                guard let r = restriction(t), let ks = r.keys, r.lower == nil, r.upper == nil else { return nil }
                keys.formUnion(ks)
                exact = exact && r.isExact
            }
            return FilterPrimaryKeyRestriction(keys: keys.sorted(), isExact: exact)
        default:
            return nil
        }
    }

    func bounds(_ f: FilterFieldRef, _ lower: FilterBound?, _ upper: FilterBound?) -> FilterPrimaryKeyRestriction {
        if f.dataType == .int64 {
            guard let (lo, hi) = FilterKernels.intInterval(lower, upper) else {
                return FilterPrimaryKeyRestriction(keys: [], isExact: true)
            }
            return FilterPrimaryKeyRestriction(
                lower: lower == nil ? nil : FilterKeyBound(.int(lo), inclusive: true),
                upper: upper == nil ? nil : FilterKeyBound(.int(hi), inclusive: true), isExact: true)
        }
        var r = FilterPrimaryKeyRestriction(isExact: true)
        if let lower { guard let k = key(lower.value) else { return FilterPrimaryKeyRestriction(keys: [], isExact: true) }; r.lower = FilterKeyBound(k, inclusive: lower.inclusive) }
        if let upper { guard let k = key(upper.value) else { return FilterPrimaryKeyRestriction(keys: [], isExact: true) }; r.upper = FilterKeyBound(k, inclusive: upper.inclusive) }
        return r
    }

    func intersect(_ a: FilterPrimaryKeyRestriction, _ b: FilterPrimaryKeyRestriction) -> FilterPrimaryKeyRestriction {
        var r = a
        if let bk = b.keys { r.keys = r.keys.map { Array(Set($0).intersection(bk)).sorted() } ?? bk }
        if let bl = b.lower {
            if let al = r.lower {
                if bl.key > al.key || (bl.key == al.key && !bl.inclusive) { r.lower = bl }
            } else { r.lower = bl }
        }
        if let bu = b.upper {
            if let au = r.upper {
                if bu.key < au.key || (bu.key == au.key && !bu.inclusive) { r.upper = bu }
            } else { r.upper = bu }
        }
        return r
    }

    /// Keys filtered by the bounds (then the bounds say nothing more).
    func normalised(_ r: FilterPrimaryKeyRestriction) -> FilterPrimaryKeyRestriction {
        guard let keys = r.keys else { return r }
        return FilterPrimaryKeyRestriction(keys: keys.filter { r.boundsContain($0) }, isExact: r.isExact)
    }
}
