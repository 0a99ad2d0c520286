import GRPCCore
import Logging
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// The gRPC server under ``MilvusServer``: HTTP/2 (h2c, or TLS with ALPN `h2`) on SwiftNIO,
/// serving unary calls through ``MilvusRoutes``.
///
/// It is deliberately small. Every Milvus RPC is unary, so each HTTP/2 stream is one call:
/// ``UnaryStreamHandler`` reads the headers and the message, runs the route on the stream's
/// event loop (engine work goes to the worker pool), and writes the answer. There are no
/// per-call async sequences, writers or task groups in between, which is where a general
/// gRPC server spends most of a small call's time.
///
/// * PINGs are answered by the HTTP/2 layer, with or without calls in flight, up to 20,000
///   control frames per 30 s per connection (a flood guard); the server never closes an
///   idle connection.
/// * Graceful shutdown: stop accepting, send GOAWAY on every connection, wait for the calls
///   in flight (up to a grace period), then close.
///
/// Thread safety: ``run(onListening:)`` once; ``beginGracefulShutdown()`` from any thread.
final class UnaryGRPCServer: Sendable {
    private let configuration: ServerConfiguration
    private let host: String
    private let routes: MilvusRoutes
    private let loops: MultiThreadedEventLoopGroup
    private let executor: EventLoopTaskExecutor
    private let tls: NIOSSLContext?
    private let logger: Logger
    private let calls = CallCounter()
    /// The calls being served now (for tests and logs).
    var callsInFlight: Int { calls.running }
    private let connections = Mutex<[ObjectIdentifier: any Channel]>([:])
    private let listener = Mutex<(channel: (any Channel)?, stopRequested: Bool)>((nil, false))

    init(
        configuration: ServerConfiguration, host: String, routes: MilvusRoutes, loops: MultiThreadedEventLoopGroup,
        executor: EventLoopTaskExecutor, tls: NIOSSLContext?, logger: Logger
    ) {
        self.configuration = configuration
        self.host = host
        self.routes = routes
        self.loops = loops
        self.executor = executor
        self.tls = tls
        self.logger = logger
    }

    /// Binds, reports the bound address, serves until ``beginGracefulShutdown()`` and then
    /// until the calls in flight have finished (or the grace period has passed).
    func run(onListening: @Sendable (SocketAddress) -> Void) async throws {
        let channel = try await bootstrap().bind(host: host, port: configuration.port).get()
        let stopNow = listener.withLock { state -> Bool in
            state.channel = channel
            return state.stopRequested
        }
        if let address = channel.localAddress { onListening(address) }
        if stopNow { channel.close(promise: nil) }
        try await channel.closeFuture.get()
        await drain()
    }

    /// Stops accepting connections; ``run(onListening:)`` returns once the calls in flight
    /// have been answered.
    ///
    /// Calls still running when the grace period ends lose their connection, but their
    /// engine work (not cancellable part-way) goes on until it is done.
    func beginGracefulShutdown() {
        let channel = listener.withLock { state -> (any Channel)? in
            state.stopRequested = true
            return state.channel
        }
        channel?.close(promise: nil)
    }

    private func bootstrap() -> ServerBootstrap {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        let window = 8 << 20
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 1024),
            HTTP2Setting(parameter: .initialWindowSize, value: window),
            HTTP2Setting(parameter: .maxFrameSize, value: 1 << 14),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 1 << 16),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
        connection.targetWindowSize = 2 * window
        // gRPC clients ping for keepalive and to size their windows (BDP probes), more often
        // under load; NIO's default of 200 PING/SETTINGS frames per 30 s can end a busy
        // connection. Keep a bound against floods, far above what clients send.
        connection.controlFrameRateLimit.maximumCount = 20_000
        var stream = NIOHTTP2Handler.StreamConfiguration()
        // Let a whole insert batch be in flight without waiting for window updates.
        stream.targetWindowSize = window
        let (routes, executor, calls, maxMessage, tls) = (routes, executor, calls, configuration.maxMessageBytes, tls)
        let (connectionSettings, streamSettings) = (connection, stream)
        return ServerBootstrap(group: loops)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // The kernel's keepalive reaps connections of clients that vanished.
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                    _ = try pipeline.configureHTTP2Pipeline(
                        mode: .server, connectionConfiguration: connectionSettings, streamConfiguration: streamSettings
                    ) { streamChannel in
                        streamChannel.eventLoop.makeCompletedFuture {
                            try streamChannel.pipeline.syncOperations.addHandler(
                                UnaryStreamHandler(routes: routes, executor: executor, maxMessageBytes: maxMessage, calls: calls))
                        }
                    }
                    try pipeline.addHandler(CloseOnErrorHandler())
                    let id = ObjectIdentifier(channel)
                    self.connections.withLock { $0[id] = channel }
                    channel.closeFuture.whenComplete { _ in _ = self.connections.withLock { $0.removeValue(forKey: id) } }
                }
            }
    }

    /// After the listener closed: GOAWAY on every connection (clients open no new calls on
    /// it), wait until no call runs and none has started for a moment (a call whose headers
    /// crossed the GOAWAY on the wire still arrives and is served), or until the grace period
    /// ends; then close the connections.
    private func drain() async {
        let open = connections.withLock { Array($0.values) }
        for channel in open {
            let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil))
            channel.writeAndFlush(goAway, promise: nil)
        }
        let grace = configuration.shutdownGracePeriod
        let deadline = ContinuousClock.now + grace
        while !calls.idle(for: Self.quietBeforeClosing), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let abandoned = calls.running
        if abandoned > 0 {
            logger.warning("shutdown grace period (\(grace)) expired; closing connections with \(abandoned) calls in flight")
        }
        let remaining = connections.withLock { Array($0.values) }
        for channel in remaining {
            try? await channel.close()
        }
    }

    /// How long the server stays open, with no call running, after its GOAWAY: longer than a
    /// round trip, so that a call the client sent before it saw the GOAWAY still arrives.
    static let quietBeforeClosing: Duration = .milliseconds(250)
}
