import Foundation
import Osprey
import OspreyCore
import Testing
@testable import OspreyServer

/// FieldData ⇄ column, schema and request codecs, and the engine-error table.
@Suite("Milvus codecs")
struct CodecTests {
    static func field(_ name: String, _ type: DataType, id: Int64, dim: Int? = nil, element: DataType? = nil, nullable: Bool = false) -> FieldSchema {
        FieldSchema(name: name, dataType: type, dim: dim, maxLength: type == .varchar ? 16 : nil, elementType: element,
                    maxCapacity: element == nil ? nil : 4, nullable: nullable, fieldID: id)
    }

    static let columns: [(FieldSchema, Column)] = [
        (field("b", .bool, id: 100), Column(.bool([true, false, true]))),
        (field("i8", .int8, id: 101), Column(.int8([-1, 0, 127]))),
        (field("i32", .int32, id: 102), Column(.int32([1, -70_000, 3]))),
        (field("i64", .int64, id: 103), Column(.int64([1 << 40, -2, 3]))),
        (field("f", .float, id: 104), Column(.float([0.5, -1.25, 3]))),
        (field("d", .double, id: 105), Column(.double([0.1, 2, -3]))),
        (field("s", .varchar, id: 106), Column(.string(["a", "", "ünï"]))),
        (field("j", .json, id: 107), Column(.json([.object(["k": .int(1)]), .array([.bool(true)]), .null]))),
        (field("a", .array, id: 108, element: .int64), Column(.array([[.int(1), .int(2)], [], [.int(3)]]))),
        (field("fv", .floatVector, id: 109, dim: 2), Column(.floatVector(dim: 2, [1, 2, 3, 4, 5, 6]))),
        (field("hv", .float16Vector, id: 110, dim: 1), Column(.float16Vector(dim: 1, [0x3C00, 0x4000, 0xC000]))),
        (field("bv", .bfloat16Vector, id: 111, dim: 1), Column(.bfloat16Vector(dim: 1, [0x3F80, 0x4000, 0x0001]))),
        (field("iv", .int8Vector, id: 112, dim: 2), Column(.int8Vector(dim: 2, [-128, 127, 0, 1, 2, 3]))),
        (field("binv", .binaryVector, id: 113, dim: 8), Column(.binaryVector(dim: 8, [0xFF, 0x01, 0x80]))),
        (field("sv", .sparseFloatVector, id: 114), Column(.sparseFloatVector([
            SparseVector(indices: [1, 7], values: [0.5, 2]), SparseVector(indices: [], values: []),
            SparseVector(indices: [4_000_000_000], values: [-1]),
        ]))),
        (field("n", .int64, id: 115, nullable: true), Column(.int64([5, 0, 7]), validity: [true, false, true])),
    ]

    @Test("every column type survives encode then decode", arguments: 0..<columns.count)
    func roundTrip(index: Int) throws {
        let (field, column) = Self.columns[index]
        let fd = FieldDataCodec.encode(name: field.name, field: field, parts: [column])
        #expect(fd.fieldID == field.fieldID)
        #expect(fd.type.rawValue == Int(field.dataType.rawValue))
        let back = try FieldDataCodec.decodeColumn(fd)
        // INT8/INT16 travel as int32 on the wire; the engine narrows them.
        if case .int8(let v) = column.data {
            #expect(back.data == .int32(v.map(Int32.init)))
        } else {
            #expect(back.data == column.data)
        }
        #expect(back.validity == column.validity)
    }

    @Test func searchResultPartsAreConcatenated() {
        let f = Self.field("fv", .floatVector, id: 100, dim: 2)
        let fd = FieldDataCodec.encode(name: "fv", field: f, parts: [
            Column(.floatVector(dim: 2, [1, 2])), Column(.floatVector(dim: 2, [])), Column(.floatVector(dim: 2, [3, 4])),
        ])
        #expect(fd.vectors.dim == 2)
        #expect(fd.vectors.floatVector.data == [1, 2, 3, 4])
    }

    @Test func compactNullableValuesAreExpanded() throws {
        var fd = Schema_FieldData()
        fd.fieldName = "age"
        fd.type = .int64
        fd.scalars.longData.data = [0, 1, 3]
        fd.validData = [true, true, false, true]
        let column = try FieldDataCodec.decodeColumn(fd)
        #expect(column.data == .int64([0, 1, 0, 3]))
        #expect(column.validity == [true, true, false, true])

        fd.validData = [true, false, false, false]
        #expect(throws: MilvusError.self) { try FieldDataCodec.decodeColumn(fd) }
    }

    @Test func dynamicFieldDecodesUnderMeta() throws {
        var fd = Schema_FieldData()
        fd.fieldName = "$meta"
        fd.type = .json
        fd.isDynamic = true
        fd.scalars.jsonData.data = [Data(#"{"color":"red","n":2}"#.utf8), Data("{}".utf8)]
        let batch = try FieldDataCodec.decodeBatch([fd], numRows: 2)
        #expect(batch.rowCount == 2)
        #expect(batch[CollectionSchema.dynamicFieldName]?.data == .json([.object(["color": .string("red"), "n": .int(2)]), .object([:])]))
    }

    @Test func sparseRowsAreSortedAndChecked() throws {
        var bytes = Data()
        for (i, v) in [(UInt32(9), Float(1)), (UInt32(2), Float(3))] {
            withUnsafeBytes(of: i.littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        let row = try FieldDataCodec.sparseRow(bytes, field: "sv", row: 0)
        #expect(row.indices == [2, 9] && row.values == [3, 1])
        #expect(throws: MilvusError.self) { try FieldDataCodec.sparseRow(bytes.prefix(5), field: "sv", row: 0) }
    }

    @Test func schemaRoundTrip() throws {
        var proto = Schema_CollectionSchema()
        proto.name = "c"
        proto.description_p = "things"
        proto.enableDynamicField = true
        var pk = Schema_FieldSchema()
        pk.name = "id"; pk.dataType = .varChar; pk.isPrimaryKey = true
        pk.typeParams = [Common_KeyValuePair(key: "max_length", value: "64")]
        var vec = Schema_FieldSchema()
        vec.name = "v"; vec.dataType = .floatVector
        vec.typeParams = [Common_KeyValuePair(key: "dim", value: "8"), Common_KeyValuePair(key: "mmap.enabled", value: "true")]
        var tags = Schema_FieldSchema()
        tags.name = "tags"; tags.dataType = .array; tags.elementType = .varChar; tags.nullable = true
        tags.typeParams = [Common_KeyValuePair(key: "max_capacity", value: "5"), Common_KeyValuePair(key: "max_length", value: "10")]
        var score = Schema_FieldSchema()
        score.name = "score"; score.dataType = .float; score.defaultValue.floatData = 1.5
        var tenant = Schema_FieldSchema()
        tenant.name = "tenant"; tenant.dataType = .int64; tenant.isPartitionKey = true
        proto.fields = [pk, vec, tags, score, tenant]

        let schema = try SchemaCodec.decode(proto.serializedData())
        #expect(schema.description == "things" && schema.enableDynamicField)
        #expect(schema.field(named: "id")?.maxLength == 64)
        #expect(schema.field(named: "v")?.dim == 8)
        #expect(schema.field(named: "v")?.extraParams == ["mmap.enabled": "true"])
        #expect(schema.field(named: "tags")?.elementType == .varchar)
        #expect(schema.field(named: "tags")?.maxCapacity == 5)
        #expect(schema.field(named: "score")?.defaultValue == .float(1.5))
        #expect(schema.field(named: "tenant")?.isPartitionKey == true)

        let validated = try schema.validated()
        let encoded = SchemaCodec.encode(validated, name: "c")
        #expect(encoded.fields.map(\.fieldID) == [100, 101, 102, 103, 104])
        #expect(encoded.fields.map(\.name) == proto.fields.map(\.name))
        #expect(try SchemaCodec.decode(encoded.serializedData()).fields.map(\.dataType) == validated.fields.map(\.dataType))
        #expect(encoded.fields[3].defaultValue.floatData == 1.5)
        #expect(encoded.fields[1].typeParams.dictionary == ["dim": "8", "mmap.enabled": "true"])
    }

    @Test func schemaFunctionsAreRefused() {
        var proto = Schema_CollectionSchema()
        var f = Schema_FunctionSchema()
        f.name = "bm25"
        proto.functions = [f]
        #expect(throws: MilvusError.self) { try SchemaCodec.decode(proto) }
    }

    @Test func placeholderGroupDecodes() throws {
        var value = Common_PlaceholderValue()
        value.tag = "$0"
        value.type = .floatVector
        value.values = [[Float(1), -2]].map { v in v.reduce(into: Data()) { d, x in withUnsafeBytes(of: x.bitPattern.littleEndian) { d.append(contentsOf: $0) } } }
        var group = Common_PlaceholderGroup()
        group.placeholders = [value]
        #expect(try SearchCodec.vectors(group.serializedData()) == [.floatVector([1, -2])])
    }

    @Test func parametersParse() throws {
        #expect(try SearchCodec.flatten(jsonObject: #"{"ef": 64, "radius": 0.5, "level": "2", "hints": [1]}"#, what: "p")
                == ["ef": "64", "radius": "0.5", "level": "2", "hints": "[1]"])
        #expect(throws: MilvusError.self) { try SearchCodec.flatten(jsonObject: "[1]", what: "p") }
        #expect(try SearchCodec.int(["offset": "3"], "offset", default: 0) == 3)
        #expect(SearchCodec.bool(["iterator": "True"], "iterator"))
        #expect(try SearchCodec.metric(["metric_type": "cosine"]) == .cosine)
        #expect(throws: MilvusError.self) { try SearchCodec.metric(["metric_type": "EUCLID"]) }
        #expect(SearchCodec.jsonObject(["M": "8", "kind": "x"]) == #"{"M":8,"kind":"x"}"#)
    }

    @Test func rankersParse() throws {
        #expect(try MilvusService.ranker(["strategy": "rrf", "params": #"{"k": 20}"#], functionScore: nil) == .rrf(k: 20))
        #expect(try MilvusService.ranker([:], functionScore: nil) == .rrf(k: 60))
        #expect(try MilvusService.ranker(["strategy": "weighted", "params": #"{"weights": [0.7, 0.3], "norm_score": true}"#],
                                         functionScore: nil) == .weighted(weights: [0.7, 0.3], normalize: true))
        var function = Schema_FunctionSchema()
        function.params = [Common_KeyValuePair(key: "reranker", value: "weighted"), Common_KeyValuePair(key: "weights", value: "[1, 2]")]
        var score = Schema_FunctionScore()
        score.functions = [function]
        #expect(try MilvusService.ranker([:], functionScore: score) == .weighted(weights: [1, 2], normalize: false))
        #expect(throws: MilvusError.self) { try MilvusService.ranker(["strategy": "max"], functionScore: nil) }
        #expect(throws: MilvusError.self) { try MilvusService.ranker(["strategy": "weighted"], functionScore: nil) }
    }

    @Test func outputNamesSpellOutTheStar() {
        let schema = CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: 2), .scalar("t", .varchar, maxLength: 4)],
                                      enableDynamicField: true)
        #expect(MilvusService.resolvedOutputNames(["*"], schema: schema, primaryKey: false) == ["id", "v", "t", "$meta"])
        #expect(MilvusService.resolvedOutputNames(["t", " color ", "t"], schema: schema, primaryKey: true) == ["id", "t", "color"])
        #expect(MilvusService.resolvedOutputNames([], schema: schema, primaryKey: false).isEmpty)
    }

    static let engineErrors: [(OspreyError, MilvusErrorCode)] = [
        (.collectionNotFound("c"), .collectionNotFound),
        (.partitionNotFound(collection: "c", partition: "p"), .partitionNotFound),
        (.indexNotFound(collection: "c", field: "f"), .indexNotFound),
        (.databaseNotFound("d"), .databaseNotFound),
        (.aliasNotFound("a"), .aliasNotFound),
        (.alreadyExists(kind: "alias", name: "a"), .aliasAlreadyExists),
        (.alreadyExists(kind: "collection", name: "c"), .invalidParameter),
        (.fieldNotFound(collection: "c", field: "f"), .fieldNotFound),
        (.invalidArgument("x"), .invalidParameter),
        (.invalidFilter("x"), .invalidParameter),
        (.validation(ValidationError(.dimensionMismatch, "dim")), .invalidParameter),
        (.closed, .serviceNotReady),
        (.storage("disk"), .unexpected),
        (.internalError("bug"), .unexpected),
    ]

    @Test("engine errors map to Milvus codes", arguments: engineErrors)
    func engineErrorCodes(error: OspreyError, code: MilvusErrorCode) {
        let mapped = MilvusError(engine: error)
        #expect(mapped.code == code)
        #expect(mapped.reason == error.description)
        #expect(mapped.status.extraInfo["is_input_error"] == (error.isCallerFault ? "true" : "false"))
    }
}
