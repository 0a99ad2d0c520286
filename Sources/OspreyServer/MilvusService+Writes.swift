import Foundation
import GRPCCore
import Osprey
import OspreyCore

// Writes: insert, upsert and delete. Columns are decoded and written on the worker pool.
extension MilvusService {
    package func insert(
        request: ServerRequest<Milvus_InsertRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_MutationResult> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            if let stale = Self.schemaMismatch(m.schemaTimestamp, c) { return stale }
            let partition = m.partitionName.isEmpty ? nil : m.partitionName
            let result = try await engine {
                let batch = try FieldDataCodec.decodeBatch(m.fieldsData, numRows: Int(m.numRows))
                return try c.insert(columns: batch, partition: partition)
            }
            var response = Self.mutationResult(result, keyType: c.schema.primaryKey.dataType)
            response.insertCnt = Int64(result.count)
            return response
        }
    }

    package func upsert(
        request: ServerRequest<Milvus_UpsertRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_MutationResult> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            if let stale = Self.schemaMismatch(m.schemaTimestamp, c) { return stale }
            if let op = m.fieldOps.first(where: { $0.op != .replace }) {
                throw MilvusError.invalid("field '\(op.fieldName)': array append and remove in an upsert are not supported by Osprey")
            }
            let partition = m.partitionName.isEmpty ? nil : m.partitionName
            let result = try await engine {
                var batch = try FieldDataCodec.decodeBatch(m.fieldsData, numRows: Int(m.numRows))
                if m.partialUpdate { return try c.partialUpsert(columns: batch, partition: partition) }
                let pk = c.schema.primaryKey
                guard pk.autoID, let keys = batch[pk.name] else { return try c.upsert(columns: batch, partition: partition) }
                // The engine generates auto_id keys and refuses given ones. As in Milvus 2.4,
                // an upsert then replaces the rows with those keys by rows with new keys: the
                // old rows are deleted, then the new ones inserted (two writes, not one).
                let old = (0..<keys.count).compactMap { i -> PrimaryKey? in
                    if case .int(let k) = keys.value(at: i) { return .int(k) }
                    return nil
                }
                batch[pk.name] = nil
                _ = try c.delete(ids: old)
                return try c.insert(columns: batch, partition: partition)
            }
            var response = Self.mutationResult(result, keyType: c.schema.primaryKey.dataType)
            response.upsertCnt = Int64(result.count)
            return response
        }
    }

    package func delete(
        request: ServerRequest<Milvus_DeleteRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_MutationResult> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            guard !m.expr.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw MilvusError.invalid("delete needs a filter expression or primary keys")
            }
            let partition = m.partitionName.isEmpty ? nil : m.partitionName
            let params = try SearchCodec.templateValues(m.exprTemplateValues)
            let result = try await engine { try c.delete(filter: m.expr, filterParams: params, partition: partition) }
            // Like Milvus ≥ 2.3.2: the count, not the keys (pymilvus then reports delete_count).
            var response = Milvus_MutationResult()
            response.deleteCnt = Int64(result.count)
            response.timestamp = result.timestamp.rawValue
            return response
        }
    }

    /// The answer to a write made with a cached schema that is no longer the collection's
    /// (the client sends the `update_timestamp` it described): legacy code SchemaMismatch
    /// (62), on which pymilvus drops its cached schema and retries once. Nil when the
    /// client sent no timestamp or the current one.
    static func schemaMismatch(_ schemaTimestamp: UInt64, _ c: Collection) -> Milvus_MutationResult? {
        let current = c.describe().updatedTimestamp.rawValue
        guard schemaTimestamp != 0, schemaTimestamp != current else { return nil }
        var status = Common_Status(.invalidParameter, reason:
            "the collection '\(c.name)' changed since its schema was described (schema timestamp \(schemaTimestamp), now \(current))")
        status.errorCode = .schemaMismatch
        var response = Milvus_MutationResult()
        response.status = status
        return response
    }

    static func mutationResult(_ result: MutationResult, keyType: DataType) -> Milvus_MutationResult {
        var response = Milvus_MutationResult()
        response.ids = FieldDataCodec.ids(result.primaryKeys, type: keyType)
        response.succIndex = (0..<UInt32(result.primaryKeys.count)).map { $0 }
        response.timestamp = result.timestamp.rawValue
        return response
    }
}
