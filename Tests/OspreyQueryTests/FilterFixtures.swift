import OspreyCore
import OspreyQuery
import OspreyTestSupport

/// The schema most filter tests use: every scalar type, nullable and not, JSON, ARRAYs,
/// a vector field, and the dynamic field.
enum FilterFixtures {
    static let schema: CollectionSchema = {
        let fields: [FieldSchema] = [
            .primaryKey("id"),
            .scalar("i8", .int8, nullable: true),
            .scalar("i16", .int16),
            .scalar("i32", .int32),
            .scalar("i64", .int64, nullable: true),
            .scalar("f", .float),
            .scalar("d", .double, nullable: true),
            .scalar("s", .varchar, maxLength: 64, nullable: true),
            .scalar("name", .varchar, maxLength: 64),
            .scalar("b", .bool, nullable: true),
            FieldSchema(name: "j", dataType: .json, nullable: true),
            .array("tags", of: .int64, maxCapacity: 8),
            .array("words", of: .varchar, maxCapacity: 8, maxLength: 16, nullable: true),
            .vector("v", dim: 4),
        ]
        return try! CollectionSchema(fields: fields, enableDynamicField: true).validated()
    }()

    /// The same fields without the dynamic field.
    static let strictSchema: CollectionSchema = {
        var s = schema
        s.enableDynamicField = false
        return s
    }()

    static let varcharKeySchema: CollectionSchema = try! CollectionSchema(fields: [
        .primaryKey("pk", .varchar, maxLength: 32), .scalar("n", .int64), .vector("v", dim: 2),
    ]).validated()

    static func compile(_ text: String, schema: CollectionSchema = schema, templates: [String: FilterTemplateValue] = [:]) throws(FilterError) -> CompiledFilter {
        try CompiledFilter(text, schema: schema, templateValues: templates)
    }

    /// The error compiling `text` gives, or nil if it compiles.
    static func error(_ text: String, schema: CollectionSchema = schema, templates: [String: FilterTemplateValue] = [:]) -> FilterError? {
        do {
            _ = try compile(text, schema: schema, templates: templates)
            return nil
        } catch {
            return error
        }
    }

    /// A few hand-written rows covering nulls, JSON and arrays.
    static let rows: [[String: FieldValue]] = [
        ["id": 1, "i8": 1, "i16": 10, "i32": 100, "i64": 1000, "f": 1.5, "d": 0.25, "s": "apple", "name": "alpha",
         "b": true, "j": .json(.object(["a": .int(1), "b": .object(["c": .string("x")]), "arr": .array([.int(1), .int(2), .int(3)])])),
         "tags": [1, 2, 3], "words": ["red", "green"], "color": "red", "size": 3],
        ["id": 2, "i8": .null, "i16": 20, "i32": 200, "i64": .null, "f": 2.5, "d": .null, "s": .null, "name": "beta",
         "b": .null, "j": .null, "tags": [], "words": .null, "color": "blue"],
        ["id": 3, "i8": -3, "i16": 30, "i32": -300, "i64": 3000, "f": -1, "d": 3.5, "s": "banana", "name": "gamma",
         "b": false, "j": .json(.object(["a": .double(2.5), "arr": .array([.string("x"), .int(2)])])),
         "tags": [5], "words": ["blue"], "size": 10],
        ["id": 4, "i8": 127, "i16": -32768, "i32": 0, "i64": .int(Int64.max), "f": 0, "d": -0.5, "s": "a%b_c", "name": "delta",
         "b": true, "j": .json(.object(["a": .string("1"), "arr": .array([])])), "tags": [2, 2], "words": [], "size": 3.0],
    ]

    static var segment: FilterTestSegment { FilterTestSegment(schema: schema, rows: rows, chunkShift: 1) }

    /// The ids of the rows `text` selects in `segment`.
    static func ids(_ text: String, templates: [String: FilterTemplateValue] = [:]) throws(FilterError) -> [Int64] {
        let filter = try compile(text, templates: templates)
        let seg = segment
        let bits = filter.evaluate(on: seg)
        return bits.setBits.map { row -> Int64 in
            if case .int(let i) = rows[row]["id"] { return i }
            return -1
        }
    }
}
/// The seeded generator of the filter tests, so failing cases can be replayed from the seed.
typealias SeededGenerator = SplitMix64
