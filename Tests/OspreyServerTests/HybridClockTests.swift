import OspreyCore
import Synchronization
import Testing
@testable import OspreyServer

@Suite("Hybrid clock")
struct HybridClockTests {
    /// A wall clock the test moves by hand.
    final class ManualClock: Sendable {
        let now = Mutex<UInt64>(0)
        func set(_ value: UInt64) { now.withLock { $0 = value } }
        func read() -> UInt64 { now.withLock { $0 } }
    }

    @Test func layoutIsPhysicalShiftedBy18() {
        let wall = ManualClock()
        wall.set(1_700_000_000_123)
        let clock = HybridClock(wallClock: { wall.read() })
        let ts = clock.next()
        #expect(ts.rawValue == 1_700_000_000_123 << 18)
        #expect(ts.physicalMilliseconds == 1_700_000_000_123)
        #expect(ts.logical == 0)
    }

    @Test func logicalCounterAdvancesWhenTheClockStandsStillOrStepsBack() {
        let wall = ManualClock()
        wall.set(5_000)
        let clock = HybridClock(wallClock: { wall.read() })
        let a = clock.next(), b = clock.next()
        wall.set(4_000)
        let c = clock.next()
        #expect(a < b && b < c)
        #expect(b.physicalMilliseconds == 5_000 && b.logical == 1)
        #expect(c.physicalMilliseconds == 5_000 && c.logical == 2)
        wall.set(6_000)
        #expect(clock.next() == Timestamp(physicalMilliseconds: 6_000, logical: 0))
    }

    @Test func exhaustedLogicalCounterMovesThePhysicalPartOn() {
        let wall = ManualClock()
        wall.set(10)
        let clock = HybridClock(wallClock: { wall.read() })
        var last = clock.next()
        for _ in 0..<Int(Timestamp.logicalMask) { last = clock.next() }
        #expect(last == Timestamp(physicalMilliseconds: 10, logical: Timestamp.logicalMask))
        #expect(clock.next() == Timestamp(physicalMilliseconds: 11, logical: 0))
    }

    @Test func systemClockIsNearNow() {
        let ms = HybridClock.systemMilliseconds()
        #expect(ms > 1_600_000_000_000)  // after 2020
        #expect(HybridClock().next().physicalMilliseconds >= ms)
    }
}
