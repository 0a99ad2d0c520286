import OspreyCore
import Testing
@testable import Osprey

/// The primary-key index's map against a dictionary, through growth, moves between tables,
/// removals and tombstones.
@Suite struct IntKeyMapTests {
    /// The map with integers for values (kept in the location's segment id).
    struct Map {
        var map = IntKeyMap()
        var count: Int { map.count }
        subscript(key: Int64) -> Int64? {
            get { map[key].map { Int64(bitPattern: $0.segment.rawValue) } }
            set { map[key] = newValue.map { Collection.RowLocation(segment: SegmentID(UInt64(bitPattern: $0)), row: 7) } }
        }
    }

    /// A small deterministic generator (the tests must not depend on the system's).
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test(arguments: [(1_000, UInt64(1)), (60_000, UInt64(2)), (Int.max, UInt64(3))])
    func matchesADictionary(keys keySpace: Int, seed: UInt64) {
        var map = Map()
        var reference: [Int64: Int64] = [:]
        var rng = SplitMix(state: seed)
        func key() -> Int64 {
            keySpace == Int.max ? Int64(bitPattern: rng.next()) : Int64(rng.next() % UInt64(keySpace)) - Int64(keySpace / 2)
        }
        for step in 0..<200_000 {
            let k = key()
            switch rng.next() % 10 {
            case 0..<6:
                let v = Int64(step)
                map[k] = v
                reference[k] = v
            case 6..<9:
                map[k] = nil
                reference[k] = nil
            default:
                #expect(map[k] == reference[k])
            }
            if step % 9_973 == 0 {
                #expect(map.count == reference.count)
                for (rk, rv) in reference.prefix(200) { #expect(map[rk] == rv) }
            }
        }
        #expect(map.count == reference.count)
        for (k, v) in reference { #expect(map[k] == v) }
    }

    @Test func growsThroughManyMovesAndEmptiesAgain() {
        var map = Map()
        let n: Int64 = 300_000
        for k in 0..<n { map[k * 7] = k }
        #expect(map.count == Int(n))
        for k in stride(from: 0, to: n, by: 997) { #expect(map[k * 7] == k) }
        #expect(map[1] == nil)
        for k in 0..<n where k % 2 == 0 { map[k * 7] = nil }
        #expect(map.count == Int(n / 2))
        // Re-insert over the tombstones, then remove everything.
        for k in 0..<n where k % 2 == 0 { map[k * 7] = -k }
        for k in stride(from: 0, to: n, by: 1_009) { #expect(map[k * 7] == (k % 2 == 0 ? -k : k)) }
        for k in 0..<n { map[k * 7] = nil }
        #expect(map.count == 0)
        for k in stride(from: 0, to: n, by: 1_013) { #expect(map[k * 7] == nil) }
    }

    @Test func churnOfShortLivedKeys() {
        // Keys inserted and soon removed leave tables mostly of tombstones: moves to small
        // tables from large ones, and moves that must finish at once.
        var map = Map()
        var reference: [Int64: Int64] = [:]
        var next: Int64 = 0
        for round in 0..<40 {
            let batch = round % 2 == 0 ? 20_000 : 300
            for _ in 0..<batch {
                map[next] = next * 3
                reference[next] = next * 3
                next += 1
            }
            // Keep one key in a hundred.
            for k in (next - Int64(batch))..<next where k % 100 != 0 {
                map[k] = nil
                reference[k] = nil
            }
            #expect(map.count == reference.count)
        }
        for (k, v) in reference { #expect(map[k] == v) }
        for k in stride(from: Int64(1), to: next, by: 101) where k % 100 != 0 { #expect(map[k] == nil) }
    }

    @Test func insertThenRemoveEachKey() {
        // Each key removed right after its insert: tables fill with tombstones alone, and a
        // new small table fills while the large one is still being moved.
        var map = Map()
        var kept: [Int64] = []
        for k in Int64(0)..<24_000 { map[k] = k }
        for k in Int64(0)..<24_000 where k % 1_000 != 0 { map[k] = nil }
        kept = stride(from: Int64(0), to: 24_000, by: 1_000).map { $0 }
        for k in Int64(100_000)..<160_000 {
            map[k] = -k
            if k % 50 == 0 { kept.append(k) } else { map[k] = nil }
        }
        #expect(map.count == kept.count)
        for k in kept { #expect(map[k] == (k >= 100_000 ? -k : k)) }
        for k in stride(from: Int64(100_001), to: 160_000, by: 50) { #expect(map[k] == nil) }
    }

    @Test func copiesAreIndependent() {
        var a = Map()
        for k in Int64(0)..<1_000 { a[k] = k }
        var b = a
        b[5] = 500
        b[6] = nil
        for k in Int64(1_000)..<3_000 { b[k] = k }
        #expect(a[5] == 5 && a[6] == 6 && a[2_000] == nil && a.count == 1_000)
        #expect(b[5] == 500 && b[6] == nil && b[2_000] == 2_000 && b.count == 2_999)
    }
}
