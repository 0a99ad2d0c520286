import Foundation
import Testing
import OspreyCore
@testable import Osprey

/// Durable write and recovery speed (BENCHMARKS.md, "Durable storage"). Runs only with
/// OSPREY_DURABILITY_BENCH=1, in a release build:
/// `OSPREY_DURABILITY_BENCH=1 OSPREY_CORE_ONLY=1 swift test -c release --filter DurabilityBenchmark`.
/// OSPREY_DURABILITY_BENCH_ROWS sets the rows of the reopen test (default 1,000,000).
/// `reopenResidentMemory` needs its own process per step: with OSPREY_DURABILITY_BENCH_DIR
/// naming a directory, the first run fills it and closes it (one sealed segment file), the
/// next runs only reopen it and report the time and the process's resident memory.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["OSPREY_DURABILITY_BENCH"] == "1"), .serialized)
struct DurabilityBenchmark {
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    static let batchRows = 1_000

    static func schema(dim: Int) -> CollectionSchema {
        CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: dim), .scalar("tag", .int64)])
    }

    /// One batch of `batchRows` rows with keys from `first`, vectors from a fixed generator.
    static func batch(first: Int64, dim: Int) -> ColumnBatch {
        var state = UInt64(first) &* 0x9E37_79B9_7F4A_7C15 | 1
        var v = [Float](repeating: 0, count: batchRows * dim)
        for i in v.indices {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            v[i] = Float(state >> 40) / Float(1 << 24) - 0.5
        }
        return ColumnBatch(rowCount: batchRows, columns: [
            "id": Column(.int64((first ..< first + Int64(batchRows)).map { $0 })),
            "v": Column(.floatVector(dim: dim, v)),
            "tag": Column(.int64((0..<batchRows).map { Int64($0 % 17) })),
        ])
    }

    @Test(arguments: [(128, 1), (512, 1), (128, 4)])
    func insertThroughput(dim: Int, writers: Int) throws {
        let dir = DurabilityTemporaryDirectory("osprey-bench-insert")
        let db = try Database.open(at: dir.path)
        let collections = try (0..<writers).map { try db.createCollection("c\($0)", schema: Self.schema(dim: dim)) }
        let batches = (dim == 128 ? 200 : 100) / writers
        let prepared = (0..<batches).map { Self.batch(first: Int64($0 * Self.batchRows), dim: dim) }
        let start = Self.now()
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            for b in prepared { _ = try! collections[w].insert(columns: b) }
        }
        let seconds = Self.now() - start
        let rows = batches * Self.batchRows * writers
        print(String(format: "insert dim=%d writers=%d: %d rows in %.2f s = %.0f rows/s (%.1f MB/s of vectors)",
                     dim, writers, rows, seconds, Double(rows) / seconds, Double(rows * dim * 4) / seconds / 1e6))
        try db.close()
    }

    @Test func walReplayAndReopen() throws {
        let rows = Int(ProcessInfo.processInfo.environment["OSPREY_DURABILITY_BENCH_ROWS"] ?? "") ?? 1_000_000
        let dir = DurabilityTemporaryDirectory("osprey-bench-reopen")
        let dim = 128
        do {
            // Large segments: every row stays in the growing segment, so the reopen replays the WAL.
            let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: rows + 1))
            let c = try db.createCollection("c", schema: Self.schema(dim: dim))
            let start = Self.now()
            for b in 0..<(rows / Self.batchRows) { _ = try c.insert(columns: Self.batch(first: Int64(b * Self.batchRows), dim: dim)) }
            print(String(format: "loaded %d rows of %d-d in %.1f s", rows, dim, Self.now() - start))
            try db.storage!.close()  // no final checkpoint: everything is in the WAL
        }
        do {
            let start = Self.now()
            let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: rows + 1))
            let seconds = Self.now() - start
            let r = db.storage!.recovery
            print(String(format: "reopen from WAL: %d rows, %d records, %.1f MB replayed in %.2f s (%.0f MB/s); open total %.2f s",
                         try db.collection("c").count(), r.replayedRecords, Double(r.replayedBytes) / 1e6, r.replaySeconds,
                         Double(r.replayedBytes) / 1e6 / max(r.replaySeconds, 1e-9), seconds))
            let closeStart = Self.now()
            try db.close()  // checkpoint: one sealed segment file, the WAL cut
            print(String(format: "close (checkpoint writing the segment file): %.2f s", Self.now() - closeStart))
        }
        let start = Self.now()
        let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: rows + 1))
        let seconds = Self.now() - start
        print(String(format: "reopen from segment files: %d rows in %.2f s (segment load %.2f s, %d WAL records)",
                     try db.collection("c").count(), seconds, db.storage!.recovery.segmentLoadSeconds,
                     db.storage!.recovery.replayedRecords))
        try db.storage!.close()
    }

    /// Resident memory of this process from /proc/self/status, in MiB: total, anonymous
    /// (heap), file-backed (mapped files) — zeros where the file does not exist.
    static func residentMiB() -> (total: Double, anon: Double, file: Double) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0, 0) }
        func field(_ name: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
                  let kb = line.split(separator: " ").compactMap({ Double($0) }).first else { return 0 }
            return kb / 1024
        }
        return (field("VmRSS"), field("RssAnon"), field("RssFile"))
    }

    @Test func reopenResidentMemory() throws {
        guard let path = ProcessInfo.processInfo.environment["OSPREY_DURABILITY_BENCH_DIR"] else { return }
        let rows = Int(ProcessInfo.processInfo.environment["OSPREY_DURABILITY_BENCH_ROWS"] ?? "") ?? 1_000_000
        let dim = 128
        let options = DatabaseOptions(segmentMaxRows: rows + 1)
        guard FileManager.default.fileExists(atPath: path + "/CURRENT") else {
            let db = try Database.open(at: path, options: options)
            let c = try db.createCollection("c", schema: Self.schema(dim: dim))
            for b in 0..<(rows / Self.batchRows) { _ = try c.insert(columns: Self.batch(first: Int64(b * Self.batchRows), dim: dim)) }
            try db.close()  // checkpoint: one sealed segment file
            print("prepared \(path): \(rows) rows of \(dim)-d in one segment file")
            return
        }
        let before = Self.residentMiB()
        let start = Self.now()
        let db = try Database.open(at: path, options: options)
        let seconds = Self.now() - start
        let after = Self.residentMiB()
        let c = try db.collection("c")
        let query = Self.batch(first: 0, dim: dim)
        guard case .floatVector(_, let q)? = query["v"]?.data else { return }
        let searchStart = Self.now()
        let hits = try c.search(SearchRequest(vectors: [.floatVector(Array(q[0..<dim]))], limit: 10))
        let searchSeconds = Self.now() - searchStart
        let searched = Self.residentMiB()
        #expect(hits.first?.ids.first == .int(0))
        print(String(format: "reopen %d rows: %.2f s (segment load %.2f s); resident MiB before open %.0f (anon %.0f, file %.0f), "
                     + "after open %.0f (anon %.0f, file %.0f), after one exact search (%.2f s) %.0f (anon %.0f, file %.0f)",
                     try c.count(), seconds, db.storage!.recovery.segmentLoadSeconds, before.total, before.anon, before.file,
                     after.total, after.anon, after.file, searchSeconds, searched.total, searched.anon, searched.file))
        try db.storage!.close()
    }
}
