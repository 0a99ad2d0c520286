import Dispatch
import OspreyCore
import Synchronization

/// Settings of background compaction (docs/design.md §4). Every database, durable or in
/// memory, has one compactor: a low-priority serial queue that, every `interval` seconds,
/// looks at each collection in turn and rewrites, one group at a time, its small and holey
/// sealed segments (`Collection.compact()` runs the same code at full speed).
///
/// Thread safety: a value type; safe to share.
public struct CompactionOptions: Sendable, Equatable {
    /// The collection property that turns background compaction off for one collection
    /// ("false"); Milvus's name.
    public static let autoCompactionProperty = "collection.autocompaction.enabled"

    /// Whether the background compactor runs. Default true.
    public var background: Bool
    /// Seconds between two looks at the collections. Default 10.
    public var interval: Double
    /// The rewrite budget: bytes per second that compaction may copy into new segments and
    /// write to their files, summed (about `Collection.approximateRowBytes` per row); 0 means
    /// no limit. Default 32 MiB/s, about a tenth of what one core copies and a disk writes.
    public var maxBytesPerSecond: Int
    /// A sealed segment with fewer live rows than this share of `segmentMaxRows` is small, and
    /// is merged with the other small ones of its partition. Default 0.5.
    public var smallSegmentShare: Double
    /// A sealed segment with at least this share of its rows deleted is rewritten without
    /// them. Default 0.2.
    public var deletedShare: Double

    public init(background: Bool = true, interval: Double = 10, maxBytesPerSecond: Int = 32 << 20,
                smallSegmentShare: Double = 0.5, deletedShare: Double = 0.2) {
        self.background = background
        self.interval = interval
        self.maxBytesPerSecond = maxBytesPerSecond
        self.smallSegmentShare = smallSegmentShare
        self.deletedShare = deletedShare
    }

    /// Options with background compaction off (compaction only through `compact()`).
    public static let manualOnly = CompactionOptions(background: false)

    /// Checks the settings.
    func validate() throws(OspreyError) {
        guard interval.isFinite, interval > 0 else { throw .invalidArgument("compaction interval must be a positive number of seconds, got \(interval)") }
        guard maxBytesPerSecond >= 0 else { throw .invalidArgument("compaction maxBytesPerSecond must not be negative, got \(maxBytesPerSecond)") }
        guard smallSegmentShare >= 0, smallSegmentShare <= 1 else {
            throw .invalidArgument("compaction smallSegmentShare must be in 0...1, got \(smallSegmentShare)")
        }
        guard deletedShare > 0, deletedShare <= 1 else { throw .invalidArgument("compaction deletedShare must be in (0, 1], got \(deletedShare)") }
    }

    /// Checks the compaction property among collection properties being set.
    static func validateProperties(_ properties: [String: String]) throws(OspreyError) {
        if let v = properties[autoCompactionProperty], !["true", "false"].contains(v.lowercased()) {
            throw .invalidArgument("\(autoCompactionProperty) must be true or false, got '\(v)'")
        }
    }
}

/// Paces a compaction to a byte rate and lets it be stopped between chunks.
///
/// Thread safety: safe to call from several threads; `charge` sleeps the calling thread.
final class CompactionPacer: Sendable {
    /// 0: no limit.
    let bytesPerSecond: Int
    private let stopped = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    /// When the bytes charged so far are paid for (uptime nanoseconds).
    private let paidUntil = Mutex<UInt64>(0)

    init(bytesPerSecond: Int) { self.bytesPerSecond = bytesPerSecond }

    var stopRequested: Bool { stopped.load(ordering: .acquiring) }

    /// Makes `stopRequested` true and wakes a `charge` that is sleeping.
    func requestStop() {
        stopped.store(true, ordering: .releasing)
        wake.signal()
    }

    /// Accounts for `bytes` of work, sleeping until the rate allows them (an idle spell earns
    /// no credit for a later burst). Returns false when asked to stop.
    func charge(bytes: Int) -> Bool {
        guard bytesPerSecond > 0, bytes > 0 else { return !stopRequested }
        let now = DispatchTime.now().uptimeNanoseconds
        let due = paidUntil.withLock { p -> UInt64 in
            p = max(p, now) + UInt64(Double(bytes) / Double(bytesPerSecond) * 1e9)
            return p
        }
        if due > now, !stopRequested, wake.wait(timeout: DispatchTime(uptimeNanoseconds: due)) == .success {
            wake.signal()  // a stop: leave the signal for whoever sleeps next
        }
        return !stopRequested
    }
}

/// What the background compactor has done, for tests and tools.
///
/// Thread safety: a value type; safe to share.
struct CompactionStatistics: Sendable {
    /// Passes over the collections finished.
    var passes = 0
    /// Old segments replaced by new ones.
    var segmentsRewritten = 0
    /// The last error a pass met (it goes on with the next collection).
    var lastError: String?
    /// Whether a collection is being compacted right now.
    var compacting = false
}

/// A database's background compactor: a timer on a serial, background-priority queue; each
/// tick compacts the collections one after another under the database's compaction lock,
/// paced by the rewrite budget. `stop` (from `Database.close`) asks a running compaction to
/// stop after its current chunk and waits for it.
///
/// Thread safety: safe to call from any thread.
final class BackgroundCompactor: Sendable {
    private let queue = DispatchQueue(label: "osprey.compaction", qos: .background)
    private let timer = Mutex<TimerBox?>(nil)
    private let pacer: CompactionPacer
    private let options: CompactionOptions
    private let statistics = Mutex(CompactionStatistics())

    init(options: CompactionOptions) {
        self.options = options
        self.pacer = CompactionPacer(bytesPerSecond: options.maxBytesPerSecond)
    }

    var stats: CompactionStatistics { statistics.withLock { $0 } }

    /// Starts the ticks (nothing when background compaction is off).
    func start(_ db: Database) {
        guard options.background else { return }
        let t = DispatchSource.makeTimerSource(queue: queue)
        let interval = DispatchTimeInterval.nanoseconds(Int(options.interval * 1e9))
        t.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(10))
        t.setEventHandler { [weak self, weak db] in
            guard let self, let db else { return }
            self.runPass(db)
        }
        timer.withLock { $0 = TimerBox(source: t) }
        t.resume()
    }

    /// One look at every collection (on the compactor's queue).
    private func runPass(_ db: Database) {
        let collections = db.namespaces.withLock { ns in ns.values.flatMap { $0.collections.values } }.sorted { $0.id < $1.id }
        for c in collections where c.autoCompactionEnabled {
            if pacer.stopRequested || db.context.isClosed { return }
            do {
                let n = try db.context.compactionLock.withLock { _ throws(OspreyError) -> Int in
                    statistics.withLock { $0.compacting = true }
                    defer { statistics.withLock { $0.compacting = false } }
                    return try c.compact(pacer: pacer)
                }
                if n > 0 { statistics.withLock { $0.segmentsRewritten += n } }
            } catch {
                statistics.withLock { $0.lastError = "collection \(c.id): \(error)" }
            }
        }
        statistics.withLock { $0.passes += 1 }
    }

    /// Stops the ticks without waiting (safe from any thread, the compactor's own included).
    func cancel() {
        pacer.requestStop()
        timer.withLock { t in
            t?.source.cancel()
            t = nil
        }
    }

    /// Stops the ticks and waits for a pass in progress to give up; call from outside the
    /// compactor's queue.
    func stop() {
        cancel()
        queue.sync {}
    }
}

/// A dispatch timer, which is safe to use from any thread but not declared `Sendable`.
///
/// Thread safety: dispatch sources may be resumed and cancelled from any thread.
private final class TimerBox: @unchecked Sendable {
    let source: any DispatchSourceTimer
    init(source: any DispatchSourceTimer) { self.source = source }
}
