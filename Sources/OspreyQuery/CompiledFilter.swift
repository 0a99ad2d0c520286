import OspreyCore

/// A filter expression parsed and type-checked against one schema, ready to evaluate on
/// that collection's segments.
///
/// This is the entry point the engine uses:
///
///     let filter = try CompiledFilter("age > {min} and tags[0] == 'a'", schema: schema,
///                                     templateValues: ["min": .int(18)])
///     let rows: Bitset = filter.evaluate(on: segment)        // per segment
///     let s = filter.estimateSelectivity(on: segment)         // before choosing a search plan
///     if let pk = filter.primaryKeyRestriction { … }          // delete / get / iterator
///
/// Thread safety: an immutable value; compile once, evaluate from any number of threads.
package struct CompiledFilter: Sendable, Hashable {
    /// The expression as the client sent it.
    package let expression: String
    /// The typed plan.
    package let plan: FilterPlan
    /// The name of the schema's primary-key field.
    package let primaryKeyName: String?

    /// Parses and type-checks `expression` against `schema`; `{name}` placeholders are filled
    /// from `templateValues`. An empty expression matches every row.
    ///
    /// - Throws: `FilterError` (the caller's fault) naming the offset and what is wrong.
    package init(_ expression: String, schema: CollectionSchema, templateValues: [String: FilterTemplateValue] = [:]) throws(FilterError) {
        let ast = try FilterParser.parse(expression)
        self.expression = expression
        self.plan = try FilterTypeChecker(schema: schema, templateValues: templateValues).check(ast)
        self.primaryKeyName = schema.fields.first(where: \.isPrimaryKey)?.name
    }

    /// A filter from an already built plan (for the engine's own conditions and for tests).
    package init(plan: FilterPlan, primaryKeyName: String?, expression: String = "") {
        self.expression = expression
        self.plan = plan
        self.primaryKeyName = primaryKeyName
    }

    /// The columns the filter reads (schema field names, `$meta` for dynamic keys), so that
    /// a segment can load only those.
    package var columnNames: Set<String> { plan.columnNames }

    /// Whether the filter passes every row (the empty expression, or one folded to `true`).
    package var matchesEverything: Bool { plan == .constant(true) }

    /// Whether the filter passes no row at all, whatever the data (folded to `false`).
    package var matchesNothing: Bool { plan == .constant(false) }

    /// The rows `0 ..< segment.rowCount` for which the filter is true.
    ///
    /// Deleted and invisible rows are not masked here; the engine does that.
    /// - Complexity: O(rows × conditions).
    package func evaluate<S: SegmentColumns>(on segment: S) -> Bitset {
        if case .constant(let b) = plan { return Bitset(count: segment.rowCount, filled: b) }
        return FilterEvaluator(segment: segment, plan: plan).evaluate(plan)
    }

    /// The filter at one row (for re-checking a candidate without a whole bitset). To check
    /// many rows of one segment, make a `matcher(for:)` once instead.
    package func matches<S: SegmentColumns>(row: Int, of segment: S) -> Bool {
        matcher(for: segment).matches(row: row)
    }

    /// A row-at-a-time checker bound to one segment's columns.
    package func matcher<S: SegmentColumns>(for segment: S) -> FilterRowMatcher {
        var cols: [String: ColumnView] = [:]
        for name in plan.columnNames { if let c = segment.column(named: name) { cols[name] = c } }
        return FilterRowMatcher(plan: plan, reader: FilterRowReader(columns: cols))
    }

    /// The rows among `candidates` for which the filter is true.
    ///
    /// When the candidates are few (under 1/32 of the segment, e.g. the rows a primary-key
    /// lookup found), only they are evaluated, row by row; otherwise the whole segment is
    /// evaluated column-wise and intersected.
    package func evaluate<S: SegmentColumns>(on segment: S, candidates: Bitset) -> Bitset {
        precondition(candidates.count == segment.rowCount, "candidate bitset size differs from the segment's row count")
        if case .constant(let b) = plan { return b ? candidates : Bitset(count: segment.rowCount) }
        let n = candidates.cardinality
        guard n * 32 < segment.rowCount else { return evaluate(on: segment).intersection(candidates) }
        let m = matcher(for: segment)
        var out = Bitset(count: segment.rowCount)
        candidates.forEachSetBit { if m.matches(row: $0) { out.set($0) } }
        return out
    }
}

/// Checks a compiled filter one row at a time against one segment's columns.
///
/// Thread safety: immutable; safe to use from several threads.
package struct FilterRowMatcher: Sendable {
    let plan: FilterPlan
    let reader: FilterRowReader

    /// Whether the filter is true at `row` (false when it is false or unknown).
    package func matches(row: Int) -> Bool { reader.truth(plan, row: row) == .yes }
}
