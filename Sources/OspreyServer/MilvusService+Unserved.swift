import GRPCCore

// The RPCs declared in Protos/milvus.proto that wait for the engine. Each answers with
// an empty response whose status says the RPC is not yet supported (merr 65535, legacy
// UnexpectedError), so that clients fail fast with a clear message instead of seeing
// gRPC UNIMPLEMENTED. Wiring an RPC to the engine replaces its body here.
extension MilvusService {
    // MARK: - Collections

    package func createCollection(
        request: Milvus_CreateCollectionRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("CreateCollection"))
    }

    package func dropCollection(
        request: Milvus_DropCollectionRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("DropCollection"))
    }

    package func hasCollection(
        request: Milvus_HasCollectionRequest, context: ServerContext
    ) async throws -> Milvus_BoolResponse {
        .failure(.notYetSupported("HasCollection"))
    }

    package func describeCollection(
        request: Milvus_DescribeCollectionRequest, context: ServerContext
    ) async throws -> Milvus_DescribeCollectionResponse {
        .failure(.notYetSupported("DescribeCollection"))
    }

    package func showCollections(
        request: Milvus_ShowCollectionsRequest, context: ServerContext
    ) async throws -> Milvus_ShowCollectionsResponse {
        .failure(.notYetSupported("ShowCollections"))
    }

    package func renameCollection(
        request: Milvus_RenameCollectionRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("RenameCollection"))
    }

    package func alterCollection(
        request: Milvus_AlterCollectionRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("AlterCollection"))
    }

    package func truncateCollection(
        request: Milvus_TruncateCollectionRequest, context: ServerContext
    ) async throws -> Milvus_TruncateCollectionResponse {
        .failure(.notYetSupported("TruncateCollection"))
    }

    package func getCollectionStatistics(
        request: Milvus_GetCollectionStatisticsRequest, context: ServerContext
    ) async throws -> Milvus_GetCollectionStatisticsResponse {
        .failure(.notYetSupported("GetCollectionStatistics"))
    }

    // MARK: - Loading

    package func loadCollection(
        request: Milvus_LoadCollectionRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("LoadCollection"))
    }

    package func releaseCollection(
        request: Milvus_ReleaseCollectionRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("ReleaseCollection"))
    }

    package func getLoadingProgress(
        request: Milvus_GetLoadingProgressRequest, context: ServerContext
    ) async throws -> Milvus_GetLoadingProgressResponse {
        .failure(.notYetSupported("GetLoadingProgress"))
    }

    package func getLoadState(
        request: Milvus_GetLoadStateRequest, context: ServerContext
    ) async throws -> Milvus_GetLoadStateResponse {
        .failure(.notYetSupported("GetLoadState"))
    }

    // MARK: - Partitions

    package func createPartition(
        request: Milvus_CreatePartitionRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("CreatePartition"))
    }

    package func dropPartition(
        request: Milvus_DropPartitionRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("DropPartition"))
    }

    package func hasPartition(
        request: Milvus_HasPartitionRequest, context: ServerContext
    ) async throws -> Milvus_BoolResponse {
        .failure(.notYetSupported("HasPartition"))
    }

    package func showPartitions(
        request: Milvus_ShowPartitionsRequest, context: ServerContext
    ) async throws -> Milvus_ShowPartitionsResponse {
        .failure(.notYetSupported("ShowPartitions"))
    }

    package func loadPartitions(
        request: Milvus_LoadPartitionsRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("LoadPartitions"))
    }

    package func releasePartitions(
        request: Milvus_ReleasePartitionsRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("ReleasePartitions"))
    }

    package func getPartitionStatistics(
        request: Milvus_GetPartitionStatisticsRequest, context: ServerContext
    ) async throws -> Milvus_GetPartitionStatisticsResponse {
        .failure(.notYetSupported("GetPartitionStatistics"))
    }

    // MARK: - Aliases

    package func createAlias(
        request: Milvus_CreateAliasRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("CreateAlias"))
    }

    package func dropAlias(
        request: Milvus_DropAliasRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("DropAlias"))
    }

    package func alterAlias(
        request: Milvus_AlterAliasRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("AlterAlias"))
    }

    package func describeAlias(
        request: Milvus_DescribeAliasRequest, context: ServerContext
    ) async throws -> Milvus_DescribeAliasResponse {
        .failure(.notYetSupported("DescribeAlias"))
    }

    package func listAliases(
        request: Milvus_ListAliasesRequest, context: ServerContext
    ) async throws -> Milvus_ListAliasesResponse {
        .failure(.notYetSupported("ListAliases"))
    }

    // MARK: - Databases

    package func createDatabase(
        request: Milvus_CreateDatabaseRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("CreateDatabase"))
    }

    package func dropDatabase(
        request: Milvus_DropDatabaseRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("DropDatabase"))
    }

    package func listDatabases(
        request: Milvus_ListDatabasesRequest, context: ServerContext
    ) async throws -> Milvus_ListDatabasesResponse {
        .failure(.notYetSupported("ListDatabases"))
    }

    package func describeDatabase(
        request: Milvus_DescribeDatabaseRequest, context: ServerContext
    ) async throws -> Milvus_DescribeDatabaseResponse {
        .failure(.notYetSupported("DescribeDatabase"))
    }

    package func alterDatabase(
        request: Milvus_AlterDatabaseRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("AlterDatabase"))
    }

    // MARK: - Indexes

    package func createIndex(
        request: Milvus_CreateIndexRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("CreateIndex"))
    }

    package func describeIndex(
        request: Milvus_DescribeIndexRequest, context: ServerContext
    ) async throws -> Milvus_DescribeIndexResponse {
        .failure(.notYetSupported("DescribeIndex"))
    }

    package func dropIndex(
        request: Milvus_DropIndexRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("DropIndex"))
    }

    package func alterIndex(
        request: Milvus_AlterIndexRequest, context: ServerContext
    ) async throws -> Common_Status {
        .failure(.notYetSupported("AlterIndex"))
    }

    // MARK: - Writes

    package func insert(
        request: Milvus_InsertRequest, context: ServerContext
    ) async throws -> Milvus_MutationResult {
        .failure(.notYetSupported("Insert"))
    }

    package func upsert(
        request: Milvus_UpsertRequest, context: ServerContext
    ) async throws -> Milvus_MutationResult {
        .failure(.notYetSupported("Upsert"))
    }

    package func delete(
        request: Milvus_DeleteRequest, context: ServerContext
    ) async throws -> Milvus_MutationResult {
        .failure(.notYetSupported("Delete"))
    }

    package func flush(
        request: Milvus_FlushRequest, context: ServerContext
    ) async throws -> Milvus_FlushResponse {
        .failure(.notYetSupported("Flush"))
    }

    package func getFlushState(
        request: Milvus_GetFlushStateRequest, context: ServerContext
    ) async throws -> Milvus_GetFlushStateResponse {
        .failure(.notYetSupported("GetFlushState"))
    }

    // MARK: - Reads

    package func search(
        request: Milvus_SearchRequest, context: ServerContext
    ) async throws -> Milvus_SearchResults {
        .failure(.notYetSupported("Search"))
    }

    package func hybridSearch(
        request: Milvus_HybridSearchRequest, context: ServerContext
    ) async throws -> Milvus_SearchResults {
        .failure(.notYetSupported("HybridSearch"))
    }

    package func query(
        request: Milvus_QueryRequest, context: ServerContext
    ) async throws -> Milvus_QueryResults {
        .failure(.notYetSupported("Query"))
    }

    // MARK: - Segments and compaction

    package func getPersistentSegmentInfo(
        request: Milvus_GetPersistentSegmentInfoRequest, context: ServerContext
    ) async throws -> Milvus_GetPersistentSegmentInfoResponse {
        .failure(.notYetSupported("GetPersistentSegmentInfo"))
    }

    package func manualCompaction(
        request: Milvus_ManualCompactionRequest, context: ServerContext
    ) async throws -> Milvus_ManualCompactionResponse {
        .failure(.notYetSupported("ManualCompaction"))
    }

    package func getCompactionState(
        request: Milvus_GetCompactionStateRequest, context: ServerContext
    ) async throws -> Milvus_GetCompactionStateResponse {
        .failure(.notYetSupported("GetCompactionState"))
    }

    package func getCompactionStateWithPlans(
        request: Milvus_GetCompactionPlansRequest, context: ServerContext
    ) async throws -> Milvus_GetCompactionPlansResponse {
        .failure(.notYetSupported("GetCompactionStateWithPlans"))
    }
}
