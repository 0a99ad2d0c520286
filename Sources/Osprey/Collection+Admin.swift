import OspreyCore

// Administration reads and truncate: the partitions and segments a collection holds, as
// describe/statistics calls report them, and removing every row at once.

/// A partition of a collection, as `show_partitions` reports it.
///
/// Thread safety: a value type; safe to share.
public struct PartitionDescription: Sendable, Hashable {
    public var name: String
    /// Unique among every object of the database directory; a truncate gives the partition a
    /// new id.
    public var id: Int64
    /// The hybrid timestamp at which the partition was created (or last truncated).
    public var createdTimestamp: Timestamp
}

/// One segment of a collection, as segment-info calls report it.
///
/// Thread safety: a value type; safe to share.
public struct SegmentDescription: Sendable, Hashable {
    /// Where a segment is in its life.
    public enum State: String, Sendable, Hashable {
        /// Still taking rows.
        case growing
        /// Immutable, not yet written to a segment file.
        case sealed
        /// Immutable and in a segment file (or, for an in-memory database, immutable: there is
        /// nothing more to write).
        case flushed
    }

    public var id: Int64
    public var partition: String
    public var partitionID: Int64
    /// Rows stored in the segment, deleted ones included.
    public var rows: Int
    /// Rows of the segment marked deleted (by delete, upsert or a newer duplicate key).
    public var deletedRows: Int
    public var state: State
    /// Names of the vector indexes built over every row of the segment.
    public var indexes: [String]
}

extension Collection {
    /// The collection's partitions with their ids and creation timestamps, in creation order.
    public func describePartitions() -> [PartitionDescription] {
        meta.withLock { m in m.partitions.map { PartitionDescription(name: $0.name, id: $0.id, createdTimestamp: $0.created) } }
    }

    /// Every segment holding at least one row, ordered by id.
    public func describeSegments() throws(OspreyError) -> [SegmentDescription] {
        try context.checkOpen()
        let (ids, indexNames) = meta.withLock { m in
            (Dictionary(uniqueKeysWithValues: m.partitions.map { ($0.name, $0.id) }),
             Dictionary(uniqueKeysWithValues: m.indexes.map { ($0.id, $0.name) }))
        }
        let durable = context.flushHook.withLock { $0 != nil }
        let segs = segments.withLock { Array($0.values) }.sorted { $0.id < $1.id }
        return segs.compactMap { s -> SegmentDescription? in
            let rows = s.rowCount
            guard rows > 0, let pid = ids[s.partition] else { return nil }
            let state: SegmentDescription.State
            if !s.sealed {
                state = .growing
            } else if !durable || s.persistence.withLock({ $0.dataKey != nil }) {
                state = .flushed
            } else {
                state = .sealed
            }
            let built = s.indexes.withLock { Array($0.values) }.filter { $0.rows == rows }.compactMap { indexNames[$0.indexID] }
            return SegmentDescription(
                id: Int64(bitPattern: s.id.rawValue), partition: s.partition, partitionID: pid, rows: rows,
                deletedRows: s.deletedCount, state: state, indexes: built.sorted())
        }
    }

    /// Removes every row of the collection at once, keeping its schema, partitions (under new
    /// ids), indexes, aliases and properties.
    ///
    /// One catalog edit gives every partition a new id; segments and log records filed under
    /// the old ids are no longer part of the collection (recovery skips them and the next
    /// checkpoint removes their files), so the cost does not grow with the rows removed.
    public func truncate() throws(OspreyError) {
        try context.checkOpen()
        let ts = context.oracle.next()
        try writer.withLock { w throws(OspreyError) in
            try updateMeta { m throws(OspreyError) in
                for i in m.partitions.indices {
                    m.partitions[i].id = context.newID()
                    m.partitions[i].created = ts
                }
            }
            w.growing.removeAll()
            segments.withLock { $0.removeAll() }
            keys.withLock { $0 = PrimaryKeyIndex() }
        }
    }
}
