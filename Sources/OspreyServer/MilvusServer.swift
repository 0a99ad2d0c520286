#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPCCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// The Milvus-protocol gRPC server: binds HTTP/2 (h2c, or TLS when given a certificate),
/// serves ``MilvusService`` (and answers the Milvus RPCs it does not declare with a status),
/// and shuts down gracefully.
///
/// Each call runs on the event loop of its connection, and its engine work on the engine's
/// worker pool (see ``EventLoopTaskExecutor`` and ``UnaryGRPCServer``).
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
    private let server: UnaryGRPCServer

    /// Prepares a server for `configuration`; nothing is bound until ``run(onListening:)``.
    ///
    /// - Throws: ``ConfigurationError`` when the host is no IP address or the TLS files
    ///   cannot be read.
    package init(
        configuration: ServerConfiguration,
        service: MilvusService,
        logger: Logger
    ) throws(ConfigurationError) {
        self.configuration = configuration
        let host = try Self.validatedHost(configuration.host)
        let tls = try Self.tlsContext(configuration.tls)
        let loops = MultiThreadedEventLoopGroup.singleton
        self.server = UnaryGRPCServer(
            configuration: configuration, host: host, routes: MilvusRoutes(service: service), loops: loops,
            executor: EventLoopTaskExecutor(group: loops), tls: tls, logger: logger)
    }

    /// Binds, calls `onListening` with the bound address, and serves until a graceful
    /// shutdown completes (or its grace period runs out and the connections with calls in
    /// flight are closed). Call it once.
    ///
    /// - Throws: ``ServerError`` when the address cannot be bound or serving fails.
    package func run(onListening: @escaping @Sendable (BoundAddress) -> Void) async throws(ServerError) {
        do {
            try await server.run { address in
                onListening(BoundAddress(host: address.ipAddress ?? configuration.host, port: address.port ?? configuration.port))
            }
        } catch {
            throw ServerError(describing: error, host: configuration.host, port: configuration.port)
        }
    }

    /// The calls being served now.
    package var callsInFlight: Int { server.callsInFlight }

    /// Stops accepting connections and new requests; ``run(onListening:)`` returns once the
    /// requests in flight have finished (or the grace period has passed).
    package func beginGracefulShutdown() {
        server.beginGracefulShutdown()
    }

    // MARK: - Transport settings

    /// `host` when it is an IP address literal (or `localhost`), as NIO binds it.
    static func validatedHost(_ host: String) throws(ConfigurationError) -> String {
        var literal = host
        if literal == "localhost" { literal = "127.0.0.1" }
        if literal.hasPrefix("["), literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        var scratch = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, literal, &scratch) == 1 || inet_pton(AF_INET6, literal, &scratch) == 1 { return literal }
        throw ConfigurationError(
            "host '\(host)' is not an IP address (use 127.0.0.1, 0.0.0.0, ::1, :: or localhost)")
    }

    /// The TLS context for `tls` (ALPN `h2`, as gRPC clients require), `nil` for h2c.
    static func tlsContext(_ tls: TLSFiles?) throws(ConfigurationError) -> NIOSSLContext? {
        guard let tls else { return nil }
        for (path, what) in [(tls.certificateChain, "--tls-cert"), (tls.privateKey, "--tls-key")]
            + (tls.clientCA.map { [($0, "--tls-ca")] } ?? []) {
            guard access(path, R_OK) == 0 else {
                throw ConfigurationError("\(what) file \(path) does not exist or is not readable")
            }
        }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
            let key = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(file: tls.privateKey, format: .pem))
            var config: TLSConfiguration
            if let clientCA = tls.clientCA {
                let roots = try NIOSSLCertificate.fromPEMFile(clientCA)
                config = .makeServerConfigurationWithMTLS(certificateChain: chain, privateKey: key, trustRoots: .certificates(roots))
                config.certificateVerification = .noHostnameVerification
            } else {
                config = .makeServerConfiguration(certificateChain: chain, privateKey: key)
            }
            config.applicationProtocols = ["h2"]
            return try NIOSSLContext(configuration: config)
        } catch {
            throw ConfigurationError("cannot load the TLS certificate or key: \(error)")
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
