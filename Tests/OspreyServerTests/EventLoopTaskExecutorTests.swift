import Logging
import NIOCore
import NIOPosix
import Osprey
import Testing
@testable import OspreyServer

/// Request tasks run on an event loop, their engine work on the worker pool, and each
/// request goes on after its engine call on the loop it started on.
@Suite struct EventLoopTaskExecutorTests {
    @Test func engineWorkLeavesTheLoopAndComesBackToIt() async throws {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 4)
        let executor = EventLoopTaskExecutor(group: loops)
        let service = MilvusService(logger: Logger(label: "test.executor"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask(executorPreference: executor) {
                    for _ in 0..<25 {
                        let home = try #require(EventLoopTaskExecutor.currentLoop)
                        let onLoop = try await service.engine { EventLoopTaskExecutor.currentLoop != nil }
                        #expect(!onLoop, "engine work ran on an event loop")
                        let after = try #require(EventLoopTaskExecutor.currentLoop)
                        #expect(after === home, "the request went on on another loop than its own")
                        await Task.yield()
                        #expect(EventLoopTaskExecutor.currentLoop === home)
                    }
                }
            }
            try await group.waitForAll()
        }
        try await loops.shutdownGracefully()
    }

    @Test func engineErrorsComeBackAsMilvusErrors() async throws {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let service = MilvusService(logger: Logger(label: "test.executor"))
        let executor = EventLoopTaskExecutor(group: loops)
        let error = await Task(executorPreference: executor) { () -> MilvusError? in
            do {
                _ = try await service.engine { () throws -> Int in throw OspreyError.collectionNotFound("missing") }
                return nil
            } catch let error as MilvusError {
                return error
            } catch {
                return nil
            }
        }.value
        #expect(error?.code == .collectionNotFound)
        try await loops.shutdownGracefully()
    }
}
