/// A step of a path into a JSON value or an ARRAY field: `["key"]` or `[0]`.
///
/// Thread safety: a value type; safe to share.
package enum FilterPathStep: Sendable, Hashable, CustomStringConvertible {
    case key(String)
    case index(Int)

    package var description: String {
        switch self {
        case .key(let k): return "[\"\(k)\"]"
        case .index(let i): return "[\(i)]"
        }
    }
}

/// A comparison operator.
///
/// Thread safety: a value type; safe to share.
package enum FilterCompareOp: String, Sendable, Hashable {
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="

    /// The operator with its operands swapped (`a < b` ⇔ `b > a`).
    package var swapped: FilterCompareOp {
        switch self {
        case .eq, .ne: return self
        case .lt: return .gt
        case .le: return .ge
        case .gt: return .lt
        case .ge: return .le
        }
    }
}

/// An arithmetic operator.
///
/// Thread safety: a value type; safe to share.
package enum FilterArithmeticOp: String, Sendable, Hashable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", modulo = "%", power = "**"
}

/// The `*_contains*` function family.
///
/// Thread safety: a value type; safe to share.
package enum FilterContainsMode: String, Sendable, Hashable {
    /// `json_contains` / `array_contains`: the array has the element.
    case contains
    /// `*_contains_all`: the array has every listed element.
    case all
    /// `*_contains_any`: the array has at least one listed element.
    case any
}

/// A node of a parsed (not yet type-checked) filter expression.
///
/// `offset` is where the node starts in the expression, in Unicode scalars.
///
/// Thread safety: a value type; safe to share.
package struct FilterNode: Sendable, Hashable {
    package indirect enum Kind: Sendable, Hashable {
        case integer(Int64)
        case float(Double)
        case string(String)
        case boolean(Bool)
        case list([FilterNode])
        /// `{name}`, filled from the template values at type check.
        case template(String)
        /// A name with an optional path: `age`, `meta["a"][0]`, `tags[1]`, `$meta["k"]`.
        case field(name: String, path: [FilterPathStep])
        case negate(FilterNode)
        case arithmetic(FilterArithmeticOp, FilterNode, FilterNode)
        case compare(FilterCompareOp, FilterNode, FilterNode)
        /// `lower op1 value op2 upper`, both operators pointing the same way.
        case range(lower: FilterNode, FilterCompareOp, value: FilterNode, FilterCompareOp, upper: FilterNode)
        case inList(FilterNode, FilterNode, negated: Bool)
        case like(FilterNode, FilterNode)
        case isNull(FilterNode, negated: Bool)
        case exists(FilterNode)
        case call(name: String, arguments: [FilterNode])
        case not(FilterNode)
        case and([FilterNode])
        case or([FilterNode])
    }

    package var kind: Kind
    package var offset: Int
    /// Nesting depth of the subtree (a leaf is 1).
    package var depth: Int

    package init(_ kind: Kind, at offset: Int, depth: Int = 1) {
        self.kind = kind
        self.offset = offset
        self.depth = depth
    }
}
