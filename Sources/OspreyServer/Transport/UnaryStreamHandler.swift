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
            guard case .byteBuffer(var chunk) = frame.data else { return }
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
            if body!.readableBytes > maxMessageBytes + 5 {
                fail(.resourceExhausted,
                     "request message larger than the server's limit of \(maxMessageBytes) bytes (max-message-mib)",
                     context: context)
                return
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

    private func receiveHeaders(_ headers: HPACKHeaders, endStream: Bool, context: ChannelHandlerContext) {
        guard headers.first(name: ":method") == "POST" else {
            return answerHTTP("405", context: context)
        }
        guard let contentType = headers.first(name: "content-type"), contentType.hasPrefix("application/grpc") else {
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
        calls.started()
        Task(executorPreference: executor) { [calls] in
            let result = await route.run(message, metadata, callContext)
            if loop.inEventLoop {
                bound.value.0.answer(result, context: bound.value.1)
            } else {
                loop.execute { bound.value.0.answer(result, context: bound.value.1) }
            }
            calls.finished()
        }
    }

    private func answer(_ result: Result<ByteBuffer, RPCError>, context: ChannelHandlerContext) {
        switch result {
        case .success(let message):
            let headers: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
            context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(message)))), promise: nil)
            let trailers: HPACKHeaders = ["grpc-status": "0"]
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        case .failure(let error):
            fail(error.code, error.message, context: context)
        }
    }

    /// Ends the call with a trailers-only response carrying `code` and `message`.
    private func fail(_ code: RPCError.Code, _ message: String, context: ChannelHandlerContext) {
        state = .answered
        body = nil
        var headers: HPACKHeaders = [":status": "200", "content-type": "application/grpc",
                                     "grpc-status": String(code.rawValue)]
        if !message.isEmpty { headers.add(name: "grpc-message", value: Self.percentEncoded(message)) }
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
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

/// Counts the calls being served, so that a graceful shutdown can wait for them.
///
/// Thread safety: safe from any thread (an atomic counter).
final class CallCounter: Sendable {
    private let count = Atomic<Int>(0)

    func started() { count.add(1, ordering: .relaxed) }
    func finished() { count.subtract(1, ordering: .relaxed) }

    /// The calls started and not yet answered.
    var running: Int { count.load(ordering: .relaxed) }
}

/// Closes a connection on an error nothing before it handled (a TLS or HTTP/2 protocol
/// error): the client reconnects rather than waiting on a connection in an unknown state.
///
/// Thread safety: a channel handler; used on its channel's event loop only.
final class CloseOnErrorHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
