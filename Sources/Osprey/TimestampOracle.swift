import Glibc
import OspreyCore
import Synchronization

/// Hands out strictly increasing hybrid timestamps (physical ms << 18 | logical).
///
/// When the clock stands still or goes backwards the logical counter advances; when it
/// overflows, the physical part is pushed forward by one millisecond.
///
/// Thread safety: safe to call from several threads.
final class TimestampOracle: Sendable {
    private let last = Mutex<UInt64>(0)

    init(floor: Timestamp = .zero) {
        last.withLock { $0 = floor.rawValue }
    }

    static func nowMilliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }

    /// A timestamp greater than every one handed out before.
    func next() -> Timestamp {
        let physical = TimestampOracle.nowMilliseconds() << Timestamp.logicalBits
        return last.withLock { last in
            last = physical > last ? physical : last + 1
            return Timestamp(rawValue: last)
        }
    }

    /// Makes sure later timestamps are greater than `ts` (after recovery).
    func advance(past ts: Timestamp) {
        last.withLock { if ts.rawValue > $0 { $0 = ts.rawValue } }
    }
}
