import ArgumentParser

/// `osprey serve`: runs the Milvus-protocol server.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the Osprey server (Milvus gRPC protocol).")

    func run() async throws {
        throw ValidationError("the server is not built yet")
    }
}
