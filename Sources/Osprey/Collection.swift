import OspreyCore
import Synchronization

/// A collection: a schema, its partitions and segments, its indexes, and the primary-key
/// index that keeps keys unique.
///
/// Writes go through one writer at a time (a lock around the write path); reads take a
/// snapshot (the committed timestamp and the segments with their watermarks) and never wait
/// for writers.
///
/// Thread safety: every method is safe to call from several threads at once.
public final class Collection: Sendable {
    /// Mutable description of the collection, guarded by `meta`.
    struct Meta: Sendable, Equatable {
        var name: String
        var database: String
        var schema: CollectionSchema
        var properties: [String: String]
        var description: String
        var consistencyLevel: String
        var partitions: [PartitionInfo]
        var indexes: [IndexDescription]
        var aliases: [String]
        var updated: Timestamp
        /// Why an index build failed, by index id.
        var indexFailures: [Int64: String] = [:]
    }

    struct PartitionInfo: Sendable, Hashable {
        var name: String
        var id: Int64
        var created: Timestamp
    }

    /// What only the writer touches.
    struct WriterState: @unchecked Sendable {
        var growing: [String: Segment] = [:]
    }

    /// Where the live row of a primary key is.
    struct RowLocation: Hashable, Sendable, BitwiseCopyable {
        var segment: SegmentID
        var row: UInt32
    }

    /// The primary-key index: each key's live row.
    struct PrimaryKeyIndex: Sendable {
        /// INT64 keys: a map that grows without pausing writers for a rehash.
        var ints = IntKeyMap()
        var strings: [String: RowLocation] = [:]
        /// Rows replaced by writes not yet published (GroupCommit.swift).
        var replaced = ReplacedRows()

        subscript(key: PrimaryKey) -> RowLocation? {
            get {
                switch key {
                case .int(let i): return ints[i]
                case .string(let s): return strings[s]
                }
            }
            set {
                switch key {
                case .int(let i): ints[i] = newValue
                case .string(let s): strings[s] = newValue
                }
            }
        }

        var count: Int { ints.count + strings.count }
    }

    public let id: Int64
    /// The database holding the collection (it changes when a rename moves it).
    public var database: String { meta.withLock { $0.database } }
    let created: Timestamp
    let numPartitions: Int
    let context: EngineContext
    let meta: Mutex<Meta>
    let writer = Mutex(WriterState())
    let segments = Mutex<[SegmentID: Segment]>([:])
    let keys = Mutex(PrimaryKeyIndex())
    let committed = Atomic<UInt64>(0)

    static let defaultPartition = "_default"
    static let ttlProperty = "collection.ttl.seconds"

    init(id: Int64, database: String, name: String, schema: CollectionSchema, options: CollectionOptions, context: EngineContext) {
        self.id = id
        self.context = context
        let now = context.oracle.next()
        self.created = now
        var partitions: [PartitionInfo] = []
        if schema.partitionKey != nil {
            self.numPartitions = options.numPartitions
            for i in 0..<options.numPartitions {
                partitions.append(PartitionInfo(name: "\(Collection.defaultPartition)_\(i)", id: context.newID(), created: now))
            }
        } else {
            self.numPartitions = 1
            partitions.append(PartitionInfo(name: Collection.defaultPartition, id: context.newID(), created: now))
        }
        self.meta = Mutex(Meta(
            name: name, database: database, schema: schema, properties: options.properties, description: options.description,
            consistencyLevel: options.consistencyLevel, partitions: partitions, indexes: [], aliases: [], updated: now))
    }

    /// Rebuilds a collection from its catalog record (recovery), with the same ids and times.
    init(restoring r: CollectionRecord, context: EngineContext) {
        self.id = r.id
        self.context = context
        self.created = r.created
        self.numPartitions = r.numPartitions
        self.meta = Mutex(Meta(
            name: r.name, database: r.database, schema: r.schema, properties: r.properties, description: r.description,
            consistencyLevel: r.consistencyLevel, partitions: r.partitions, indexes: r.indexes, aliases: [], updated: r.updated))
    }

    /// The catalog record of this collection as `m` describes it; an empty `database` means
    /// "where it is".
    func catalogRecord(_ m: Meta, database: String) -> CollectionRecord {
        CollectionRecord(id: id, database: database, name: m.name, created: created, updated: m.updated,
                         numPartitions: numPartitions, schema: m.schema, properties: m.properties, description: m.description,
                         consistencyLevel: m.consistencyLevel, partitions: m.partitions, indexes: m.indexes)
    }

    /// Changes the description under the meta lock, recording the change in the catalog
    /// first; nothing changes when recording fails.
    func updateMeta<R>(_ body: (inout Meta) throws(OspreyError) -> R) throws(OspreyError) -> R {
        try meta.withLock { m throws(OspreyError) -> R in
            var next = m
            let result = try body(&next)
            if next != m { try context.recordCatalog(.putCollection(catalogRecord(next, database: ""))) }
            m = next
            return result
        }
    }

    // MARK: - Description

    /// The collection's current name.
    public var name: String { meta.withLock { $0.name } }
    /// The collection's schema (with field ids assigned).
    public var schema: CollectionSchema { meta.withLock { $0.schema } }
    /// The collection's properties (e.g. `collection.ttl.seconds`).
    public var properties: [String: String] { meta.withLock { $0.properties } }

    /// Everything `describe_collection` reports.
    public func describe() -> CollectionDescription {
        meta.withLock { m in
            CollectionDescription(
                name: m.name, id: id, database: m.database, schema: m.schema, properties: m.properties,
                partitions: m.partitions.map(\.name), aliases: m.aliases, indexes: m.indexes,
                createdTimestamp: created, updatedTimestamp: m.updated, numPartitions: numPartitions,
                consistencyLevel: m.consistencyLevel)
        }
    }

    /// Sets (or, with nil values, removes) collection properties.
    public func alterProperties(set: [String: String] = [:], remove: [String] = []) throws(OspreyError) {
        if let ttl = set[Collection.ttlProperty], Int(ttl).map({ $0 < 0 }) ?? true {
            throw .invalidArgument("\(Collection.ttlProperty) must be a non-negative integer number of seconds, got '\(ttl)'")
        }
        try CompactionOptions.validateProperties(set)
        try context.checkOpen()
        let ts = context.oracle.next()
        try updateMeta { m throws(OspreyError) in
            for (k, v) in set { m.properties[k] = v }
            for k in remove { m.properties[k] = nil }
            m.updated = ts
        }
    }

    func rename(to newName: String, database: String, at ts: Timestamp) {
        meta.withLock { $0.name = newName; $0.database = database; $0.updated = ts }
    }

    func setAliases(_ aliases: [String]) { meta.withLock { $0.aliases = aliases.sorted() } }

    /// Rows inserted before this physical time (ms) are expired by the TTL property, if set.
    func expiryCutoff() -> UInt64? {
        guard let s = meta.withLock({ $0.properties[Collection.ttlProperty] }), let ttl = UInt64(s), ttl > 0 else { return nil }
        let now = TimestampOracle.nowMilliseconds()
        guard now > ttl * 1000 else { return nil }
        return (now - ttl * 1000) << Timestamp.logicalBits
    }

    // MARK: - Partitions

    /// The names of the partitions, `_default` first.
    public func listPartitions() -> [String] { meta.withLock { $0.partitions.map(\.name) } }

    public func hasPartition(_ name: String) -> Bool { meta.withLock { $0.partitions.contains { $0.name == name } } }

    /// Creates a named partition.
    public func createPartition(_ name: String) throws(OspreyError) {
        do { try Naming.validate(name, what: "partition name") } catch { throw .validation(error) }
        if schema.partitionKey != nil {
            throw .invalidArgument("the collection has a partition key; its partitions are managed automatically")
        }
        let ts = context.oracle.next()
        let newID = context.newID()
        try context.checkOpen()
        try updateMeta { m throws(OspreyError) in
            guard !m.partitions.contains(where: { $0.name == name }) else { throw .alreadyExists(kind: "partition", name: name) }
            guard m.partitions.count < 1024 else { throw .invalidArgument("a collection can have at most 1024 partitions") }
            m.partitions.append(PartitionInfo(name: name, id: newID, created: ts))
        }
    }

    /// Drops a partition and every row in it. `_default` cannot be dropped.
    public func dropPartition(_ name: String) throws(OspreyError) {
        guard name != Collection.defaultPartition else { throw .invalidArgument("the _default partition cannot be dropped") }
        if schema.partitionKey != nil {
            throw .invalidArgument("the collection has a partition key; its partitions are managed automatically")
        }
        try context.checkOpen()
        try writer.withLock { w throws(OspreyError) in
            try updateMeta { m throws(OspreyError) in
                guard let i = m.partitions.firstIndex(where: { $0.name == name }) else {
                    throw .partitionNotFound(collection: m.name, partition: name)
                }
                m.partitions.remove(at: i)
            }
            w.growing[name] = nil
            let dropped = segments.withLock { segs in
                let d = segs.values.filter { $0.partition == name }
                for s in d { segs[s.id] = nil }
                return d
            }
            keys.withLock { idx in
                for s in dropped {
                    for r in 0..<s.rowCount {
                        let pk = s.primaryKey(row: r)
                        if idx[pk]?.segment == s.id { idx[pk] = nil }
                    }
                }
            }
        }
    }

    func partitionIDs() -> [String: Int64] {
        meta.withLock { Dictionary(uniqueKeysWithValues: $0.partitions.map { ($0.name, $0.id) }) }
    }

    // MARK: - Statistics

    /// The number of live rows (not deleted, not expired).
    public func count(partitions: [String] = []) throws(OspreyError) -> Int {
        try context.checkOpen()
        return try snapshot(partitions: partitions).segments.reduce(0) { $0 + $1.visibleCount }
    }

    /// Rows per partition and the collection's memory use, for statistics calls.
    public func statistics() -> (rowCount: Int, segments: Int) {
        let snap = (try? snapshot(partitions: [])) ?? CollectionSnapshot(timestamp: .zero, segments: [])
        return (snap.segments.reduce(0) { $0 + $1.visibleCount }, snap.segments.count)
    }

    // MARK: - Snapshots

    /// A consistent view for one read: every row committed before it, no later one.
    struct CollectionSnapshot {
        let timestamp: Timestamp
        let segments: [SegmentSnapshot]
    }

    /// The timestamp of the newest write visible to reads (every acknowledged write is at or
    /// before it). Reads given it as `readTimestamp` see exactly what a read now sees.
    public var committedTimestamp: Timestamp { Timestamp(rawValue: committed.load(ordering: .acquiring)) }

    /// The snapshot of a read: at the newest commit, or at `readTimestamp` when that is older.
    func snapshot(partitions: [String], at readTimestamp: Timestamp? = nil) throws(OspreyError) -> CollectionSnapshot {
        if !partitions.isEmpty {
            let known = Set(listPartitions())
            for p in partitions where !known.contains(p) { throw .partitionNotFound(collection: name, partition: p) }
        }
        var ts = Timestamp(rawValue: committed.load(ordering: .acquiring))
        if let readTimestamp, readTimestamp < ts { ts = readTimestamp }
        let segs = segments.withLock { Array($0.values) }.sorted { $0.id < $1.id }
        let cutoff = expiryCutoff()
        let wanted = Set(partitions)
        let snaps = segs.filter { wanted.isEmpty || wanted.contains($0.partition) }.map { $0.snapshot(at: ts, expiredBefore: cutoff) }
        return CollectionSnapshot(timestamp: ts, segments: snaps.filter { $0.rowCount > 0 })
    }

    /// Makes sure every row written so far is sealed into segments (the in-memory engine seals
    /// growing segments; durable storage also writes them to disk).
    public func flush() throws(OspreyError) {
        try context.checkOpen()
        if let hook = context.flushHook.withLock({ $0 }) {
            do { try hook(self, true) } catch { throw Durability.storageError(error, doing: "flushing collection '\(name)'") }
            scheduleIndexBuilds(segments.withLock { Array($0.values) }.filter(\.sealed))
            return
        }
        let sealed = writer.withLock { w in
            let segs = Array(w.growing.values)
            for s in segs { s.seal() }
            w.growing.removeAll()
            return segs
        }
        scheduleIndexBuilds(sealed)
    }
}
