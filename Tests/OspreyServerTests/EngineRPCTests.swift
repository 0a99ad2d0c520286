import Foundation
import GRPCCore
import Osprey
import OspreyCore
import Testing
@testable import OspreyServer

/// The engine-backed RPCs over a real HTTP/2 connection: create, insert, search, query,
/// delete, describe and the error codes of a missing collection.
@Suite("Engine RPCs", .timeLimit(.minutes(1)))
struct EngineRPCTests {
    static func schemaBytes() throws -> Data {
        var tag = Schema_FieldSchema()
        tag.name = "tag"; tag.dataType = .varChar
        tag.typeParams = [Common_KeyValuePair(key: "max_length", value: "8")]
        return try vectorSchema("docs", dim: 2, extra: [tag]).serializedData()
    }

    /// A collection schema `name`: INT64 primary key `id`, FLOAT_VECTOR `v` of `dim`, then
    /// `extra` fields.
    static func vectorSchema(_ name: String, dim: Int, extra: [Schema_FieldSchema] = []) -> Schema_CollectionSchema {
        var proto = Schema_CollectionSchema()
        proto.name = name
        var pk = Schema_FieldSchema()
        pk.name = "id"; pk.dataType = .int64; pk.isPrimaryKey = true
        var vec = Schema_FieldSchema()
        vec.name = "v"; vec.dataType = .floatVector
        vec.typeParams = [Common_KeyValuePair(key: "dim", value: String(dim))]
        proto.fields = [pk, vec] + extra
        return proto
    }

    /// An insert of `values.count / dim` rows with keys 0, 1, … into a ``vectorSchema(_:dim:extra:)`` collection.
    static func vectorInsert(_ name: String, dim: Int, values: [Float]) -> Milvus_InsertRequest {
        let rows = values.count / dim
        var ids = Schema_FieldData()
        ids.fieldName = "id"; ids.type = .int64
        ids.scalars.longData.data = (0..<rows).map { Int64($0) }
        var vectors = Schema_FieldData()
        vectors.fieldName = "v"; vectors.type = .floatVector
        vectors.vectors.dim = Int64(dim)
        vectors.vectors.floatVector.data = values
        var insert = Milvus_InsertRequest()
        insert.collectionName = name
        insert.fieldsData = [ids, vectors]
        insert.numRows = UInt32(rows)
        return insert
    }

    static func insertRequest() -> Milvus_InsertRequest {
        var ids = Schema_FieldData()
        ids.fieldName = "id"; ids.type = .int64
        ids.scalars.longData.data = [1, 2, 3]
        var vectors = Schema_FieldData()
        vectors.fieldName = "v"; vectors.type = .floatVector
        vectors.vectors.dim = 2
        vectors.vectors.floatVector.data = [0, 0, 1, 0, 5, 5]
        var tags = Schema_FieldData()
        tags.fieldName = "tag"; tags.type = .varChar
        tags.scalars.stringData.data = ["a", "b", "c"]
        var request = Milvus_InsertRequest()
        request.collectionName = "docs"
        request.fieldsData = [ids, vectors, tags]
        request.numRows = 3
        return request
    }

    @Test func createInsertSearchQueryDelete() async throws {
        try await LiveServer.withRunning { live in
            var create = Milvus_CreateCollectionRequest()
            create.collectionName = "docs"
            create.schema = try Self.schemaBytes()
            #expect(try await live.call("CreateCollection", create, as: Common_Status.self) == .success)

            let inserted = try await live.call("Insert", Self.insertRequest(), as: Milvus_MutationResult.self)
            #expect(!inserted.status.isError)
            #expect(inserted.insertCnt == 3)
            #expect(inserted.ids.intID.data == [1, 2, 3])

            var query = Common_PlaceholderValue()
            query.tag = "$0"; query.type = .floatVector
            query.values = [[Float(1), 0.25]].map { v in
                v.reduce(into: Data()) { d, x in withUnsafeBytes(of: x.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            }
            var group = Common_PlaceholderGroup()
            group.placeholders = [query]
            var search = Milvus_SearchRequest()
            search.collectionName = "docs"
            search.placeholderGroup = try group.serializedData()
            search.outputFields = ["tag"]
            search.searchParams = [Common_KeyValuePair(key: "topk", value: "2"), Common_KeyValuePair(key: "metric_type", value: "L2")]
            let found = try await live.call("Search", search, as: Milvus_SearchResults.self)
            #expect(!found.status.isError)
            #expect(found.results.topks == [2])
            #expect(found.results.ids.intID.data == [2, 1])
            #expect(found.results.scores == [0.0625, 1.0625])
            #expect(found.results.fieldsData.map(\.fieldName) == ["tag"])
            #expect(found.results.fieldsData.first?.scalars.stringData.data == ["b", "a"])
            #expect(found.results.primaryFieldName == "id")

            var count = Milvus_QueryRequest()
            count.collectionName = "docs"
            count.outputFields = ["count(*)"]
            let counted = try await live.call("Query", count, as: Milvus_QueryResults.self)
            #expect(counted.fieldsData.first?.scalars.longData.data == [3])

            var delete = Milvus_DeleteRequest()
            delete.collectionName = "docs"
            delete.expr = "tag in {tags}"
            var tags = Schema_TemplateValue()
            tags.arrayVal.stringData.data = ["a", "c"]
            delete.exprTemplateValues = ["tags": tags]
            let deleted = try await live.call("Delete", delete, as: Milvus_MutationResult.self)
            #expect(deleted.deleteCnt == 2)

            var rows = Milvus_QueryRequest()
            rows.collectionName = "docs"
            rows.expr = "id > 0"
            rows.outputFields = ["tag"]
            let left = try await live.call("Query", rows, as: Milvus_QueryResults.self)
            #expect(left.fieldsData.map(\.fieldName) == ["id", "tag"])
            #expect(left.fieldsData[0].scalars.longData.data == [2])
        }
    }

    @Test func largeInsertAndLargeQueryAnswerRoundTrip() async throws {
        // 6,000 rows of 64-d: the insert request and the query answer are each over a MiB,
        // so the server decodes the one and encodes the other on its worker pool.
        let rows = 6_000, dim = 64
        let values = (0..<rows * dim).map { Float($0 % 1013) / 7 }
        try await LiveServer.withRunning { live in
            var create = Milvus_CreateCollectionRequest()
            create.collectionName = "big"
            create.schema = try Self.vectorSchema("big", dim: dim).serializedData()
            #expect(try await live.call("CreateCollection", create, as: Common_Status.self) == .success)
            let insert = Self.vectorInsert("big", dim: dim, values: values)
            #expect(try insert.serializedData().count >= MilvusRoutes.offLoopDecodeBytes)
            let inserted = try await live.call("Insert", insert, as: Milvus_MutationResult.self)
            #expect(inserted.insertCnt == Int64(rows))

            var query = Milvus_QueryRequest()
            query.collectionName = "big"
            query.expr = "id >= 0"
            query.outputFields = ["v"]
            let answer = try await live.call("Query", query, as: Milvus_QueryResults.self)
            #expect(answer.approximateEncodedBytes >= MilvusRoutes.offLoopEncodeBytes)
            let byName = Dictionary(uniqueKeysWithValues: answer.fieldsData.map { ($0.fieldName, $0) })
            let keys = try #require(byName["id"]).scalars.longData.data
            let got = try #require(byName["v"]).vectors.floatVector.data
            #expect(keys.count == rows)
            #expect(got.count == rows * dim)
            // Rows may come back in any order: compare each row with what was inserted.
            var mismatches = 0
            for (i, key) in keys.enumerated() where Array(got[i * dim ..< (i + 1) * dim]) != Array(values[Int(key) * dim ..< (Int(key) + 1) * dim]) {
                mismatches += 1
            }
            #expect(mismatches == 0)
        }
    }

    @Test func staleSchemaTimestampIsSchemaMismatch() async throws {
        try await LiveServer.withRunning { live in
            var create = Milvus_CreateCollectionRequest()
            create.collectionName = "docs"
            create.schema = try Self.schemaBytes()
            _ = try await live.call("CreateCollection", create, as: Common_Status.self)
            var describe = Milvus_DescribeCollectionRequest()
            describe.collectionName = "docs"
            let current = try await live.call("DescribeCollection", describe, as: Milvus_DescribeCollectionResponse.self).updateTimestamp

            var stale = Self.insertRequest()
            stale.schemaTimestamp = current - 1
            let refused = try await live.call("Insert", stale, as: Milvus_MutationResult.self)
            #expect(refused.status.errorCode == .schemaMismatch)
            #expect(refused.insertCnt == 0)

            var fresh = Self.insertRequest()
            fresh.schemaTimestamp = current
            #expect(try await live.call("Insert", fresh, as: Milvus_MutationResult.self).insertCnt == 3)
        }
    }

    @Test func segmentsAndCompactionById() async throws {
        try await LiveServer.withRunning { live in
            var create = Milvus_CreateCollectionRequest()
            create.collectionName = "docs"
            create.schema = try Self.schemaBytes()
            _ = try await live.call("CreateCollection", create, as: Common_Status.self)
            _ = try await live.call("Insert", Self.insertRequest(), as: Milvus_MutationResult.self)

            var segments = Milvus_GetPersistentSegmentInfoRequest()
            segments.collectionName = "docs"
            // The rows are in a growing segment: listed only when growing ones are asked for.
            let before = try await live.call("GetPersistentSegmentInfo", segments, as: Milvus_GetPersistentSegmentInfoResponse.self)
            #expect(before.infos.isEmpty)
            var growing = segments
            growing.states = [.growing]
            let open = try await live.call("GetPersistentSegmentInfo", growing, as: Milvus_GetPersistentSegmentInfoResponse.self)
            #expect(open.infos.map(\.numRows) == [3])
            var flush = Milvus_FlushRequest()
            flush.collectionNames = ["docs"]
            _ = try await live.call("Flush", flush, as: Milvus_FlushResponse.self)
            let info = try await live.call("GetPersistentSegmentInfo", segments, as: Milvus_GetPersistentSegmentInfoResponse.self)
            #expect(info.infos.map(\.numRows) == [3])
            #expect(info.infos.allSatisfy { $0.state == .flushed && $0.segmentID == open.infos[0].segmentID })

            var describe = Milvus_DescribeCollectionRequest()
            describe.collectionName = "docs"
            let id = try await live.call("DescribeCollection", describe, as: Milvus_DescribeCollectionResponse.self).collectionID
            var compact = Milvus_ManualCompactionRequest()
            compact.collectionID = id
            let job = try await live.call("ManualCompaction", compact, as: Milvus_ManualCompactionResponse.self)
            #expect(!job.status.isError)
            #expect(job.compactionID != 0)
            var state = Milvus_GetCompactionStateRequest()
            state.compactionID = job.compactionID
            #expect(try await live.call("GetCompactionState", state, as: Milvus_GetCompactionStateResponse.self).state == .completed)

            compact.collectionID = id + 12345
            let missing = try await live.call("ManualCompaction", compact, as: Milvus_ManualCompactionResponse.self)
            #expect(missing.status.code == 100)
        }
    }

    @Test func missingCollectionAndBadInput() async throws {
        try await LiveServer.withRunning { live in
            var describe = Milvus_DescribeCollectionRequest()
            describe.collectionName = "nope"
            let missing = try await live.call("DescribeCollection", describe, as: Milvus_DescribeCollectionResponse.self)
            #expect(missing.status.code == 100)
            #expect(missing.status.errorCode == .collectionNotExists)
            #expect(missing.status.reason.contains("nope"))

            var create = Milvus_CreateCollectionRequest()
            create.collectionName = "docs"
            create.schema = Data([0xFF, 0xFF])
            let bad = try await live.call("CreateCollection", create, as: Common_Status.self)
            #expect(bad.code == 1100)
            #expect(bad.errorCode == .illegalArgument)
            #expect(bad.extraInfo["is_input_error"] == "true")
        }
    }
}
