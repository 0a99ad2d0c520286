import Foundation
import OspreyCore
import Synchronization

/// Hands out strictly increasing hybrid timestamps (physical milliseconds << 18 | logical
/// counter), the layout Milvus clients expect from `AllocTimestamp` and in
/// `MutationResult.timestamp`.
///
/// When the wall clock stands still or steps back, the logical counter advances instead;
/// when the counter is exhausted within one millisecond, the physical part moves on by one.
///
/// Thread safety: safe to call from any thread; a mutex guards the last timestamp issued.
package final class HybridClock: Sendable {
    private let last = Mutex(Timestamp.zero)
    private let wallClock: @Sendable () -> UInt64

    /// Creates a clock reading milliseconds since the Unix epoch from `wallClock`.
    package init(wallClock: @escaping @Sendable () -> UInt64 = HybridClock.systemMilliseconds) {
        self.wallClock = wallClock
    }

    /// The next timestamp: greater than every timestamp this clock returned before.
    package func next() -> Timestamp {
        let now = wallClock()
        return last.withLock { last in
            if now > last.physicalMilliseconds {
                last = Timestamp(physicalMilliseconds: now, logical: 0)
            } else if last.logical < Timestamp.logicalMask {
                last = Timestamp(rawValue: last.rawValue + 1)
            } else {
                last = Timestamp(physicalMilliseconds: last.physicalMilliseconds + 1, logical: 0)
            }
            return last
        }
    }

    /// Milliseconds since the Unix epoch from the system clock.
    @Sendable package static func systemMilliseconds() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }
}
