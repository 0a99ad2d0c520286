import Foundation
import GRPCCore
import Osprey
import OspreyCore

// Collections: create, describe, list, drop, rename, properties, statistics, and the
// loading RPCs. Osprey keeps every collection searchable, so loading always reports done.
extension MilvusService {
    // MARK: - Collections

    package func createCollection(
        request: ServerRequest<Milvus_CreateCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            let schema = try SchemaCodec.decode(m.schema)
            var options = CollectionOptions(
                properties: m.properties.dictionary,
                consistencyLevel: Self.consistencyName(m.consistencyLevel),
                description: schema.description)
            if m.numPartitions > 0 { options.numPartitions = Int(m.numPartitions) }
            let settings = options
            try await engine {
                do {
                    _ = try database.createCollection(m.collectionName, schema: schema, database: db, options: settings)
                } catch OspreyError.alreadyExists(let kind, let name) where kind == "collection" {
                    // Creating the same collection again succeeds, as in Milvus; a different
                    // schema under the same name is an error.
                    let existing = try? database.collection(name, database: db)
                    guard let existing, existing.name == name, (try? schema.validated()) == existing.schema else {
                        throw MilvusError.invalid("collection already exists with a different schema: '\(name)'")
                    }
                }
            }
            return .success
        }
    }

    package func dropCollection(
        request: ServerRequest<Milvus_DropCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            try await engine {
                do {
                    try database.dropCollection(m.collectionName, database: db)
                } catch OspreyError.collectionNotFound {
                    // Dropping a collection that does not exist is not an error in Milvus.
                }
            }
            return .success
        }
    }

    package func hasCollection(
        request: ServerRequest<Milvus_HasCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_BoolResponse> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            var response = Milvus_BoolResponse()
            response.value = try await engine { database.hasCollection(m.collectionName, database: db) }
            return response
        }
    }

    package func describeCollection(
        request: ServerRequest<Milvus_DescribeCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_DescribeCollectionResponse> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            let c = try collection(m.collectionName, in: db)
            let d = c.describe()
            let dbID = (try? database.describeDatabase(d.database).id) ?? 0
            var response = Milvus_DescribeCollectionResponse()
            response.schema = SchemaCodec.encode(d.schema, name: d.name)
            response.collectionID = d.id
            response.collectionName = d.name
            response.createdTimestamp = d.createdTimestamp.rawValue
            response.createdUtcTimestamp = d.createdTimestamp.physicalMilliseconds
            response.updateTimestamp = d.updatedTimestamp.rawValue
            response.updateTimestampStr = String(d.updatedTimestamp.rawValue)
            response.shardsNum = 1
            response.aliases = d.aliases
            response.consistencyLevel = Self.consistencyLevel(d.consistencyLevel)
            response.properties = d.properties.keyValuePairs
            response.dbName = d.database
            response.dbID = dbID
            response.numPartitions = d.schema.partitionKey != nil ? Int64(d.numPartitions) : Int64(d.partitions.count)
            response.virtualChannelNames = ["\(d.name)-v0"]
            response.physicalChannelNames = ["\(d.name)-p0"]
            return response
        }
    }

    package func showCollections(
        request: ServerRequest<Milvus_ShowCollectionsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ShowCollectionsResponse> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            let names = try await engine {
                var names = try database.listCollections(database: db)
                if !m.collectionNames.isEmpty { names = names.filter(m.collectionNames.contains) }
                return names
            }
            var response = Milvus_ShowCollectionsResponse()
            for name in names {
                guard let d = try? collection(name, in: db).describe() else { continue }
                response.collectionNames.append(name)
                response.collectionIds.append(d.id)
                response.createdTimestamps.append(d.createdTimestamp.rawValue)
                response.createdUtcTimestamps.append(d.createdTimestamp.physicalMilliseconds)
                response.inMemoryPercentages.append(100)
                response.queryServiceAvailable.append(true)
                response.shardsNum.append(1)
            }
            return response
        }
    }

    package func renameCollection(
        request: ServerRequest<Milvus_RenameCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            let target = m.newDbname.isEmpty ? nil : m.newDbname
            try await engine { try database.renameCollection(m.oldName, to: m.newName, database: db, newDatabase: target) }
            return .success
        }
    }

    package func alterCollection(
        request: ServerRequest<Milvus_AlterCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            try await engine { try c.alterProperties(set: m.properties.dictionary, remove: m.deleteKeys) }
            return .success
        }
    }

    package func truncateCollection(
        request: ServerRequest<Milvus_TruncateCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_TruncateCollectionResponse> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            try await engine { try c.truncate() }
            return Milvus_TruncateCollectionResponse()
        }
    }

    package func getCollectionStatistics(
        request: ServerRequest<Milvus_GetCollectionStatisticsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetCollectionStatisticsResponse> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            let rows = try await engine { try c.count() }
            var response = Milvus_GetCollectionStatisticsResponse()
            response.stats = [Common_KeyValuePair(key: "row_count", value: String(rows))]
            return response
        }
    }

    // MARK: - Loading (collections are always loaded)

    package func loadCollection(
        request: ServerRequest<Milvus_LoadCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            _ = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            return .success
        }
    }

    package func releaseCollection(
        request: ServerRequest<Milvus_ReleaseCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            _ = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            return .success
        }
    }

    package func getLoadingProgress(
        request: ServerRequest<Milvus_GetLoadingProgressRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetLoadingProgressResponse> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            try Self.checkPartitions(m.partitionNames, of: c)
            var response = Milvus_GetLoadingProgressResponse()
            response.progress = 100
            response.refreshProgress = 100
            return response
        }
    }

    package func getLoadState(
        request: ServerRequest<Milvus_GetLoadStateRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetLoadStateResponse> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            try Self.checkPartitions(m.partitionNames, of: c)
            var response = Milvus_GetLoadStateResponse()
            response.state = .loaded
            return response
        }
    }

    // MARK: - Flush, segments and compaction

    package func flush(
        request: ServerRequest<Milvus_FlushRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_FlushResponse> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            let collections = try m.collectionNames.map { try collection($0, in: db) }
            try await engine { for c in collections { try c.flush() } }
            var response = Milvus_FlushResponse()
            response.dbName = db
            let ts = clock.next().rawValue
            for name in m.collectionNames {
                response.collSegIds[name] = Schema_LongArray()
                response.flushCollSegIds[name] = Schema_LongArray()
                response.collFlushTs[name] = ts
                response.collSealTimes[name] = Int64(ts >> 18) / 1000
            }
            return response
        }
    }

    package func getFlushState(
        request: ServerRequest<Milvus_GetFlushStateRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetFlushStateResponse> {
        await handle(request) { _, _ in
            // Flush is synchronous: by the time a client asks, it has finished.
            var response = Milvus_GetFlushStateResponse()
            response.flushed = true
            return response
        }
    }

    package func getPersistentSegmentInfo(
        request: ServerRequest<Milvus_GetPersistentSegmentInfoRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetPersistentSegmentInfoResponse> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            let segments = try await engine { try c.describeSegments() }
            var response = Milvus_GetPersistentSegmentInfoResponse()
            response.infos = segments.compactMap { s -> Milvus_PersistentSegmentInfo? in
                var info = Milvus_PersistentSegmentInfo()
                info.segmentID = s.id
                info.collectionID = c.id
                info.partitionID = s.partitionID
                info.numRows = Int64(s.rows)
                info.state = switch s.state {
                case .growing: .growing
                case .sealed: .sealed
                case .flushed: .flushed
                }
                info.level = .l1
                info.isSorted = false
                // Without states, Milvus lists the persisted ones: sealed, flushing, flushed.
                let wanted = m.states.isEmpty ? [.sealed, .flushing, .flushed] : m.states
                guard wanted.contains(info.state) else { return nil }
                return info
            }
            return response
        }
    }

    package func manualCompaction(
        request: ServerRequest<Milvus_ManualCompactionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ManualCompactionResponse> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            let c: Collection
            if !m.collectionName.isEmpty {
                c = try collection(m.collectionName, in: db)
            } else if m.collectionID != 0 {
                let names = try await engine { try database.listCollections(database: db) }
                guard let found = names.lazy.compactMap({ try? database.collection($0, database: db) }).first(where: { $0.id == m.collectionID }) else {
                    throw MilvusError(.collectionNotFound, "collection not found: id \(m.collectionID)")
                }
                c = found
            } else {
                throw MilvusError.invalid("ManualCompaction needs a collection name or id")
            }
            // Compaction runs to its end before the answer, so its state is Completed at once.
            let rewritten = try await engine { try c.compact() }
            var response = Milvus_ManualCompactionResponse()
            response.compactionID = Int64(truncatingIfNeeded: clock.next().rawValue)
            response.compactionPlanCount = Int32(clamping: rewritten)
            return response
        }
    }

    package func getCompactionState(
        request: ServerRequest<Milvus_GetCompactionStateRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetCompactionStateResponse> {
        await handle(request) { _, _ in
            var response = Milvus_GetCompactionStateResponse()
            response.state = .completed
            return response
        }
    }

    package func getCompactionStateWithPlans(
        request: ServerRequest<Milvus_GetCompactionPlansRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetCompactionPlansResponse> {
        await handle(request) { _, _ in
            var response = Milvus_GetCompactionPlansResponse()
            response.state = .completed
            return response
        }
    }

    // MARK: - Helpers

    /// Throws partition-not-found (200) for a name the collection does not have.
    static func checkPartitions(_ names: [String], of c: Collection) throws {
        for p in names where !p.isEmpty && !c.hasPartition(p) {
            throw MilvusError(engine: .partitionNotFound(collection: c.name, partition: p))
        }
    }

    static func consistencyName(_ level: Common_ConsistencyLevel) -> String {
        switch level {
        case .strong: "Strong"
        case .session: "Session"
        case .eventually: "Eventually"
        case .customized: "Customized"
        default: "Bounded"
        }
    }

    static func consistencyLevel(_ name: String) -> Common_ConsistencyLevel {
        switch name.lowercased() {
        case "strong": .strong
        case "session": .session
        case "eventually": .eventually
        case "customized": .customized
        default: .bounded
        }
    }
}
