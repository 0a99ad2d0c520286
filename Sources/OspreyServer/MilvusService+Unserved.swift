import GRPCCore

// The RPCs declared in Protos/milvus.proto that the engine cannot serve yet. Each answers
// with an empty response whose status says the RPC is not yet supported (merr 65535,
// legacy UnexpectedError), so that clients fail fast with a clear message instead of
// seeing gRPC UNIMPLEMENTED. Wiring an RPC to the engine moves it to the file of its area
// (`MilvusService+<Area>.swift`) as a call of `handle(request) { call, message in … }`.
extension MilvusService {
    /// Index properties (mmap and the like) do not apply to Osprey's indexes.
    package func alterIndex(
        request: ServerRequest<Milvus_AlterIndexRequest>, context: ServerContext
    ) async throws -> ServerResponse<Common_Status> {
        ServerResponse(message: .failure(.notYetSupported("AlterIndex")))
    }
}
