import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import SwiftProtobuf
import Testing
@testable import OspreyServer

/// A server on a free loopback port, serving the real services, for one test.
struct LiveServer {
    let server: MilvusServer
    let port: Int

    static func withRunning<T: Sendable>(
        _ body: (LiveServer) async throws -> T
    ) async throws -> T {
        let logger = Logger(label: "test.server")
        return try await MilvusServer.withLoopback(service: MilvusService(logger: logger), logger: logger) {
            try await body(LiveServer(server: $0, port: $1))
        }
    }

    /// Calls `method` with an empty request and returns the response's bytes.
    func callRaw(_ method: String) async throws -> [UInt8] {
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        return try await withGRPCClient(transport: transport) { client in
            try await client.unary(
                request: ClientRequest(message: Milvus_GetVersionRequest()),
                descriptor: MethodDescriptor(service: Milvus_MilvusService.descriptor, method: method),
                serializer: ProtobufSerializer<Milvus_GetVersionRequest>(),
                deserializer: RawBytesDeserializer(),
                options: .defaults
            ) { try $0.message }
        }
    }

    /// Calls `method` once over a real HTTP/2 connection.
    func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: String, _ request: Request, as: Response.Type
    ) async throws -> Response {
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        return try await withGRPCClient(transport: transport) { client in
            try await client.unary(
                request: ClientRequest(message: request),
                descriptor: MethodDescriptor(service: Milvus_MilvusService.descriptor, method: method),
                serializer: ProtobufSerializer<Request>(),
                deserializer: ProtobufDeserializer<Response>(),
                options: .defaults
            ) { try $0.message }
        }
    }
}

@Suite("Live server", .timeLimit(.minutes(1)))
struct LiveServerTests {
    @Test func connectAndVersion() async throws {
        try await LiveServer.withRunning { live in
            var request = Milvus_ConnectRequest()
            request.clientInfo.sdkType = "Swift test"
            let first = try await live.call("Connect", request, as: Milvus_ConnectResponse.self)
            let second = try await live.call("Connect", request, as: Milvus_ConnectResponse.self)
            #expect(!first.status.isError)
            #expect(first.identifier != second.identifier)
            #expect(first.serverInfo.buildTags == ServerIdentity().versionString)

            let version = try await live.call(
                "GetVersion", Milvus_GetVersionRequest(), as: Milvus_GetVersionResponse.self)
            #expect(version.version == ServerIdentity().versionString)
            let health = try await live.call(
                "CheckHealth", Milvus_CheckHealthRequest(), as: Milvus_CheckHealthResponse.self)
            #expect(health.isHealthy)
        }
    }

    @Test func allocTimestampIsHybridAndIncreasing() async throws {
        try await LiveServer.withRunning { live in
            let before = HybridClock.systemMilliseconds()
            let a = try await live.call(
                "AllocTimestamp", Milvus_AllocTimestampRequest(), as: Milvus_AllocTimestampResponse.self)
            let b = try await live.call(
                "AllocTimestamp", Milvus_AllocTimestampRequest(), as: Milvus_AllocTimestampResponse.self)
            #expect(b.timestamp > a.timestamp)
            #expect(a.timestamp >> 18 >= before)
            #expect(a.timestamp >> 18 <= HybridClock.systemMilliseconds())
        }
    }

    @Test func everyDeclaredRPCAnswersAnEmptyRequestWithAStatus() async throws {
        // Whatever an RPC does, a request with no fields set must come back as a Milvus
        // response (success or a status error), never as a gRPC error, a crash or a hang.
        try await LiveServer.withRunning { live in
            for descriptor in Milvus_MilvusService.Method.descriptors {
                let bytes = try await live.callRaw(descriptor.method)
                let status = try status(inResponse: bytes)
                if status.isError {
                    #expect(!status.reason.isEmpty, "\(descriptor.method): an error without a reason")
                }
            }
        }
    }

    @Test func undeclaredMilvusRPCAnswersWithStatus() async throws {
        try await LiveServer.withRunning { live in
            // ListCredUsers: response has status in field 1, like GetVersionResponse.
            let listed = try await live.call(
                "ListCredUsers", Milvus_GetVersionRequest(), as: Milvus_GetVersionResponse.self)
            #expect(listed.status.reason == "ListCredUsers is not supported by this server (Osprey)")
            // CreateCredential: the response is a bare Status.
            let created = try await live.call("CreateCredential", Milvus_GetVersionRequest(), as: Common_Status.self)
            #expect(created.code == 65535)
            #expect(created.errorCode == .unexpectedError)
        }
    }

    @Test func secondServerOnTheSamePortFailsClearly() async throws {
        try await LiveServer.withRunning { live in
            var config = ServerConfiguration()
            config.port = live.port
            let logger = Logger(label: "test.server")
            let other = try MilvusServer(configuration: config, service: MilvusService(logger: logger), logger: logger)
            do throws(ServerError) {
                try await other.run { _ in }
                Issue.record("a second server bound the same port")
            } catch {
                #expect(error.addressInUse)
                #expect(error.description.contains("already in use"))
            }
        }
    }
}

@Suite("Unserved Milvus RPCs")
struct UnservedMilvusMethodsTests {
    @Test func namesAreUniqueAndDisjointFromTheService() {
        let names = UnservedMilvusMethods.methods.map(\.name)
        #expect(Set(names).count == names.count)
        let declared = Set(Milvus_MilvusService.Method.descriptors.map(\.method))
        #expect(declared.count == 50)
        #expect(declared.isDisjoint(with: names))
    }

    @Test func responsesDecodeAsStatus() throws {
        for method in UnservedMilvusMethods.methods {
            let bytes = UnservedMilvusMethods.response(for: method)
            let status: Common_Status
            switch method.statusField {
            case 0: status = try Common_Status(serializedBytes: bytes)
            case 1: status = try Milvus_GetVersionResponse(serializedBytes: bytes).status
            default:
                // Field 3 (GetComponentStates) or 2 (RegisterLink): strip the tag and length.
                #expect(bytes[0] == UInt8(method.statusField << 3 | 2))
                status = try Common_Status(serializedBytes: Array(bytes[2...]))
            }
            #expect(status.reason == "\(method.name) is not supported by this server (Osprey)")
            #expect(status.code == 65535)
        }
    }
}

/// Response bytes, undecoded, for RPCs whose response type a test does not name.
///
/// Thread safety: stateless; safe to share.
struct RawBytesDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

/// The `common.Status` in a Milvus response: field 1 when it is length-delimited (a
/// response that carries a status), otherwise the whole message (a bare status).
func status(inResponse bytes: [UInt8]) throws -> Common_Status {
    guard bytes.first == 0x0A else { return try Common_Status(serializedBytes: bytes) }
    var length = 0, shift = 0, index = 1
    while index < bytes.count {
        let byte = bytes[index]
        length |= Int(byte & 0x7F) << shift
        index += 1
        if byte < 0x80 { break }
        shift += 7
    }
    return try Common_Status(serializedBytes: Array(bytes[index..<min(bytes.count, index + length)]))
}
