import OspreyCore
import OspreyTestSupport
import Testing
@testable import OspreyQuery

@Suite("Filter evaluation")
struct FilterEvaluationTests {
    typealias F = FilterFixtures

    static let cases: [(String, [Int64])] = [
        // Numbers, with nulls (row 2) unknown.
        ("i8 > 0", [1, 4]), ("not (i8 > 0)", [3]), ("i8 > 0 or i8 <= 0", [1, 3, 4]), ("i8 < 0 or b is null", [2, 3]),
        ("not (i8 > 0 and i32 > 150)", [1, 3, 4]), ("not (i8 > 0 or i32 > 150)", [3]), ("i8 != 1", [3, 4]),
        ("i8 in [1, 127]", [1, 4]), ("i8 not in [1]", [3, 4]), ("i8 < 1000", [1, 3, 4]), ("i8 > 1000", []),
        ("i8 >= -128", [1, 3, 4]), ("i8 == 1.0", [1]), ("i8 > 0.5", [1, 4]), ("i8 == 1.5", []), ("i8 != 1.5", [1, 3, 4]),
        ("i8 in [1.0, 2.5]", [1]), ("i64 == 9223372036854775807", [4]), ("i64 > 9.2e18", [4]), ("i64 >= 9223372036854775807", [4]),
        ("i64 < -9223372036854775808", []), ("i16 == -32768", [4]), ("i16 < -40000", []), ("i32 <= 0", [3, 4]),
        ("f > 1", [1, 2]), ("d < 0", [4]), ("f == 1.5", [1]), ("f in [2.5, 0]", [2, 4]), ("d > 0.25", [3]), ("d >= 0.25", [1, 3]),
        ("10 <= i16 < 30", [1, 2]), ("-1 < f < 2", [1, 4]), ("30 >= i16 > 10", [2, 3]), ("id in [2, 4]", [2, 4]), ("id == 3", [3]),
        // Strings and like.
        ("s like 'a%'", [1, 4]), ("s like '%a'", [3]), ("s like '%an%'", [3]), (#"s like 'a\%b%'"#, [4]), ("s like 'a_b%'", [4]),
        ("s like 'apple'", [1]), ("name like '_e%'", [2, 4]), ("not (s like 'a%')", [3]), ("s like '%'", [1, 3, 4]),
        ("name like '%l%a'", [1, 4]), ("s == 'apple'", [1]), ("s < 'b'", [1, 4]), ("'a' < s <= 'banana'", [1, 3, 4]),
        ("s in ['banana', 'kiwi', 'a', 'b', 'c', 'd']", [3]), ("s != 'apple'", [3, 4]), ("name > s", [3, 4]),
        // Booleans.
        ("b", [1, 4]), ("not b", [3]), ("b == false", [3]), ("b != false", [1, 4]), ("b is null", [2]), ("b is not null", [1, 3, 4]),
        ("b in [true]", [1, 4]), ("true", [1, 2, 3, 4]), ("false", []),
        // JSON.
        ("j['a'] == 1", [1]), ("j['a'] > 2", [3]), ("j['a'] == '1'", [4]), ("j['b']['c'] == 'x'", [1]), ("j['arr'][0] == 1", [1]),
        ("j['arr'][1] == 2", [1, 3]), ("not (j['a'] == 1)", [3, 4]), ("exists j['b']", [1]), ("not exists j['b']", [3, 4]),
        ("j is null", [2]), ("j['a'] is null", [2]), ("j is not null", [1, 3, 4]), ("json_contains(j['arr'], 2)", [1, 3]),
        ("json_contains_all(j['arr'], [1, 3])", [1]), ("json_contains_any(j['arr'], ['x', 3])", [1, 3]),
        ("array_length(j['arr']) == 0", [4]), ("j['arr'] == [1, 2, 3]", [1]), ("j['a'] in [1, '1']", [1, 4]), ("j['a'] like '1%'", [4]),
        ("1 <= j['a'] < 3", [1, 3]), ("j['b'] == 1", []), ("JSON_CONTAINS(j['arr'], 'x')", [3]),
        // ARRAY fields.
        ("array_contains(tags, 2)", [1, 4]), ("array_contains_all(tags, [1, 2])", [1]), ("array_contains_any(tags, [5, 3])", [1, 3]),
        ("array_length(tags) == 0", [2]), ("array_length(tags) >= 2", [1, 4]), ("tags[0] == 2", [4]), ("tags[2] == 3", [1]),
        ("tags[5] == 1", []), ("not (tags[5] == 1)", [1, 2, 3, 4]), ("tags == [2, 2]", [4]), ("words[0] == 'blue'", [3]),
        ("array_contains(words, 'green')", [1]), ("words is null", [2]), ("array_contains_all(tags, [])", [1, 2, 3, 4]),
        ("array_contains_any(tags, [])", []),
        // Dynamic keys.
        ("color == 'red'", [1]), ("color != 'red'", [2]), ("not (color == 'red')", [2, 3, 4]), ("size == 3", [1, 4]), ("size > 5", [3]),
        ("exists color", [1, 2]), (#"$meta["size"] == 10"#, [3]), ("color in ['blue', 'green']", [2]),
        // Arithmetic.
        ("i32 + 1 > 100", [1, 2]), ("i32 % 200 == 0", [2, 4]), ("i16 * 2 == -65536", [4]), ("i32 / 3 == 33", [1]), ("f * 2 == 3", [1]),
        ("i32 ** 2 > 10000", [2, 3]), ("i8 + 1 > 0", [1, 4]), ("-i32 > 0", [3]), ("i32 / 0 > 1", []), ("not (i32 / 0 > 1)", [1, 2, 3, 4]),
        ("i8 < i16", [1, 3]), ("i32 in [0, 1, 2, 3, 4, 5, 6, 7, 8, 200, -300]", [2, 3, 4]),
        ("i32 in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9000000000, -300]", [3, 4]), ("i8 not in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", [3, 4]),
        ("i8 * 2 > 100", [4]), ("not (i8 * 2 > 100)", [1, 3]), ("i8 % 0 == 0", []), ("not (i8 % 0 == 0)", [1, 3, 4]), ("f - 0.5 == 1", [1]),
        ("i16 * 2.5 == 25", [1]), ("i64 + 1 < 0", [4]), ("size * 2 == 6", [1, 4]), ("(i32 + 100) / 2 == 100", [1]), ("i32 - i16 == 90", [1]),
        // Keywords in Milvus's spellings.
        ("i8 > 0 AND b", [1, 4]), ("i8 > 0 && i32 > 50", [1]), ("i8 < 0 || s == 'apple'", [1, 3]), ("NOT (i8 > 0)", [3]), ("!(i8 > 0)", [3]),
        ("s IS NULL", [2]), ("s IS NOT NULL", [1, 3, 4]), ("i8 IN [1]", [1]), ("i8 NOT IN [1]", [3, 4]), ("s LIKE 'b%'", [3]),
        ("b == True", [1, 4]), ("b == FALSE", [3]),
    ]

    @Test func handWrittenRows() throws {
        for (text, expected) in Self.cases {
            let got = try F.ids(text)
            #expect(got == expected, "\(text)")
        }
    }

    @Test func templatesEvaluate() throws {
        #expect(try F.ids("i32 > {x}", templates: ["x": .int(150)]) == [2])
        #expect(try F.ids("s in {names}", templates: ["names": .array([.string("apple"), .string("banana")])]) == [1, 3])
        #expect(try F.ids("f > {x} and name like {p}", templates: ["x": .float(0.5), "p": .string("%a")]) == [1, 2])
        #expect(try F.ids("array_contains_any(tags, {t})", templates: ["t": .array([.int(5)])]) == [3])
    }

    @Test func chunkBoundariesAndSizes() throws {
        // The same data in chunks of 1, 2, 64 rows and one chunk give the same answer.
        var rng = SeededGenerator(seed: 7)
        var rows: [[String: FieldValue]] = []
        for id in 0..<1000 {
            var r: [String: FieldValue] = ["id": .int(Int64(id)), "i16": .int(Int64.random(in: -5...5, using: &rng)),
                                           "i32": .int(Int64.random(in: -100...100, using: &rng)), "f": .float(Float.random(in: -1...1, using: &rng)),
                                           "name": .string(["ab", "abc", "b", ""].randomElement(using: &rng)!), "tags": []]
            if Bool.random(using: &rng) { r["i8"] = .int(Int64.random(in: -3...3, using: &rng)) }
            if Bool.random(using: &rng) { r["s"] = .string(["apple", "avocado", "kiwi"].randomElement(using: &rng)!) }
            if Bool.random(using: &rng) { r["b"] = .bool(Bool.random(using: &rng)) }
            rows.append(r)
        }
        let exprs = ["i8 > 0", "not (i8 > 0)", "i16 in [1, 2, 3]", "-50 < i32 <= 50", "f > 0", "s like 'a%'", "name == 'abc'",
                     "b", "not b", "s is null", "i8 > 0 or b", "not (i8 > 0 and b)", "i32 != 3", "i8 * 2 > 2", "i32 % 7 == 1",
                     "i16 in [0, 1, 2, 3, 4, 5, -1, -2, -3]", "i32 in [1, 2, 3, 4, 5, 6, 7, 8, 9, 100000000000]", "f * 2 < 0.5"]
        for text in exprs {
            let filter = try F.compile(text)
            let reference = FilterTestSegment(schema: F.schema, rows: rows).evaluateRowByRow(filter)
            for shift in [0, 1, 6, 7, 62] {
                let seg = FilterTestSegment(schema: F.schema, rows: rows, chunkShift: shift)
                #expect(filter.evaluate(on: seg) == reference, "\(text) with chunks of 2^\(shift)")
            }
        }
    }

    @Test func missingColumnReadsAsNull() throws {
        // A segment written before a nullable field was added has no column for it.
        var batch = ColumnBatch(rowCount: 3)
        batch["id"] = Column(.int64([1, 2, 3]))
        let seg = FilterTestSegment(schema: F.schema, batch: batch)
        #expect(try F.compile("i8 > 0").evaluate(on: seg).cardinality == 0)
        #expect(try F.compile("not (i8 > 0)").evaluate(on: seg).cardinality == 0)
        #expect(try F.compile("i8 is null").evaluate(on: seg).cardinality == 3)
        #expect(try F.compile("id > 1").evaluate(on: seg).setBits == [1, 2])
        #expect(try F.compile("id > 1").matches(row: 2, of: seg))
        #expect(try !F.compile("id > 1").matches(row: 0, of: seg))
    }

    @Test func candidatesAndMatcher() throws {
        var g = FilterGenerator(seed: 31)
        let rows = (0..<2000).map { g.row(id: $0) }
        let seg = FilterTestSegment(schema: F.schema, rows: rows, chunkShift: 8)
        for text in ["i8 > 0 or s like 'a%'", "j['a'] == 1", "not (b)", "true", "1 > 2"] {
            let filter = try F.compile(text)
            let all = filter.evaluate(on: seg)
            for stride in [1, 7, 100] {
                var candidates = Bitset(count: seg.rowCount)
                for i in Swift.stride(from: 0, to: seg.rowCount, by: stride) { candidates.set(i) }
                #expect(filter.evaluate(on: seg, candidates: candidates) == all.intersection(candidates), "\(text) stride \(stride)")
            }
            let m = filter.matcher(for: seg)
            #expect((0..<seg.rowCount).allSatisfy { m.matches(row: $0) == all[$0] }, "\(text)")
        }
    }

    @Test func emptySegment() throws {
        let seg = FilterTestSegment(schema: F.schema, rows: [])
        #expect(try F.compile("i8 > 0 or s like 'a%'").evaluate(on: seg).count == 0)
        #expect(try F.compile("").evaluate(on: seg).count == 0)
    }
}

extension FilterTestSegment {
    /// The filter evaluated with the row-at-a-time reader only (no column kernels).
    func evaluateRowByRow(_ filter: CompiledFilter) -> Bitset {
        var cols: [String: ColumnView] = [:]
        for name in filter.plan.columnNames { if let c = column(named: name) { cols[name] = c } }
        let reader = FilterRowReader(columns: cols)
        var bits = Bitset(count: rowCount)
        for i in 0..<rowCount where reader.truth(filter.plan, row: i) == .yes { bits.set(i) }
        return bits
    }
}
