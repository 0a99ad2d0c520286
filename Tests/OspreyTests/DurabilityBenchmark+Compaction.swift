import Foundation
import Synchronization
import Testing
import OspreyCore
@testable import Osprey

/// Query latency while the background compactor works (BENCHMARKS.md, "Durable storage").
/// Runs only with OSPREY_DURABILITY_BENCH=1, in a release build, with the other durability
/// benchmarks (`--filter DurabilityBenchmark`). OSPREY_COMPACTION_BENCH_ROWS sets the rows
/// (default 200,000, in 100 flushed segments, a quarter of them deleted).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["OSPREY_DURABILITY_BENCH"] == "1"), .serialized)
struct DurabilityBenchmarkCompaction {
    static let dim = 128
    static let segments = 100

    /// Fills a data directory with `rows` rows in `segments` flushed segments and deletes every
    /// fourth key, with background compaction off.
    static func prepare(_ dir: DurabilityTemporaryDirectory, rows: Int) throws {
        let db = try Database.open(at: dir.path, options: DatabaseOptions(compaction: .manualOnly))
        let c = try db.createCollection("c", schema: DurabilityBenchmark.schema(dim: dim))
        let per = rows / segments
        for s in 0..<segments {
            for b in stride(from: 0, to: per, by: 1_000) {
                _ = try c.insert(columns: DurabilityBenchmarkWriters.batch(first: Int64(s * per + b), rows: min(1_000, per - b), dim: dim))
            }
            try c.flush()
        }
        try c.delete(ids: stride(from: 0, to: rows, by: 4).map { .int(Int64($0)) })
        try db.close()
    }

    /// Single-query searches (exact, top 10) until `stop` says so; returns the latencies in ms.
    static func searchLoop(_ c: Collection, until stop: () -> Bool) throws -> [Double] {
        let queries = (0..<64).map { q -> [Float] in
            guard case .floatVector(_, let v)? = DurabilityBenchmarkWriters.batch(first: Int64(1_000_000 + q), rows: 1, dim: dim)["v"]?.data
            else { return [] }
            return v
        }
        var latencies: [Double] = []
        var i = 0
        repeat {
            let t = DurabilityBenchmark.now()
            _ = try c.search(SearchRequest(vectors: [.floatVector(queries[i % queries.count])], limit: 10, metric: .l2))
            latencies.append((DurabilityBenchmark.now() - t) * 1e3)
            i += 1
        } while !stop()
        return latencies
    }

    static func report(_ label: String, _ l: [Double], seconds: Double) {
        print(String(format: "%@: %d searches in %.1f s, p50 %.1f ms, p99 %.1f ms, max %.1f ms", label, l.count, seconds,
                     DurabilityBenchmarkWriters.quantile(l, 0.5), DurabilityBenchmarkWriters.quantile(l, 0.99), l.max() ?? 0))
    }

    /// The same search loop with the compactor off, while it merges the 100 segments (at 8
    /// MiB/s, at the default budget and with none), and afterwards.
    @Test(arguments: [8 << 20, CompactionOptions().maxBytesPerSecond, 0])
    func searchLatencyDuringCompaction(budget: Int) throws {
        let rows = Int(ProcessInfo.processInfo.environment["OSPREY_COMPACTION_BENCH_ROWS"] ?? "") ?? 200_000
        let dir = DurabilityTemporaryDirectory("osprey-bench-compaction")
        try Self.prepare(dir, rows: rows)
        let budgetLabel = budget == 0 ? "no budget" : String(format: "budget %.0f MiB/s", Double(budget) / 1_048_576)
        do {
            let db = try Database.open(at: dir.path, options: DatabaseOptions(compaction: .manualOnly))
            let c = try db.collection("c")
            let start = DurabilityBenchmark.now()
            let l = try Self.searchLoop(c) { DurabilityBenchmark.now() - start > 10 }
            Self.report("\(c.statistics().segments) segments, compactor off", l, seconds: DurabilityBenchmark.now() - start)
            try db.close()
        }
        let options = DatabaseOptions(compaction: CompactionOptions(interval: 0.5, maxBytesPerSecond: budget))
        let db = try Database.open(at: dir.path, options: options)
        let c = try db.collection("c")
        let start = DurabilityBenchmark.now()
        let l = try Self.searchLoop(c) { db.compactor.stats.segmentsRewritten > 0 && !db.compactor.stats.compacting }
        let seconds = DurabilityBenchmark.now() - start
        Self.report("during compaction (\(budgetLabel), \(db.compactor.stats.segmentsRewritten) segments rewritten)", l, seconds: seconds)
        let afterStart = DurabilityBenchmark.now()
        let after = try Self.searchLoop(c) { DurabilityBenchmark.now() - afterStart > 10 }
        Self.report("after compaction, \(c.statistics().segments) segments", after, seconds: DurabilityBenchmark.now() - afterStart)
        #expect(try c.count() == rows - rows / 4)
        try db.close()
    }
}
