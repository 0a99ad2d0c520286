import OspreyCore

// Recovery: WAL records are applied through the normal apply path, without logging again.

extension Collection {
    /// Applies a logged insert during recovery. Rows whose partition has been dropped since
    /// (its id is gone) are skipped.
    func replayInsert(partitionIDs: [Int64], rowPartition: [Int32], timestamp ts: Timestamp, batch: ColumnBatch) {
        let (schema, current) = meta.withLock { ($0.schema, $0.partitions) }
        let indexByID = Dictionary(uniqueKeysWithValues: current.enumerated().map { ($1.id, Int32($0)) })
        var kept: [Int] = []
        var mapped: [Int32] = []
        kept.reserveCapacity(batch.rowCount)
        mapped.reserveCapacity(batch.rowCount)
        for r in 0..<batch.rowCount {
            let p = Int(rowPartition[r])
            guard p < partitionIDs.count, let now = indexByID[partitionIDs[p]] else { continue }
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
            applyInsert(rows, primaryKeys: pks, rowPartition: mapped, partitionNames: current.map(\.name), ts: ts, writer: &w)
        }
    }

    /// Applies a logged delete during recovery (nothing if its partition is gone).
    func replayDelete(keys ids: [PrimaryKey], partition: String?, timestamp ts: Timestamp) {
        context.oracle.advance(past: ts)
        if let partition, !hasPartition(partition) { return }
        writer.withLock { _ in _ = applyDelete(ids, partition: partition, ts: ts) }
    }
}
