import Dispatch

/// Runs blocking engine calls off the caller's threads, at most `width` at a time.
///
/// Servers call the engine (whose methods block while they work) through a pool so that
/// neither the network event loops nor Swift's cooperative thread pool are held up by a
/// search or a write.
///
/// Thread safety: safe to call from several tasks at once.
public final class WorkerPool: Sendable {
    /// The most calls that run at the same time.
    public let width: Int
    private let slots: DispatchSemaphore
    private let queue: DispatchQueue

    /// A pool running at most `width` calls at once (default: two per core).
    public init(width: Int = 2 * Parallelism.cores) {
        self.width = max(1, width)
        self.slots = DispatchSemaphore(value: self.width)
        self.queue = DispatchQueue(label: "osprey.worker-pool", qos: .userInitiated, attributes: .concurrent)
    }

    /// Runs `body` on the pool, once one of the `width` slots is free, and returns its result.
    ///
    /// `resuming` wraps the resumption of the caller on the pool thread; a server whose
    /// tasks run on its own executor uses it to say where the task goes on (by default it
    /// just resumes).
    public func run<T: Sendable>(
        _ body: @escaping @Sendable () throws -> T,
        resuming: @escaping @Sendable (_ resume: () -> Void) -> Void = { $0() }
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, Error>) in
            queue.async { [slots] in
                slots.wait()
                let result = Result { try body() }
                slots.signal()
                resuming { cont.resume(with: result) }
            }
        }
    }
}

extension Parallelism {
    /// The number of cores reads may spread over (public for servers sizing their pools).
    public static var coreCount: Int { cores }
}
