import NIOCore
import NIOPosix

/// The executor request tasks run on: each job runs on the event loop of the connection
/// that carries the request, so that a request is read, decoded, routed and answered on
/// one thread, and only its engine work moves to the worker pool and back.
///
/// With Swift's default executor a unary call crosses threads five or six times (event loop
/// → concurrency pool → worker pool → concurrency pool → event loop, several times for the
/// response's parts), and on a small machine most of the time a cheap request takes is spent
/// waking threads. Here a job enqueued on an event loop thread stays on that loop; a job
/// enqueued from a worker-pool thread (an engine call resuming its request) goes to the loop
/// the request came from, which ``resuming(on:_:)`` names; anything else goes to a loop of
/// the group.
///
/// Handlers therefore must not block: engine calls go through `MilvusService.engine`, which
/// runs them on the worker pool, and handlers build large responses there too.
///
/// Thread safety: safe to use from any thread.
package final class EventLoopTaskExecutor: TaskExecutor {
    /// The loops connections are served on (the server transport's group).
    package let group: any EventLoopGroup
    /// The loop a job enqueued by this thread should run on, while ``resuming(on:_:)`` runs.
    /// (Each thread sees only its own value, so sharing the variable itself is safe.)
    private nonisolated(unsafe) static let target = ThreadSpecificVariable<Loop>()

    private final class Loop {
        let loop: any EventLoop
        init(_ loop: any EventLoop) { self.loop = loop }
    }

    package init(group: any EventLoopGroup) {
        self.group = group
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? Self.target.currentValue?.loop ?? group.next()
        loop.execute { job.runSynchronously(on: executor) }
    }

    /// The event loop running the calling code, if it runs on one.
    package static var currentLoop: (any EventLoop)? { MultiThreadedEventLoopGroup.currentEventLoop }

    /// Runs `body`, which resumes a request task from a thread that is no event loop, so
    /// that the task goes on on `loop` (where its connection lives) rather than on any loop.
    package static func resuming(on loop: (any EventLoop)?, _ body: () -> Void) {
        guard let loop else { return body() }
        target.currentValue = Loop(loop)
        defer { target.currentValue = nil }
        body()
    }
}
