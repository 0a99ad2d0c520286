import GRPCCore
import Logging
import Osprey
import OspreyCore
import Synchronization

/// What this server says about itself in `GetVersion` and `Connect`.
///
/// Thread safety: a value type; safe to share.
package struct ServerIdentity: Sendable, Equatable {
    /// Osprey's own version.
    package var ospreyVersion = "0.1.0"
    /// The Milvus release whose client protocol Osprey follows.
    package var milvusVersion = "2.6.0"

    package init() {}

    /// The version string clients see: the Milvus version, tagged with Osprey's.
    package var versionString: String { "v\(milvusVersion)-osprey.\(ospreyVersion)" }
}

/// The Milvus gRPC service (`milvus.proto.milvus.MilvusService`).
///
/// Every declared RPC answers with a response whose `status` tells the outcome; errors are
/// never gRPC failures (pymilvus reads `status`, and turns some gRPC codes into fatal
/// "upgrade your server" errors). Each handler goes through ``handle(_:_:)``, which reads
/// the call's headers into a ``MilvusCall`` and turns thrown ``MilvusError``s into the
/// response's status. Handlers are in this file and its `+Collections`, `+Catalog`,
/// `+Indexes`, `+Writes` and `+Reads` extensions, one `MARK` per area; ``MilvusRoutes``
/// calls them by method name.
///
/// Thread safety: a `Sendable` value; handlers run concurrently, each on the event loop of
/// its connection, with engine work on ``pool``.
package struct MilvusService: Milvus_MilvusService.ServiceProtocol {
    package let identity: ServerIdentity
    package let clock: HybridClock
    /// The engine every RPC works on.
    package let database: Database
    /// Where blocking engine calls run, off the event loops.
    package let pool: WorkerPool
    let logger: Logger
    private let connections: ConnectionRegistry

    package init(
        database: Database = .inMemory(), pool: WorkerPool = WorkerPool(), identity: ServerIdentity = ServerIdentity(),
        clock: HybridClock = HybridClock(), logger: Logger
    ) {
        self.database = database
        self.pool = pool
        self.identity = identity
        self.clock = clock
        self.logger = logger
        self.connections = ConnectionRegistry(seed: clock.next().physicalMilliseconds)
    }

    // MARK: - Connection and health

    package func connect(
        request: ServerRequest<Milvus_ConnectRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_ConnectResponse> {
        await handle(request) { call, message in
            let identifier = connections.register()
            let info = message.clientInfo
            logger.debug("client connected", metadata: [
                "identifier": "\(identifier)", "sdk": "\(info.sdkType) \(info.sdkVersion)",
                "host": "\(info.host)", "user": "\(info.user)", "peer": "\(context.remotePeer)",
                "database": "\(call.database)",
            ])
            var response = Milvus_ConnectResponse()
            response.identifier = identifier
            response.serverInfo.buildTags = identity.versionString
            response.serverInfo.deployMode = "STANDALONE"
            response.serverInfo.reserved["server"] = "osprey"
            return response
        }
    }

    package func getVersion(
        request: ServerRequest<Milvus_GetVersionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_GetVersionResponse> {
        await handle(request) { _, _ in
            var response = Milvus_GetVersionResponse()
            response.version = identity.versionString
            return response
        }
    }

    package func checkHealth(
        request: ServerRequest<Milvus_CheckHealthRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_CheckHealthResponse> {
        await handle(request) { _, _ in
            var response = Milvus_CheckHealthResponse()
            response.isHealthy = true
            return response
        }
    }

    package func allocTimestamp(
        request: ServerRequest<Milvus_AllocTimestampRequest>, context: ServerContext
    ) async throws -> ServerResponse<Milvus_AllocTimestampResponse> {
        await handle(request) { _, _ in
            var response = Milvus_AllocTimestampResponse()
            response.timestamp = clock.next().rawValue
            return response
        }
    }

    // MARK: - Dispatch

    /// Runs one call: reads its headers into a ``MilvusCall``, runs `body`, and answers
    /// with its response, or with an empty response whose status carries the thrown error.
    ///
    /// This is the one place every request passes through; engine work that blocks is
    /// handed from here to the engine's worker pool.
    package func handle<Request: Sendable, Response: MilvusResponse>(
        _ request: ServerRequest<Request>,
        _ body: (MilvusCall, Request) async throws -> Response
    ) async -> ServerResponse<Response> {
        let call = MilvusCall(metadata: request.metadata)
        let response = await Response.answer { try await body(call, request.message) }
        return ServerResponse(message: response)
    }
}

/// What a call's headers say about it: the current database (pymilvus's `dbname` header
/// after `using_database`), the `identifier` from `Connect`, and the client's request id.
///
/// Thread safety: a value type; safe to share.
package struct MilvusCall: Sendable, Equatable {
    /// The name of the default database, which `""` also means.
    package static let defaultDatabase = "default"

    /// The database named by the `dbname` header, or `default`.
    package var database: String
    /// The `identifier` header: the value `Connect` returned to this client, if sent.
    package var identifier: Int64?
    /// The `client-request-id` header, for logs.
    package var requestID: String?

    package init(database: String = MilvusCall.defaultDatabase, identifier: Int64? = nil, requestID: String? = nil) {
        self.database = database
        self.identifier = identifier
        self.requestID = requestID
    }

    package init(metadata: Metadata) {
        let database = metadata[stringValues: "dbname"].first(where: { _ in true }) ?? ""
        self.init(
            database: database.isEmpty ? Self.defaultDatabase : database,
            identifier: metadata[stringValues: "identifier"].first(where: { _ in true }).flatMap { Int64($0) },
            requestID: metadata[stringValues: "client-request-id"].first(where: { _ in true }))
    }

    /// The database a request addresses: its own `db_name` field when set, else the header's.
    package func database(requestField dbName: String) -> String {
        dbName.isEmpty ? database : dbName
    }
}

/// Hands out the `identifier` that `Connect` returns and clients echo in a header.
///
/// Thread safety: safe to call from any thread (an atomic counter).
final class ConnectionRegistry: Sendable {
    private let next: Atomic<Int64>

    /// Identifiers start above `seed` (the start time), so they differ across restarts.
    init(seed: UInt64) {
        next = Atomic(Int64(truncatingIfNeeded: seed) << 16)
    }

    func register() -> Int64 {
        next.add(1, ordering: .relaxed).newValue
    }
}
