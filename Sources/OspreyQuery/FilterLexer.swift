// The lexer of Milvus's filter language. Keywords are accepted in the spellings Milvus's
// grammar lists (all lower case or all upper case; booleans also capitalised); see
// docs/filters.md for the token grammar.

/// One token of a filter expression.
///
/// Thread safety: a value type; safe to share.
package struct FilterToken: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        /// An integer literal's magnitude (a leading `-` is an operator).
        case integer(UInt64)
        case float(Double)
        case string(String)
        case identifier(String)
        case boolean(Bool)
        /// `{name}`
        case template(String)
        case and, or, not, `in`, like, exists
        /// `is null` (negated: `is not null`)
        case isNull(negated: Bool)
        case plus, minus, star, slash, percent, power
        case eq, ne, lt, le, gt, ge
        case lparen, rparen, lbracket, rbracket, comma
        case end
    }

    package var kind: Kind
    /// Offset of the token's first scalar in the expression.
    package var offset: Int
}

/// Splits a filter expression into tokens.
///
/// Thread safety: a value type used by one parse at a time.
package struct FilterLexer {
    let text: [Unicode.Scalar]
    var pos = 0

    package init(_ expression: String) {
        self.text = Array(expression.unicodeScalars)
    }

    /// All tokens, ending with `.end`.
    package mutating func tokenize() throws(FilterError) -> [FilterToken] {
        var out: [FilterToken] = []
        while true {
            let t = try next()
            out.append(t)
            if t.kind == .end { return out }
        }
    }

    func peek(_ k: Int = 0) -> Unicode.Scalar? { pos + k < text.count ? text[pos + k] : nil }

    static func isIdentStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }
    static func isIdentPart(_ c: Unicode.Scalar) -> Bool { isIdentStart(c) || isDigit(c) }
    static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
    static func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" }

    mutating func skipSpace() { while let c = peek(), Self.isSpace(c) { pos += 1 } }

    mutating func next() throws(FilterError) -> FilterToken {
        skipSpace()
        let start = pos
        guard let c = peek() else { return FilterToken(kind: .end, offset: start) }
        func tok(_ k: FilterToken.Kind, _ n: Int) -> FilterToken { pos += n; return FilterToken(kind: k, offset: start) }
        switch c {
        case "(": return tok(.lparen, 1)
        case ")": return tok(.rparen, 1)
        case "[": return tok(.lbracket, 1)
        case "]": return tok(.rbracket, 1)
        case ",": return tok(.comma, 1)
        case "+": return tok(.plus, 1)
        case "-": return tok(.minus, 1)
        case "/": return tok(.slash, 1)
        case "%": return tok(.percent, 1)
        case "*": return peek(1) == "*" ? tok(.power, 2) : tok(.star, 1)
        case "=":
            if peek(1) == "=" { return tok(.eq, 2) }
            if peek(1) == "~" { throw FilterError(.unsupported, at: start, "regular-expression matching ('=~') is not supported") }
            throw FilterError(.syntax, at: start, "'=' is not an operator; use '==' to compare")
        case "!":
            if peek(1) == "=" { return tok(.ne, 2) }
            if peek(1) == "~" { throw FilterError(.unsupported, at: start, "regular-expression matching ('!~') is not supported") }
            return tok(.not, 1)
        case "<":
            if peek(1) == "=" { return tok(.le, 2) }
            if peek(1) == "<" { throw FilterError(.unsupported, at: start, "bit shifts ('<<') are not supported") }
            return tok(.lt, 1)
        case ">":
            if peek(1) == "=" { return tok(.ge, 2) }
            if peek(1) == ">" { throw FilterError(.unsupported, at: start, "bit shifts ('>>') are not supported") }
            return tok(.gt, 1)
        case "&":
            if peek(1) == "&" { return tok(.and, 2) }
            throw FilterError(.unsupported, at: start, "bitwise '&' is not supported; use '&&' or 'and' for logical and")
        case "|":
            if peek(1) == "|" { return tok(.or, 2) }
            throw FilterError(.unsupported, at: start, "bitwise '|' is not supported; use '||' or 'or' for logical or")
        case "^", "~":
            throw FilterError(.unsupported, at: start, "bitwise '\(c)' is not supported")
        case "\"", "'":
            return FilterToken(kind: .string(try stringLiteral(raw: false)), offset: start)
        case "{":
            pos += 1
            skipSpace()
            let nameStart = pos
            guard let f = peek(), Self.isIdentStart(f) else {
                throw FilterError(.syntax, at: pos, "expected a template parameter name after '{'")
            }
            while let d = peek(), Self.isIdentPart(d) { pos += 1 }
            let name = String(String.UnicodeScalarView(text[nameStart..<pos]))
            skipSpace()
            guard peek() == "}" else { throw FilterError(.syntax, at: pos, "expected '}' to close the template parameter '{\(name)'") }
            pos += 1
            return FilterToken(kind: .template(name), offset: start)
        case "$":
            let word: [Unicode.Scalar] = ["$", "m", "e", "t", "a"]
            if pos + 5 <= text.count, Array(text[pos..<pos + 5]) == word, !(peek(5).map(Self.isIdentPart) ?? false) {
                return tok(.identifier("$meta"), 5)
            }
            throw FilterError(.unexpectedCharacter, at: start, "unexpected character '$' (only '$meta' starts with it)")
        case ".":
            if let d = peek(1), Self.isDigit(d) { return try number() }
            throw FilterError(.unexpectedCharacter, at: start, "unexpected character '.'")
        default:
            if Self.isDigit(c) { return try number() }
            if Self.isIdentStart(c) { return try word() }
            throw FilterError(.unexpectedCharacter, at: start, "unexpected character '\(c.escaped(asASCII: true))'")
        }
    }

    // MARK: - Words

    mutating func readIdentifier() -> String {
        let s = pos
        while let d = peek(), Self.isIdentPart(d) { pos += 1 }
        return String(String.UnicodeScalarView(text[s..<pos]))
    }

    /// Whether `w` is `lower` in all lower case or all upper case, as Milvus's keywords are.
    static func isKeyword(_ w: String, _ lower: String) -> Bool { w == lower || w == lower.uppercased() }

    mutating func word() throws(FilterError) -> FilterToken {
        let start = pos
        let w = readIdentifier()
        // String prefixes: r"raw", and the C encoding prefixes Milvus's grammar accepts.
        if let q = peek(), q == "\"" || q == "'" {
            if w == "r" || w == "R" { return FilterToken(kind: .string(try stringLiteral(raw: true)), offset: start) }
            if w == "u8" || w == "u" || w == "U" || w == "L" { return FilterToken(kind: .string(try stringLiteral(raw: false)), offset: start) }
        }
        let kind: FilterToken.Kind
        switch w {
        case "true", "True", "TRUE": kind = .boolean(true)
        case "false", "False", "FALSE": kind = .boolean(false)
        case _ where Self.isKeyword(w, "and"): kind = .and
        case _ where Self.isKeyword(w, "or"): kind = .or
        case _ where Self.isKeyword(w, "not"): kind = .not
        case _ where Self.isKeyword(w, "in"): kind = .in
        case _ where Self.isKeyword(w, "like"): kind = .like
        case _ where Self.isKeyword(w, "exists"): kind = .exists
        case _ where Self.isKeyword(w, "is"):
            // `is null` / `is not null`
            let save = pos
            skipSpace()
            var negated = false
            var next = readIdentifier()
            if Self.isKeyword(next, "not") {
                negated = true
                skipSpace()
                next = readIdentifier()
            }
            if Self.isKeyword(next, "null") {
                kind = .isNull(negated: negated)
            } else {
                // Not `is null`: a field that happens to be called `is`.
                pos = save
                kind = .identifier(w)
            }
        default: kind = .identifier(w)
        }
        return FilterToken(kind: kind, offset: start)
    }

    // MARK: - Numbers

    mutating func number() throws(FilterError) -> FilterToken {
        let start = pos
        func digits(_ ok: (Unicode.Scalar) -> Bool) -> String {
            let s = pos
            while let d = peek(), ok(d) { pos += 1 }
            return String(String.UnicodeScalarView(text[s..<pos]))
        }
        let isHex: (Unicode.Scalar) -> Bool = { Self.isDigit($0) || ($0 >= "a" && $0 <= "f") || ($0 >= "A" && $0 <= "F") }
        if peek() == "0", let x = peek(1), x == "x" || x == "X" {
            pos += 2
            let h = digits(isHex)
            if peek() == "." || peek() == "p" || peek() == "P" {
                // Hexadecimal floating constant: 0x1.8p3
                var s = "0x" + h
                if peek() == "." { pos += 1; s += "." + digits(isHex) }
                guard let p = peek(), p == "p" || p == "P" else { throw FilterError(.invalidLiteral, at: start, "a hexadecimal float needs a 'p' exponent") }
                pos += 1
                s += "p"
                if let sign = peek(), sign == "+" || sign == "-" { pos += 1; s.unicodeScalars.append(sign) }
                s += digits(Self.isDigit)
                guard let d = Double(s) else { throw FilterError(.invalidLiteral, at: start, "invalid hexadecimal float '\(s)'") }
                return try finishNumber(.float(d), start)
            }
            guard !h.isEmpty, let v = UInt64(h, radix: 16) else { throw FilterError(.invalidLiteral, at: start, "invalid or too large hexadecimal integer") }
            return try finishNumber(.integer(v), start)
        }
        if peek() == "0", let b = peek(1), b == "b" || b == "B" {
            pos += 2
            let bits = digits { $0 == "0" || $0 == "1" }
            guard !bits.isEmpty, let v = UInt64(bits, radix: 2) else { throw FilterError(.invalidLiteral, at: start, "invalid or too large binary integer") }
            return try finishNumber(.integer(v), start)
        }
        var s = digits(Self.isDigit)
        var isFloat = false
        if peek() == "." {
            isFloat = true
            pos += 1
            s += "." + digits(Self.isDigit)
        }
        if let e = peek(), e == "e" || e == "E" {
            let save = pos
            pos += 1
            var exp = "e"
            if let sign = peek(), sign == "+" || sign == "-" { pos += 1; exp.unicodeScalars.append(sign) }
            let ds = digits(Self.isDigit)
            if ds.isEmpty { pos = save } else { isFloat = true; s += exp + ds }
        }
        if isFloat {
            guard let d = Double(s), d.isFinite else { throw FilterError(.invalidLiteral, at: start, "invalid floating-point number '\(s)'") }
            return try finishNumber(.float(d), start)
        }
        if s.count > 1, s.hasPrefix("0") {
            // Octal, as in C and Milvus's grammar.
            guard let v = UInt64(s.dropFirst(), radix: 8) else { throw FilterError(.invalidLiteral, at: start, "invalid or too large octal integer '\(s)'") }
            return try finishNumber(.integer(v), start)
        }
        guard let v = UInt64(s) else { throw FilterError(.invalidLiteral, at: start, "integer '\(s)' is out of the 64-bit range") }
        return try finishNumber(.integer(v), start)
    }

    func finishNumber(_ k: FilterToken.Kind, _ start: Int) throws(FilterError) -> FilterToken {
        if let c = peek(), Self.isIdentPart(c) {
            throw FilterError(.invalidLiteral, at: pos, "unexpected '\(c)' right after a number")
        }
        return FilterToken(kind: k, offset: start)
    }

    // MARK: - Strings

    /// A quoted string at `pos`. Escapes (not in raw strings): \' \" \? \\ \a \b \f \n \r \t \v,
    /// octal \o \oo \ooo, hexadecimal \xHH…, \uXXXX and \UXXXXXXXX. A backslash before any
    /// other character is kept with it (so `like` patterns can say `\%` and `\_`).
    mutating func stringLiteral(raw: Bool) throws(FilterError) -> String {
        let start = pos
        let quote = text[pos]
        pos += 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek(), c != "\n", c != "\r" else {
                throw FilterError(.unterminatedString, at: start, "unterminated string: the \(quote == "'" ? "single" : "double") quote opened here is never closed")
            }
            pos += 1
            if c == quote { return String(out) }
            guard c == "\\" else { out.append(c); continue }
            guard let e = peek(), e != "\n", e != "\r" else {
                throw FilterError(.unterminatedString, at: start, "unterminated string: it ends in a backslash")
            }
            if raw {
                out.append(c); out.append(e); pos += 1
                continue
            }
            let escapeStart = pos - 1
            pos += 1
            switch e {
            case "'", "\"", "?", "\\": out.append(e)
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var v = UInt32(e.value - 48)
                var n = 1
                while n < 3, let d = peek(), d >= "0", d <= "7" { v = v * 8 + (d.value - 48); pos += 1; n += 1 }
                out.append(Unicode.Scalar(UInt8(truncatingIfNeeded: v)))
            case "x", "u", "U":
                let maxDigits = e == "x" ? 8 : (e == "u" ? 4 : 8)
                var v: UInt32 = 0
                var n = 0
                while n < maxDigits, let d = peek(), let dv = Self.hexValue(d) {
                    v = v &* 16 &+ dv; pos += 1; n += 1
                }
                if n == 0 || (e != "x" && n != maxDigits) {
                    throw FilterError(.invalidLiteral, at: escapeStart, "invalid escape '\\\(e)': expected \(e == "x" ? "hexadecimal digits" : "\(maxDigits) hexadecimal digits")")
                }
                guard let u = Unicode.Scalar(v) else {
                    throw FilterError(.invalidLiteral, at: escapeStart, "escape '\\\(e)' names no Unicode scalar")
                }
                out.append(u)
            default:
                out.append(c); out.append(e)
            }
        }
    }

    static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 48
        case "a"..."f": return c.value - 87
        case "A"..."F": return c.value - 55
        default: return nil
        }
    }
}
