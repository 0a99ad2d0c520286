import Dispatch
import Foundation

/// Wraps a value so that it can cross into `concurrentPerform` workers; used only for pointers
/// whose disjoint regions each worker owns.
///
/// Thread safety: none of its own; the code that creates one guarantees workers touch disjoint
/// memory or only read.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Parallel loops over the machine's cores.
///
/// Thread safety: stateless; safe from any thread.
enum Parallel {
    /// Active cores of this machine.
    static var cores: Int { Swift.max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Runs `body(worker)` for `worker` in `0..<workers` on up to that many threads.
    static func run(workers: Int, _ body: @Sendable (Int) -> Void) {
        if workers <= 1 { body(0); return }
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
    }

    /// Splits `0..<count` into contiguous chunks and runs them on up to `threads` workers.
    static func forChunks(count: Int, threads: Int, minChunk: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        let workers = Swift.max(1, Swift.min(threads, (count + minChunk - 1) / Swift.max(1, minChunk)))
        if workers <= 1 { if count > 0 { body(0..<count) }; return }
        let per = (count + workers - 1) / workers
        run(workers: workers) { w in
            let lo = w * per, hi = Swift.min(count, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// A 64-byte-aligned, manually managed byte buffer for vectors, codes and links, or a
/// read-only window into a loaded index image (`init(borrowing:byteCount:owner:)`).
///
/// Thread safety: immutable after it is filled; concurrent reads are safe. The owner frees it.
final class AlignedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int
    /// What keeps borrowed bytes valid (a mapped index image); nil when the buffer owns them.
    let owner: AnyObject?

    init(byteCount: Int, zeroed: Bool = true) {
        self.byteCount = byteCount
        pointer = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(byteCount, 64), alignment: 64)
        if zeroed { pointer.initializeMemory(as: UInt8.self, repeating: 0, count: Swift.max(byteCount, 64)) }
        owner = nil
    }

    /// Bytes that `owner` keeps valid and that are never written through this buffer.
    init(borrowing bytes: UnsafeRawPointer, byteCount: Int, owner: AnyObject) {
        pointer = UnsafeMutableRawPointer(mutating: bytes)
        self.byteCount = byteCount
        self.owner = owner
    }

    deinit { if owner == nil { pointer.deallocate() } }
}
