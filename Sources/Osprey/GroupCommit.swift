import OspreyCore
import OspreyStorage

// Group commit within a collection (docs/design.md §3): a write is logged and applied under
// the collection's writer lock, then waits for its record to become durable with the lock
// released, so that concurrent writers of one collection share an fsync. Readers see a write
// only once it is durable: the committed timestamp they read is raised to a write's
// timestamp only after its record is durable, and rows the write replaced stay findable by
// key for snapshots older than it (`ReplacedRows`, `Collection.locate`).

/// A mutation handed to the log: its LSN, known at once, and its durability, awaited with
/// `wait()`.
///
/// Thread safety: safe to share; any number of threads may wait on it.
struct MutationCommit: Sendable {
    /// The record's LSN (0 when the log keeps nothing).
    let lsn: UInt64
    private let pending: WALCommit?
    private let directory: String

    /// A commit that is complete at once (an in-memory database's log).
    static let immediate = MutationCommit(lsn: 0, pending: nil, directory: "")

    private init(lsn: UInt64, pending: WALCommit?, directory: String) {
        self.lsn = lsn
        self.pending = pending
        self.directory = directory
    }

    /// A record submitted to the write-ahead log in `directory`.
    init(lsn commit: WALCommit, directory: String) {
        self.init(lsn: commit.lsn.rawValue, pending: commit, directory: directory)
    }

    /// Whether there is nothing to wait for (the log keeps nothing).
    var isImmediate: Bool { pending == nil }

    /// Blocks until the record is as durable as the log's policy promises.
    ///
    /// - Throws: `OspreyError.storage` when the write or fsync failed; the log then refuses
    ///   every later record until the database is reopened.
    func wait() throws(OspreyError) {
        guard let pending else { return }
        do { _ = try pending.waitBlocking() } catch {
            throw Durability.storageError(error, doing: "appending to the write-ahead log in \(directory)")
        }
    }
}

/// Rows that writes have replaced or deleted, by primary key, kept for readers of older
/// snapshots. The key index points past such a row as soon as the write is applied, yet a
/// reader whose snapshot is older than the write must still find it: until the write is
/// published (durable), and for a grace period after, in case a reader took its snapshot just
/// before and looks the key up just after. A reader whose snapshot is older than what was
/// forgotten (`forgottenThrough`) cannot trust the table and finds its rows by a scan.
///
/// Thread safety: a value type, kept with the key index under the collection's `keys` lock.
struct ReplacedRows: Sendable {
    /// The row a key had before the write at `timestamp` replaced or deleted it.
    struct Version: Sendable {
        var timestamp: UInt64
        var row: Collection.RowLocation
    }

    /// How long (hybrid time: 1 s) a published write's replaced rows are kept.
    static let grace: UInt64 = 1_000 << Timestamp.logicalBits

    /// Versions by key, oldest write first.
    private(set) var byKey: [PrimaryKey: [Version]] = [:]
    /// Published writes whose versions are kept, in publication order.
    private var published: [(timestamp: UInt64, keys: [PrimaryKey])] = []
    private var publishedHead = 0
    /// The newest write whose versions may have been forgotten.
    private(set) var forgottenThrough: UInt64 = 0

    var isEmpty: Bool { byKey.isEmpty }

    /// Notes that the write at `timestamp` replaced or deleted `row`, the live row of `key`.
    mutating func record(_ key: PrimaryKey, row: Collection.RowLocation, replacedAt timestamp: UInt64) {
        byKey[key, default: []].append(Version(timestamp: timestamp, row: row))
    }

    /// The row of `key` that a snapshot at `timestamp` sees instead of the key index's, when a
    /// write newer than the snapshot has replaced or deleted it; nil when the index is right.
    func row(of key: PrimaryKey, at timestamp: UInt64) -> Collection.RowLocation? {
        byKey[key]?.first { $0.timestamp > timestamp }?.row
    }

    /// Notes that the write at `timestamp`, which replaced rows of `keys`, is published, and
    /// forgets what writes published more than `grace` before `committed` replaced.
    mutating func published(_ keys: [PrimaryKey], at timestamp: UInt64, committed: UInt64) {
        if !keys.isEmpty { published.append((timestamp, keys)) }
        let horizon = committed > Self.grace ? committed - Self.grace : 0
        while publishedHead < published.count, published[publishedHead].timestamp <= horizon {
            let (ts, keys) = published[publishedHead]
            publishedHead += 1
            forget(keys, through: ts)
        }
        if publishedHead > 64, publishedHead * 2 > published.count {
            published.removeFirst(publishedHead)
            publishedHead = 0
        }
    }

    /// Forgets what writes at or before `timestamp` replaced of `keys`.
    mutating func forget(_ keys: [PrimaryKey], through timestamp: UInt64) {
        forgottenThrough = max(forgottenThrough, timestamp)
        for k in keys {
            guard var versions = byKey[k] else { continue }
            versions.removeAll { $0.timestamp <= timestamp }
            byKey[k] = versions.isEmpty ? nil : versions
        }
    }

    /// Moves every version through `move` (compaction); versions it returns nil for go.
    mutating func remap(_ move: (Collection.RowLocation) -> Collection.RowLocation?) {
        for (k, versions) in byKey {
            let moved = versions.compactMap { v in move(v.row).map { Version(timestamp: v.timestamp, row: $0) } }
            byKey[k] = moved.isEmpty ? nil : moved
        }
    }
}

extension Collection.PrimaryKeyIndex {
    /// The row of `key` that a reader of a snapshot at `timestamp` should look at: the key's
    /// live row, or the one a newer write replaced. The caller still checks that the row is
    /// visible in its snapshot.
    func location(of key: PrimaryKey, at timestamp: UInt64) -> Collection.RowLocation? {
        if !replaced.isEmpty, let old = replaced.row(of: key, at: timestamp) { return old }
        return self[key]
    }
}

extension Collection {
    /// Where the rows of `keys` visible in `snap` are (nil: no visible row), through the key
    /// index; the caller still checks each row against the snapshot. When the snapshot is so
    /// old that rows it may need have been forgotten, they are found by a scan of the
    /// snapshot instead.
    ///
    /// A read that asked for an older snapshot (`pastSnapshot`, from `readTimestamp`) may
    /// predate writes whose replaced rows were never kept (they were published at once): when
    /// the index no longer has a key, or has it at a row the snapshot does not hold, and
    /// commits happened after the snapshot, the keys are found by the scan too.
    func locate(_ keys: [PrimaryKey], in snap: CollectionSnapshot, pastSnapshot: Bool = false) -> [RowLocation?] {
        let ts = snap.timestamp.rawValue
        let (found, trusted) = self.keys.withLock { idx in
            (keys.map { idx.location(of: $0, at: ts) }, idx.replaced.forgottenThrough <= ts)
        }
        if trusted && !(pastSnapshot && committed.load(ordering: .acquiring) > ts && movedPast(found, snap)) { return found }
        var wanted: [PrimaryKey: [Int]] = [:]
        for (i, k) in keys.enumerated() { wanted[k, default: []].append(i) }
        var out = [RowLocation?](repeating: nil, count: keys.count)
        for s in snap.segments {
            for r in s.liveRange where !(s.deleted?.contains(r) ?? false) {
                guard let slots = wanted[s.segment.primaryKey(row: r)] else { continue }
                for i in slots { out[i] = RowLocation(segment: s.segment.id, row: UInt32(r)) }
            }
        }
        return out
    }

    /// Whether some key has no row in the index, or one the snapshot does not hold.
    private func movedPast(_ found: [RowLocation?], _ snap: CollectionSnapshot) -> Bool {
        let held = Dictionary(uniqueKeysWithValues: snap.segments.map { ($0.segment.id, $0.rowCount) })
        return found.contains { loc in
            guard let loc, let rows = held[loc.segment] else { return true }
            return Int(loc.row) >= rows
        }
    }
}

extension Collection {
    /// Raises the committed timestamp readers load to `ts` (never lowers it).
    func raiseCommitted(to ts: UInt64) {
        var current = committed.load(ordering: .relaxed)
        while current < ts {
            let (exchanged, original) = committed.compareExchange(
                expected: current, desired: ts, successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// Waits, with no lock held, until the write at `ts` is durable, then publishes it.
    /// Publishing `ts` publishes every earlier write of the collection too: their records
    /// were submitted before this one under the writer lock, and the log makes records
    /// durable in order. `replaced` are the keys whose older rows the write replaced.
    ///
    /// - Throws: when the record could not be made durable; the write then stays invisible
    ///   (it was applied in memory, but no later write can publish past it: the log refuses
    ///   every record after a failure, and the database must be reopened).
    func publishWhenDurable(_ commit: MutationCommit, ts: Timestamp, replaced: [PrimaryKey]) throws(OspreyError) {
        try commit.wait()
        raiseCommitted(to: ts.rawValue)
        keys.withLock { idx in
            guard !idx.replaced.isEmpty || !replaced.isEmpty else { return }
            idx.replaced.published(replaced, at: ts.rawValue, committed: committed.load(ordering: .relaxed))
        }
    }
}
