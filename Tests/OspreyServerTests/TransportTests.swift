import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import NIOCore
import SwiftProtobuf
import Testing
@testable import OspreyServer

/// The server's own HTTP/2 transport: routing, the message limit, refusals of what it does
/// not serve, and graceful shutdown.
@Suite("Transport", .timeLimit(.minutes(1)))
struct TransportTests {
    /// Serves on a free loopback port with `configure` applied to the configuration.
    func withServer<T: Sendable>(
        _ configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: (MilvusServer, Int) async throws -> T
    ) async throws -> T {
        let logger = Logger(label: "test.transport")
        return try await MilvusServer.withLoopback(service: MilvusService(logger: logger), logger: logger, configure: configure, body)
    }

    func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        port: Int, _ method: String, _ request: Request, as: Response.Type,
        compression: CompressionAlgorithm? = nil
    ) async throws -> Response {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        if compression != nil {
            config.compression = .init(algorithm: .gzip, enabledAlgorithms: .all)
        }
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext, config: config)
        return try await withGRPCClient(transport: transport) { client in
            var options = CallOptions.defaults
            options.compression = compression
            return try await client.unary(
                request: ClientRequest(message: request),
                descriptor: MethodDescriptor(service: Milvus_MilvusService.descriptor, method: method),
                serializer: ProtobufSerializer<Request>(),
                deserializer: ProtobufDeserializer<Response>(),
                options: options
            ) { try $0.message }
        }
    }

    @Test func everyDeclaredAndUnservedMethodHasARoute() {
        let routes = MilvusRoutes(service: MilvusService(logger: Logger(label: "test.transport")))
        let served = Set(routes.methods)
        let declared = Set(Milvus_MilvusService.Method.descriptors.map(\.method))
        #expect(declared.isSubset(of: served))
        #expect(Set(UnservedMilvusMethods.methods.map(\.name)).isSubset(of: served))
        #expect(served.count == declared.count + UnservedMilvusMethods.methods.count)
        for method in declared {
            #expect(routes.route(forPath: "/milvus.proto.milvus.MilvusService/\(method)")?.method == method)
        }
        #expect(routes.route(forPath: "/other.Service/GetVersion") == nil)
    }

    @Test func responseSizeEstimatesFollowTheEncoding() throws {
        // Large query and search results are encoded off the event loop when the estimate
        // says so: it must track the real encoding where the bulk of it is row data.
        let rows = 5_000
        var keys = Schema_FieldData()
        keys.type = .int64
        keys.fieldName = "id"
        keys.scalars.longData.data = (0..<rows).map { Int64($0) * 1_000_003 }
        var vectors = Schema_FieldData()
        vectors.type = .floatVector
        vectors.fieldName = "vector"
        vectors.vectors.dim = 128
        vectors.vectors.floatVector.data = (0..<rows * 128).map { Float($0 % 97) * 0.5 }
        var names = Schema_FieldData()
        names.type = .varChar
        names.fieldName = "name"
        names.scalars.stringData.data = (0..<rows).map { "row-\($0)-" + String(repeating: "x", count: $0 % 40) }
        var query = Milvus_QueryResults()
        query.fieldsData = [keys, vectors, names]
        var search = Milvus_SearchResults()
        search.results.ids.intID.data = keys.scalars.longData.data
        search.results.scores = (0..<rows).map { Float($0) }
        search.results.fieldsData = [vectors, names]
        for (estimate, actual) in [(query.approximateEncodedBytes, try query.serializedBytes() as [UInt8]),
                                   (search.approximateEncodedBytes, try search.serializedBytes() as [UInt8])] {
            let ratio = Double(estimate) / Double(actual.count)
            #expect(ratio > 0.8 && ratio < 1.25, "estimate \(estimate) for \(actual.count) bytes")
        }
        #expect(query.approximateEncodedBytes >= MilvusRoutes.offLoopEncodeBytes)
        #expect(Milvus_QueryResults().approximateEncodedBytes < MilvusRoutes.offLoopEncodeBytes)
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        try await withServer { _, port in
            do {
                _ = try await call(port: port, "NoSuchMethod", Milvus_GetVersionRequest(), as: Milvus_GetVersionResponse.self)
                Issue.record("an unknown method was answered")
            } catch let error as RPCError {
                #expect(error.code == .unimplemented)
                #expect(error.message.contains("NoSuchMethod"))
            }
        }
    }

    @Test func requestOverTheLimitIsRefusedAndTheConnectionGoesOn() async throws {
        try await withServer({ $0.maxMessageBytes = 4096 }) { _, port in
            var request = Milvus_InsertRequest()
            request.collectionName = "c"
            request.dbName = String(repeating: "x", count: 10_000)
            do {
                _ = try await call(port: port, "Insert", request, as: Milvus_MutationResult.self)
                Issue.record("a request over the limit was served")
            } catch let error as RPCError {
                #expect(error.code == .resourceExhausted)
                #expect(error.message.contains("4096"))
            }
            // A request under the limit on a new call still works.
            let version = try await call(port: port, "GetVersion", Milvus_GetVersionRequest(), as: Milvus_GetVersionResponse.self)
            #expect(!version.version.isEmpty)
        }
    }

    @Test func compressedRequestIsRefusedClearly() async throws {
        try await withServer { _, port in
            do {
                _ = try await call(port: port, "GetVersion", Milvus_GetVersionRequest(), as: Milvus_GetVersionResponse.self,
                                   compression: .gzip)
                Issue.record("a compressed request was answered")
            } catch let error as RPCError {
                #expect(error.code == .unimplemented)
                #expect(error.message.contains("compress"))
            }
        }
    }

    @Test func malformedMessageIsInvalidArgument() async throws {
        try await withServer { _, port in
            do {
                // A length-delimited field whose length runs past the end of the message.
                _ = try await call(port: port, "GetVersion", RawRequest(bytes: [0x0A, 0x40, 0x01]),
                                   as: Milvus_GetVersionResponse.self)
                Issue.record("a malformed message was answered")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("GetVersion"))
            }
        }
    }

    @Test func largeMessagesDecodeOffTheLoopWithTheSameOutcome() async throws {
        // Over MilvusRoutes.offLoopDecodeBytes the message decodes on the worker pool.
        let size = MilvusRoutes.offLoopDecodeBytes + 1000
        // Field 99, length-delimited, `size` bytes: an unknown field GetVersion ignores.
        var valid: [UInt8] = [0x9A, 0x06]
        var n = size
        while n >= 0x80 { valid.append(UInt8(n & 0x7F) | 0x80); n >>= 7 }
        valid.append(UInt8(n))
        valid += [UInt8](repeating: 7, count: size)
        // The same, cut short: the declared length runs past the end.
        let truncated = Array(valid.dropLast(10))
        try await withServer { _, port in
            let version = try await call(port: port, "GetVersion", RawRequest(bytes: valid), as: Milvus_GetVersionResponse.self)
            #expect(!version.version.isEmpty)
            do {
                _ = try await call(port: port, "GetVersion", RawRequest(bytes: truncated), as: Milvus_GetVersionResponse.self)
                Issue.record("a malformed large message was answered")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument)
            }
        }
    }

    @Test func gracefulShutdownFinishesALargeCallInFlight() async throws {
        // An insert of 13 MB: once the server counts it, a shutdown must let it finish and
        // answer, and only then return.
        let rows = 50_000, dim = 64
        let request = EngineRPCTests.vectorInsert("big", dim: dim, values: (0..<rows * dim).map { Float($0 % 251) })
        try await withServer({ $0.shutdownGracePeriod = .seconds(60) }) { server, port in
            var create = Milvus_CreateCollectionRequest()
            create.collectionName = "big"
            create.schema = try EngineRPCTests.vectorSchema("big", dim: dim).serializedData()
            #expect(try await call(port: port, "CreateCollection", create, as: Common_Status.self) == .success)
            try await withThrowingTaskGroup(of: Int64.self) { group in
                group.addTask {
                    try await call(port: port, "Insert", request, as: Milvus_MutationResult.self).insertCnt
                }
                let deadline = ContinuousClock.now + .seconds(20)
                while server.callsInFlight == 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .microseconds(200))
                }
                try #require(server.callsInFlight > 0, "the insert never reached the server")
                server.beginGracefulShutdown()
                #expect(try await group.next() == Int64(rows))
            }
        }
    }

    @Test func gracefulShutdownAnswersTheCallsInFlight() async throws {
        // Many calls in flight when the shutdown starts: each gets its answer or a clean
        // refusal, never a hang; the server's run returns.
        try await withServer { server, port in
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
            try await withGRPCClient(transport: transport) { client in
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for _ in 0..<64 {
                        group.addTask {
                            var options = CallOptions.defaults
                            options.timeout = .seconds(10)
                            do {
                                let response = try await client.unary(
                                    request: ClientRequest(message: Milvus_GetVersionRequest()),
                                    descriptor: MethodDescriptor(service: Milvus_MilvusService.descriptor, method: "GetVersion"),
                                    serializer: ProtobufSerializer<Milvus_GetVersionRequest>(),
                                    deserializer: ProtobufDeserializer<Milvus_GetVersionResponse>(),
                                    options: options
                                ) { try $0.message }
                                return !response.version.isEmpty
                            } catch is RPCError {
                                return true  // refused once the server went away: acceptable
                            }
                        }
                    }
                    server.beginGracefulShutdown()
                    for try await ok in group { #expect(ok) }
                }
            }
        }
    }
}

/// A request message given as raw bytes, to send what a real message would never encode.
struct RawRequest: SwiftProtobuf.Message, Sendable {
    static let protoMessageName = "test.RawRequest"
    var unknownFields = UnknownStorage()
    var bytes: [UInt8] = []

    init() {}
    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func decodeMessage<D: Decoder>(decoder: inout D) throws {}
    func traverse<V: Visitor>(visitor: inout V) throws {
        // Written as unknown bytes: the field tags and lengths are whatever `bytes` says.
        try visitor.visitUnknown(bytes: Data(bytes))
    }
    func isEqualTo(message: any SwiftProtobuf.Message) -> Bool { false }
    static func == (lhs: RawRequest, rhs: RawRequest) -> Bool { lhs.bytes == rhs.bytes }
    func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}
