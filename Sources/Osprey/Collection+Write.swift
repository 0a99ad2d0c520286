import OspreyCore

// The write path: validate → (writer lock) timestamp → submit to the log → apply to growing
// segments and the primary-key index → (lock released) wait until the record is durable →
// publish → acknowledge. Concurrent writers of a collection share the log's fsyncs (group
// commit); readers see a write once it is published (GroupCommit.swift).

extension Collection {
    /// Inserts rows given as field name → value. Keys that already exist are replaced
    /// (last write wins), also within one batch.
    ///
    /// - Parameter partition: the partition to write to; nil for `_default` (or, when the
    ///   schema has a partition key, the partition the key hashes to).
    /// - Throws: `OspreyError.validation` naming the field and row at fault.
    @discardableResult
    public func insert(_ rows: [[String: FieldValue]], partition: String? = nil) throws(OspreyError) -> MutationResult {
        let columns: ColumnBatch
        do { columns = try schema.columns(fromRows: rows) } catch { throw .validation(error) }
        return try write(columns, partition: partition, normalized: true)
    }

    /// Inserts rows given as columns. Keys that already exist are replaced (last write wins).
    @discardableResult
    public func insert(columns: ColumnBatch, partition: String? = nil) throws(OspreyError) -> MutationResult {
        try write(columns, partition: partition, normalized: false)
    }

    /// Inserts rows, replacing those whose primary key exists. The same as `insert`, since
    /// Osprey keeps primary keys unique; kept for Milvus's vocabulary.
    @discardableResult
    public func upsert(_ rows: [[String: FieldValue]], partition: String? = nil) throws(OspreyError) -> MutationResult {
        try insert(rows, partition: partition)
    }

    /// Upserts rows given as columns.
    @discardableResult
    public func upsert(columns: ColumnBatch, partition: String? = nil) throws(OspreyError) -> MutationResult {
        try write(columns, partition: partition, normalized: false)
    }

    /// Deletes the rows with these primary keys (only in `partition`, when given). Keys that
    /// do not exist are ignored; `count` in the result says how many rows were deleted.
    @discardableResult
    public func delete(ids: [PrimaryKey], partition: String? = nil) throws(OspreyError) -> MutationResult {
        try context.checkOpen()
        let pkType = schema.primaryKey.dataType
        for k in ids {
            switch (k, pkType) {
            case (.int, .int64), (.string, .varchar): break
            default: throw .invalidArgument("primary key \(k) does not match the primary key type \(pkType)")
            }
        }
        if let partition, !hasPartition(partition) { throw .partitionNotFound(collection: name, partition: partition) }
        let (result, commit) = try writer.withLock { _ throws(OspreyError) -> (MutationResult, MutationCommit) in
            let ts = context.oracle.next()
            let commit = try context.log.submit(.delete(collectionID: id, partition: partition, keys: ids, timestamp: ts))
            let deleted = applyDelete(ids, partition: partition, ts: ts, publish: commit.isImmediate)
            return (MutationResult(primaryKeys: deleted, timestamp: ts, count: deleted.count), commit)
        }
        if !commit.isImmediate { try publishWhenDurable(commit, ts: result.timestamp, replaced: result.primaryKeys) }
        return result
    }

    /// Marks the live rows of `ids` deleted at `ts` (writer lock held) and returns their keys.
    /// With `publish` the delete is visible at once; otherwise the deleted rows stay findable
    /// by key for older snapshots until `publishWhenDurable`.
    func applyDelete(_ ids: [PrimaryKey], partition: String?, ts: Timestamp, publish: Bool) -> [PrimaryKey] {
        let segs = segments.withLock { $0 }
        var deleted: [PrimaryKey] = []
        keys.withLock { idx in
            for k in ids {
                guard let loc = idx[k], let seg = segs[loc.segment] else { continue }
                if let partition, seg.partition != partition { continue }
                if seg.markDeleted(row: Int(loc.row), at: ts) {
                    deleted.append(k)
                    if !publish { idx.replaced.record(k, row: loc, replacedAt: ts.rawValue) }
                }
                idx[k] = nil
            }
        }
        if publish { raiseCommitted(to: ts.rawValue) }
        return deleted
    }

    // MARK: - Internals

    func write(_ input: ColumnBatch, partition: String?, normalized: Bool) throws(OspreyError) -> MutationResult {
        try context.checkOpen()
        let (schema, partitionNames) = meta.withLock { ($0.schema, $0.partitions.map(\.name)) }
        var batch: ColumnBatch
        if normalized {
            batch = input
        } else {
            do { batch = try schema.normalized(input) } catch { throw .validation(error) }
        }
        let partitionKey = schema.partitionKey
        if let partition {
            guard partitionNames.contains(partition) else { throw .partitionNotFound(collection: name, partition: partition) }
            if partitionKey != nil {
                throw .invalidArgument("the collection has a partition key; rows cannot be written to a named partition")
            }
        }
        let n = batch.rowCount
        let pkField = schema.primaryKey
        let (result, commit, replaced) = try writer.withLock { w throws(OspreyError) -> (MutationResult, MutationCommit, [PrimaryKey]) in
            // Dropping a partition and truncating change the partitions under the writer lock:
            // read them again, so that rows never go to a partition (or id) that is gone.
            let (partitionNames, partitionIDs) = meta.withLock { ($0.partitions.map(\.name), $0.partitions.map(\.id)) }
            if let partition, !partitionNames.contains(partition) { throw .partitionNotFound(collection: name, partition: partition) }
            let ts = context.oracle.next()
            if pkField.autoID {
                let first = context.newIDs(n)
                batch[pkField.name] = Column(.int64(Array(first ..< first + Int64(n))))
            }
            let pks = Collection.primaryKeys(of: batch, field: pkField)
            // Partition of each row.
            var rowPartition = [Int32](repeating: 0, count: n)
            if let partitionKey, let col = batch[partitionKey.name] {
                for r in 0..<n {
                    let h = PartitionHash.hash(col.value(at: r))
                    let name = "\(Collection.defaultPartition)_\(h % UInt64(numPartitions))"
                    rowPartition[r] = Int32(partitionNames.firstIndex(of: name) ?? 0)
                }
            } else {
                let p = partitionNames.firstIndex(of: partition ?? Collection.defaultPartition) ?? 0
                for r in 0..<n { rowPartition[r] = Int32(p) }
            }
            let commit = try context.log.submit(.insert(collectionID: id, partitions: partitionNames, partitionIDs: partitionIDs,
                                                        rowPartition: rowPartition, timestamp: ts, batch: batch))
            let replaced = applyInsert(batch, primaryKeys: pks, rowPartition: rowPartition, partitionNames: partitionNames, ts: ts,
                                       lsn: commit.lsn, publish: commit.isImmediate, writer: &w)
            return (MutationResult(primaryKeys: pks, timestamp: ts, count: n), commit, replaced)
        }
        if !commit.isImmediate { try publishWhenDurable(commit, ts: result.timestamp, replaced: replaced) }
        return result
    }

    /// Appends a normalised batch to the growing segments and replaces older rows of the same
    /// keys (writer lock held; the record is already submitted to the log or being replayed).
    /// With `publish` the write is visible at once; otherwise it stays invisible until
    /// `publishWhenDurable`, and the keys whose older rows it replaced are returned.
    ///
    /// `skippedRows[p]` counts the rows of record `lsn` for partition `p` that replay skipped
    /// because they are already in segment files (they come first), so that segments keep
    /// counting that record's rows from the right place.
    @discardableResult
    func applyInsert(_ batch: ColumnBatch, primaryKeys pks: [PrimaryKey], rowPartition: [Int32], partitionNames: [String],
                     ts: Timestamp, lsn: UInt64, skippedRows: [Int32: Int] = [:], publish: Bool,
                     writer w: inout WriterState) -> [PrimaryKey] {
        var sealed: [Segment] = []
        let locations = apply(batch, rowPartition: rowPartition, partitionNames: partitionNames, ts: ts, lsn: lsn,
                              skippedRows: skippedRows, writer: &w, sealed: &sealed)
        let segs = segments.withLock { $0 }
        var replaced: [PrimaryKey] = []
        keys.withLock { idx in
            for r in 0..<batch.rowCount {
                if let old = idx[pks[r]], let seg = segs[old.segment], seg.markDeleted(row: Int(old.row), at: ts), !publish,
                   seg.insertTimestamp(row: Int(old.row)) < ts.rawValue {  // not a row of this same batch
                    idx.replaced.record(pks[r], row: old, replacedAt: ts.rawValue)
                    replaced.append(pks[r])
                }
                idx[pks[r]] = locations[r]
            }
        }
        // Rows above the committed timestamp stay hidden even below a segment's watermark.
        for s in Set(locations.map(\.segment)) { segs[s]?.publish() }
        if publish { raiseCommitted(to: ts.rawValue) }
        if !sealed.isEmpty {
            scheduleIndexBuilds(sealed)
            scheduleCheckpoint()
        }
        return replaced
    }

    /// In a durable database, writes the newly sealed segments to files in the background
    /// (a checkpoint that seals nothing else); the rows stay in the WAL until it is done.
    func scheduleCheckpoint() {
        guard let hook = context.flushHook.withLock({ $0 }) else { return }
        context.checkpointQueue.async { [weak self] in
            guard let self, !self.context.isClosed else { return }
            try? hook(self, false)
        }
    }

    /// Appends the rows to their partitions' growing segments, sealing full ones; returns each
    /// row's location. Rows are not yet visible to readers.
    private func apply(_ batch: ColumnBatch, rowPartition: [Int32], partitionNames: [String], ts: Timestamp, lsn: UInt64,
                       skippedRows: [Int32: Int], writer w: inout WriterState, sealed: inout [Segment]) -> [RowLocation] {
        let n = batch.rowCount
        var locations = [RowLocation](repeating: RowLocation(segment: SegmentID(0), row: 0), count: n)
        var groups: [Int32: [Int]] = [:]
        for r in 0..<n { groups[rowPartition[r], default: []].append(r) }
        for (p, rows) in groups.sorted(by: { $0.key < $1.key }) {
            let partition = partitionNames[Int(p)]
            var done = 0
            while done < rows.count {
                let seg = growingSegment(partition: partition, writer: &w)
                let take = min(rows.count - done, seg.remainingCapacity)
                let piece = Array(rows[done ..< done + take])
                let sub = (piece.count == n) ? batch : batch.gathering(piece)
                let first = seg.append(sub, ts: ts)
                for (k, r) in piece.enumerated() { locations[r] = RowLocation(segment: seg.id, row: UInt32(first + k)) }
                done += take
                seg.noteWAL(lsn: lsn, rowsSoFar: (skippedRows[p] ?? 0) + done)
                if seg.remainingCapacity == 0 {
                    seg.seal()
                    sealed.append(seg)
                    w.growing[partition] = nil
                }
            }
        }
        return locations
    }

    private func growingSegment(partition: String, writer w: inout WriterState) -> Segment {
        if let s = w.growing[partition], s.remainingCapacity > 0 { return s }
        let seg = Segment(id: SegmentID(UInt64(context.newID())), partition: partition, schema: schema,
                          capacity: context.options.segmentMaxRows)
        w.growing[partition] = seg
        segments.withLock { $0[seg.id] = seg }
        return seg
    }

    static func primaryKeys(of batch: ColumnBatch, field: FieldSchema) -> [PrimaryKey] {
        switch batch[field.name]!.data {
        case .int64(let v): return v.map { .int($0) }
        case .string(let v): return v.map { .string($0) }
        default: preconditionFailure("primary key column has an unexpected type")
        }
    }
}

/// The stable hash that spreads rows over partitions by their partition key (FNV-1a, 64-bit).
enum PartitionHash {
    static func hash(_ v: FieldValue) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ b: UInt8) { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        switch v {
        case .int(let i): withUnsafeBytes(of: i.littleEndian) { for b in $0 { mix(b) } }
        case .string(let s): for b in s.utf8 { mix(b) }
        default: break
        }
        return h
    }
}
