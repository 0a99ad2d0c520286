import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import Osprey
import OspreyCore

/// A Milvus server for one database on a free loopback port, with one client connection to
/// it, for measuring what serving a search over gRPC adds to the same search in-process
/// (`osprey engine-bench --grpc`).
///
/// The client builds every request the way pymilvus does (a serialized `PlaceholderGroup`,
/// string search parameters with a JSON `params`) and decodes the ids of the answer, so a
/// measured round trip holds the client's encoding and decoding, HTTP/2 over loopback, the
/// server's decoding, the hop onto the worker pool, the search, and the result encoding.
///
/// Thread safety: `search` may be called from several tasks at once; they share the
/// connection.
package struct LoopbackSearchClient: Sendable {
    let client: GRPCClient<HTTP2ClientTransport.Posix>

    /// Serves `database` on 127.0.0.1 (a free port), connects, calls `body`, then closes the
    /// connection and shuts the server down.
    package static func withServer<T: Sendable>(
        database: Database, _ body: @Sendable (LoopbackSearchClient) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "osprey.loopback")
        logger.logLevel = .warning
        let service = MilvusService(database: database, pool: WorkerPool(), logger: logger)
        return try await MilvusServer.withLoopback(service: service, logger: logger) { _, port in
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
            return try await withGRPCClient(transport: transport) { client in
                try await body(LoopbackSearchClient(client: client))
            }
        }
    }

    /// Searches one float32 query vector and returns the INT64 ids of the hits, best first.
    ///
    /// - Throws: the server's status as an error when it is not success.
    package func search(
        collection: String, field: String, vector: [Float], limit: Int, metric: Metric, params: [String: String]
    ) async throws -> [Int64] {
        var placeholder = Common_PlaceholderValue()
        placeholder.tag = "$0"
        placeholder.type = .floatVector
        placeholder.values = [vector.withUnsafeBytes { Data($0) }]
        var group = Common_PlaceholderGroup()
        group.placeholders = [placeholder]
        var request = Milvus_SearchRequest()
        request.collectionName = collection
        request.placeholderGroup = try group.serializedBytes()
        request.dslType = .boolExprV1
        request.nq = 1
        let json = try JSONSerialization.data(withJSONObject: params, options: [.sortedKeys])
        let pairs = [("anns_field", field), ("topk", String(limit)), ("metric_type", metric.rawValue),
                     ("params", String(decoding: json, as: UTF8.self)), ("round_decimal", "-1"), ("ignore_growing", "False")]
        request.searchParams = pairs.map { key, value in
            var kv = Common_KeyValuePair()
            kv.key = key
            kv.value = value
            return kv
        }
        let response = try await client.unary(
            request: ClientRequest(message: request),
            descriptor: MethodDescriptor(service: Milvus_MilvusService.descriptor, method: "Search"),
            serializer: ProtobufSerializer<Milvus_SearchRequest>(),
            deserializer: ProtobufDeserializer<Milvus_SearchResults>(),
            options: .defaults
        ) { try $0.message }
        guard response.status.code == 0 else {
            throw LoopbackSearchError(message: "search failed with code \(response.status.code): \(response.status.reason)")
        }
        return response.results.ids.intID.data
    }
}

extension MilvusServer {
    /// Runs `service` on 127.0.0.1 (a free port), with `configure` applied to the settings,
    /// calls `body` with the server and the port once it is bound, then shuts the server
    /// down gracefully and waits for it.
    package static func withLoopback<T: Sendable>(
        service: MilvusService, logger: Logger, configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: (MilvusServer, Int) async throws -> T
    ) async throws -> T {
        var config = ServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        config.shutdownGracePeriod = .seconds(5)
        configure(&config)
        let server = try MilvusServer(configuration: config, service: service, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                defer { continuation.finish() }
                try await server.run { continuation.yield($0.port) }
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let result = try await body(server, port)
            server.beginGracefulShutdown()
            for try await _ in group {}
            return result
        }
    }
}

/// A search over the loopback connection was answered with an error status.
package struct LoopbackSearchError: Error, CustomStringConvertible {
    package var message: String
    package var description: String { message }
}
