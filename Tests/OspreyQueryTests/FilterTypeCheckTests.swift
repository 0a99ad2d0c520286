import OspreyCore
import Testing
@testable import OspreyQuery

@Suite("Filter type check")
struct FilterTypeCheckTests {
    typealias F = FilterFixtures

    @Test func plansHaveTheExpectedShape() throws {
        let i32 = FilterFieldRef(F.schema.field(named: "i32")!)
        #expect(try F.compile("i32 > 5").plan == .compare(.column(i32), .gt, .literal(.int(5))))
        // A constant on the left is moved to the right.
        #expect(try F.compile("5 < i32").plan == .compare(.column(i32), .gt, .literal(.int(5))))
        #expect(try F.compile("10 < i32 <= 20").plan == .range(.column(i32), lower: FilterBound(.int(10), inclusive: false), upper: FilterBound(.int(20), inclusive: true)))
        #expect(try F.compile("20 >= i32 > 10").plan == .range(.column(i32), lower: FilterBound(.int(10), inclusive: false), upper: FilterBound(.int(20), inclusive: true)))
        #expect(try F.compile("i32 not in [1, 2]").plan == .not(.member(.column(i32), [.int(1), .int(2)])))
        #expect(try F.compile("s is not null").plan == .not(.isNull(FilterFieldRef(F.schema.field(named: "s")!))))
        // Constant folding.
        #expect(try F.compile("i32 > 2 * 3 + 1").plan == .compare(.column(i32), .gt, .literal(.int(7))))
        #expect(try F.compile("1 < 2").plan == .constant(true))
        #expect(try F.compile("i32 > 1 and 1 > 2").plan == .constant(false))
        #expect(try F.compile("i32 > 1 or true").plan == .constant(true))
        #expect(try F.compile("not not (i32 > 1)").plan == .compare(.column(i32), .gt, .literal(.int(1))))
        // Non-nullable fields are never null.
        #expect(try F.compile("i32 is null").plan == .constant(false))
        #expect(try F.compile("id is not null").plan == .constant(true))
        #expect(try F.compile("").matchesEverything)
    }

    @Test func dynamicKeysResolveToMeta() throws {
        #expect(try F.compile("color == 'red'").plan == .compare(.element(.dynamic, [.key("color")]), .eq, .literal(.string("red"))))
        #expect(try F.compile(#"color["x"][1] > 2"#).plan == .compare(.element(.dynamic, [.key("color"), .key("x"), .index(1)]), .gt, .literal(.int(2))))
        #expect(try F.compile(#"$meta["color"] == 'red'"#).plan == .compare(.element(.dynamic, [.key("color")]), .eq, .literal(.string("red"))))
        #expect(F.error("color == 'red'", schema: F.strictSchema)?.kind == .unknownField)
        #expect(F.error(#"$meta["a"] == 1"#, schema: F.strictSchema)?.kind == .unknownField)
    }

    @Test func templates() throws {
        let i32 = FilterFieldRef(F.schema.field(named: "i32")!)
        let s = FilterFieldRef(F.schema.field(named: "s")!)
        #expect(try F.compile("i32 > {x}", templates: ["x": .int(3)]).plan == .compare(.column(i32), .gt, .literal(.int(3))))
        #expect(try F.compile("s in {names}", templates: ["names": .array([.string("a"), .string("b")])]).plan == .member(.column(s), [.string("a"), .string("b")]))
        #expect(try F.compile("i32 in [{a}, 2]", templates: ["a": .int(1)]).plan == .member(.column(i32), [.int(1), .int(2)]))
        #expect(try F.compile("{flag}", templates: ["flag": .bool(false)]).plan == .constant(false))
        #expect(try F.compile(#"json_contains_any(j["arr"], {xs})"#, templates: ["xs": .array([.json(.object(["k": .int(1)])), .int(2)])]).plan
            == .contains(.element(FilterFieldRef(F.schema.field(named: "j")!), [.key("arr")]), .any, [.object(["k": .int(1)]), .int(2)]))
        let e = F.error("i32 > {x} and s == {y}", templates: ["x": .int(3)])
        #expect(e?.kind == .missingTemplateValue)
        #expect(e?.offset == 19)
        #expect(e?.message.contains("{y}") == true)
        #expect(F.error("s == {x}", templates: ["x": .int(3)])?.kind == .typeMismatch)
        #expect(FilterTemplateValue(.array([1, "a", 2.5])) == .array([.int(1), .string("a"), .float(2.5)]))
        #expect(FilterTemplateValue(.floatVector([1])) == nil)
    }

    @Test func errorsNameTheProblemAndPosition() {
        let cases: [(String, FilterError.Kind, Int, String)] = [
            ("s > 1", .typeMismatch, 0, "cannot compare VARCHAR field 's' with a number"),
            ("i32 == 'x'", .typeMismatch, 0, "INT32 field 'i32'"),
            ("b > true", .typeMismatch, 0, "booleans compare only"),
            ("i32 like 'a%'", .typeMismatch, 0, "'like' needs a VARCHAR field"),
            ("s like 3", .typeMismatch, 7, "pattern of 'like' must be a string"),
            ("v == 1", .vectorField, 0, "vector field 'v'"),
            ("i32 > 1 and v[0] > 1", .vectorField, 12, "vector field"),
            ("json_contains(j)", .wrongArity, 0, "takes 2 arguments"),
            ("array_contains(tags, 1, 2)", .wrongArity, 0, "got 3"),
            ("array_length(tags, 1) > 0", .wrongArity, 0, "takes 1 argument"),
            ("frobnicate(tags)", .wrongArity, 0, "unknown function"),
            ("Json_Contains(j, 1)", .wrongArity, 0, "unknown function"),
            ("text_match(s, 'x')", .unsupported, 0, "not supported"),
            ("array_contains(i32, 1)", .typeMismatch, 15, "JSON or ARRAY"),
            ("array_contains_all(tags, 1)", .typeMismatch, 25, "must be a list"),
            ("array_contains(tags, 'x')", .typeMismatch, 21, "element type INT64"),
            ("i32 in [1, 'x']", .typeMismatch, 7, "element 1"),
            ("i32 in 3", .typeMismatch, 7, "needs a list"),
            ("tags in [1]", .typeMismatch, 0, "array_contains_any"),
            ("i32", .typeMismatch, 0, "not a condition"),
            ("i32 + 1", .typeMismatch, 0, "not a condition"),
            ("s + 1 > 2", .typeMismatch, 0, "needs numbers"),
            ("-s > 1", .typeMismatch, 0, "unary '-'"),
            ("i32[0] > 1", .typeMismatch, 0, "only JSON and ARRAY"),
            (#"tags["a"] > 1"#, .typeMismatch, 0, "one integer index"),
            ("tags[0][1] > 1", .typeMismatch, 0, "one integer index"),
            ("exists i32", .typeMismatch, 7, "JSON path"),
            ("exists j", .typeMismatch, 7, "JSON path"),
            ("(i32 > 1) + 1 > 0", .typeMismatch, 1, "condition cannot be used"),
            ("i32 > 1 / 0", .typeMismatch, 6, "division by zero"),
            ("1 is null", .typeMismatch, 0, "applies to a field"),
            ("array_length(i32) > 1", .typeMismatch, 13, "ARRAY field or a JSON value"),
            ("array_length(tags)", .typeMismatch, 0, "is a number"),
            ("i32 > json_contains(j, 1)", .typeMismatch, 6, "is a condition"),
            ("i32 < s < 3", .typeMismatch, 0, "cannot compare"),
            ("tags < [1]", .typeMismatch, 0, "cannot compare"),
        ]
        for (text, kind, offset, fragment) in cases {
            let e = F.error(text)
            #expect(e?.kind == kind, "\(text): \(String(describing: e))")
            #expect(e?.offset == offset, "\(text): \(String(describing: e))")
            #expect(e?.message.contains(fragment) == true, "\(text): \(String(describing: e))")
        }
    }

    @Test func unknownFieldWithoutDynamicField() {
        let e = F.error("i32 > 1 and nope > 1", schema: F.strictSchema)
        #expect(e?.kind == .unknownField)
        #expect(e?.offset == 12)
        #expect(e?.message.contains("unknown field 'nope'") == true)
    }

    @Test func acceptedMixedTypes() {
        for text in [
            "i32 > 1.5", "f == 2", "d < i32", "i8 + i16 * 2 > f", "j['a'] > 1", "j['a'] == 'x'", "j['a'] == true",
            "j['arr'] == [1, 2]", "tags == [1, 2]", "tags != []", "words[0] like 'r%'", "j['a'] like 'x%'", "b == false",
            "b != true", "b", "j['flag']", "words[1] in ['a']", "j['a'] in [1, 'a', true]", "array_length(j['arr']) == 3",
            "ARRAY_LENGTH(tags) >= 1", "JSON_CONTAINS(j['arr'], [1])", "j is null", "j['a'] is not null", "size is null",
            "exists size", "exists j['a']['b']", "i64 % 3 == 0", "d ** 2 > 1", "-i32 < 0", "tags[0] + 1 > 1",
            "1 <= j['a'] < 3", "'a' < s <= 'c'", "i32 < i16 < i8", "i32 in []",
        ] {
            #expect(F.error(text) == nil, "\(text): \(String(describing: F.error(text)))")
        }
    }
}

@Suite("Filter plan text")
struct FilterPlanTextTests {
    /// A plan's description parses back to the same plan.
    @Test func descriptionsRoundTrip() throws {
        var g = FilterGenerator(seed: 4242)
        for _ in 0..<300 {
            let (text, templates) = g.expression()
            let plan = try CompiledFilter(text, schema: FilterFixtures.schema, templateValues: templates).plan
            let again = try CompiledFilter(plan.description, schema: FilterFixtures.schema).plan
            #expect(again == plan, "\(text) → \(plan.description)")
        }
        #expect(try FilterFixtures.compile("10 < i32 <= 20 and s like 'a\"%'").plan.description == #"(10 < i32 <= 20 and s like "a\"%")"#)
    }
}
