import OspreyCore

// Recovery: WAL records are applied through the normal apply path, without logging again.

extension Collection {
    /// Applies a logged insert during recovery. Rows whose partition has been dropped since
    /// (its id is gone) are skipped, and so are rows already in sealed segment files (those
    /// before the partition's watermark).
    func replayInsert(lsn: UInt64, partitionIDs: [Int64], rowPartition: [Int32], timestamp ts: Timestamp, batch: ColumnBatch,
                      watermarks: [Int64: ReplayWatermark]) {
        let (schema, current) = meta.withLock { ($0.schema, $0.partitions) }
        let indexByID = Dictionary(uniqueKeysWithValues: current.enumerated().map { ($1.id, Int32($0)) })
        var kept: [Int] = []
        var mapped: [Int32] = []
        kept.reserveCapacity(batch.rowCount)
        mapped.reserveCapacity(batch.rowCount)
        var seen: [Int64: Int] = [:]
        var skipped: [Int32: Int] = [:]
        for r in 0..<batch.rowCount {
            let p = Int(rowPartition[r])
            guard p < partitionIDs.count, let now = indexByID[partitionIDs[p]] else { continue }
            let pid = partitionIDs[p]
            let ordinal = seen[pid, default: 0]
            seen[pid] = ordinal + 1
            if let m = watermarks[pid], lsn < m.lsn || (lsn == m.lsn && ordinal < m.rows) {
                skipped[now, default: 0] += 1
                continue
            }
            kept.append(r)
            mapped.append(now)
        }
        guard !kept.isEmpty, let pkColumn = batch[schema.primaryKey.name] else { return }
        let rows = kept.count == batch.rowCount ? batch : batch.gathering(kept)
        if schema.primaryKey.autoID, case .int64(let keys) = pkColumn.data, let top = keys.max() {
            context.advanceIDs(past: top)
        }
        context.oracle.advance(past: ts)
        let pks = Collection.primaryKeys(of: rows, field: schema.primaryKey)
        writer.withLock { w in
            _ = applyInsert(rows, primaryKeys: pks, rowPartition: mapped, partitionNames: current.map(\.name), ts: ts, lsn: lsn,
                        skippedRows: skipped, publish: true, writer: &w)
        }
    }

    /// Applies a logged delete during recovery (nothing if its partition is gone).
    func replayDelete(keys ids: [PrimaryKey], partition: String?, timestamp ts: Timestamp) {
        context.oracle.advance(past: ts)
        if let partition, !hasPartition(partition) { return }
        writer.withLock { _ in _ = applyDelete(ids, partition: partition, ts: ts, publish: true) }
    }
}

extension Collection {
    /// Installs sealed segments loaded from files and rebuilds the primary-key index from
    /// their live rows; where two live rows share a key, the newer one wins and the older is
    /// marked deleted. Declared vector indexes are then built in the background.
    func installRestoredSegments(_ loaded: [Segment]) {
        guard !loaded.isEmpty else { return }
        writer.withLock { _ in
            segments.withLock { for s in loaded { $0[s.id] = s } }
            keys.withLock { idx in
                for s in loaded.sorted(by: { $0.id < $1.id }) {
                    for r in 0..<s.rowCount where s.deletes.deleteTimestamp(r) == .max {
                        let pk = s.primaryKey(row: r)
                        let here = RowLocation(segment: s.id, row: UInt32(r))
                        let ts = s.insertTimestamp(row: r)
                        if let old = idx[pk], let other = loaded.first(where: { $0.id == old.segment }) {
                            let otherTS = other.insertTimestamp(row: Int(old.row))
                            if otherTS > ts {
                                s.markDeleted(row: r, at: Timestamp(rawValue: otherTS))
                                continue
                            }
                            other.markDeleted(row: Int(old.row), at: Timestamp(rawValue: ts))
                        }
                        idx[pk] = here
                    }
                }
            }
            let newest = loaded.compactMap { s in s.rowCount > 0 ? s.insertTimestamp(row: s.rowCount - 1) : nil }.max() ?? 0
            context.oracle.advance(past: Timestamp(rawValue: newest))
            if committed.load(ordering: .relaxed) < newest { committed.store(newest, ordering: .releasing) }
        }
        scheduleIndexBuilds(loaded)
    }
}

extension Collection {
    /// Retention: removes every sealed segment whose newest row is older than the TTL allows,
    /// whole (no rewrite, no tombstones), with its keys. Returns the segments removed.
    @discardableResult
    func dropExpiredSegments() -> [Segment] {
        guard let cutoff = expiryCutoff() else { return [] }
        let expired = segments.withLock { segs -> [Segment] in
            let gone = segs.values.filter { $0.sealed && $0.rowCount > 0 && $0.insertTimestamp(row: $0.rowCount - 1) < cutoff }
            for s in gone { segs[s.id] = nil }
            return gone
        }
        guard !expired.isEmpty else { return [] }
        keys.withLock { idx in
            for s in expired {
                for r in 0..<s.rowCount {
                    let pk = s.primaryKey(row: r)
                    if idx[pk]?.segment == s.id { idx[pk] = nil }
                }
            }
        }
        return expired
    }
}
