import OspreyCore

/// Column statistics a segment may offer so that selectivity estimates can rule rows out
/// without reading them (sealed segments keep these beside their column files).
///
/// Thread safety: implementations are immutable snapshots, safe to read from several threads.
package protocol FilterStatisticsSource {
    /// Statistics of a scalar column, or nil when the segment has none for it.
    func statistics(ofColumn name: String) -> FilterColumnStatistics?
}

/// The smallest and largest non-null value of a column, and how many rows are null.
///
/// Thread safety: a value type; safe to share.
package struct FilterColumnStatistics: Sendable, Hashable {
    package var min: JSONValue
    package var max: JSONValue
    package var nullCount: Int

    package init(min: JSONValue, max: JSONValue, nullCount: Int = 0) {
        self.min = min
        self.max = max
        self.nullCount = nullCount
    }
}

extension FilterColumnStatistics {
    /// The statistics of the first `rowCount` rows of a BOOL, numeric or VARCHAR column (for
    /// a segment to keep when it is sealed); nil for other columns and for all-null ones.
    /// - Complexity: O(rows).
    package static func compute(_ column: ColumnView, rowCount: Int) -> FilterColumnStatistics? {
        var nulls = 0
        func scan<T: Comparable>(_ view: ChunkedView<T>, _ wrap: (T) -> JSONValue) -> FilterColumnStatistics? {
            var lo: T?, hi: T?
            for i in 0..<Swift.min(rowCount, view.count) {
                if column.isNull(i) { nulls += 1; continue }
                let v = view[i]
                if lo.map({ v < $0 }) ?? true { lo = v }
                if hi.map({ v > $0 }) ?? true { hi = v }
            }
            guard let lo, let hi else { return nil }
            return FilterColumnStatistics(min: wrap(lo), max: wrap(hi), nullCount: nulls)
        }
        switch column.values {
        case .int8(let v): return scan(v) { .int(Int64($0)) }
        case .int16(let v): return scan(v) { .int(Int64($0)) }
        case .int32(let v): return scan(v) { .int(Int64($0)) }
        case .int64(let v): return scan(v) { .int($0) }
        case .float(let v): return scan(v) { .double(Double($0)) }
        case .double(let v): return scan(v) { .double($0) }
        case .string(let v): return scan(v) { .string($0) }
        default: return nil
        }
    }
}

/// An estimate of the fraction of a segment's rows that pass a filter.
///
/// Thread safety: a value type; safe to share.
package struct FilterSelectivity: Sendable, Hashable, CustomStringConvertible {
    /// The estimated fraction of rows passing, in 0...1.
    package var fraction: Double
    /// A 95% confidence interval around `fraction` (both equal to it when exact).
    package var lowerBound: Double
    package var upperBound: Double
    /// Rows actually evaluated to make the estimate.
    package var sampledRows: Int
    /// Whether `fraction` is the true fraction (constant filter, pruned by statistics, or
    /// every row evaluated).
    package var isExact: Bool

    package static func exact(_ fraction: Double, sampled: Int = 0) -> FilterSelectivity {
        FilterSelectivity(fraction: fraction, lowerBound: fraction, upperBound: fraction, sampledRows: sampled, isExact: true)
    }

    package var description: String {
        isExact ? "selectivity \(fraction) (exact)" : "selectivity \(fraction) [\(lowerBound), \(upperBound)] from \(sampledRows) rows"
    }
}

extension CompiledFilter {
    /// The default number of rows a selectivity estimate evaluates.
    package static let defaultSampleSize = 512

    /// Estimates the fraction of `segment`'s rows that pass, without evaluating them all.
    ///
    /// 1. A filter folded to a constant is exact (0 or 1).
    /// 2. If the segment conforms to `FilterStatisticsSource`, comparisons, ranges and `in`
    ///    lists on numeric and string columns are checked against each column's min/max; a
    ///    filter that no row can pass is exactly 0.
    /// 3. A segment of at most `2 × sampleSize` rows, or a filter whose every condition a
    ///    scalar index of the segment answers (`FilterIndexSource`), is evaluated whole (exact).
    /// 4. Otherwise `sampleSize` rows spread evenly over the segment (a fixed stride from an
    ///    offset derived from the row count, so the estimate is repeatable) are evaluated
    ///    row by row; the fraction passing is the estimate, with a 95% Wilson interval.
    ///
    /// - Complexity: O(sampleSize × conditions), independent of the segment's size.
    package func estimateSelectivity<S: SegmentColumns>(on segment: S, sampleSize: Int = CompiledFilter.defaultSampleSize) -> FilterSelectivity {
        let n = segment.rowCount
        if case .constant(let b) = plan { return .exact(b ? 1 : 0) }
        if n == 0 { return .exact(0) }
        if let stats = segment as? any FilterStatisticsSource, !FilterPruning.canMatch(plan, stats) {
            return .exact(0)
        }
        let s = Swift.max(1, sampleSize)
        let evaluator = FilterEvaluator(segment: segment, plan: plan)
        if n <= 2 * s || (!evaluator.indexes.isEmpty && evaluator.isIndexAnswerable(plan)) {
            let bits = evaluate(on: segment)
            return .exact(Double(bits.cardinality) / Double(n), sampled: n)
        }
        var cols: [String: ColumnView] = [:]
        for name in plan.columnNames { if let c = segment.column(named: name) { cols[name] = c } }
        let reader = FilterRowReader(columns: cols)
        let stride = Double(n) / Double(s)
        let offset = Double((n &* 2_654_435_761) % 1000) / 1000 * stride
        var matched = 0
        for k in 0..<s {
            let row = Swift.min(n - 1, Int(Double(k) * stride + offset))
            if reader.truth(plan, row: row) == .yes { matched += 1 }
        }
        let p = Double(matched) / Double(s)
        let (lo, hi) = Self.wilson(matched: matched, of: s)
        return FilterSelectivity(fraction: p, lowerBound: lo, upperBound: hi, sampledRows: s, isExact: false)
    }

    /// The 95% Wilson score interval for `matched` successes in `n` trials.
    static func wilson(matched: Int, of n: Int) -> (Double, Double) {
        let z = 1.96, nn = Double(n), p = Double(matched) / nn
        let denom = 1 + z * z / nn
        let centre = (p + z * z / (2 * nn)) / denom
        let margin = z * ((p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot()) / denom
        return (Swift.max(0, centre - margin), Swift.min(1, centre + margin))
    }
}

/// Decides from column min/max whether any row can pass a plan.
///
/// Thread safety: stateless.
enum FilterPruning {
    /// False only when no row can pass; true when unsure.
    static func canMatch(_ plan: FilterPlan, _ stats: any FilterStatisticsSource) -> Bool {
        switch plan {
        case .constant(let b): return b
        case .and(let terms): return terms.allSatisfy { canMatch($0, stats) }
        case .or(let terms): return terms.contains { canMatch($0, stats) }
        case .compare(.column(let f), let op, .literal(let lit)) where op != .ne:
            guard let s = stats.statistics(ofColumn: f.name) else { return true }
            switch op {
            case .eq: return overlaps(s, FilterBound(lit, inclusive: true), FilterBound(lit, inclusive: true))
            case .lt: return overlaps(s, nil, FilterBound(lit, inclusive: false))
            case .le: return overlaps(s, nil, FilterBound(lit, inclusive: true))
            case .gt: return overlaps(s, FilterBound(lit, inclusive: false), nil)
            case .ge: return overlaps(s, FilterBound(lit, inclusive: true), nil)
            case .ne: return true
            }
        case .range(.column(let f), let lower, let upper):
            guard let s = stats.statistics(ofColumn: f.name) else { return true }
            return overlaps(s, lower, upper)
        case .member(.column(let f), let items):
            guard let s = stats.statistics(ofColumn: f.name) else { return true }
            return items.contains { overlaps(s, FilterBound($0, inclusive: true), FilterBound($0, inclusive: true)) }
        default:
            return true
        }
    }

    /// Whether [min, max] meets the interval given by the bounds (true when incomparable).
    static func overlaps(_ s: FilterColumnStatistics, _ lower: FilterBound?, _ upper: FilterBound?) -> Bool {
        if let lower, let above = FilterSemantics.compare(s.max, lower.inclusive ? .ge : .gt, lower.value), !above { return false }
        if let upper, let below = FilterSemantics.compare(s.min, upper.inclusive ? .le : .lt, upper.value), !below { return false }
        return true
    }
}
