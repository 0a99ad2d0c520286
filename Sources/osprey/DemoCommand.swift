import ArgumentParser

/// `osprey demo`: creates a collection, inserts and searches, in-process.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Create a collection, insert rows and search them, in-process.")

    func run() async throws {
        throw ValidationError("demo is not built yet")
    }
}
