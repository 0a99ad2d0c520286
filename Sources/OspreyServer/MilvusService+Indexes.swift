import GRPCCore
import Osprey
import OspreyCore

// Indexes: create (vector and scalar), describe with build progress, drop.
extension MilvusService {
    /// Keys of CreateIndex's `extra_params` that are not build parameters.
    static let indexControlKeys: Set<String> = ["index_type", "metric_type", "params"]

    package func createIndex(
        request: ServerRequest<Milvus_CreateIndexRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            guard !m.fieldName.isEmpty else { throw MilvusError.invalid("CreateIndex needs a field name") }
            let extra = m.extraParams.dictionary
            // Build parameters arrive flattened (`M` = "8") or, from older clients, as a JSON
            // object under `params`; both are accepted, the flattened ones winning.
            var params = try SearchCodec.flatten(jsonObject: extra["params"] ?? "", what: "index params")
            for (k, v) in extra where !Self.indexControlKeys.contains(k) { params[k] = v }
            let metricName = extra["metric_type"] ?? params.removeValue(forKey: "metric_type")
            let typeName = extra["index_type"] ?? params.removeValue(forKey: "index_type") ?? "AUTOINDEX"
            params["metric_type"] = nil
            params["index_type"] = nil
            let metric = try SearchCodec.metric(["metric_type": metricName ?? ""])
            let name = m.indexName.isEmpty ? nil : m.indexName
            let buildParams = params
            try await engine {
                try c.createIndex(field: m.fieldName, name: name, indexType: typeName, metric: metric, params: buildParams)
            }
            return .success
        }
    }

    package func describeIndex(
        request: ServerRequest<Milvus_DescribeIndexRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_DescribeIndexResponse> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            let descriptions = try await engine { () throws -> [Milvus_IndexDescription] in
                let indexes = c.listIndexes(field: m.fieldName.isEmpty ? nil : m.fieldName)
                    .filter { m.indexName.isEmpty || $0.name == m.indexName }
                return try indexes.map { d in
                    let progress = try c.indexProgress(name: d.name)
                    return Self.indexDescription(d, progress: progress)
                }
            }
            guard !descriptions.isEmpty else {
                let what = m.indexName.isEmpty ? (m.fieldName.isEmpty ? "collection '\(c.name)'" : "field '\(m.fieldName)'") : "'\(m.indexName)'"
                throw MilvusError(.indexNotFound, "index not found: \(what)")
            }
            var response = Milvus_DescribeIndexResponse()
            response.indexDescriptions = descriptions
            return response
        }
    }

    package func dropIndex(
        request: ServerRequest<Milvus_DropIndexRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            try await engine {
                var name = m.indexName
                if name.isEmpty {
                    guard let d = c.listIndexes(field: m.fieldName).first, !m.fieldName.isEmpty else {
                        throw MilvusError(.indexNotFound, "index not found on field '\(m.fieldName)'")
                    }
                    name = d.name
                }
                try c.dropIndex(name: name)
            }
            return .success
        }
    }

    /// An engine index and its build progress as Milvus's `IndexDescription`.
    static func indexDescription(_ d: IndexDescription, progress: IndexProgress) -> Milvus_IndexDescription {
        var out = Milvus_IndexDescription()
        out.indexName = d.name
        out.indexID = d.id
        out.fieldName = d.field
        var params = [Common_KeyValuePair(key: "index_type", value: d.indexType)]
        if let metric = d.metric { params.append(Common_KeyValuePair(key: "metric_type", value: metric.rawValue)) }
        // Build parameters both flattened (as Milvus stores them) and as the `params` JSON
        // object that pymilvus parses.
        params += d.params.filter { !indexControlKeys.contains($0.key) }.keyValuePairs
        params.append(Common_KeyValuePair(key: "params", value: SearchCodec.jsonObject(d.params)))
        out.params = params
        out.indexedRows = Int64(progress.indexedRows)
        out.totalRows = Int64(progress.totalRows)
        out.pendingIndexRows = Int64(progress.pendingRows)
        switch progress.state {
        case .finished: out.state = .finished
        case .inProgress: out.state = .inProgress
        case .failed(let reason):
            out.state = .failed
            out.indexStateFailReason = reason
        }
        return out
    }
}

extension MilvusService {
    /// Index properties. The only one Milvus clients set is `mmap.enabled`; Osprey always reads
    /// saved index files from a memory mapping (docs/index.md), so `true` (or deleting the key)
    /// asks for what already happens and `false` is refused, as is any other key.
    package func alterIndex(
        request: ServerRequest<Milvus_AlterIndexRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            guard c.listIndexes().contains(where: { $0.name == m.indexName }) else {
                throw MilvusError(.indexNotFound, "index not found: '\(m.indexName)' on collection '\(c.name)'")
            }
            for kv in m.extraParams {
                guard kv.key == "mmap.enabled" else {
                    throw MilvusError.invalid("index property '\(kv.key)' is not supported by Osprey (only mmap.enabled)")
                }
                guard kv.value.lowercased() == "true" else {
                    throw MilvusError.invalid("Osprey always memory-maps saved index files; mmap.enabled cannot be set to '\(kv.value)'")
                }
            }
            for key in m.deleteKeys where key != "mmap.enabled" {
                throw MilvusError.invalid("index property '\(key)' is not supported by Osprey (only mmap.enabled)")
            }
            return .success
        }
    }
}
