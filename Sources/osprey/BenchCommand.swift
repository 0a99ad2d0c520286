import ArgumentParser

/// `osprey bench`: builds an index over fvecs data and sweeps search parameters.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmark a vector index on fvecs/ivecs files.")

    func run() async throws {
        throw ValidationError("bench is not built yet")
    }
}
