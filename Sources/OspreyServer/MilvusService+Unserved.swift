import GRPCCore

// The RPCs declared in Protos/milvus.proto that wait for the engine. Each answers with
// an empty response whose status says the RPC is not yet supported (merr 65535, legacy
// UnexpectedError), so that clients fail fast with a clear message instead of seeing
// gRPC UNIMPLEMENTED. Wiring an RPC to the engine replaces its body here with a call of
// `handle(request) { call, message in … }`.
extension MilvusService {
    // MARK: - Collections

    package func createCollection(
        request: ServerRequest<Milvus_CreateCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("CreateCollection")))
    }

    package func dropCollection(
        request: ServerRequest<Milvus_DropCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("DropCollection")))
    }

    package func hasCollection(
        request: ServerRequest<Milvus_HasCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_BoolResponse> {
        ServerResponse(message: .failure(.notYetSupported("HasCollection")))
    }

    package func describeCollection(
        request: ServerRequest<Milvus_DescribeCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_DescribeCollectionResponse> {
        ServerResponse(message: .failure(.notYetSupported("DescribeCollection")))
    }

    package func showCollections(
        request: ServerRequest<Milvus_ShowCollectionsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ShowCollectionsResponse> {
        ServerResponse(message: .failure(.notYetSupported("ShowCollections")))
    }

    package func renameCollection(
        request: ServerRequest<Milvus_RenameCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("RenameCollection")))
    }

    package func alterCollection(
        request: ServerRequest<Milvus_AlterCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("AlterCollection")))
    }

    package func truncateCollection(
        request: ServerRequest<Milvus_TruncateCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_TruncateCollectionResponse> {
        ServerResponse(message: .failure(.notYetSupported("TruncateCollection")))
    }

    package func getCollectionStatistics(
        request: ServerRequest<Milvus_GetCollectionStatisticsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetCollectionStatisticsResponse> {
        ServerResponse(message: .failure(.notYetSupported("GetCollectionStatistics")))
    }

    // MARK: - Loading

    package func loadCollection(
        request: ServerRequest<Milvus_LoadCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("LoadCollection")))
    }

    package func releaseCollection(
        request: ServerRequest<Milvus_ReleaseCollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("ReleaseCollection")))
    }

    package func getLoadingProgress(
        request: ServerRequest<Milvus_GetLoadingProgressRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetLoadingProgressResponse> {
        ServerResponse(message: .failure(.notYetSupported("GetLoadingProgress")))
    }

    package func getLoadState(
        request: ServerRequest<Milvus_GetLoadStateRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetLoadStateResponse> {
        ServerResponse(message: .failure(.notYetSupported("GetLoadState")))
    }

    // MARK: - Partitions

    package func createPartition(
        request: ServerRequest<Milvus_CreatePartitionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("CreatePartition")))
    }

    package func dropPartition(
        request: ServerRequest<Milvus_DropPartitionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("DropPartition")))
    }

    package func hasPartition(
        request: ServerRequest<Milvus_HasPartitionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_BoolResponse> {
        ServerResponse(message: .failure(.notYetSupported("HasPartition")))
    }

    package func showPartitions(
        request: ServerRequest<Milvus_ShowPartitionsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ShowPartitionsResponse> {
        ServerResponse(message: .failure(.notYetSupported("ShowPartitions")))
    }

    package func loadPartitions(
        request: ServerRequest<Milvus_LoadPartitionsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("LoadPartitions")))
    }

    package func releasePartitions(
        request: ServerRequest<Milvus_ReleasePartitionsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("ReleasePartitions")))
    }

    package func getPartitionStatistics(
        request: ServerRequest<Milvus_GetPartitionStatisticsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetPartitionStatisticsResponse> {
        ServerResponse(message: .failure(.notYetSupported("GetPartitionStatistics")))
    }

    // MARK: - Aliases

    package func createAlias(
        request: ServerRequest<Milvus_CreateAliasRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("CreateAlias")))
    }

    package func dropAlias(
        request: ServerRequest<Milvus_DropAliasRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("DropAlias")))
    }

    package func alterAlias(
        request: ServerRequest<Milvus_AlterAliasRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("AlterAlias")))
    }

    package func describeAlias(
        request: ServerRequest<Milvus_DescribeAliasRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_DescribeAliasResponse> {
        ServerResponse(message: .failure(.notYetSupported("DescribeAlias")))
    }

    package func listAliases(
        request: ServerRequest<Milvus_ListAliasesRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ListAliasesResponse> {
        ServerResponse(message: .failure(.notYetSupported("ListAliases")))
    }

    // MARK: - Databases

    package func createDatabase(
        request: ServerRequest<Milvus_CreateDatabaseRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("CreateDatabase")))
    }

    package func dropDatabase(
        request: ServerRequest<Milvus_DropDatabaseRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("DropDatabase")))
    }

    package func listDatabases(
        request: ServerRequest<Milvus_ListDatabasesRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ListDatabasesResponse> {
        ServerResponse(message: .failure(.notYetSupported("ListDatabases")))
    }

    package func describeDatabase(
        request: ServerRequest<Milvus_DescribeDatabaseRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_DescribeDatabaseResponse> {
        ServerResponse(message: .failure(.notYetSupported("DescribeDatabase")))
    }

    package func alterDatabase(
        request: ServerRequest<Milvus_AlterDatabaseRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("AlterDatabase")))
    }

    // MARK: - Indexes

    package func createIndex(
        request: ServerRequest<Milvus_CreateIndexRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("CreateIndex")))
    }

    package func describeIndex(
        request: ServerRequest<Milvus_DescribeIndexRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_DescribeIndexResponse> {
        ServerResponse(message: .failure(.notYetSupported("DescribeIndex")))
    }

    package func dropIndex(
        request: ServerRequest<Milvus_DropIndexRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("DropIndex")))
    }

    package func alterIndex(
        request: ServerRequest<Milvus_AlterIndexRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("AlterIndex")))
    }

    // MARK: - Writes

    package func insert(
        request: ServerRequest<Milvus_InsertRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_MutationResult> {
        ServerResponse(message: .failure(.notYetSupported("Insert")))
    }

    package func upsert(
        request: ServerRequest<Milvus_UpsertRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_MutationResult> {
        ServerResponse(message: .failure(.notYetSupported("Upsert")))
    }

    package func delete(
        request: ServerRequest<Milvus_DeleteRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_MutationResult> {
        ServerResponse(message: .failure(.notYetSupported("Delete")))
    }

    package func flush(
        request: ServerRequest<Milvus_FlushRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_FlushResponse> {
        ServerResponse(message: .failure(.notYetSupported("Flush")))
    }

    package func getFlushState(
        request: ServerRequest<Milvus_GetFlushStateRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetFlushStateResponse> {
        ServerResponse(message: .failure(.notYetSupported("GetFlushState")))
    }

    // MARK: - Reads

    package func search(
        request: ServerRequest<Milvus_SearchRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_SearchResults> {
        ServerResponse(message: .failure(.notYetSupported("Search")))
    }

    package func hybridSearch(
        request: ServerRequest<Milvus_HybridSearchRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_SearchResults> {
        ServerResponse(message: .failure(.notYetSupported("HybridSearch")))
    }

    package func query(
        request: ServerRequest<Milvus_QueryRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_QueryResults> {
        ServerResponse(message: .failure(.notYetSupported("Query")))
    }

    // MARK: - Segments and compaction

    package func getPersistentSegmentInfo(
        request: ServerRequest<Milvus_GetPersistentSegmentInfoRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetPersistentSegmentInfoResponse> {
        ServerResponse(message: .failure(.notYetSupported("GetPersistentSegmentInfo")))
    }

    package func manualCompaction(
        request: ServerRequest<Milvus_ManualCompactionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ManualCompactionResponse> {
        ServerResponse(message: .failure(.notYetSupported("ManualCompaction")))
    }

    package func getCompactionState(
        request: ServerRequest<Milvus_GetCompactionStateRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetCompactionStateResponse> {
        ServerResponse(message: .failure(.notYetSupported("GetCompactionState")))
    }

    package func getCompactionStateWithPlans(
        request: ServerRequest<Milvus_GetCompactionPlansRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetCompactionPlansResponse> {
        ServerResponse(message: .failure(.notYetSupported("GetCompactionStateWithPlans")))
    }
}
