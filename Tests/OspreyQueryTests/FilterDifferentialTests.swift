import OspreyCore
import OspreyTestSupport
import Testing
@testable import OspreyQuery

/// Random expressions over random rows (nulls, JSON, arrays, dynamic keys): the engine's
/// evaluator (column kernels + row reader, over chunked columns) must agree with the
/// reference evaluator on every row.
@Suite("Filter differential")
struct FilterDifferentialTests {
    static let seeds: [UInt64] = [1, 2, 3, 17, 2024]
    static let rowsPerSeed = 160
    static let expressionsPerSeed = 400

    @Test(arguments: seeds)
    func engineAgreesWithReference(seed: UInt64) throws {
        print("filter differential: seed \(seed)")
        var g = FilterGenerator(seed: seed)
        let rows = (0..<Self.rowsPerSeed).map { g.row(id: $0) }
        let schema = FilterFixtures.schema
        let segments = [0, 3, 6, 62].map { FilterTestSegment(schema: schema, rows: rows, chunkShift: $0) }
        var evaluated = 0, matchedSomewhere = 0
        for k in 0..<Self.expressionsPerSeed {
            let (text, templates) = g.expression()
            let filter: CompiledFilter
            do {
                filter = try CompiledFilter(text, schema: schema, templateValues: templates)
            } catch {
                Issue.record("seed \(seed) expression \(k): \(text) does not compile: \(error)")
                continue
            }
            let reference = FilterReference(schema: schema, templates: templates)
            let ast = try FilterParser.parse(text)
            var expected = Bitset(count: rows.count)
            for (i, row) in rows.enumerated() where reference.passes(ast, row) { expected.set(i) }
            let segment = segments[k % segments.count]
            let got = filter.evaluate(on: segment)
            if got != expected {
                let diff = got.union(expected).setBits.filter { got[$0] != expected[$0] }
                Issue.record("seed \(seed) expression \(k): \(text) — rows \(diff.prefix(5)) differ (engine: \(diff.prefix(5).map { got[$0] })); row \(diff[0]): \(rows[diff[0]])")
            }
            // The row-at-a-time reader (the general path and the selectivity sampler) agrees too.
            let rowByRow = segment.evaluateRowByRow(filter)
            if rowByRow != expected {
                let diff = rowByRow.union(expected).setBits.filter { rowByRow[$0] != expected[$0] }
                Issue.record("seed \(seed) expression \(k): \(text) — row reader differs at rows \(diff.prefix(5))")
            }
            evaluated += 1
            if expected.cardinality > 0 && expected.cardinality < rows.count { matchedSomewhere += 1 }
        }
        // The generator must produce discriminating expressions, not just all/none.
        #expect(matchedSomewhere > Self.expressionsPerSeed / 3, "seed \(seed): only \(matchedSomewhere) expressions split the rows")
        #expect(evaluated == Self.expressionsPerSeed)
    }
}

/// Generates rows of `FilterFixtures.schema` and well-typed expressions over them.
struct FilterGenerator {
    var rng: SeededGenerator

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func pick<T>(_ xs: [T]) -> T { xs.randomElement(using: &rng)! }
    mutating func int(_ r: ClosedRange<Int64>) -> Int64 { Int64.random(in: r, using: &rng) }

    static let strings = ["", "a", "ab", "abc", "b", "ba", "a%b", "x_y", "é", "日本"]

    mutating func jsonValue(depth: Int = 0) -> JSONValue {
        switch int(0...7) {
        case 0: return .int(int(-3...3))
        case 1: return .double(pick([-1.5, 0.5, 2.0, 3.25]))
        case 2: return .string(pick(Self.strings))
        case 3: return .bool(chance(0.5))
        case 4: return .null
        case 5 where depth < 2: return .array((0..<int(0...3)).map { _ in jsonValue(depth: depth + 1) })
        case 6 where depth < 2: return .object(["a": jsonValue(depth: depth + 1), "n": .int(int(-2...2))])
        default: return .int(int(-1...1))
        }
    }

    mutating func row(id: Int) -> [String: FieldValue] {
        var r: [String: FieldValue] = ["id": .int(Int64(id))]
        func maybe(_ p: Double, _ v: FieldValue) -> FieldValue { chance(p) ? .null : v }
        r["i8"] = maybe(0.2, .int(pick([int(-4...4), 127, -128])))
        r["i16"] = .int(int(-4...4))
        r["i32"] = .int(int(-6...6))
        r["i64"] = maybe(0.2, .int(pick([int(-4...4), Int64.max, Int64.min, 1 << 53 + 1])))
        r["f"] = .float(pick([-1.5, 0, 0.5, 1, 2.25, Float(int(-3...3))]))
        r["d"] = maybe(0.2, .double(pick([-2, 0.1, 0.5, 1, 3.5, 9.007199254740993e15])))
        r["s"] = maybe(0.2, .string(pick(Self.strings)))
        r["name"] = .string(pick(Self.strings))
        r["b"] = maybe(0.25, .bool(chance(0.5)))
        if !chance(0.15) {
            var o: [String: JSONValue] = [:]
            if chance(0.8) { o["a"] = jsonValue() }
            if chance(0.6) { o["s"] = .string(pick(Self.strings)) }
            if chance(0.7) { o["arr"] = .array((0..<int(0...4)).map { _ in chance(0.7) ? .int(int(-2...3)) : jsonValue(depth: 1) }) }
            if chance(0.3) { o["o"] = .object(["x": .int(int(0...3))]) }
            r["j"] = .json(chance(0.05) ? .int(3) : .object(o))
        }
        r["tags"] = .array((0..<int(0...4)).map { _ in .int(int(-2...3)) })
        if !chance(0.2) { r["words"] = .array((0..<int(0...3)).map { _ in .string(pick(["red", "green", "blue", ""])) }) }
        if chance(0.7) { r["k"] = chance(0.8) ? .int(int(-3...3)) : .string(pick(Self.strings)) }
        if chance(0.5) { r["m"] = pick([.double(0.5), .bool(true), .array([1, 2]), .string("ab"), .null]) }
        return r
    }

    // MARK: Expressions

    var templates: [String: FilterTemplateValue] = [:]

    mutating func expression() -> (String, [String: FilterTemplateValue]) {
        templates = [:]
        let text = predicate(depth: Int(int(0...3)))
        return (text, templates)
    }

    mutating func and() -> String { pick(["and", "AND", "&&"]) }
    mutating func or() -> String { pick(["or", "OR", "||"]) }
    mutating func cmp() -> String { pick(["==", "!=", "<", "<=", ">", ">="]) }

    mutating func numberLiteral() -> String {
        switch int(0...6) {
        case 0: return pick(["0.5", "-1.5", "2.0", "1e0", "3.25"])
        case 1: return pick(["127", "128", "-129", "9223372036854775807", "-9223372036854775808", "9007199254740993"])
        case 2: return pick(["0x2", "0b11", "02"])
        default: return String(int(-4...4))
        }
    }

    mutating func stringLiteral() -> String {
        let s = pick(Self.strings)
        return chance(0.5) ? "'\(s)'" : "\"\(s)\""
    }

    mutating func numericField() -> String {
        pick(["i8", "i16", "i32", "i64", "f", "d", "id", "j['a']", "j[\"arr\"][0]", "k", "tags[0]", "tags[1]", "array_length(tags)",
              "array_length(j['arr'])", "j['o']['x']", "$meta['k']", "m"])
    }

    mutating func numericExpression(depth: Int = 0) -> String {
        if depth < 2 && chance(0.25) {
            let op = pick(["+", "-", "*", "/", "%", "**"])
            let a = numericExpression(depth: depth + 1)
            let b = chance(0.6) ? String(int(-3...3)) : numericExpression(depth: depth + 1)
            return "(\(a) \(op) \(b))"
        }
        if chance(0.1) { return "-\(numericField())" }
        return numericField()
    }

    mutating func stringField() -> String { pick(["s", "name", "words[0]", "words[2]", "j['s']", "k", "j['a']", "m"]) }

    mutating func predicate(depth: Int) -> String {
        if depth > 0 && chance(0.6) {
            switch int(0...3) {
            case 0: return "(\(predicate(depth: depth - 1)) \(and()) \(predicate(depth: depth - 1)))"
            case 1: return "(\(predicate(depth: depth - 1)) \(or()) \(predicate(depth: depth - 1)))"
            case 2: return "\(pick(["not", "NOT", "!"]))(\(predicate(depth: depth - 1)))"
            default: return "\(predicate(depth: depth - 1)) \(and()) \(predicate(depth: depth - 1)) \(or()) \(predicate(depth: depth - 1))"
            }
        }
        return leaf()
    }

    enum ListKind { case numbers, strings, smallInts, mixed }

    mutating func list(_ kind: ListKind) -> String {
        var items: [String] = []
        for _ in 0..<int(0...5) {
            switch kind {
            case .numbers: items.append(numberLiteral())
            case .strings: items.append(stringLiteral())
            case .smallInts: items.append(String(int(-2...3)))
            case .mixed: items.append(pick([String(int(-2...3)), "'a'", "0.5"]))
            }
        }
        return "[" + items.joined(separator: ", ") + "]"
    }

    mutating func leaf() -> String {
        switch int(0...17) {
        case 0, 1: return "\(numericExpression()) \(cmp()) \(numberLiteral())"
        case 2: return "\(numberLiteral()) \(cmp()) \(numericField())"
        case 3:
            let (lo, hi) = (int(-4...2), int(-1...4))
            return chance(0.5)
                ? "\(lo) \(pick(["<", "<="])) \(numericField()) \(pick(["<", "<="])) \(hi)"
                : "\(hi) \(pick([">", ">="])) \(numericField()) \(pick([">", ">="])) \(lo)"
        case 4: return "\(numericField()) \(pick(["in", "not in", "IN", "NOT IN"])) \(list(.numbers))"
        case 5: return "\(pick(["s", "name", "words[0]"])) \(cmp()) \(stringLiteral())"
        case 6:
            let p = pick(["a%", "%a", "%b%", "a_", "_", "%", "", "abc", "a\\%b", "x\\_y", "%_", "日%", "_本", "a%b%"])
            return "\(stringField()) \(pick(["like", "LIKE"])) '\(p)'"
        case 7: return "\(pick(["s", "name", "j['s']"])) \(pick(["in", "not in"])) \(list(.strings))"
        case 8: return pick(["b", "b == true", "b != false", "b == False", "j['a']", "m", "b in [true]", "b not in [false, true]"])
        case 9: return "\(pick(["i8", "i64", "d", "s", "b", "j", "words", "j['a']", "k", "i32", "tags"])) \(pick(["is null", "is not null", "IS NULL", "IS NOT NULL"]))"
        case 10: return "\(pick(["exists", "EXISTS"])) \(pick(["j['a']", "j['o']['x']", "j['arr'][1]", "k", "m", "$meta['k']", "j['s']"]))"
        case 11:
            let fn = pick(["json_contains", "JSON_CONTAINS", "json_contains_all", "json_contains_any"])
            let target = pick(["j['arr']", "j['a']", "m", "tags", "j"])
            let arg: String
            if target == "tags" {
                arg = fn.lowercased() == "json_contains" ? String(int(-2...3)) : list(.smallInts)
            } else {
                arg = fn.lowercased() == "json_contains" ? pick([numberLiteral(), stringLiteral(), "[1, 2]", "true"]) : list(.mixed)
            }
            return "\(fn)(\(target), \(arg))"
        case 12:
            let fn = pick(["array_contains", "array_contains_all", "ARRAY_CONTAINS_ANY"])
            let arg = fn == "array_contains" ? String(int(-2...3)) : list(.smallInts)
            return "\(fn)(tags, \(arg))"
        case 13:
            let fn = pick(["array_contains", "array_contains_any"])
            return "\(fn)(words, \(fn == "array_contains" ? "'red'" : "['red', 'blue']"))"
        case 14: return "\(numericExpression()) \(cmp()) \(numericExpression())"
        case 15:
            let name = "t\(templates.count)"
            if chance(0.5) {
                templates[name] = .int(int(-3...3))
                return "\(numericField()) \(cmp()) {\(name)}"
            }
            templates[name] = .array((0..<int(0...3)).map { _ in .int(int(-3...3)) })
            return "\(numericField()) in {\(name)}"
        case 16: return "\(pick(["j['arr']", "tags", "m"])) \(pick(["==", "!="])) \(list(.smallInts))"
        default: return "\(stringField()) \(cmp()) \(stringLiteral())"
        }
    }
}
