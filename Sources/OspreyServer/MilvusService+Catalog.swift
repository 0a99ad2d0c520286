import GRPCCore
import Osprey
import OspreyCore

// Partitions, aliases and databases: catalog RPCs that map one to one onto the engine.
extension MilvusService {
    // MARK: - Partitions

    package func createPartition(
        request: ServerRequest<Milvus_CreatePartitionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            try await engine { try c.createPartition(m.partitionName) }
            return .success
        }
    }

    package func dropPartition(
        request: ServerRequest<Milvus_DropPartitionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            try await engine { try c.dropPartition(m.partitionName) }
            return .success
        }
    }

    package func hasPartition(
        request: ServerRequest<Milvus_HasPartitionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_BoolResponse> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            var response = Milvus_BoolResponse()
            response.value = c.hasPartition(m.partitionName)
            return response
        }
    }

    package func showPartitions(
        request: ServerRequest<Milvus_ShowPartitionsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ShowPartitionsResponse> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            var parts = c.describePartitions()
            if !m.partitionNames.isEmpty { parts = parts.filter { m.partitionNames.contains($0.name) } }
            var response = Milvus_ShowPartitionsResponse()
            response.partitionNames = parts.map(\.name)
            response.partitionIds = parts.map(\.id)
            response.createdTimestamps = parts.map(\.createdTimestamp.rawValue)
            response.createdUtcTimestamps = parts.map(\.createdTimestamp.physicalMilliseconds)
            response.inMemoryPercentages = parts.map { _ in 100 }
            return response
        }
    }

    package func loadPartitions(
        request: ServerRequest<Milvus_LoadPartitionsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            try Self.checkPartitions(m.partitionNames, of: c)
            return .success
        }
    }

    package func releasePartitions(
        request: ServerRequest<Milvus_ReleasePartitionsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            try Self.checkPartitions(m.partitionNames, of: c)
            return .success
        }
    }

    package func getPartitionStatistics(
        request: ServerRequest<Milvus_GetPartitionStatisticsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetPartitionStatisticsResponse> {
        await handle(request) { call, m in
            let c = try collection(m.collectionName, in: call.database(requestField: m.dbName))
            try Self.checkPartitions([m.partitionName], of: c)
            let rows = try await engine { try c.count(partitions: [m.partitionName]) }
            var response = Milvus_GetPartitionStatisticsResponse()
            response.stats = [Common_KeyValuePair(key: "row_count", value: String(rows))]
            return response
        }
    }

    // MARK: - Aliases

    package func createAlias(
        request: ServerRequest<Milvus_CreateAliasRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            try await engine {
                if (try? database.listCollections(database: db))?.contains(m.alias) == true {
                    throw MilvusError(.aliasCollectionNameConflict, "alias '\(m.alias)' is the name of an existing collection")
                }
                try database.createAlias(m.alias, collection: m.collectionName, database: db)
            }
            return .success
        }
    }

    package func dropAlias(
        request: ServerRequest<Milvus_DropAliasRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            try await engine { try database.dropAlias(m.alias, database: db) }
            return .success
        }
    }

    package func alterAlias(
        request: ServerRequest<Milvus_AlterAliasRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            try await engine { try database.alterAlias(m.alias, collection: m.collectionName, database: db) }
            return .success
        }
    }

    package func describeAlias(
        request: ServerRequest<Milvus_DescribeAliasRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_DescribeAliasResponse> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            var response = Milvus_DescribeAliasResponse()
            response.collection = try await engine { try database.describeAlias(m.alias, database: db) }
            response.alias = m.alias
            response.dbName = db
            return response
        }
    }

    package func listAliases(
        request: ServerRequest<Milvus_ListAliasesRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ListAliasesResponse> {
        await handle(request) { call, m in
            let db = call.database(requestField: m.dbName)
            let of = m.collectionName.isEmpty ? nil : m.collectionName
            var response = Milvus_ListAliasesResponse()
            response.aliases = try await engine { try database.listAliases(collection: of, database: db) }
            response.collectionName = m.collectionName
            response.dbName = db
            return response
        }
    }

    // MARK: - Databases

    package func createDatabase(
        request: ServerRequest<Milvus_CreateDatabaseRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { _, m in
            try await engine { try database.createDatabase(m.dbName, properties: m.properties.dictionary) }
            return .success
        }
    }

    package func dropDatabase(
        request: ServerRequest<Milvus_DropDatabaseRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { _, m in
            try await engine { try database.dropDatabase(m.dbName) }
            return .success
        }
    }

    package func listDatabases(
        request: ServerRequest<Milvus_ListDatabasesRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ListDatabasesResponse> {
        await handle(request) { _, _ in
            var response = Milvus_ListDatabasesResponse()
            for name in database.listDatabases() {
                guard let d = try? database.describeDatabase(name) else { continue }
                response.dbNames.append(name)
                response.dbIds.append(d.id)
                response.createdTimestamp.append(d.created.rawValue)
            }
            return response
        }
    }

    package func describeDatabase(
        request: ServerRequest<Milvus_DescribeDatabaseRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_DescribeDatabaseResponse> {
        await handle(request) { call, m in
            let name = call.database(requestField: m.dbName)
            let d = try await engine { try database.describeDatabase(name) }
            var response = Milvus_DescribeDatabaseResponse()
            response.dbName = name
            response.dbID = d.id
            response.createdTimestamp = d.created.rawValue
            response.properties = d.properties.keyValuePairs
            return response
        }
    }

    package func alterDatabase(
        request: ServerRequest<Milvus_AlterDatabaseRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        await handle(request) { call, m in
            let name = call.database(requestField: m.dbName)
            try await engine { try database.alterDatabase(name, set: m.properties.dictionary, remove: m.deleteKeys) }
            return .success
        }
    }
}
