import GRPCCore
import Logging
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
/// "upgrade your server" errors). Handlers are in this file and its `+Unserved` extension,
/// one `MARK` per area.
///
/// Thread safety: a `Sendable` value; handlers run concurrently on the concurrency pool.
package struct MilvusService: Milvus_MilvusService.SimpleServiceProtocol {
    package let identity: ServerIdentity
    package let clock: HybridClock
    private let logger: Logger
    private let connections: ConnectionRegistry

    package init(identity: ServerIdentity = ServerIdentity(), clock: HybridClock = HybridClock(), logger: Logger) {
        self.identity = identity
        self.clock = clock
        self.logger = logger
        self.connections = ConnectionRegistry(seed: clock.next().physicalMilliseconds)
    }

    // MARK: - Connection and health

    package func connect(
        request: Milvus_ConnectRequest, context: ServerContext
    ) async throws -> Milvus_ConnectResponse {
        let identifier = connections.register()
        let info = request.clientInfo
        logger.debug("client connected", metadata: [
            "identifier": "\(identifier)", "sdk": "\(info.sdkType) \(info.sdkVersion)",
            "host": "\(info.host)", "user": "\(info.user)", "peer": "\(context.remotePeer)",
        ])
        var response = Milvus_ConnectResponse()
        response.status = .success
        response.identifier = identifier
        response.serverInfo.buildTags = identity.versionString
        response.serverInfo.deployMode = "STANDALONE"
        response.serverInfo.reserved["server"] = "osprey"
        return response
    }

    package func getVersion(
        request: Milvus_GetVersionRequest, context: ServerContext
    ) async throws -> Milvus_GetVersionResponse {
        var response = Milvus_GetVersionResponse()
        response.status = .success
        response.version = identity.versionString
        return response
    }

    package func checkHealth(
        request: Milvus_CheckHealthRequest, context: ServerContext
    ) async throws -> Milvus_CheckHealthResponse {
        var response = Milvus_CheckHealthResponse()
        response.status = .success
        response.isHealthy = true
        return response
    }

    package func allocTimestamp(
        request: Milvus_AllocTimestampRequest, context: ServerContext
    ) async throws -> Milvus_AllocTimestampResponse {
        var response = Milvus_AllocTimestampResponse()
        response.status = .success
        response.timestamp = clock.next().rawValue
        return response
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
