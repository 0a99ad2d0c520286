import Foundation
import Testing
import OspreyCore
@testable import OspreyStorage

/// Throughput of the write-ahead log. Runs only with OSPREY_STORAGE_BENCH=1, in a release
/// build: `OSPREY_STORAGE_BENCH=1 swift test -c release --filter WALBenchmark`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["OSPREY_STORAGE_BENCH"] == "1"), .serialized)
struct WALBenchmark {
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    @Test(arguments: [(1024, 1), (1024, 8), (65536, 1), (65536, 8)])
    func appendWithDefaultDurability(recordSize: Int, appenders: Int) throws {
        try measureAppends(recordSize: recordSize, appenders: appenders, durability: .syncEachCommit)
    }

    @Test(arguments: [(1024, 1), (1024, 8), (65536, 1)])
    func appendWithoutSync(recordSize: Int, appenders: Int) throws {
        try measureAppends(recordSize: recordSize, appenders: appenders, durability: .noSync)
    }

    func measureAppends(recordSize: Int, appenders: Int, durability: WALDurability) throws {
        let dir = TemporaryDirectory("osprey-bench")
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), options: WALOptions(durability: durability))
        let payload = testPayload(1, size: recordSize)
        let seconds = 3.0
        let counts = ThreadSafeBox([Int](repeating: 0, count: appenders))
        let start = Self.now()
        runOnThreads(appenders) { a in
            var n = 0
            while Self.now() - start < seconds {
                _ = try! wal.appendBlocking(payload)
                n += 1
            }
            counts.mutate { $0[a] = n }
        }
        let elapsed = Self.now() - start
        let total = counts.value.reduce(0, +)
        let files = wal.files.count
        try wal.close()
        print(String(
            format: "WAL append %6d B x %d appenders, %@: %9.0f records/s %8.2f MB/s (%d records, %d files)",
            recordSize, appenders, "\(durability)", Double(total) / elapsed, Double(total * recordSize) / elapsed / 1e6, total, files))
    }

    @Test func replaySpeed() throws {
        let dir = TemporaryDirectory("osprey-bench")
        let wal = try WriteAheadLog.open(directory: dir.join("wal"), options: WALOptions(durability: .noSync))
        let payload = testPayload(2, size: 4096)
        let count = 64 * 1024  // 256 MiB of payload
        for _ in 0..<count { _ = try wal.appendBlocking(payload) }
        try wal.close()
        let reopened = try WriteAheadLog.open(directory: dir.join("wal"))
        var best = 0.0
        for _ in 0..<3 {
            var checksum: UInt32 = 0
            let start = Self.now()
            let stats = try reopened.replay(from: LSN(1)) { _, p in checksum &+= UInt32(p.count) }
            let elapsed = Self.now() - start
            #expect(stats.records == count)
            best = max(best, Double(stats.payloadBytes) / elapsed / 1e6)
            _ = checksum
        }
        try reopened.close()
        print(String(format: "WAL replay (page cache warm, CRC32C verified): %.0f MB/s", best))

        let buffer = testPayload(3, size: 64 << 20)
        let start = Self.now()
        var crc: UInt32 = 0
        for _ in 0..<8 { crc = buffer.withUnsafeBytes { CRC32C.extend(crc, $0) } }
        print(String(format: "CRC32C (hardware: %@): %.0f MB/s", "\(CRC32C.isHardwareAccelerated)",
                     Double(8 * buffer.count) / (Self.now() - start) / 1e6))
    }
}
