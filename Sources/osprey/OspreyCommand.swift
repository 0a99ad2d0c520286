import ArgumentParser

/// The `osprey` command: the server, benchmarks and tools.
@main
struct OspreyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "osprey",
        abstract: "Osprey, a vector database that speaks Milvus's client protocol.",
        subcommands: [ServeCommand.self, BenchCommand.self, EngineBenchCommand.self, DemoCommand.self, CrashWriterCommand.self]
    )
}
