/// A compiled `like` pattern: `%` matches any run of characters (also none), `_` exactly
/// one, and a backslash makes the next character literal (`\%`, `\_`, `\\`).
///
/// Matching works on Unicode scalars. Patterns of common shapes (no wildcard, one trailing
/// `%`, one leading `%`, `%…%`) are recognised so evaluation can use a direct test.
///
/// Thread safety: a value type; safe to share.
package struct FilterLikePattern: Sendable, Hashable, CustomStringConvertible {
    /// One element of a pattern.
    package enum Piece: Sendable, Hashable {
        case scalar(Unicode.Scalar)
        case one
        case many
    }

    /// The shape of a pattern, for fast paths.
    package enum Shape: Sendable, Hashable {
        case exact(String)
        case prefix(String)
        case suffix(String)
        case contains(String)
        case general
    }

    package let source: String
    package let pieces: [Piece]
    package let shape: Shape

    package init(_ pattern: String) {
        self.source = pattern
        var pieces: [Piece] = []
        var escaped = false
        for u in pattern.unicodeScalars {
            if escaped {
                pieces.append(.scalar(u))
                escaped = false
            } else if u == "\\" {
                escaped = true
            } else if u == "%" {
                if pieces.last != .many { pieces.append(.many) }
            } else if u == "_" {
                pieces.append(.one)
            } else {
                pieces.append(.scalar(u))
            }
        }
        if escaped { pieces.append(.scalar("\\")) }
        self.pieces = pieces
        self.shape = Self.classify(pieces)
    }

    static func classify(_ pieces: [Piece]) -> Shape {
        func text(_ ps: ArraySlice<Piece>) -> String? {
            var s = String.UnicodeScalarView()
            for p in ps {
                guard case .scalar(let u) = p else { return nil }
                s.append(u)
            }
            return String(s)
        }
        if let t = text(pieces[...]) { return .exact(t) }
        let n = pieces.count
        if pieces.last == .many, let t = text(pieces[0..<n - 1]) { return .prefix(t) }
        if pieces.first == .many, let t = text(pieces[1...]) { return .suffix(t) }
        if n >= 2, pieces.first == .many, pieces.last == .many, let t = text(pieces[1..<n - 1]) { return .contains(t) }
        return .general
    }

    /// Whether `s` matches the pattern.
    package func matches(_ s: String) -> Bool {
        switch shape {
        case .exact(let t): return s.utf8.elementsEqual(t.utf8)
        case .prefix(let t): return s.utf8.starts(with: t.utf8)
        case .suffix(let t): return s.utf8.reversed().starts(with: t.utf8.reversed())
        case .contains(let t): return Self.utf8Contains(s, t)
        case .general: return matchGeneral(Array(s.unicodeScalars))
        }
    }

    static func utf8Contains(_ s: String, _ t: String) -> Bool {
        if t.isEmpty { return true }
        let hay = Array(s.utf8), needle = Array(t.utf8)
        guard needle.count <= hay.count else { return false }
        let first = needle[0]
        var i = 0
        let last = hay.count - needle.count
        while i <= last {
            if hay[i] == first {
                var j = 1
                while j < needle.count, hay[i + j] == needle[j] { j += 1 }
                if j == needle.count { return true }
            }
            i += 1
        }
        return false
    }

    /// Wildcard matching with backtracking to the last `%` only: O(n·m) at worst.
    func matchGeneral(_ s: [Unicode.Scalar]) -> Bool {
        var si = 0, pi = 0
        var starPi = -1, starSi = 0
        while si < s.count {
            if pi < pieces.count {
                switch pieces[pi] {
                case .many:
                    starPi = pi; starSi = si; pi += 1
                    continue
                case .one:
                    si += 1; pi += 1
                    continue
                case .scalar(let u) where u == s[si]:
                    si += 1; pi += 1
                    continue
                default: break
                }
            }
            guard starPi >= 0 else { return false }
            starSi += 1
            si = starSi
            pi = starPi + 1
        }
        while pi < pieces.count, pieces[pi] == .many { pi += 1 }
        return pi == pieces.count
    }

    package var description: String { source }
}
