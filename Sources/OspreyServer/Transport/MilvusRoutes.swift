import GRPCCore
import NIOCore
import SwiftProtobuf

/// Every method the server answers, by its HTTP/2 path: the 50 RPCs of Protos/milvus.proto,
/// served by ``MilvusService``, and the Milvus RPCs it does not declare, answered by
/// ``UnservedMilvusMethods`` with a "not supported" status.
///
/// A route decodes the request message, calls the handler and encodes the response,
/// already framed for gRPC (see ``GRPCFramedBytes``). The declared list is the service
/// protocol generated from milvus.proto; `routesCoverTheServiceProtocol` in the tests
/// fails when the two drift apart.
///
/// Thread safety: immutable after init; safe to share.
struct MilvusRoutes: Sendable {
    /// The gRPC service name every path starts with.
    static let serviceName = "milvus.proto.milvus.MilvusService"
    /// Request messages at least this large are decoded on the worker pool, not on the
    /// event loop (a batch of 1,000 × 128-d floats is about 0.5 MiB).
    static let offLoopDecodeBytes = 1 << 20
    /// Responses that carry about this much row data or more (see ``ApproximatelySized``)
    /// are encoded on the worker pool.
    static let offLoopEncodeBytes = 1 << 20

    private let table: [String: UnaryRoute]

    init(service: MilvusService) {
        func route<Input: SwiftProtobuf.Message & Sendable, Output: SwiftProtobuf.Message & Sendable>(
            _ method: String, _: Input.Type,
            _ call: @escaping @Sendable (MilvusService, ServerRequest<Input>, ServerContext) async throws -> ServerResponse<Output>
        ) -> UnaryRoute {
            UnaryRoute(method: method) { bytes, metadata, context in
                let message: Input
                do {
                    if bytes.readableBytes >= MilvusRoutes.offLoopDecodeBytes {
                        // A large message (an insert of many rows) would hold up the event
                        // loop, and every connection on it, while it decodes.
                        message = try await service.engine { try Input(serializedBytes: GRPCFramedBytes(message: bytes)) }
                    } else {
                        message = try Input(serializedBytes: GRPCFramedBytes(message: bytes))
                    }
                } catch {
                    return .failure(RPCError(code: .invalidArgument, message: "cannot decode the \(method) request: \(error)"))
                }
                do {
                    let response = try await call(service, ServerRequest(metadata: metadata, message: message), context)
                    switch response.accepted {
                    case .success(let contents):
                        let answer = contents.message
                        if let sized = answer as? any ApproximatelySized,
                           sized.approximateEncodedBytes >= MilvusRoutes.offLoopEncodeBytes {
                            return .success(try await service.engine { try GRPCFramedBytes.frame(answer) })
                        }
                        return .success(try GRPCFramedBytes.frame(answer))
                    case .failure(let error):
                        return .failure(error)
                    }
                } catch let error as RPCError {
                    return .failure(error)
                } catch {
                    return .failure(RPCError(code: .internalError, message: "\(method): \(error)"))
                }
            }
        }
        let declared: [UnaryRoute] = [
            route("CreateCollection", Milvus_CreateCollectionRequest.self) { try await $0.createCollection(request: $1, context: $2) },
            route("DropCollection", Milvus_DropCollectionRequest.self) { try await $0.dropCollection(request: $1, context: $2) },
            route("HasCollection", Milvus_HasCollectionRequest.self) { try await $0.hasCollection(request: $1, context: $2) },
            route("LoadCollection", Milvus_LoadCollectionRequest.self) { try await $0.loadCollection(request: $1, context: $2) },
            route("ReleaseCollection", Milvus_ReleaseCollectionRequest.self) { try await $0.releaseCollection(request: $1, context: $2) },
            route("DescribeCollection", Milvus_DescribeCollectionRequest.self) { try await $0.describeCollection(request: $1, context: $2) },
            route("GetCollectionStatistics", Milvus_GetCollectionStatisticsRequest.self) { try await $0.getCollectionStatistics(request: $1, context: $2) },
            route("ShowCollections", Milvus_ShowCollectionsRequest.self) { try await $0.showCollections(request: $1, context: $2) },
            route("AlterCollection", Milvus_AlterCollectionRequest.self) { try await $0.alterCollection(request: $1, context: $2) },
            route("TruncateCollection", Milvus_TruncateCollectionRequest.self) { try await $0.truncateCollection(request: $1, context: $2) },
            route("CreatePartition", Milvus_CreatePartitionRequest.self) { try await $0.createPartition(request: $1, context: $2) },
            route("DropPartition", Milvus_DropPartitionRequest.self) { try await $0.dropPartition(request: $1, context: $2) },
            route("HasPartition", Milvus_HasPartitionRequest.self) { try await $0.hasPartition(request: $1, context: $2) },
            route("LoadPartitions", Milvus_LoadPartitionsRequest.self) { try await $0.loadPartitions(request: $1, context: $2) },
            route("ReleasePartitions", Milvus_ReleasePartitionsRequest.self) { try await $0.releasePartitions(request: $1, context: $2) },
            route("GetPartitionStatistics", Milvus_GetPartitionStatisticsRequest.self) { try await $0.getPartitionStatistics(request: $1, context: $2) },
            route("ShowPartitions", Milvus_ShowPartitionsRequest.self) { try await $0.showPartitions(request: $1, context: $2) },
            route("GetLoadingProgress", Milvus_GetLoadingProgressRequest.self) { try await $0.getLoadingProgress(request: $1, context: $2) },
            route("GetLoadState", Milvus_GetLoadStateRequest.self) { try await $0.getLoadState(request: $1, context: $2) },
            route("CreateAlias", Milvus_CreateAliasRequest.self) { try await $0.createAlias(request: $1, context: $2) },
            route("DropAlias", Milvus_DropAliasRequest.self) { try await $0.dropAlias(request: $1, context: $2) },
            route("AlterAlias", Milvus_AlterAliasRequest.self) { try await $0.alterAlias(request: $1, context: $2) },
            route("DescribeAlias", Milvus_DescribeAliasRequest.self) { try await $0.describeAlias(request: $1, context: $2) },
            route("ListAliases", Milvus_ListAliasesRequest.self) { try await $0.listAliases(request: $1, context: $2) },
            route("CreateIndex", Milvus_CreateIndexRequest.self) { try await $0.createIndex(request: $1, context: $2) },
            route("AlterIndex", Milvus_AlterIndexRequest.self) { try await $0.alterIndex(request: $1, context: $2) },
            route("DescribeIndex", Milvus_DescribeIndexRequest.self) { try await $0.describeIndex(request: $1, context: $2) },
            route("DropIndex", Milvus_DropIndexRequest.self) { try await $0.dropIndex(request: $1, context: $2) },
            route("Insert", Milvus_InsertRequest.self) { try await $0.insert(request: $1, context: $2) },
            route("Delete", Milvus_DeleteRequest.self) { try await $0.delete(request: $1, context: $2) },
            route("Upsert", Milvus_UpsertRequest.self) { try await $0.upsert(request: $1, context: $2) },
            route("Search", Milvus_SearchRequest.self) { try await $0.search(request: $1, context: $2) },
            route("HybridSearch", Milvus_HybridSearchRequest.self) { try await $0.hybridSearch(request: $1, context: $2) },
            route("Flush", Milvus_FlushRequest.self) { try await $0.flush(request: $1, context: $2) },
            route("Query", Milvus_QueryRequest.self) { try await $0.query(request: $1, context: $2) },
            route("GetFlushState", Milvus_GetFlushStateRequest.self) { try await $0.getFlushState(request: $1, context: $2) },
            route("GetPersistentSegmentInfo", Milvus_GetPersistentSegmentInfoRequest.self) { try await $0.getPersistentSegmentInfo(request: $1, context: $2) },
            route("GetCompactionState", Milvus_GetCompactionStateRequest.self) { try await $0.getCompactionState(request: $1, context: $2) },
            route("ManualCompaction", Milvus_ManualCompactionRequest.self) { try await $0.manualCompaction(request: $1, context: $2) },
            route("GetCompactionStateWithPlans", Milvus_GetCompactionPlansRequest.self) { try await $0.getCompactionStateWithPlans(request: $1, context: $2) },
            route("GetVersion", Milvus_GetVersionRequest.self) { try await $0.getVersion(request: $1, context: $2) },
            route("CheckHealth", Milvus_CheckHealthRequest.self) { try await $0.checkHealth(request: $1, context: $2) },
            route("RenameCollection", Milvus_RenameCollectionRequest.self) { try await $0.renameCollection(request: $1, context: $2) },
            route("Connect", Milvus_ConnectRequest.self) { try await $0.connect(request: $1, context: $2) },
            route("AllocTimestamp", Milvus_AllocTimestampRequest.self) { try await $0.allocTimestamp(request: $1, context: $2) },
            route("CreateDatabase", Milvus_CreateDatabaseRequest.self) { try await $0.createDatabase(request: $1, context: $2) },
            route("DropDatabase", Milvus_DropDatabaseRequest.self) { try await $0.dropDatabase(request: $1, context: $2) },
            route("ListDatabases", Milvus_ListDatabasesRequest.self) { try await $0.listDatabases(request: $1, context: $2) },
            route("AlterDatabase", Milvus_AlterDatabaseRequest.self) { try await $0.alterDatabase(request: $1, context: $2) },
            route("DescribeDatabase", Milvus_DescribeDatabaseRequest.self) { try await $0.describeDatabase(request: $1, context: $2) },
        ]
        var table: [String: UnaryRoute] = [:]
        for method in UnservedMilvusMethods.methods {
            let body = UnservedMilvusMethods.response(for: method)
            table[Self.path(method.name)] = UnaryRoute(method: method.name) { _, _, _ in
                .success(GRPCFramedBytes.frame(bytes: body))
            }
        }
        for route in declared { table[Self.path(route.method)] = route }
        self.table = table
    }

    /// The route for an HTTP/2 `:path`, or `nil` for a method nobody serves.
    func route(forPath path: String) -> UnaryRoute? { table[path] }

    /// The names of the methods served (declared and unserved), for tests.
    var methods: [String] { table.values.map(\.method) }

    static func path(_ method: String) -> String { "/\(serviceName)/\(method)" }
}

/// One unary method: from the request message's bytes and the call's metadata to the
/// framed response message, or the gRPC error to end the call with.
///
/// Thread safety: a `Sendable` value; safe to share.
struct UnaryRoute: Sendable {
    let method: String
    let run: @Sendable (_ message: ByteBuffer, _ metadata: Metadata, _ context: ServerContext) async -> Result<ByteBuffer, RPCError>
}

/// A protobuf message's bytes inside a `ByteBuffer`, so that messages decode from and
/// encode into NIO buffers without copies. Encoding leaves room for the 5-byte gRPC
/// message prefix (compression flag and big-endian length) in front of the message.
///
/// Thread safety: a value type.
struct GRPCFramedBytes: SwiftProtobufContiguousBytes {
    /// The prefix, then the message (when made by SwiftProtobuf); or the message alone.
    private(set) var buffer: ByteBuffer
    private let offset: Int

    /// Wraps a message that is already in `buffer` (its readable bytes).
    init(message: ByteBuffer) {
        buffer = message
        offset = 0
    }

    init(repeating byte: UInt8, count: Int) {
        buffer = ByteBuffer(repeating: byte, count: count + 5)
        offset = 5
    }

    init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        buffer = ByteBuffer(repeating: 0, count: 5)
        buffer.writeBytes(sequence)
        offset = 5
    }

    var count: Int { buffer.readableBytes - offset }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes { try body(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
    }

    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        let offset = self.offset
        return try buffer.withUnsafeMutableReadableBytes { try body(UnsafeMutableRawBufferPointer(rebasing: $0[offset...])) }
    }

    /// `message` encoded behind its gRPC prefix (uncompressed).
    static func frame(_ message: some SwiftProtobuf.Message) throws -> ByteBuffer {
        var framed: GRPCFramedBytes = try message.serializedBytes()
        framed.buffer.setInteger(UInt8(0), at: framed.buffer.readerIndex)
        framed.buffer.setInteger(UInt32(framed.count), at: framed.buffer.readerIndex + 1)
        return framed.buffer
    }

    /// Encoded message bytes behind their gRPC prefix.
    static func frame(bytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(bytes.count + 5)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
        return buffer
    }
}
