import OspreyCore

/// The tight loops of column-wise evaluation: one pass over each chunk's buffer, 64 results
/// gathered into a register before each store, no allocation inside the loop.
///
/// Thread safety: stateless.
enum FilterKernels {
    /// Sets bit `r` of `bits` for every row `r` whose value satisfies `predicate`.
    @inline(__always)
    static func fill<T>(_ view: ChunkedView<T>, rowCount: Int, into bits: inout Bitset, _ predicate: (T) -> Bool) {
        bits.withUnsafeMutableWords { words in
            view.forEachChunk { first, values in
                guard first < rowCount else { return }
                let n = Swift.min(values.count, rowCount - first)
                var r = first
                var acc: UInt64 = 0
                for k in 0..<n {
                    acc |= (predicate(values[k]) ? 1 : 0) << UInt64(r & 63)
                    if r & 63 == 63 {
                        words[r >> 6] |= acc
                        acc = 0
                    }
                    r += 1
                }
                if r & 63 != 0 { words[(r - 1) >> 6] |= acc }
            }
        }
    }

    // MARK: - Integers

    static let two63 = 9.223372036854775808e18

    /// The closed Int64 interval that a bound pair selects among integers; nil when empty.
    static func intInterval(_ lower: FilterBound?, _ upper: FilterBound?) -> (Int64, Int64)? {
        var lo = Int64.min, hi = Int64.max
        if let lower {
            switch lower.value {
            case .int(let i):
                if lower.inclusive { lo = i } else {
                    guard i < Int64.max else { return nil }
                    lo = i + 1
                }
            case .double(let d):
                if d.isNaN { return nil }
                let c = lower.inclusive ? d.rounded(.up) : d.rounded(.down) + 1
                if c >= two63 { return nil }
                lo = c < -two63 ? Int64.min : Int64(c)
            default: return nil
            }
        }
        if let upper {
            switch upper.value {
            case .int(let i):
                if upper.inclusive { hi = i } else {
                    guard i > Int64.min else { return nil }
                    hi = i - 1
                }
            case .double(let d):
                if d.isNaN { return nil }
                let c = upper.inclusive ? d.rounded(.down) : d.rounded(.up) - 1
                if c < -two63 { return nil }
                hi = c >= two63 ? Int64.max : Int64(c)
            default: return nil
            }
        }
        return lo <= hi ? (lo, hi) : nil
    }

    static func intRange<T: FixedWidthInteger & SignedInteger>(_ view: ChunkedView<T>, _ lower: FilterBound?, _ upper: FilterBound?, rowCount: Int) -> Bitset {
        var bits = Bitset(count: rowCount)
        guard let (lo64, hi64) = intInterval(lower, upper) else { return bits }
        let lo = Swift.max(lo64, Int64(T.min)), hi = Swift.min(hi64, Int64(T.max))
        guard lo <= hi else { return bits }
        let tlo = T(lo), thi = T(hi)
        if tlo == thi {
            fill(view, rowCount: rowCount, into: &bits) { $0 == tlo }
        } else {
            fill(view, rowCount: rowCount, into: &bits) { $0 >= tlo && $0 <= thi }
        }
        return bits
    }

    static func intMember<T: FixedWidthInteger & SignedInteger>(_ view: ChunkedView<T>, _ items: [JSONValue], rowCount: Int) -> Bitset {
        var values: [T] = []
        for item in items {
            switch item {
            case .int(let i): if let v = T(exactly: i) { values.append(v) }
            case .double(let d): if let i = Int64(exactly: d), let v = T(exactly: i) { values.append(v) }
            default: break
            }
        }
        var bits = Bitset(count: rowCount)
        if values.isEmpty { return bits }
        if values.count <= 8 {
            fill(view, rowCount: rowCount, into: &bits) { v in values.contains(v) }
            return bits
        }
        let lo = Int64(values.min()!), hi = Int64(values.max()!)
        if hi &- lo >= 0, hi &- lo < 1 << 20 {
            // A dense lookup table over the list's span: one load per row, no hashing.
            var table = Bitset(count: Int(hi - lo) + 1)
            for v in values { table.set(Int(Int64(v) - lo)) }
            table.withUnsafeWords { words in
                fill(view, rowCount: rowCount, into: &bits) { v in
                    let d = Int64(v) &- lo
                    return d >= 0 && d <= hi - lo && (words[Int(d) >> 6] >> UInt64(d & 63)) & 1 == 1
                }
            }
            return bits
        }
        let sorted = Array(Set(values)).sorted()
        sorted.withUnsafeBufferPointer { keys in
            fill(view, rowCount: rowCount, into: &bits) { v in
                var a = 0, b = keys.count
                while a < b {
                    let m = (a + b) >> 1
                    if keys[m] < v { a = m + 1 } else { b = m }
                }
                return a < keys.count && keys[a] == v
            }
        }
        return bits
    }

    // MARK: - Arithmetic

    /// Rows where `(value op operand) cmp target` holds, for an integer column and integer
    /// constants, in wrapping Int64 arithmetic (division or modulo by zero: false).
    static func intArithmetic<T: FixedWidthInteger & SignedInteger>(
        _ view: ChunkedView<T>, _ op: FilterArithmeticOp, _ operand: Int64, _ cmp: FilterCompareOp, _ target: Int64, rowCount: Int
    ) -> Bitset {
        var bits = Bitset(count: rowCount)
        @inline(__always) func run(_ f: (Int64) -> Int64?) {
            fill(view, rowCount: rowCount, into: &bits) { v in
                guard let r = f(Int64(v)) else { return false }
                return FilterSemantics.apply(cmp, r, target)
            }
        }
        switch op {
        case .add: run { $0 &+ operand }
        case .subtract: run { $0 &- operand }
        case .multiply: run { $0 &* operand }
        case .divide: if operand != 0 { run { $0.dividedReportingOverflow(by: operand).partialValue } }
        case .modulo: if operand != 0 { run { $0.remainderReportingOverflow(dividingBy: operand).partialValue } }
        case .power: break
        }
        return bits
    }

    // MARK: - Floating point

    /// The numbers among `items` that a double can equal exactly (an integer literal that
    /// rounds when converted equals no double).
    static func exactDoubles(_ items: [JSONValue]) -> Set<Double> {
        var out = Set<Double>()
        for item in items {
            switch item {
            case .double(let d): out.insert(d)
            case .int(let i): if let d = Double(exactly: i) { out.insert(d) }
            default: break
            }
        }
        return out
    }

    /// The closed double interval a bound pair selects among doubles; nil when a bound is not a number.
    static func doubleInterval(_ lower: FilterBound?, _ upper: FilterBound?) -> (Double, Double)? {
        var lo = -Double.infinity, hi = Double.infinity
        if let lower {
            switch lower.value {
            case .double(let d): lo = lower.inclusive ? d : d.nextUp
            case .int(let i):
                let d = Double(i)
                let c = FilterSemantics.compareExactly(i, d)!  // sign of i - d
                lo = lower.inclusive ? (c <= 0 ? d : d.nextUp) : (c < 0 ? d : d.nextUp)
            default: return nil
            }
        }
        if let upper {
            switch upper.value {
            case .double(let d): hi = upper.inclusive ? d : d.nextDown
            case .int(let i):
                let d = Double(i)
                let c = FilterSemantics.compareExactly(i, d)!
                hi = upper.inclusive ? (c >= 0 ? d : d.nextDown) : (c > 0 ? d : d.nextDown)
            default: return nil
            }
        }
        if lo.isNaN || hi.isNaN { return nil }
        return (lo, hi)
    }

    // MARK: - Strings

    static func like(_ view: ChunkedView<String>, _ pattern: FilterLikePattern, rowCount: Int, into bits: inout Bitset) {
        switch pattern.shape {
        case .exact(let t):
            fill(view, rowCount: rowCount, into: &bits) { $0.utf8.elementsEqual(t.utf8) }
        case .prefix(let t):
            fill(view, rowCount: rowCount, into: &bits) { $0.utf8.starts(with: t.utf8) }
        default:
            fill(view, rowCount: rowCount, into: &bits) { pattern.matches($0) }
        }
    }
}
