import Foundation
import Synchronization
import Testing
import OspreyCore
@testable import Osprey

/// Writers and checkpoints (BENCHMARKS.md, "Durable storage"): many writers into one
/// collection, and the latency of writes while a checkpoint writes a large segment. Runs
/// only with OSPREY_DURABILITY_BENCH=1, in a release build, with the other durability
/// benchmarks (`--filter DurabilityBenchmark`). OSPREY_DURABILITY_BENCH_ROWS sets the rows
/// of the checkpoint test (default 1,000,000).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["OSPREY_DURABILITY_BENCH"] == "1"), .serialized)
struct DurabilityBenchmarkWriters {
    static func now() -> Double { DurabilityBenchmark.now() }

    /// `rows` rows with keys from `first`, 128-d vectors from a fixed generator.
    static func batch(first: Int64, rows: Int, dim: Int = 128) -> ColumnBatch {
        var state = UInt64(first) &* 0x9E37_79B9_7F4A_7C15 | 1
        var v = [Float](repeating: 0, count: rows * dim)
        for i in v.indices {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            v[i] = Float(state >> 40) / Float(1 << 24) - 0.5
        }
        return ColumnBatch(rowCount: rows, columns: [
            "id": Column(.int64((first ..< first + Int64(rows)).map { $0 })),
            "v": Column(.floatVector(dim: dim, v)),
            "tag": Column(.int64((0..<rows).map { Int64($0 % 17) })),
        ])
    }

    /// The value at quantile `q` (0…1) of `values`.
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
    }

    /// `writers` threads insert batches of 100 rows into one collection (default durability:
    /// each insert returns after its record is fsync'd).
    @Test(arguments: [1, 8])
    func oneCollectionManyWriters(writers: Int) throws {
        let dir = DurabilityTemporaryDirectory("osprey-bench-writers")
        let db = try Database.open(at: dir.path)
        let c = try db.createCollection("c", schema: DurabilityBenchmark.schema(dim: 128))
        let rowsPerBatch = 100
        let batchesPerWriter = 2_000 / writers
        let prepared = (0..<writers).map { w in
            (0..<batchesPerWriter).map { b in Self.batch(first: Int64((w * batchesPerWriter + b) * rowsPerBatch), rows: rowsPerBatch) }
        }
        let latencies = Mutex<[Double]>([])
        let start = Self.now()
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            var mine: [Double] = []
            for b in prepared[w] {
                let t = Self.now()
                _ = try! c.insert(columns: b)
                mine.append(Self.now() - t)
            }
            latencies.withLock { $0 += mine }
        }
        let seconds = Self.now() - start
        let rows = writers * batchesPerWriter * rowsPerBatch
        let l = latencies.withLock { $0 }
        print(String(format: "one collection, %d writers, batches of %d: %d rows in %.2f s = %.0f rows/s; insert latency p50 %.2f ms, p99 %.2f ms",
                     writers, rowsPerBatch, rows, seconds, Double(rows) / seconds, Self.quantile(l, 0.5) * 1e3, Self.quantile(l, 0.99) * 1e3))
        #expect(try c.count() == rows)
        try db.close()
    }

    /// A checkpoint (`flush`) writes a segment of OSPREY_DURABILITY_BENCH_ROWS rows while a
    /// writer keeps inserting batches of 100 rows into the same collection: the writer's
    /// latency shows how long the checkpoint holds writes up.
    @Test func writesDuringCheckpoint() throws {
        let rows = Int(ProcessInfo.processInfo.environment["OSPREY_DURABILITY_BENCH_ROWS"] ?? "") ?? 1_000_000
        let dir = DurabilityTemporaryDirectory("osprey-bench-stall")
        let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: rows + 1))
        let c = try db.createCollection("c", schema: DurabilityBenchmark.schema(dim: 128))
        for b in 0..<(rows / 1_000) { _ = try c.insert(columns: Self.batch(first: Int64(b * 1_000), rows: 1_000)) }
        let small = (0..<5_000).map { Self.batch(first: Int64(rows + $0 * 100), rows: 100) }
        let flushing = Atomic<Bool>(true)
        let flushSeconds = Mutex(0.0)
        let group = DispatchGroup()
        let flushStart = Self.now()
        DispatchQueue.global().async(group: group) {
            try! c.flush()
            flushSeconds.withLock { $0 = Self.now() - flushStart }
            flushing.store(false, ordering: .releasing)
        }
        var latencies: [Double] = []
        var next = 0
        while flushing.load(ordering: .acquiring) && next < small.count {
            let t = Self.now()
            _ = try c.insert(columns: small[next])
            latencies.append(Self.now() - t)
            next += 1
        }
        group.wait()
        print(String(format: "checkpoint of %d rows: flush %.2f s; %d inserts of 100 rows meanwhile, latency p50 %.2f ms, p99 %.2f ms, max %.0f ms",
                     rows, flushSeconds.withLock { $0 }, latencies.count, Self.quantile(latencies, 0.5) * 1e3, Self.quantile(latencies, 0.99) * 1e3,
                     (latencies.max() ?? 0) * 1e3))
        #expect(try c.count() == rows + next * 100)
        try db.close()
    }
}
