// A recursive-descent parser for Milvus's filter language. Precedence, loosest first:
// or, and, not, comparison / range / in / like / is null, + -, * / %, unary - +, **.
// The grammar in EBNF is in docs/filters.md.

/// Parses filter expression text into a `FilterNode` tree.
///
/// Thread safety: a value type used by one parse at a time; `parse` is a pure function.
package struct FilterParser {
    var tokens: [FilterToken]
    var index = 0
    var recursion = 0
    let length: Int

    /// Parses `expression`; an empty (or all-space) expression gives nil, meaning "every row".
    ///
    /// - Throws: `FilterError` naming the offset and what is wrong.
    package static func parse(_ expression: String) throws(FilterError) -> FilterNode? {
        guard expression.utf8.count <= FilterLimits.maxLength else {
            throw FilterError(.tooComplex, at: 0, "the expression is longer than \(FilterLimits.maxLength) bytes")
        }
        var lexer = FilterLexer(expression)
        var p = FilterParser(tokens: try lexer.tokenize(), length: lexer.text.count)
        if p.current.kind == .end { return nil }
        let node = try p.expression()
        switch p.current.kind {
        case .end: return node
        case .rparen: throw FilterError(.unbalancedParentheses, at: p.current.offset, "unbalanced parentheses: this ')' has no matching '('")
        case .rbracket: throw FilterError(.unbalancedParentheses, at: p.current.offset, "unbalanced brackets: this ']' has no matching '['")
        default: throw FilterError(.syntax, at: p.current.offset, "unexpected \(p.describe(p.current)) after a complete expression")
        }
    }

    init(tokens: [FilterToken], length: Int) {
        self.tokens = tokens
        self.length = length
    }

    var current: FilterToken { tokens[index] }
    mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    func describe(_ t: FilterToken) -> String {
        switch t.kind {
        case .integer(let v): return "number \(v)"
        case .float(let v): return "number \(v)"
        case .string(let s): return "string \"\(s.prefix(40))\""
        case .identifier(let s): return "name '\(s)'"
        case .boolean(let b): return "'\(b)'"
        case .template(let n): return "template parameter '{\(n)}'"
        case .and: return "'and'"
        case .or: return "'or'"
        case .not: return "'not'"
        case .in: return "'in'"
        case .like: return "'like'"
        case .exists: return "'exists'"
        case .isNull(let n): return n ? "'is not null'" : "'is null'"
        case .plus: return "'+'"
        case .minus: return "'-'"
        case .star: return "'*'"
        case .slash: return "'/'"
        case .percent: return "'%'"
        case .power: return "'**'"
        case .eq: return "'=='"
        case .ne: return "'!='"
        case .lt: return "'<'"
        case .le: return "'<='"
        case .gt: return "'>'"
        case .ge: return "'>='"
        case .lparen: return "'('"
        case .rparen: return "')'"
        case .lbracket: return "'['"
        case .rbracket: return "']'"
        case .comma: return "','"
        case .end: return "the end of the expression"
        }
    }

    func make(_ kind: FilterNode.Kind, at offset: Int, children: [FilterNode]) throws(FilterError) -> FilterNode {
        let depth = 1 + (children.map(\.depth).max() ?? 0)
        guard depth <= FilterLimits.maxDepth else {
            throw FilterError(.tooComplex, at: offset, "the expression nests deeper than \(FilterLimits.maxDepth) levels")
        }
        return FilterNode(kind, at: offset, depth: depth)
    }

    mutating func enter() throws(FilterError) {
        recursion += 1
        if recursion > FilterLimits.maxDepth {
            throw FilterError(.tooComplex, at: current.offset, "the expression nests deeper than \(FilterLimits.maxDepth) levels")
        }
    }

    // MARK: - Logical

    mutating func expression() throws(FilterError) -> FilterNode {
        try enter()
        defer { recursion -= 1 }
        return try orExpression()
    }

    mutating func orExpression() throws(FilterError) -> FilterNode {
        let first = try andExpression()
        guard current.kind == .or else { return first }
        var terms = [first]
        while current.kind == .or {
            advance()
            let t = try andExpression()
            if case .or(let inner) = t.kind { terms += inner } else { terms.append(t) }
        }
        if case .or(let inner) = first.kind { terms = inner + terms.dropFirst() }
        return try make(.or(terms), at: first.offset, children: terms)
    }

    mutating func andExpression() throws(FilterError) -> FilterNode {
        let first = try notExpression()
        guard current.kind == .and else { return first }
        var terms = [first]
        while current.kind == .and {
            advance()
            let t = try notExpression()
            if case .and(let inner) = t.kind { terms += inner } else { terms.append(t) }
        }
        if case .and(let inner) = first.kind { terms = inner + terms.dropFirst() }
        return try make(.and(terms), at: first.offset, children: terms)
    }

    mutating func notExpression() throws(FilterError) -> FilterNode {
        guard current.kind == .not else { return try predicate() }
        let start = current.offset
        advance()
        try enter()
        defer { recursion -= 1 }
        let operand = try notExpression()
        return try make(.not(operand), at: start, children: [operand])
    }

    // MARK: - Predicates

    static func compareOp(_ k: FilterToken.Kind) -> FilterCompareOp? {
        switch k {
        case .eq: return .eq
        case .ne: return .ne
        case .lt: return .lt
        case .le: return .le
        case .gt: return .gt
        case .ge: return .ge
        default: return nil
        }
    }

    mutating func predicate() throws(FilterError) -> FilterNode {
        let left = try additive()
        let start = left.offset
        switch current.kind {
        case .isNull(let negated):
            advance()
            return try make(.isNull(left, negated: negated), at: start, children: [left])
        case .like:
            advance()
            let pattern = try additive()
            return try make(.like(left, pattern), at: start, children: [left, pattern])
        case .in:
            advance()
            let list = try additive()
            return try make(.inList(left, list, negated: false), at: start, children: [left, list])
        case .not:
            // `x not in [...]`
            let notOffset = current.offset
            advance()
            guard current.kind == .in else {
                throw FilterError(.syntax, at: notOffset, "expected 'in' after 'not' here ('not' negates a whole condition: write 'not (…)')")
            }
            advance()
            let list = try additive()
            return try make(.inList(left, list, negated: true), at: start, children: [left, list])
        default:
            break
        }
        guard let op1 = Self.compareOp(current.kind) else { return left }
        let op1Offset = current.offset
        advance()
        let middle = try additive()
        guard let op2 = Self.compareOp(current.kind) else {
            return try make(.compare(op1, left, middle), at: start, children: [left, middle])
        }
        let op2Offset = current.offset
        advance()
        let right = try additive()
        let ascending: Set<FilterCompareOp> = [.lt, .le]
        let descending: Set<FilterCompareOp> = [.gt, .ge]
        guard (ascending.contains(op1) && ascending.contains(op2)) || (descending.contains(op1) && descending.contains(op2)) else {
            let at = (op1 == .eq || op1 == .ne) ? op1Offset : op2Offset
            throw FilterError(.syntax, at: at, "comparisons chain only as a range with both operators pointing the same way (a < x <= b or a > x >= b), not '\(op1.rawValue)' then '\(op2.rawValue)'")
        }
        if Self.compareOp(current.kind) != nil {
            throw FilterError(.syntax, at: current.offset, "a range has two comparison operators, not more")
        }
        return try make(.range(lower: left, op1, value: middle, op2, upper: right), at: start, children: [left, middle, right])
    }

    // MARK: - Arithmetic

    mutating func additive() throws(FilterError) -> FilterNode {
        var left = try multiplicative()
        while true {
            let op: FilterArithmeticOp
            switch current.kind {
            case .plus: op = .add
            case .minus: op = .subtract
            default: return left
            }
            advance()
            let right = try multiplicative()
            left = try make(.arithmetic(op, left, right), at: left.offset, children: [left, right])
        }
    }

    mutating func multiplicative() throws(FilterError) -> FilterNode {
        var left = try unary()
        while true {
            let op: FilterArithmeticOp
            switch current.kind {
            case .star: op = .multiply
            case .slash: op = .divide
            case .percent: op = .modulo
            default: return left
            }
            advance()
            let right = try unary()
            left = try make(.arithmetic(op, left, right), at: left.offset, children: [left, right])
        }
    }

    mutating func unary() throws(FilterError) -> FilterNode {
        let start = current.offset
        switch current.kind {
        case .minus:
            advance()
            try enter()
            defer { recursion -= 1 }
            // A negative integer literal, so that -9223372036854775808 is representable.
            if case .integer(let magnitude) = current.kind, !isFollowedByPower {
                advance()
                guard magnitude <= UInt64(Int64.max) + 1 else {
                    throw FilterError(.invalidLiteral, at: start, "integer -\(magnitude) is out of the 64-bit range")
                }
                return FilterNode(.integer(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)), at: start)
            }
            let operand = try unary()
            return try make(.negate(operand), at: start, children: [operand])
        case .plus:
            advance()
            try enter()
            defer { recursion -= 1 }
            return try unary()
        default:
            return try power()
        }
    }

    var isFollowedByPower: Bool { index + 1 < tokens.count && tokens[index + 1].kind == .power }

    mutating func power() throws(FilterError) -> FilterNode {
        let base = try primary()
        guard current.kind == .power else { return base }
        advance()
        try enter()
        defer { recursion -= 1 }
        let exponent = try unary()  // right-associative: 2 ** 3 ** 2 = 2 ** 9
        return try make(.arithmetic(.power, base, exponent), at: base.offset, children: [base, exponent])
    }

    // MARK: - Primaries

    mutating func primary() throws(FilterError) -> FilterNode {
        let t = current
        switch t.kind {
        case .integer(let v):
            advance()
            guard v <= UInt64(Int64.max) else {
                throw FilterError(.invalidLiteral, at: t.offset, "integer \(v) is out of the 64-bit range")
            }
            return FilterNode(.integer(Int64(v)), at: t.offset)
        case .float(let d):
            advance()
            return FilterNode(.float(d), at: t.offset)
        case .string(let s):
            advance()
            return FilterNode(.string(s), at: t.offset)
        case .boolean(let b):
            advance()
            return FilterNode(.boolean(b), at: t.offset)
        case .template(let name):
            advance()
            return FilterNode(.template(name), at: t.offset)
        case .lparen:
            advance()
            let inner = try expression()
            guard current.kind == .rparen else {
                if current.kind == .end {
                    throw FilterError(.unbalancedParentheses, at: t.offset, "unbalanced parentheses: the '(' here is never closed")
                }
                throw FilterError(.syntax, at: current.offset, "expected ')' to close the '(' at \(t.offset), found \(describe(current))")
            }
            advance()
            return inner
        case .lbracket:
            return try list()
        case .exists:
            advance()
            try enter()
            defer { recursion -= 1 }
            let operand = try primary()
            return try make(.exists(operand), at: t.offset, children: [operand])
        case .identifier(let name):
            advance()
            if current.kind == .lparen { return try call(name, at: t.offset) }
            var path: [FilterPathStep] = []
            while current.kind == .lbracket {
                let open = current.offset
                advance()
                switch current.kind {
                case .string(let key): path.append(.key(key))
                case .integer(let i) where i <= UInt64(Int.max): path.append(.index(Int(i)))
                case .minus:
                    throw FilterError(.syntax, at: current.offset, "an index into '\(name)' must be a non-negative integer")
                default:
                    throw FilterError(.syntax, at: current.offset, "expected a string key or an integer index inside '[ ]' after '\(name)', found \(describe(current))")
                }
                advance()
                guard current.kind == .rbracket else {
                    if current.kind == .end {
                        throw FilterError(.unbalancedParentheses, at: open, "unbalanced brackets: the '[' here is never closed")
                    }
                    throw FilterError(.syntax, at: current.offset, "expected ']' after the key or index, found \(describe(current))")
                }
                advance()
            }
            guard path.count < FilterLimits.maxDepth else {
                throw FilterError(.tooComplex, at: t.offset, "the path into '\(name)' is longer than \(FilterLimits.maxDepth) steps")
            }
            return FilterNode(.field(name: name, path: path), at: t.offset)
        case .end:
            throw FilterError(.syntax, at: t.offset, "the expression ends where a value or condition was expected")
        case .rparen:
            throw FilterError(.syntax, at: t.offset, "unexpected ')' where a value or condition was expected")
        default:
            throw FilterError(.syntax, at: t.offset, "unexpected \(describe(t)) where a value or condition was expected")
        }
    }

    mutating func list() throws(FilterError) -> FilterNode {
        let open = current.offset
        advance()
        try enter()
        defer { recursion -= 1 }
        var items: [FilterNode] = []
        while current.kind != .rbracket {
            if current.kind == .end {
                throw FilterError(.unbalancedParentheses, at: open, "unbalanced brackets: the '[' here is never closed")
            }
            items.append(try additive())
            if current.kind == .comma {
                advance()
            } else if current.kind != .rbracket {
                if current.kind == .end {
                    throw FilterError(.unbalancedParentheses, at: open, "unbalanced brackets: the '[' here is never closed")
                }
                throw FilterError(.syntax, at: current.offset, "expected ',' or ']' in the list, found \(describe(current))")
            }
        }
        advance()
        return try make(.list(items), at: open, children: items)
    }

    mutating func call(_ name: String, at offset: Int) throws(FilterError) -> FilterNode {
        let open = current.offset
        advance()
        try enter()
        defer { recursion -= 1 }
        var args: [FilterNode] = []
        while current.kind != .rparen {
            if current.kind == .end {
                throw FilterError(.unbalancedParentheses, at: open, "unbalanced parentheses: the '(' of \(name)( is never closed")
            }
            args.append(try expression())
            if current.kind == .comma {
                advance()
            } else if current.kind != .rparen {
                if current.kind == .end {
                    throw FilterError(.unbalancedParentheses, at: open, "unbalanced parentheses: the '(' of \(name)( is never closed")
                }
                throw FilterError(.syntax, at: current.offset, "expected ',' or ')' in the arguments of \(name), found \(describe(current))")
            }
        }
        advance()
        return try make(.call(name: name, arguments: args), at: offset, children: args)
    }
}
