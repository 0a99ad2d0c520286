import OspreyCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The value rules of the filter language, shared by constant folding and evaluation.
///
/// Numbers compare across integer and floating types (two integers exactly, otherwise as
/// doubles); strings compare by Unicode order; booleans only for (in)equality; arrays by
/// their elements for (in)equality. Any other pairing is "not comparable", and the
/// condition is false.
///
/// Thread safety: stateless.
package enum FilterSemantics {
    /// `a op b`, or nil when the values are not comparable.
    @inlinable
    package static func compare(_ a: JSONValue, _ op: FilterCompareOp, _ b: JSONValue) -> Bool? {
        switch (a, b) {
        case let (.int(x), .int(y)): return apply(op, x, y)
        case let (.string(x), .string(y)): return apply(op, x, y)
        case let (.bool(x), .bool(y)):
            switch op {
            case .eq: return x == y
            case .ne: return x != y
            default: return nil
            }
        case (.array, .array):
            switch op {
            case .eq: return equal(a, b)
            case .ne: return !equal(a, b)
            default: return nil
            }
        case let (.int(x), .double(y)):
            guard let c = compareExactly(x, y) else { return nil }
            return apply(op, c, 0)
        case let (.double(x), .int(y)):
            guard let c = compareExactly(y, x) else { return nil }
            return apply(op, 0, c)
        case let (.double(x), .double(y)):
            if x.isNaN || y.isNaN { return nil }
            return apply(op, x, y)
        default:
            return nil
        }
    }

    /// The sign of `i - d` (-1, 0, 1), exactly, without rounding `i` to a double; nil for NaN.
    @inlinable
    package static func compareExactly(_ i: Int64, _ d: Double) -> Int? {
        if d.isNaN { return nil }
        if d >= 9.223372036854775808e18 { return -1 }
        if d < -9.223372036854775808e18 { return 1 }
        let t = d.rounded(.towardZero)
        let ti = Int64(t)
        if i != ti { return i < ti ? -1 : 1 }
        let frac = d - t
        return frac > 0 ? -1 : (frac < 0 ? 1 : 0)
    }

    @inlinable
    package static func apply<T: Comparable>(_ op: FilterCompareOp, _ x: T, _ y: T) -> Bool {
        switch op {
        case .eq: return x == y
        case .ne: return x != y
        case .lt: return x < y
        case .le: return x <= y
        case .gt: return x > y
        case .ge: return x >= y
        }
    }

    /// Equality as `in` and `*_contains*` use it: numbers across types, arrays and objects deeply.
    package static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.int(x), .int(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        case let (.array(x), .array(y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case let (.object(x), .object(y)):
            return x.count == y.count && x.allSatisfy { k, v in y[k].map { equal(v, $0) } ?? false }
        case let (.int(x), .double(y)), let (.double(y), .int(x)):
            return compareExactly(x, y) == 0
        case let (.double(x), .double(y)):
            return x == y
        default:
            return false
        }
    }

    /// `a op b` for numbers: integers stay integers (wrapping on overflow, `/` truncating)
    /// except `**`, which gives a double. Nil for non-numbers and for division by zero.
    package static func arithmetic(_ op: FilterArithmeticOp, _ a: JSONValue, _ b: JSONValue) -> JSONValue? {
        if case .int(let x) = a, case .int(let y) = b, op != .power {
            switch op {
            case .add: return .int(x &+ y)
            case .subtract: return .int(x &- y)
            case .multiply: return .int(x &* y)
            case .divide:
                if y == 0 { return nil }
                return .int(x.dividedReportingOverflow(by: y).partialValue)
            case .modulo:
                if y == 0 { return nil }
                return .int(x.remainderReportingOverflow(dividingBy: y).partialValue)
            case .power: return nil
            }
        }
        guard let x = a.numberValue, let y = b.numberValue else { return nil }
        switch op {
        case .add: return .double(x + y)
        case .subtract: return .double(x - y)
        case .multiply: return .double(x * y)
        case .divide: return y == 0 ? nil : .double(x / y)
        case .modulo: return y == 0 ? nil : .double(x.truncatingRemainder(dividingBy: y))
        case .power: return .double(power(x, y))
        }
    }

    /// `-a` for numbers (wrapping for Int64.min).
    package static func negate(_ a: JSONValue) -> JSONValue? {
        switch a {
        case .int(let x): return .int(0 &- x)
        case .double(let d): return .double(-d)
        default: return nil
        }
    }

    /// x raised to y (the C library's `pow`).
    package static func power(_ x: Double, _ y: Double) -> Double { pow(x, y) }

    /// A column value as a literal (FLOAT widens to a double; arrays element-wise).
    package static func literal(_ v: FieldValue) -> JSONValue? {
        switch v {
        case .null: return nil
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .float(let f): return .double(Double(f))
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .json(let j): return j
        case .array(let a): return .array(a.compactMap(literal))
        default: return nil
        }
    }
}
