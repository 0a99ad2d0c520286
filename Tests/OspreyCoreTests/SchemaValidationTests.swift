import Testing
@testable import OspreyCore

@Suite struct SchemaValidationTests {
    static let base: [FieldSchema] = [
        .primaryKey("id"),
        .vector("vec", dim: 4),
        .scalar("title", .varchar, maxLength: 8),
        .array("tags", of: .int64, maxCapacity: 3),
        FieldSchema(name: "score", dataType: .float, nullable: true),
        FieldSchema(name: "level", dataType: .int32, defaultValue: 7),
        FieldSchema(name: "age", dataType: .int8),
    ]

    func schema(dynamic: Bool = false) throws -> CollectionSchema {
        try CollectionSchema(fields: Self.base, enableDynamicField: dynamic).validated()
    }

    func row(_ id: Int64) -> [String: FieldValue] {
        ["id": .int(id), "vec": .floatVector([1, 2, 3, 4]), "title": "t", "tags": [1, 2], "age": 3]
    }

    func expectError(_ kind: ValidationError.Kind, field: String?, row: Int? = nil, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected a \(kind) error")
        } catch let e as ValidationError {
            #expect(e.kind == kind, "\(e)")
            #expect(e.field == field, "\(e)")
            if let row { #expect(e.row == row, "\(e)") }
            #expect(!e.description.isEmpty)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func assignsFieldIDs() throws {
        let s = try schema()
        #expect(s.fields.map(\.fieldID) == [100, 101, 102, 103, 104, 105, 106])
    }

    @Test func schemaErrors() {
        expectError(.invalidSchema, field: nil) { _ = try CollectionSchema(fields: [.vector("v", dim: 2)]).validated() }
        expectError(.invalidSchema, field: nil) {
            _ = try CollectionSchema(fields: [.primaryKey("a"), .primaryKey("b"), .vector("v", dim: 2)]).validated()
        }
        expectError(.duplicateField, field: "a") {
            _ = try CollectionSchema(fields: [.primaryKey("a"), .vector("a", dim: 2)]).validated()
        }
        expectError(.invalidName, field: nil) { _ = try CollectionSchema(fields: [.primaryKey("1a"), .vector("v", dim: 2)]).validated() }
        expectError(.invalidName, field: nil) { _ = try CollectionSchema(fields: [.primaryKey("a-b"), .vector("v", dim: 2)]).validated() }
        expectError(.invalidSchema, field: "v") { _ = try CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: 0)]).validated() }
        expectError(.invalidSchema, field: "b") {
            _ = try CollectionSchema(fields: [.primaryKey("id"), .vector("b", .binaryVector, dim: 12)]).validated()
        }
        expectError(.invalidSchema, field: "id") {
            _ = try CollectionSchema(fields: [.primaryKey("id", .float), .vector("v", dim: 2)]).validated()
        }
        expectError(.invalidSchema, field: "s") {
            _ = try CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: 2), FieldSchema(name: "s", dataType: .varchar)]).validated()
        }
        expectError(.invalidSchema, field: "a") {
            _ = try CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: 2), FieldSchema(name: "a", dataType: .array, elementType: .json, maxCapacity: 2)]).validated()
        }
        expectError(.invalidSchema, field: nil) {
            _ = try CollectionSchema(fields: [.primaryKey("id")] + (0..<5).map { .vector("v\($0)", dim: 2) }).validated()
        }
        expectError(.invalidSchema, field: "n") {
            _ = try CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: 2), FieldSchema(name: "n", dataType: .int8, defaultValue: 300)]).validated()
        }
    }

    @Test func validRowsNormalise() throws {
        let s = try schema()
        let b = try s.columns(fromRows: [row(1), row(2)])
        #expect(b.rowCount == 2)
        #expect(b["level"]?.data == .int32([7, 7]))  // default filled
        #expect(b["score"]?.validity == [false, false])  // nullable left out
        #expect(b["age"]?.data == .int8([3, 3]))
    }

    @Test func rowErrorsNameFieldAndRow() throws {
        let s = try schema()
        var r = row(2)
        r["vec"] = .floatVector([1, 2, 3])
        expectError(.dimensionMismatch, field: "vec", row: 1) { _ = try s.columns(fromRows: [row(1), r]) }
        r = row(2); r["title"] = 5
        expectError(.typeMismatch, field: "title", row: 1) { _ = try s.columns(fromRows: [row(1), r]) }
        r = row(2); r["title"] = "much too long"
        expectError(.valueTooLong, field: "title", row: 1) { _ = try s.columns(fromRows: [row(1), r]) }
        r = row(2); r["tags"] = [1, 2, 3, 4]
        expectError(.arrayTooLong, field: "tags", row: 0) { _ = try s.columns(fromRows: [r]) }
        r = row(2); r["tags"] = ["x"]
        expectError(.typeMismatch, field: "tags", row: 0) { _ = try s.columns(fromRows: [r]) }
        r = row(2); r["vec"] = .floatVector([1, .nan, 3, 4])
        expectError(.nonFiniteVector, field: "vec", row: 0) { _ = try s.columns(fromRows: [r]) }
        r = row(2); r["vec"] = .floatVector([1, .infinity, 3, 4])
        expectError(.nonFiniteVector, field: "vec", row: 0) { _ = try s.columns(fromRows: [r]) }
        r = row(2); r["age"] = nil
        expectError(.missingField, field: "age", row: 0) { _ = try s.columns(fromRows: [r]) }
        r = row(2); r["age"] = 1000
        expectError(.outOfRange, field: "age", row: 0) { _ = try s.columns(fromRows: [r]) }
        r = row(2); r["color"] = "red"
        expectError(.unknownField, field: "color", row: 0) { _ = try s.columns(fromRows: [r]) }
        r = row(2); r["id"] = nil
        expectError(.missingField, field: "id", row: 0) { _ = try s.columns(fromRows: [r]) }
    }

    @Test func dynamicKeysGoToMeta() throws {
        let s = try schema(dynamic: true)
        var r = row(1)
        r["color"] = "red"
        r["size"] = 3
        let b = try s.columns(fromRows: [r])
        #expect(b["$meta"]?.data == .json([.object(["color": .string("red"), "size": .int(3)])]))
        let back = b.row(0)
        #expect(back["color"] == .json(.string("red")))
    }

    @Test func columnarErrors() throws {
        let s = try schema()
        var b = try s.columns(fromRows: [row(1), row(2)])
        b["vec"] = Column(.floatVector(dim: 3, [1, 2, 3, 4, 5, 6]))
        expectError(.dimensionMismatch, field: "vec") { _ = try s.normalized(b) }
        b = try s.columns(fromRows: [row(1), row(2)])
        b["title"] = Column(.string(["a"]))
        expectError(.invalidValue, field: "title") { _ = try s.normalized(b) }
        b = try s.columns(fromRows: [row(1), row(2)])
        b["age"] = Column(.int8([1, 0]), validity: [true, false])
        expectError(.missingField, field: "age", row: 1) { _ = try s.normalized(b) }
        b = try s.columns(fromRows: [row(1), row(2)])
        b["title"] = Column(.int64([1, 2]))
        expectError(.typeMismatch, field: "title") { _ = try s.normalized(b) }
    }

    @Test func jsonRoundTrip() throws {
        let text = #"{"a":[1,2.5,"x",null,true],"b":{"c":"d\n\u00e9"},"e":-3}"#
        let v = try JSONValue.parse(text)
        #expect(v["a"]?[1] == .double(2.5))
        #expect(v["b"]?["c"] == .string("d\né"))
        #expect(try JSONValue.parse(v.serialized()) == v)
        for bad in ["{", "[1,]", "{\"a\" 1}", "tru", "\"abc", "1 2", String(repeating: "[", count: 1000)] {
            #expect(throws: JSONParseError.self) { try JSONValue.parse(bad) }
        }
    }
}
