import Foundation
import Testing
import Osprey

/// The Swift example in README.md, compiled and run here; a second test checks that the
/// README still shows exactly this code.
@Suite struct ReadmeExampleTests {
    static func example(dataDirectory: String) throws -> (ids: [PrimaryKey], camera: FieldValue) {
        // README BEGIN
        let db = try Database.open(at: dataDirectory)  // e.g. "./faces-data"
        let schema = CollectionSchema(fields: [
            .primaryKey("id"),
            .vector("embedding", dim: 4),
            .scalar("camera", .varchar, maxLength: 64),
        ])
        let faces = try db.createCollection("faces", schema: schema)
        try faces.insert([
            ["id": 1, "embedding": .floatVector([0.1, 0.2, 0.3, 0.4]), "camera": "gate-3"],
            ["id": 2, "embedding": .floatVector([0.4, 0.3, 0.2, 0.1]), "camera": "lobby"],
        ])
        let hits = try faces.search(SearchRequest(
            vectors: [.floatVector([0.1, 0.2, 0.3, 0.35])], limit: 1, metric: .l2, outputFields: ["camera"]))
        print(hits[0].ids, hits[0].scores, hits[0].row(0)["camera"]!)
        try db.close()
        // README END
        return (hits[0].ids, hits[0].row(0)["camera"]!)
    }

    static func snippet(from text: String, begin: String, end: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let b = lines.firstIndex(where: { $0.contains(begin) }),
              let e = lines[(b + 1)...].firstIndex(where: { $0.contains(end) }) else { return [] }
        return lines[(b + 1)..<e].map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    @Test func exampleRuns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osprey-readme-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Self.example(dataDirectory: dir)
        #expect(result.ids == [.int(1)])
        #expect(result.camera == .string("gate-3"))
    }

    @Test func readmeShowsThisCode() throws {
        let testFile = URL(fileURLWithPath: #filePath)
        let root = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: testFile, encoding: .utf8)
        let inReadme = Self.snippet(from: readme, begin: "import Osprey", end: "```")
        let inTest = Self.snippet(from: source, begin: "// README" + " BEGIN", end: "// README" + " END")
        #expect(!inTest.isEmpty)
        #expect(inReadme == inTest)
    }
}
