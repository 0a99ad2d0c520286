import Foundation
import Testing
@testable import Osprey

/// The longest single insert into the primary-key index's map and into a dictionary, as
/// both grow to millions of keys: the dictionary's rehash at each doubling against the map's
/// moves a few slots at a time. Runs only with OSPREY_KEYMAP_BENCH=1, in a release build:
///
///     OSPREY_KEYMAP_BENCH=1 OSPREY_CORE_ONLY=1 swift test -c release --filter IntKeyMapBenchmark
@Suite(.enabled(if: ProcessInfo.processInfo.environment["OSPREY_KEYMAP_BENCH"] == "1"), .serialized)
struct IntKeyMapBenchmark {
    typealias Location = Collection.RowLocation

    static func measure(_ n: Int, _ insert: (Int64, Location) -> Void) -> (total: Double, worst: Double, over1ms: Int) {
        var worst = 0.0, over = 0
        let clock = ContinuousClock()
        let start = clock.now
        // Batches of 1,000 keys, as inserts of 1,000 rows take the index lock once each.
        for b in stride(from: 0, to: n, by: 1_000) {
            let t0 = clock.now
            for k in b..<(b + 1_000) {
                insert(Int64(k) &* 2_654_435_761, Location(segment: SegmentID(UInt64(k >> 20)), row: UInt32(k & 0xFFFFF)))
            }
            let ms = Double((clock.now - t0).components.attoseconds) / 1e15 + Double((clock.now - t0).components.seconds) * 1e3
            worst = max(worst, ms)
            if ms > 1 { over += 1 }
        }
        let total = Double((clock.now - start).components.seconds) + Double((clock.now - start).components.attoseconds) / 1e18
        return (total, worst, over)
    }

    @Test func longestInsertBatch() {
        for n in [1_000_000, 8_000_000] {
            var dictionary: [Int64: Location] = [:]
            let d = Self.measure(n) { dictionary[$0] = $1 }
            var map = IntKeyMap()
            let m = Self.measure(n) { map[$0] = $1 }
            print(String(format: "%d keys, batches of 1,000: Dictionary %.2f s total, worst batch %.1f ms, %d batches over 1 ms | IntKeyMap %.2f s total, worst batch %.1f ms, %d batches over 1 ms",
                         n, d.total, d.worst, d.over1ms, m.total, m.worst, m.over1ms))
            #expect(map.count == dictionary.count)
        }
    }
}
