import OspreyCore
import Testing
@testable import OspreyQuery

@Suite("Filter parser")
struct FilterParserTests {
    func parse(_ s: String) throws -> FilterNode {
        try #require(try FilterParser.parse(s))
    }

    func parseError(_ s: String) -> FilterError? {
        do { _ = try FilterParser.parse(s); return nil } catch { return error }
    }

    @Test func emptyExpressionIsEveryRow() throws {
        #expect(try FilterParser.parse("") == nil)
        #expect(try FilterParser.parse("   \n\t") == nil)
    }

    @Test(arguments: [
        ("42", FilterNode.Kind.integer(42)), ("0x1F", .integer(31)), ("0b101", .integer(5)), ("017", .integer(15)),
        ("0", .integer(0)), ("1.5", .float(1.5)), ("1e3", .float(1000)), (".5", .float(0.5)), ("2.", .float(2)),
        ("1.5E-2", .float(0.015)), ("0x1.8p1", .float(3)), ("-9223372036854775808", .integer(Int64.min)),
        ("true", .boolean(true)), ("True", .boolean(true)), ("TRUE", .boolean(true)), ("false", .boolean(false)),
        ("False", .boolean(false)), ("FALSE", .boolean(false)),
        ("'it''s'", .string("it")),
    ])
    func literals(_ text: String, _ kind: FilterNode.Kind) throws {
        if text == "'it''s'" {
            // Two adjacent strings are not one literal.
            #expect(parseError(text)?.kind == .syntax)
            return
        }
        #expect(try parse(text).kind == kind)
    }

    @Test func stringEscapes() throws {
        let cases: [(String, String)] = [
            (#""a\"b""#, "a\"b"), (#"'a\'b'"#, "a'b"), (#""tab\tnl\ncr\r""#, "tab\tnl\ncr\r"),
            (#""back\\slash""#, "back\\slash"), (#""\x41\101\u00e9\U0001F600""#, "AAé😀"),
            (#""keep\%and\_""#, "keep\\%and\\_"), (#"r"raw\n""#, "raw\\n"), (#""single ' inside""#, "single ' inside"),
            (#"'double " inside'"#, "double \" inside"), (#""""#, ""), (#""日本""#, "日本"),
            (#""\a\b\f\v\?""#, "\u{07}\u{08}\u{0C}\u{0B}?"),
        ]
        for (text, expected) in cases {
            #expect(try parse(text).kind == .string(expected), "\(text)")
        }
    }

    @Test func fieldsAndPaths() throws {
        #expect(try parse("age").kind == .field(name: "age", path: []))
        #expect(try parse(#"meta["a"]["b"]"#).kind == .field(name: "meta", path: [.key("a"), .key("b")]))
        #expect(try parse(#"meta['list'][0]"#).kind == .field(name: "meta", path: [.key("list"), .index(0)]))
        #expect(try parse("tags[3]").kind == .field(name: "tags", path: [.index(3)]))
        #expect(try parse(#"$meta["k"]"#).kind == .field(name: "$meta", path: [.key("k")]))
        #expect(try parse("_x1").kind == .field(name: "_x1", path: []))
    }

    @Test func comparisonsAndChains() throws {
        for op in FilterCompareOpCases.all {
            let n = try parse("a \(op.rawValue) 3")
            guard case .compare(let got, _, _) = n.kind else { Issue.record("\(op)"); continue }
            #expect(got == op)
        }
        guard case .range(_, .lt, _, .le, _) = try parse("10 < a <= 20").kind else { Issue.record("range"); return }
        guard case .range(_, .ge, _, .gt, _) = try parse("20 >= a > 10").kind else { Issue.record("reverse range"); return }
    }

    @Test func precedence() throws {
        // and binds tighter than or; not tighter than and.
        guard case .or(let terms) = try parse("a or b and c").kind, terms.count == 2, case .and = terms[1].kind else {
            Issue.record("or/and"); return
        }
        guard case .and(let t2) = try parse("not a and b").kind, case .not = t2[0].kind else { Issue.record("not/and"); return }
        // * before +, ** right-associative and before unary minus.
        guard case .compare(.eq, let lhs, _) = try parse("1 + 2 * 3 == 7").kind, case .arithmetic(.add, _, let r) = lhs.kind,
            case .arithmetic(.multiply, _, _) = r.kind
        else { Issue.record("arith"); return }
        guard case .arithmetic(.power, _, let e) = try parse("2 ** 3 ** 2").kind, case .arithmetic(.power, _, _) = e.kind else {
            Issue.record("power"); return
        }
        guard case .negate(let p) = try parse("-a ** 2").kind, case .arithmetic(.power, _, _) = p.kind else {
            Issue.record("neg power"); return
        }
        // Chains of and/or are flat.
        guard case .or(let many) = try parse("a or b or (c or d) || e").kind else { Issue.record("flat"); return }
        #expect(many.count == 5)
    }

    @Test func keywordSpellings() throws {
        for (text, isAnd) in [("a and b", true), ("a AND b", true), ("a && b", true), ("a or b", false), ("a OR b", false), ("a || b", false)] {
            let k = try parse(text).kind
            if isAnd { guard case .and = k else { Issue.record("\(text)"); continue } } else { guard case .or = k else { Issue.record("\(text)"); continue } }
        }
        for text in ["not a", "NOT a", "!a", "! a"] {
            guard case .not = try parse(text).kind else { Issue.record("\(text)"); continue }
        }
        for text in ["a in [1]", "a IN [1]"] {
            guard case .inList(_, _, false) = try parse(text).kind else { Issue.record("\(text)"); continue }
        }
        for text in ["a not in [1]", "a NOT IN [1]", "a NOT in [1]"] {
            guard case .inList(_, _, true) = try parse(text).kind else { Issue.record("\(text)"); continue }
        }
        for text in ["a like 'x%'", "a LIKE 'x%'"] {
            guard case .like = try parse(text).kind else { Issue.record("\(text)"); continue }
        }
        for (text, neg) in [("a is null", false), ("a IS NULL", false), ("a is  not   null", true), ("a IS NOT NULL", true)] {
            guard case .isNull(_, let n) = try parse(text).kind, n == neg else { Issue.record("\(text)"); continue }
        }
        for text in [#"exists m["a"]"#, #"EXISTS m["a"]"#] {
            guard case .exists = try parse(text).kind else { Issue.record("\(text)"); continue }
        }
        // Mixed case is not a keyword in Milvus: `Or` is a name, so this is a syntax error.
        #expect(parseError("a Or b")?.kind == .syntax)
    }

    @Test func listsTemplatesAndCalls() throws {
        guard case .list(let items) = try parse("[1, 'a', 2.5, true, [1], ]").kind else { Issue.record("list"); return }
        #expect(items.count == 5)
        guard case .list(let empty) = try parse("[ ]").kind else { Issue.record("empty"); return }
        #expect(empty.isEmpty)
        #expect(try parse("{ min }").kind == .template("min"))
        guard case .inList(_, let t, false) = try parse("city in {cities}").kind, t.kind == .template("cities") else {
            Issue.record("template list"); return
        }
        guard case .call("json_contains", let args) = try parse(#"json_contains(m["x"], [1, 2])"#).kind else { Issue.record("call"); return }
        #expect(args.count == 2)
        guard case .call("array_length", _) = try parse("array_length(tags) == 2").kind.compareLeft?.kind else {
            Issue.record("array_length"); return
        }
    }

    @Test func offsetsPointAtTheProblem() {
        let cases: [(String, FilterError.Kind, Int)] = [
            ("a > 'abc", .unterminatedString, 4),
            ("(a > 1", .unbalancedParentheses, 0),
            ("a > 1)", .unbalancedParentheses, 5),
            ("((a > 1) and (b < 2)", .unbalancedParentheses, 0),
            ("tags[1", .unbalancedParentheses, 4),
            ("a in [1, 2", .unbalancedParentheses, 5),
            ("a == ", .syntax, 5),
            ("a = 1", .syntax, 2),
            ("a > 1 b", .syntax, 6),
            ("a @ 1", .unexpectedCharacter, 2),
            ("a == 1 < 2", .syntax, 2),
            ("1 < a > 2", .syntax, 6),
            ("1 < a < 2 < 3", .syntax, 10),
            ("a > 99999999999999999999", .invalidLiteral, 4),
            ("a > 0x", .invalidLiteral, 4),
            ("a > 12abc", .invalidLiteral, 6),
            (#"a == "\u12""#, .invalidLiteral, 6),
            ("a & b", .unsupported, 2),
            ("a =~ 'x'", .unsupported, 2),
            ("a !~ 'x'", .unsupported, 2),
            ("a is nul", .syntax, 2),
            ("a is not", .syntax, 2),
            ("{ 1 }", .syntax, 2),
            ("{a", .syntax, 2),
            ("a not like 'x'", .syntax, 2),
            ("m[-1]", .syntax, 2),
            ("m[a]", .syntax, 2),
            ("$x", .unexpectedCharacter, 0),
            ("", .syntax, 0),
            ("and", .syntax, 0),
            ("'unterminated\n'", .unterminatedString, 0),
            ("f(1, 2", .unbalancedParentheses, 1),
            ("f(1 2)", .syntax, 4),
            ("[1 2]", .syntax, 3),
        ]
        for (text, kind, offset) in cases where !text.isEmpty {
            let e = parseError(text)
            #expect(e?.kind == kind, "\(text): \(String(describing: e))")
            #expect(e?.offset == offset, "\(text): \(String(describing: e))")
            #expect(e?.isCallerFault == true)
        }
    }

    @Test func offsetsCountCharactersNotBytes() {
        #expect(parseError("s == '日本' and (a")?.offset == 14)
        #expect(parseError("名 == 1")?.offset == 0)
        #expect(FilterFixtures.error("s == '日本' and nope > 'x'", schema: FilterFixtures.strictSchema)?.offset == 14)
    }

    @Test func errorMessagesSayWhatIsWrong() {
        #expect(parseError("(a > 1")?.description.contains("never closed") == true)
        #expect(parseError("a > 1)")?.description.contains("no matching '('") == true)
        #expect(parseError("a > 'x")?.description.contains("unterminated string") == true)
        #expect(parseError("a > 'x")?.description.contains("character 4") == true)
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "(", count: 5000) + "a" + String(repeating: ")", count: 5000)
        #expect(parseError(deep)?.kind == .tooComplex)
        let nots = String(repeating: "not ", count: 5000) + "a"
        #expect(parseError(nots)?.kind == .tooComplex)
        let arith = "a" + String(repeating: " + 1", count: 5000) + " > 2"
        #expect(parseError(arith)?.kind == .tooComplex)
        let negs = String(repeating: "-", count: 5000) + "1"
        #expect(parseError(negs)?.kind == .tooComplex)
        // Just inside the limit, the whole pipeline runs (no stack exhaustion in debug builds).
        for depth in [60, 95] {
            let nested = String(repeating: "not (", count: depth) + "i8 > 0" + String(repeating: ")", count: depth)
            let filter = try? CompiledFilter(nested, schema: FilterFixtures.schema)
            #expect(filter != nil, "depth \(depth)")
            let parens = String(repeating: "(", count: depth * 2) + "i8 + 1 > 0" + String(repeating: ")", count: depth * 2)
            #expect((try? CompiledFilter(parens, schema: FilterFixtures.schema)) != nil, "parentheses \(depth * 2)")
            if let filter {
                let bits = filter.evaluate(on: FilterFixtures.segment)
                #expect(bits.setBits == (depth % 2 == 0 ? [0, 3] : [2]))
            }
        }
        // Long flat chains are fine.
        let chain = (0..<5000).map { "a == \($0)" }.joined(separator: " or ")
        #expect(parseError(chain) == nil)
    }
}

enum FilterCompareOpCases {
    static let all: [FilterCompareOp] = [.eq, .ne, .lt, .le, .gt, .ge]
}

extension FilterNode.Kind {
    var compareLeft: FilterNode? {
        if case .compare(_, let l, _) = self { return l }
        return nil
    }
}
