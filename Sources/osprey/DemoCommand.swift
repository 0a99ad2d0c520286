import ArgumentParser
import Osprey

/// `osprey demo`: creates a collection, inserts rows and searches them, in-process.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Create a collection, insert rows and search them, in-process.")

    @Option(help: "Rows to insert.") var rows = 20_000
    @Option(help: "Vector dimension.") var dim = 128
    @Option(help: "Seed of the generated vectors.") var seed: UInt64 = 42

    func validate() throws {
        guard rows > 0, rows <= 10_000_000 else { throw ValidationError("--rows must be in 1...10000000") }
        guard dim > 0, dim <= 32_768 else { throw ValidationError("--dim must be in 1...32768") }
    }

    func run() throws {
        let db = Database.inMemory()
        let schema = CollectionSchema(fields: [
            .primaryKey("id"), .vector("embedding", dim: dim), .scalar("camera", .varchar, maxLength: 32),
        ])
        let faces = try db.createCollection("faces", schema: schema)
        var rng = SplitMix64(seed: seed)
        func next() -> Float { Float(rng.next() >> 40) / Float(1 << 23) - 1 }  // uniform in [-1, 1)
        let clock = ContinuousClock()
        let batch = 1_000
        let insertTime = try clock.measure {
            for start in stride(from: 0, to: rows, by: batch) {
                let n = min(batch, rows - start)
                try faces.insert(columns: ColumnBatch(rowCount: n, columns: [
                    "id": Column(.int64((start ..< start + n).map(Int64.init))),
                    "embedding": Column(.floatVector(dim: dim, (0 ..< n * dim).map { _ in next() })),
                    "camera": Column(.string((start ..< start + n).map { "gate-\($0 % 7)" })),
                ]))
            }
        }
        print("inserted \(rows) rows of \(dim)-d vectors in \(insertTime) (\(Int(Double(rows) / insertTime.seconds)) rows/s)")
        let probe = try faces.get(ids: [.int(Int64(rows / 2))], outputFields: ["embedding"]).row(0)["embedding"]!
        var hits: [SearchHits] = []
        let searchTime = try clock.measure {
            hits = try faces.search(SearchRequest(vectors: [probe], limit: 5, metric: .l2, outputFields: ["camera"]))
        }
        print("searched for row \(rows / 2)'s own vector in \(searchTime):")
        for i in 0..<hits[0].count {
            print("  id \(hits[0].ids[i])  distance \(hits[0].scores[i])  camera \(hits[0].row(i)["camera"]!)")
        }
        try faces.upsert([["id": .int(Int64(rows / 2)), "embedding": .floatVector(Array(repeating: 0, count: dim)), "camera": "moved"]])
        print("after upserting it: \(try faces.count()) rows, camera \(try faces.get(ids: [.int(Int64(rows / 2))]).row(0)["camera"]!)")
        try db.close()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
