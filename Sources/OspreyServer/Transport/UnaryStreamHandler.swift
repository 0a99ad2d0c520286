import Foundation
import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2
import Synchronization

/// Serves one HTTP/2 stream as a unary gRPC call: collects the request headers and the one
/// length-prefixed message, runs the method's route in a task on this stream's event loop
/// (see ``EventLoopTaskExecutor``), and answers with response headers, the message and
/// trailers carrying `grpc-status` — or, on failure, a trailers-only response.
///
/// Every Milvus RPC is unary, so this is the whole protocol the server needs: no streaming,
/// no message compression (a compressed message is refused with UNIMPLEMENTED; pymilvus
/// never compresses). Deadlines (`grpc-timeout`) are not enforced: engine calls are not
/// cancellable part-way.
///
/// Thread safety: a channel handler; used on its channel's event loop only.
final class UnaryStreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private enum State {
        /// Waiting for the request headers.
        case idle
        /// Headers read; collecting the message.
        case receiving(route: UnaryRoute?, path: String, metadata: Metadata, compressed: Bool)
        /// The call runs or has been answered; inbound frames are ignored.
        case answered
    }

    private let routes: MilvusRoutes
    private let executor: EventLoopTaskExecutor
    private let maxMessageBytes: Int
    private let calls: CallCounter
    private var state = State.idle
    private var body: ByteBuffer?
    /// Whether the message's declared length has been checked against the limit.
    private var lengthChecked = false
    /// Whether this call counts in ``CallCounter`` (from its headers until its answer is
    /// written or the stream closes).
    private var counted = false

    init(routes: MilvusRoutes, executor: EventLoopTaskExecutor, maxMessageBytes: Int, calls: CallCounter) {
        self.routes = routes
        self.executor = executor
        self.maxMessageBytes = maxMessageBytes
        self.calls = calls
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.headers(let headers), .idle):
            receiveHeaders(headers.headers, endStream: headers.endStream, context: context)
        case (.headers(let trailers), .receiving):
            // Trailers from a client end its half of the stream.
            if trailers.endStream { finishRequest(context: context) }
        case (.data(let frame), .receiving):
            if case .byteBuffer(var chunk) = frame.data {
                if body == nil {
                    body = chunk
                } else {
                    body!.writeBuffer(&chunk)
                }
                if !lengthChecked, body!.readableBytes >= 5,
                   let declared = body!.getInteger(at: body!.readerIndex + 1, as: UInt32.self) {
                    lengthChecked = true
                    if Int(declared) > maxMessageBytes { return refuseOversized(context: context) }
                    // Room for the whole message at once, not doubling as it arrives.
                    body!.reserveCapacity(5 + Int(declared))
                }
                if body!.readableBytes > maxMessageBytes + 5 { return refuseOversized(context: context) }
            }
            if frame.endStream { finishRequest(context: context) }
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A broken stream (reset, protocol error) ends the call; its task's answer is dropped.
        state = .answered
        body = nil
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The stream closed (answered, or reset by the client before its answer).
        body = nil
        finishCall()
        context.fireChannelInactive()
    }

    private func finishCall() {
        guard counted else { return }
        counted = false
        calls.finished()
    }

    private func refuseOversized(context: ChannelHandlerContext) {
        fail(.resourceExhausted,
             "request message larger than the server's limit of \(maxMessageBytes) bytes (max-message-mib)",
             context: context, thenReset: true)
    }

    private func receiveHeaders(_ headers: HPACKHeaders, endStream: Bool, context: ChannelHandlerContext) {
        guard headers.first(name: ":method") == "POST" else {
            return answerHTTP("405", context: context)
        }
        guard let contentType = headers.first(name: "content-type"),
              contentType == "application/grpc" || contentType.hasPrefix("application/grpc+") else {
            return answerHTTP("415", context: context)
        }
        let path = headers.first(name: ":path") ?? ""
        var metadata = Metadata()
        for (name, value, _) in headers where !name.hasPrefix(":") {
            switch name {
            case "content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding":
                continue
            default:
                if name.hasSuffix("-bin") {
                    if let bytes = Self.base64Decoded(value) { metadata.addBinary(bytes, forKey: name) }
                } else {
                    metadata.addString(value, forKey: name)
                }
            }
        }
        let encoding = headers.first(name: "grpc-encoding") ?? "identity"
        counted = true
        calls.started()
        state = .receiving(route: routes.route(forPath: path), path: path, metadata: metadata,
                           compressed: encoding != "identity")
        if endStream { finishRequest(context: context) }
    }

    private func finishRequest(context: ChannelHandlerContext) {
        guard case .receiving(let route, let path, let metadata, let compressed) = state else { return }
        state = .answered
        guard let route else {
            return fail(.unimplemented, "method \(path) is not served by Osprey", context: context)
        }
        guard var message = body.take(), message.readableBytes >= 5,
              let flag = message.readInteger(as: UInt8.self), let length = message.readInteger(as: UInt32.self)
        else {
            return fail(.internalError, "the request carries no gRPC message", context: context)
        }
        guard message.readableBytes == Int(length) else {
            return fail(.internalError, "a unary request must carry exactly one message of the length it declares",
                        context: context)
        }
        guard flag == 0 else {
            let reason = compressed ? "compressed messages are not supported; send them uncompressed" : "the message is flagged compressed but no grpc-encoding was given"
            return fail(.unimplemented, reason, context: context)
        }
        let callContext = ServerContext(
            descriptor: MethodDescriptor(fullyQualifiedService: MilvusRoutes.serviceName, method: route.method),
            remotePeer: context.channel.parent?.remoteAddress.map(Self.peer) ?? "unknown",
            localPeer: context.channel.parent?.localAddress.map(Self.peer) ?? "unknown",
            cancellation: ServerContext.RPCCancellationHandle())
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        Task(executorPreference: executor) {
            let result = await route.run(message, metadata, callContext)
            if loop.inEventLoop {
                bound.value.0.answer(result, context: bound.value.1)
            } else {
                loop.execute { bound.value.0.answer(result, context: bound.value.1) }
            }
        }
    }

    private func answer(_ result: Result<ByteBuffer, RPCError>, context: ChannelHandlerContext) {
        switch result {
        case .success(let message):
            let headers: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
            context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(message)))), promise: nil)
            let trailers: HPACKHeaders = ["grpc-status": "0"]
            writeLast(.headers(.init(headers: trailers, endStream: true)), context: context)
        case .failure(let error):
            fail(error.code, error.message, context: context)
        }
    }

    /// Ends the call with a trailers-only response carrying `code` and `message`; with
    /// `thenReset`, also resets the stream so that the client stops sending.
    private func fail(_ code: RPCError.Code, _ message: String, context: ChannelHandlerContext, thenReset: Bool = false) {
        state = .answered
        body = nil
        var headers: HPACKHeaders = [":status": "200", "content-type": "application/grpc",
                                     "grpc-status": String(code.rawValue)]
        if !message.isEmpty { headers.add(name: "grpc-message", value: Self.percentEncoded(message)) }
        writeLast(.headers(.init(headers: headers, endStream: true)), context: context, thenReset: thenReset)
    }

    /// Writes the frame that ends the answer; the call stops counting once it is written
    /// (it may wait in HTTP/2 flow control until the client has room for it).
    private func writeLast(_ frame: HTTP2Frame.FramePayload, context: ChannelHandlerContext, thenReset: Bool = false) {
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(frame), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in
            self.finishCall()
            if thenReset { context.close(promise: nil) }
        }
    }

    /// Answers a request that is not gRPC at all with a bare HTTP status.
    private func answerHTTP(_ status: String, context: ChannelHandlerContext) {
        state = .answered
        let headers: HPACKHeaders = [":status": status]
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
    }

    static func peer(_ address: SocketAddress) -> String {
        switch address {
        case .v4(let a): "ipv4:\(a.host):\(address.port ?? 0)"
        case .v6(let a): "ipv6:[\(a.host)]:\(address.port ?? 0)"
        case .unixDomainSocket: "unix:\(address.pathname ?? "")"
        }
    }

    /// `grpc-message` is percent-encoded: bytes outside printable ASCII, and `%` itself.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    static func base64Decoded(_ text: String) -> [UInt8]? {
        var padded = text
        while padded.utf8.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded).map { [UInt8]($0) }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension Optional where Wrapped == ByteBuffer {
    fileprivate mutating func take() -> ByteBuffer? {
        defer { self = nil }
        return self
    }
}

/// Counts the calls being served, so that a graceful shutdown can wait for them: a call
/// counts from its request headers until its answer is written or its stream closes.
///
/// Thread safety: safe from any thread (a lock).
final class CallCounter: Sendable {
    private let state = Mutex<(running: Int, lastStart: ContinuousClock.Instant)>((0, .now))

    func started() { state.withLock { $0.running += 1; $0.lastStart = .now } }
    func finished() { state.withLock { $0.running -= 1 } }

    /// The calls started and not yet answered.
    var running: Int { state.withLock { $0.running } }

    /// Whether no call runs and none has started for `quiet`.
    func idle(for quiet: Duration) -> Bool {
        state.withLock { $0.running == 0 && ContinuousClock.now - $0.lastStart >= quiet }
    }
}

/// Closes a connection on an error nothing before it handled (a TLS or HTTP/2 protocol
/// error): the client reconnects rather than waiting on a connection in an unknown state.
///
/// Thread safety: a channel handler; used on its channel's event loop only.
final class CloseOnErrorHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream-level error has already reset its stream; the connection's other calls
        // go on.
        if error is NIOHTTP2Errors.StreamError { return }
        context.close(promise: nil)
    }
}
