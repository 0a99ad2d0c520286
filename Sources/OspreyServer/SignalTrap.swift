import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Turns process signals (SIGTERM, SIGINT) into calls of a handler on a private queue,
/// with a count of how many have arrived, so that a second signal can escalate.
///
/// The signals' default action is disabled while the trap exists.
///
/// Thread safety: safe to share; the handler runs on one private serial queue.
package final class SignalTrap: Sendable {
    private let sources: Mutex<[any DispatchSourceSignal]>

    /// Starts trapping `signals`; `handler` receives the signal number and how many trapped
    /// signals have arrived so far, this one included.
    package init(signals: [Int32], handler: @escaping @Sendable (_ signal: Int32, _ count: Int) -> Void) {
        let queue = DispatchQueue(label: "osprey.signals")
        let count = Mutex(0)
        sources = Mutex(signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let arrived = count.withLock { value in
                    value += 1
                    return value
                }
                handler(number, arrived)
            }
            source.resume()
            return source
        })
    }

    deinit {
        sources.withLock { sources in
            for source in sources { source.cancel() }
        }
    }
}
