import Foundation
import Synchronization
import Testing
import OspreyCore
@testable import Osprey
@testable import OspreyStorage

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
    /// each insert returns after its record is fsync'd). With `syncDelay` (µs) every fsync
    /// first sleeps that long, as on a disk slower than the development VM's, and the fsyncs
    /// are counted.
    @Test(arguments: [(1, 0), (8, 0), (1, 2_000), (8, 2_000)] as [(Int, UInt32)])
    func oneCollectionManyWriters(writers: Int, syncDelay: UInt32) throws {
        let dir = DurabilityTemporaryDirectory("osprey-bench-writers")
        let fault = FaultInjectingFileSystem()
        fault.setSyncDelay(microseconds: syncDelay)
        let db = syncDelay == 0
            ? try Database.open(at: dir.path)
            : try DurableStorage.openDatabase(at: dir.path, options: DatabaseOptions(), fileSystem: fault)
        let c = try db.createCollection("c", schema: DurabilityBenchmark.schema(dim: 128))
        let syncsBefore = fault.syncCount
        let rowsPerBatch = 100
        let batchesPerWriter = 2_000 / writers
        let prepared = (0..<writers).map { w in
            (0..<batchesPerWriter).map { b in Self.batch(first: Int64((w * batchesPerWriter + b) * rowsPerBatch), rows: rowsPerBatch) }
        }
        let latencies = Mutex<[Double]>([])
        let start = Self.now()
        // One thread per writer: `concurrentPerform` would run only as many at once as there
        // are cores, and a writer waiting for its fsync would hold one of them.
        let group = DispatchGroup()
        for w in 0..<writers {
            group.enter()
            let batches = prepared[w]
            Thread.detachNewThread {
                var mine: [Double] = []
                for b in batches {
                    let t = Self.now()
                    _ = try! c.insert(columns: b)
                    mine.append(Self.now() - t)
                }
                latencies.withLock { $0 += mine }
                group.leave()
            }
        }
        group.wait()
        let seconds = Self.now() - start
        let rows = writers * batchesPerWriter * rowsPerBatch
        let l = latencies.withLock { $0 }
        let syncs = syncDelay == 0 ? "" : String(format: ", %.2f fsyncs per insert", Double(fault.syncCount - syncsBefore) / Double(l.count))
        print(String(format: "one collection, %d writers, batches of %d, fsync delay %d µs: %d rows in %.2f s = %.0f rows/s; insert latency p50 %.2f ms, p99 %.2f ms%@",
                     writers, rowsPerBatch, syncDelay, rows, seconds, Double(rows) / seconds, Self.quantile(l, 0.5) * 1e3,
                     Self.quantile(l, 0.99) * 1e3, syncs))
        #expect(try c.count() == rows)
        try db.close()
    }

    /// A checkpoint (`flush`) writes a segment of OSPREY_DURABILITY_BENCH_ROWS rows while a
    /// writer keeps inserting batches of 100 rows into the same collection: the writer's
    /// latency shows how long the checkpoint holds writes up. With `.noSync` the inserts do not
    /// wait for fsyncs, which on one disk queue behind the checkpoint's.
    @Test(arguments: [WALDurability.syncEachCommit, .noSync])
    func writesDuringCheckpoint(durability: WALDurability) throws {
        let rows = Int(ProcessInfo.processInfo.environment["OSPREY_DURABILITY_BENCH_ROWS"] ?? "") ?? 1_000_000
        let dir = DurabilityTemporaryDirectory("osprey-bench-stall")
        let db = try DurableStorage.openDatabase(at: dir.path, options: DatabaseOptions(segmentMaxRows: 2 * rows),
                                                 walOptions: WALOptions(durability: durability))
        let c = try db.createCollection("c", schema: DurabilityBenchmark.schema(dim: 128))
        for b in 0..<(rows / 1_000) { _ = try c.insert(columns: Self.batch(first: Int64(b * 1_000), rows: 1_000)) }
        let small = (0..<5_000).map { Self.batch(first: Int64(rows + $0 * 100), rows: 100) }
        // Control: the same inserts with no checkpoint running.
        var control: [Double] = []
        for b in small[4_500...] {
            let t = Self.now()
            _ = try c.insert(columns: b)
            control.append(Self.now() - t)
        }
        print(String(format: "control, %d inserts of 100 rows with no checkpoint: latency p50 %.2f ms, p99 %.2f ms, max %.0f ms",
                     control.count, Self.quantile(control, 0.5) * 1e3, Self.quantile(control, 0.99) * 1e3, (control.max() ?? 0) * 1e3))
        let flushing = Atomic<Bool>(true)
        let flushSeconds = Mutex(0.0)
        let group = DispatchGroup()
        let flushStart = Self.now()
        let flushBegan = Mutex(0.0)
        DispatchQueue.global().async(group: group) {
            flushBegan.withLock { $0 = Self.now() - flushStart }
            try! c.flush()
            flushSeconds.withLock { $0 = Self.now() - flushStart }
            flushing.store(false, ordering: .releasing)
        }
        var latencies: [Double] = []
        var next = 0
        while flushing.load(ordering: .acquiring) && next < 4_500 {
            let t = Self.now()
            _ = try c.insert(columns: small[next])
            latencies.append(Self.now() - t)
            next += 1
        }
        group.wait()
        let times = db.storage!.lastCheckpoint.withLock { $0 }
        print(String(format: "the flush's checkpoint: %.2f s, of which %.2f ms until its capture under the writer locks ended",
                     times.total, times.locked * 1e3))
        print(String(format: "flush began %.0f ms after it was dispatched", flushBegan.withLock { $0 } * 1e3))
        print(String(format: "checkpoint of %d rows (WAL %@): flush %.2f s; %d inserts of 100 rows meanwhile, latency p50 %.2f ms, p99 %.2f ms, max %.0f ms",
                     rows, "\(durability)", flushSeconds.withLock { $0 }, latencies.count, Self.quantile(latencies, 0.5) * 1e3, Self.quantile(latencies, 0.99) * 1e3,
                     (latencies.max() ?? 0) * 1e3))
        #expect(try c.count() == rows + (next + control.count) * 100)
        try db.close()
    }
}
