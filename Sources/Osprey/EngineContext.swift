import Dispatch
import OspreyCore
import Synchronization

/// A mutation as the write path records it before applying it: the seam where the
/// write-ahead log plugs in.
enum MutationRecord: Sendable {
    /// Rows of a normalised batch (primary keys assigned); row `r` goes to partition
    /// `partitions[rowPartition[r]]`, whose id is `partitionIDs[rowPartition[r]]`.
    case insert(collectionID: Int64, partitions: [String], partitionIDs: [Int64], rowPartition: [Int32], timestamp: Timestamp,
                batch: ColumnBatch)
    /// Deletes by primary key, only in `partition` when it is not nil.
    case delete(collectionID: Int64, partition: String?, keys: [PrimaryKey], timestamp: Timestamp)
}

/// Where the write path records mutations. `submit` assigns the record its place in the log
/// at once; the returned commit's `wait()` returns once the record is as durable as the
/// policy promises. Records become durable in the order they were submitted.
///
/// Thread safety: implementations are safe to call from several threads.
protocol MutationLog: Sendable {
    /// Queues a mutation and returns its commit (LSN 0 when the log keeps nothing).
    func submit(_ record: MutationRecord) throws(OspreyError) -> MutationCommit
}

/// A log that keeps nothing (an in-memory database).
struct VolatileLog: MutationLog {
    func submit(_ record: MutationRecord) throws(OspreyError) -> MutationCommit { .immediate }
}

/// What every collection of one open database shares: the timestamp oracle, id counters,
/// options and the mutation log.
///
/// Thread safety: safe to use from several threads.
final class EngineContext: Sendable {
    let oracle = TimestampOracle()
    let options: DatabaseOptions
    let log: any MutationLog
    /// Where catalog changes are recorded (the manifest of a durable database).
    let catalog: any CatalogLog
    let indexBuilds = IndexBuildQueue()
    /// Set by a durable database: runs a checkpoint — sealing the collection's growing
    /// segments first when the flag is true (`Collection.flush`) — that writes sealed
    /// segments to files and advances the WAL checkpoint.
    let flushHook = Mutex<(@Sendable (Collection, Bool) throws -> Void)?>(nil)
    /// Where checkpoints triggered by segments filling up run, one at a time.
    let checkpointQueue = DispatchQueue(label: "osprey.checkpoint", qos: .utility)
    /// Held by every compaction (background or `Collection.compact()`): one at a time.
    let compactionLock = Mutex(())
    private let nextID = Atomic<Int64>(1)
    private let closedFlag = Atomic<Bool>(false)

    init(options: DatabaseOptions, log: any MutationLog, catalog: any CatalogLog = VolatileCatalog()) {
        self.options = options
        self.log = log
        self.catalog = catalog
        // Ids start from the clock so that they stay unique across restarts of an in-memory
        // database too; the storage layer restores the counter from the catalog.
        nextID.store(Int64(TimestampOracle.nowMilliseconds()) << 12, ordering: .relaxed)
    }

    /// A fresh identifier for a collection, partition, segment or index.
    func newID() -> Int64 { nextID.add(1, ordering: .relaxed).newValue }

    /// `count` consecutive fresh identifiers (auto_id primary keys); returns the first.
    func newIDs(_ count: Int) -> Int64 { nextID.add(Int64(count), ordering: .relaxed).newValue - Int64(count) + 1 }

    /// The largest identifier handed out so far.
    var idHighWater: Int64 { nextID.load(ordering: .relaxed) }

    /// Makes later identifiers greater than `id` (after recovery).
    func advanceIDs(past id: Int64) {
        var current = nextID.load(ordering: .relaxed)
        while current < id {
            let (exchanged, original) = nextID.compareExchange(expected: current, desired: id, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// Records a catalog change, stamped with the id and timestamp high-water marks.
    func recordCatalog(_ edit: CatalogEdit) throws(OspreyError) {
        try catalog.record(edit, idHighWater: idHighWater, timestampHighWater: oracle.next().rawValue)
    }

    var isClosed: Bool { closedFlag.load(ordering: .acquiring) }
    func close() { closedFlag.store(true, ordering: .releasing) }

    func checkOpen() throws(OspreyError) {
        if isClosed { throw .closed }
    }
}
