import Foundation
import GRPCCore
import Osprey
import OspreyCore

// Reads: search (plain, range, paged, by primary key), hybrid search and query (rows,
// get, count(*), iterator pages).
extension MilvusService {
    // MARK: - Search

    package func search(
        request: ServerRequest<Milvus_SearchRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_SearchResults> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            guard !m.hasFunctionScore, m.functionChains.isEmpty else {
                throw MilvusError.invalid("rerank functions on a single search are not supported by Osprey")
            }
            let schema = c.schema
            let readAt = Self.iteratorSnapshot(m.searchParams.dictionary, guarantee: m.guaranteeTimestamp, collection: c)
            let sessionTs = readAt ?? c.committedTimestamp
            // The results are encoded on the pool too: the task itself runs on an event loop.
            let results = try await engine { () throws -> Schema_SearchResultData in
                var r = try Self.searchRequest(m, collection: c)
                r.readTimestamp = readAt
                let hits = try c.search(r)
                return Self.searchResultData(hits, limit: r.limit, outputFields: m.outputFields, schema: schema,
                                             groupBy: r.groupByField)
            }
            var response = Milvus_SearchResults()
            response.collectionName = c.name
            response.results = results
            response.sessionTs = sessionTs.rawValue
            return response
        }
    }

    package func hybridSearch(
        request: ServerRequest<Milvus_HybridSearchRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_SearchResults> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            let schema = c.schema
            let rank = m.rankParams.dictionary
            let ranker = try Self.ranker(rank, functionScore: m.hasFunctionScore ? m.functionScore : nil)
            let limit = try SearchCodec.int(rank, "limit", default: 10)
            let offset = try SearchCodec.int(rank, "offset", default: 0)
            let round = try SearchCodec.int(rank, "round_decimal", default: -1)
            let outputFields = m.outputFields
            let sessionTs = c.committedTimestamp
            let results = try await engine { () throws -> Schema_SearchResultData in
                // The sub-searches read the snapshot the response reports as session_ts.
                let requests = try m.requests.map { sub throws -> SearchRequest in
                    var r = try Self.searchRequest(sub, collection: c)
                    r.readTimestamp = sessionTs
                    return r
                }
                let hits = try c.hybridSearch(requests, ranker: ranker, limit: limit, offset: offset, outputFields: outputFields,
                                              partitions: m.partitionNames, roundDecimal: round)
                return Self.searchResultData(hits, limit: limit, outputFields: outputFields, schema: schema)
            }
            var response = Milvus_SearchResults()
            response.collectionName = c.name
            response.results = results
            response.sessionTs = sessionTs.rawValue
            return response
        }
    }

    /// The engine request for one Milvus search request (query vectors decoded, parameters
    /// parsed). Runs on the worker pool: decoding large batches and by-key lookups is work.
    static func searchRequest(_ m: Milvus_SearchRequest, collection c: Collection) throws -> SearchRequest {
        let top = m.searchParams.dictionary
        var inner = try SearchCodec.flatten(jsonObject: top["params"] ?? "", what: "search params")
        let params = inner.merging(top.filter { $0.key != "params" }) { _, outer in outer }
        try Self.refuseUnsupported(params, ["order_by_fields", "group_by_fields"])
        let field = params["anns_field"].flatMap { $0.isEmpty ? nil : $0 }
        let vectors: [FieldValue]
        switch m.searchInput {
        case .placeholderGroup(let bytes)?:
            vectors = try SearchCodec.vectors(bytes)
        case .ids(let ids)?:
            vectors = try vectorsByKey(FieldDataCodec.keys(ids), field: field, collection: c)
        case nil:
            throw MilvusError.invalid("the search carries no query vectors")
        }
        for key in ["metric_type", "topk", "limit", "offset", "round_decimal", "anns_field", "group_by_field", "group_size",
                    "strict_group_size"] { inner[key] = nil }
        let group = params["group_by_field"].flatMap { $0.isEmpty ? nil : $0 }
        return SearchRequest(
            vectors: vectors, field: field,
            limit: try SearchCodec.int(params, "topk", default: try SearchCodec.int(params, "limit", default: 10)),
            metric: try SearchCodec.metric(params),
            filter: m.dsl.isEmpty ? nil : m.dsl,
            filterParams: try SearchCodec.templateValues(m.exprTemplateValues),
            outputFields: m.outputFields, partitions: m.partitionNames, params: inner,
            offset: try SearchCodec.int(params, "offset", default: 0),
            roundDecimal: try SearchCodec.int(params, "round_decimal", default: -1),
            groupByField: group, groupSize: try SearchCodec.int(params, "group_size", default: 1),
            strictGroupSize: SearchCodec.bool(params, "strict_group_size"))
    }

    /// The snapshot an iterator page reads (`iterator` set in the request's parameters): the
    /// session timestamp of its first page, which pymilvus sends back as the guarantee
    /// timestamp, or the newest commit for the first page. Nil for other reads, which read the
    /// newest commit: their guarantee timestamp only asks for data at least that fresh, and
    /// every acknowledged write already is.
    static func iteratorSnapshot(_ params: [String: String], guarantee: UInt64, collection c: Collection) -> Timestamp? {
        guard SearchCodec.bool(params, "iterator") else { return nil }
        let now = c.committedTimestamp
        // 0 (strong) and 1 (eventually) are not timestamps.
        guard guarantee > 1 else { return now }
        return min(Timestamp(rawValue: guarantee), now)
    }

    /// Refuses parameters for features the engine does not have, rather than ignoring them.
    static func refuseUnsupported(_ params: [String: String], _ keys: [String]) throws {
        for key in keys where !(params[key] ?? "").isEmpty {
            throw MilvusError.invalid("\(key) is not supported by this version of Osprey")
        }
    }

    /// The stored vectors of the rows with these keys (search by primary key).
    static func vectorsByKey(_ keys: [PrimaryKey], field: String?, collection c: Collection) throws -> [FieldValue] {
        let vectorFields = c.schema.vectorFields
        guard let name = field ?? (vectorFields.count == 1 ? vectorFields[0].name : nil) else {
            throw MilvusError.invalid("the collection has several vector fields; set anns_field")
        }
        let rows = try c.get(ids: keys, outputFields: [name])
        guard rows.count == keys.count, let column = rows.columns[name] else {
            throw MilvusError.invalid("some of the primary keys to search by do not exist")
        }
        return (0..<rows.count).map { column.value(at: $0) }
    }

    /// The fusion a HybridSearch asks for, from `rank_params` (`strategy`, `params`) or a
    /// rerank function (`reranker`, `k`, `weights`, `norm_score`).
    static func ranker(_ rank: [String: String], functionScore: Schema_FunctionScore?) throws -> HybridRanker {
        var strategy = rank["strategy"]?.lowercased() ?? ""
        var params: [String: JSONValue] = [:]
        if let text = rank["params"], !text.isEmpty {
            guard case .object(let o)? = try? JSONValue.parse(text) else {
                throw MilvusError.invalid("rank params must be a JSON object, got \(text)")
            }
            params = o
        }
        if strategy.isEmpty, let fs = functionScore, let f = fs.functions.first {
            let kv = f.params.dictionary
            strategy = kv["reranker"]?.lowercased() ?? ""
            for (k, v) in kv where k != "reranker" { params[k] = (try? JSONValue.parse(v)) ?? .string(v) }
        }
        switch strategy {
        case "rrf", "":
            let k = params["k"]?.numberValue ?? 60
            return .rrf(k: k)
        case "weighted":
            guard case .array(let items)? = params["weights"] else {
                throw MilvusError.invalid("the weighted ranker needs a weights array")
            }
            let weights = try items.map { item -> Float in
                guard let w = item.numberValue else { throw MilvusError.invalid("weights must be numbers, got \(item)") }
                return Float(w)
            }
            var normalize = false
            switch params["norm_score"] {
            case .bool(let b)?: normalize = b
            case .string(let s)?: normalize = s.lowercased() == "true"
            default: break
            }
            return .weighted(weights: weights, normalize: normalize)
        default:
            throw MilvusError.invalid("unknown rank strategy '\(strategy)'; use rrf or weighted")
        }
    }

    /// Search hits as `SearchResultData`: flat, row-aligned ids, scores and fields, split
    /// per query by `topks`.
    static func searchResultData(_ hits: [SearchHits], limit: Int, outputFields: [String], schema: CollectionSchema,
                                 groupBy: String? = nil) -> Schema_SearchResultData {
        var data = Schema_SearchResultData()
        data.numQueries = Int64(hits.count)
        data.topK = Int64(limit)
        data.topks = hits.map { Int64($0.count) }
        data.scores = hits.flatMap(\.scores)
        data.ids = FieldDataCodec.ids(hits.flatMap(\.ids), type: schema.primaryKey.dataType)
        data.fieldsData = FieldDataCodec.encodeBatch(hits.map(\.fields), schema: schema)
        data.outputFields = resolvedOutputNames(outputFields, schema: schema, primaryKey: false)
        data.primaryFieldName = schema.primaryKey.name
        if let groupField = groupBy.flatMap(schema.field(named:)), hits.allSatisfy({ $0.groupValues != nil }) {
            let values = hits.flatMap { $0.groupValues ?? [] }
            data.groupByFieldValue = FieldDataCodec.encode(
                name: groupField.name, field: groupField, parts: [FieldDataCodec.column(values, type: groupField.dataType)])
        }
        return data
    }

    /// The output field names a result reports: `*` spelled out (with `$meta` when the
    /// dynamic field is on); dynamic keys as asked, which pymilvus picks out of `$meta`.
    static func resolvedOutputNames(_ names: [String], schema: CollectionSchema, primaryKey: Bool) -> [String] {
        var out: [String] = primaryKey ? [schema.primaryKey.name] : []
        func add(_ n: String) { if !out.contains(n) { out.append(n) } }
        for raw in names {
            let name = raw.trimmingCharacters(in: .whitespaces)
            if name.isEmpty { continue }
            if name == "*" {
                schema.fields.forEach { add($0.name) }
                if schema.enableDynamicField { add(CollectionSchema.dynamicFieldName) }
            } else {
                add(name)
            }
        }
        return out
    }

    // MARK: - Query

    package func query(
        request: ServerRequest<Milvus_QueryRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_QueryResults> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            let schema = c.schema
            let params = m.queryParams.dictionary
            try Self.refuseUnsupported(params, ["order_by_fields", "group_by_fields"])
            let filterParams = try SearchCodec.templateValues(m.exprTemplateValues)
            var response = Milvus_QueryResults()
            response.collectionName = c.name
            response.primaryFieldName = schema.primaryKey.name
            let readAt = Self.iteratorSnapshot(params, guarantee: m.guaranteeTimestamp, collection: c)
            response.sessionTs = (readAt ?? c.committedTimestamp).rawValue
            let wanted = m.outputFields.map { $0.trimmingCharacters(in: .whitespaces) }
            if wanted.contains(where: { $0.lowercased() == "count(*)" }) {
                guard wanted.count == 1 else { throw MilvusError.invalid("count(*) cannot be combined with other output fields") }
                let n = try await engine { try c.count(filter: m.expr, filterParams: filterParams, partitions: m.partitionNames) }
                var fd = Schema_FieldData()
                fd.type = .int64
                fd.fieldName = "count(*)"
                var longs = Schema_LongArray()
                longs.data = [Int64(n)]
                fd.scalars.longData = longs
                response.fieldsData = [fd]
                response.outputFields = ["count(*)"]
                return response
            }
            let limit = (params["limit"] ?? "").isEmpty ? nil : try SearchCodec.int(params, "limit", default: 0)
            var q = QueryRequest(
                filter: m.expr, filterParams: filterParams, outputFields: wanted, partitions: m.partitionNames,
                limit: limit, offset: try SearchCodec.int(params, "offset", default: 0))
            q.readTimestamp = readAt
            let request = q
            response.fieldsData = try await engine { FieldDataCodec.encodeBatch([try c.query(request).columns], schema: schema) }
            response.outputFields = Self.resolvedOutputNames(wanted, schema: schema, primaryKey: true)
            return response
        }
    }
}
