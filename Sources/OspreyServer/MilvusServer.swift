#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOPosix
import Logging

/// The Milvus-protocol gRPC server: binds the HTTP/2 transport (h2c or TLS), serves the
/// given services, and shuts down gracefully.
///
/// Requests run as Swift tasks on the concurrency pool, never on the NIO event loops that
/// do the I/O; engine work that blocks belongs on the engine's own worker pool.
///
/// Thread safety: safe to share; ``beginGracefulShutdown()`` may be called from any
/// thread (a signal handler's queue, a test) while ``run(onListening:)`` is serving.
package final class MilvusServer: Sendable {
    /// The address the server is bound to.
    ///
    /// Thread safety: a value type; safe to share.
    package struct BoundAddress: Sendable, Equatable, CustomStringConvertible {
        package var host: String
        package var port: Int
        package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    package let configuration: ServerConfiguration
    private let logger: Logger
    private let transport: HTTP2ServerTransport.Posix
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let shutdownRequests: AsyncStream<Void>
    private let shutdownContinuation: AsyncStream<Void>.Continuation
    /// Where request tasks run: on their connection's event loop (inherited by every
    /// connection's and request's task from the serving task).
    private let executor: EventLoopTaskExecutor

    /// Prepares a server for `configuration`; nothing is bound until ``run(onListening:)``.
    package init(
        configuration: ServerConfiguration,
        services: [any RegistrableRPCService],
        logger: Logger
    ) throws(ConfigurationError) {
        self.configuration = configuration
        self.logger = logger
        let loops = MultiThreadedEventLoopGroup.singleton
        self.executor = EventLoopTaskExecutor(group: loops)
        let address = try Self.socketAddress(host: configuration.host, port: configuration.port)
        let security = try Self.transportSecurity(configuration.tls)
        let maxMessageBytes = configuration.maxMessageBytes
        self.transport = HTTP2ServerTransport.Posix(
            address: address,
            transportSecurity: security,
            config: .defaults { config in
                config.rpc.maxRequestPayloadSize = maxMessageBytes
                // pymilvus pings every 10 s, also with no call in flight; Milvus allows 5 s.
                config.connection.keepalive.clientBehavior = .init(
                    minPingIntervalWithoutCalls: .seconds(5), allowWithoutCalls: true)
                // Large inserts and result sets: let a whole batch be in flight.
                config.http2.targetWindowSize = 8 << 20
                // Answer each request as soon as it is ready; small requests dominate.
                config.connection.flushCoalescing = nil
            },
            eventLoopGroup: loops
        )
        self.server = GRPCServer(transport: transport, services: services)
        (self.shutdownRequests, self.shutdownContinuation) = AsyncStream.makeStream(
            of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Binds, calls `onListening` with the bound address, and serves until a graceful
    /// shutdown completes (or its grace period runs out and in-flight requests are
    /// cancelled). Call it once.
    ///
    /// - Throws: ``ServerError`` when the address cannot be bound or serving fails.
    package func run(onListening: @escaping @Sendable (BoundAddress) -> Void) async throws(ServerError) {
        enum Event: Sendable { case stopped, listening, graceExpired }
        let (transport, server, requests) = (self.transport, self.server, self.shutdownRequests)
        let grace = configuration.shutdownGracePeriod
        do {
            try await withThrowingTaskGroup(of: Event.self) { group in
                group.addTask(executorPreference: executor) {
                    try await server.serve()
                    return .stopped
                }
                group.addTask {
                    // When binding fails this throws a vaguer error than serve() does; let
                    // serve()'s error be the one reported.
                    guard let bound = try? await transport.listeningAddress else { return .listening }
                    if let v4 = bound.ipv4 {
                        onListening(BoundAddress(host: v4.host, port: v4.port))
                    } else if let v6 = bound.ipv6 {
                        onListening(BoundAddress(host: v6.host, port: v6.port))
                    }
                    return .listening
                }
                group.addTask {
                    for await _ in requests { break }
                    try await Task.sleep(for: grace)
                    return .graceExpired
                }
                while let event = try await group.next() {
                    switch event {
                    case .listening:
                        continue
                    case .stopped:
                        group.cancelAll()
                        return
                    case .graceExpired:
                        logger.warning("shutdown grace period (\(grace)) expired; cancelling in-flight requests")
                        group.cancelAll()
                        return
                    }
                }
            }
        } catch {
            throw ServerError(describing: error, host: configuration.host, port: configuration.port)
        }
    }

    /// Stops accepting connections and new requests; ``run(onListening:)`` returns once the
    /// requests in flight have finished (or the grace period has passed).
    package func beginGracefulShutdown() {
        shutdownContinuation.yield()
        server.beginGracefulShutdown()
    }

    // MARK: - Transport settings

    static func socketAddress(
        host: String, port: Int
    ) throws(ConfigurationError) -> GRPCNIOTransportCore.SocketAddress {
        var literal = host
        if literal == "localhost" { literal = "127.0.0.1" }
        if literal.hasPrefix("["), literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        var scratch = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, literal, &scratch) == 1 { return .ipv4(host: literal, port: port) }
        if inet_pton(AF_INET6, literal, &scratch) == 1 { return .ipv6(host: literal, port: port) }
        throw ConfigurationError(
            "host '\(host)' is not an IP address (use 127.0.0.1, 0.0.0.0, ::1, :: or localhost)")
    }

    static func transportSecurity(
        _ tls: TLSFiles?
    ) throws(ConfigurationError) -> HTTP2ServerTransport.Posix.TransportSecurity {
        guard let tls else { return .plaintext }
        for (path, what) in [(tls.certificateChain, "--tls-cert"), (tls.privateKey, "--tls-key")]
            + (tls.clientCA.map { [($0, "--tls-ca")] } ?? []) {
            guard access(path, R_OK) == 0 else {
                throw ConfigurationError("\(what) file \(path) does not exist or is not readable")
            }
        }
        let chain: [TLSConfig.CertificateSource] = [.file(path: tls.certificateChain, format: .pem)]
        let key: TLSConfig.PrivateKeySource = .file(path: tls.privateKey, format: .pem)
        guard let clientCA = tls.clientCA else {
            return .tls(certificateChain: chain, privateKey: key)
        }
        return .mTLS(certificateChain: chain, privateKey: key) { config in
            config.trustRoots = .certificates([.file(path: clientCA, format: .pem)])
            config.clientCertificateVerification = .noHostnameVerification
        }
    }
}

/// Why the server could not start or stopped serving, in words for an operator.
///
/// Thread safety: a value type; safe to share.
package struct ServerError: Error, Sendable, CustomStringConvertible {
    /// Whether the address was already taken by another process.
    package var addressInUse: Bool
    package var description: String

    init(describing error: any Error, host: String, port: Int) {
        var chain: [String] = []
        var next: (any Error)? = error
        while let current = next {
            chain.append(String(describing: current))
            next = (current as? RuntimeError)?.cause
        }
        let text = chain.joined(separator: ": ")
        addressInUse = text.contains("Address already in use") || text.contains("EADDRINUSE")
        if addressInUse {
            description = "cannot listen on \(host):\(port): the port is already in use by another process"
        } else if text.contains("Cannot assign requested address") {
            description = "cannot listen on \(host):\(port): that address does not belong to this machine"
        } else {
            description = "server on \(host):\(port) failed: \(text)"
        }
    }
}
