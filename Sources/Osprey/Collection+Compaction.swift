import OspreyCore

// Compaction: sealed segments of a partition that are small or have many deleted rows are
// rewritten, live rows only, into as few new sealed segments as fit (docs/design.md §4).

extension Collection {
    /// A segment whose deleted share is at least this is rewritten.
    static let compactionDeletedShare = 0.2

    /// Merges small sealed segments and rewrites those whose deleted share is high, returning
    /// when done. In a durable database the result is written by a checkpoint, which also
    /// deletes the old segments' files. Returns the number of segments rewritten.
    ///
    /// Holds the collection's writer lock while it copies rows (writes to this collection
    /// wait; reads do not).
    @discardableResult
    public func compact() throws(OspreyError) -> Int {
        try context.checkOpen()
        let capacity = context.options.segmentMaxRows
        var rewritten: [Segment] = []
        var created: [Segment] = []
        writer.withLock { _ in
            let sealed = segments.withLock { Array($0.values) }.filter { $0.sealed && $0.rowCount > 0 }.sorted { $0.id < $1.id }
            for (partition, segs) in Dictionary(grouping: sealed, by: \.partition) {
                let candidates = segs.filter { s in
                    let live = s.rowCount - s.deletedCount
                    return live < capacity / 2 || Double(s.deletedCount) >= Double(s.rowCount) * Collection.compactionDeletedShare
                }
                let holey = candidates.contains { Double($0.deletedCount) >= Double($0.rowCount) * Collection.compactionDeletedShare }
                guard candidates.count >= 2 || holey else { continue }
                // Rows move in segment order, which is insert-timestamp order within a partition.
                var group: [Segment] = []
                var live = 0
                func flushGroup() {
                    guard !group.isEmpty else { return }
                    created.append(merge(group, partition: partition, capacity: max(live, 1)))
                    rewritten += group
                    group = []
                    live = 0
                }
                for s in candidates.sorted(by: { $0.id < $1.id }) {
                    let n = s.rowCount - s.deletedCount
                    if live + n > capacity { flushGroup() }
                    group.append(s)
                    live += n
                }
                flushGroup()
            }
        }
        guard !rewritten.isEmpty else { return 0 }
        if let hook = context.flushHook.withLock({ $0 }) {
            // Write the new segments and forget the old ones on disk; growing segments stay.
            do { try hook(self, false) } catch { throw Durability.storageError(error, doing: "compacting collection '\(name)'") }
        }
        scheduleIndexBuilds(created)
        return rewritten.count
    }

    /// Copies the live rows of `group` into one new sealed segment and points their keys at
    /// it (writer lock held).
    private func merge(_ group: [Segment], partition: String, capacity: Int) -> Segment {
        let schema = group[0].schema
        var hits: [(SegmentSnapshot, Int)] = []
        var timestamps: [UInt64] = []
        for s in group {
            let snap = s.snapshot(at: .max, expiredBefore: nil)
            for r in 0..<s.rowCount where s.deletes.deleteTimestamp(r) == .max {
                hits.append((snap, r))
                timestamps.append(s.insertTimestamp(row: r))
            }
        }
        let spec = OutputSpec(fields: schema.fields.map(\.name), dynamicKeys: [], allDynamic: schema.enableDynamicField)
        let batch = spec.gather(hits, schema: schema)
        let merged = Segment(id: SegmentID(UInt64(context.newID())), partition: partition, schema: schema, capacity: capacity)
        merged.append(batch, timestamps: timestamps)
        merged.publish()
        merged.seal()
        let states = group.map { $0.persistence.withLock { $0 } }
        merged.persistence.withLock { p in
            p.firstLSN = states.map(\.firstLSN).filter { $0 > 0 }.min() ?? 0
            let last = states.max { ($0.lastLSN, $0.lastRows) < ($1.lastLSN, $1.lastRows) }!
            p.lastLSN = last.lastLSN
            p.lastRows = last.lastRows
        }
        let old = Set(group.map(\.id))
        segments.withLock { segs in
            segs[merged.id] = merged
            for id in old { segs[id] = nil }
        }
        keys.withLock { idx in
            for r in 0..<merged.rowCount {
                let pk = merged.primaryKey(row: r)
                if let loc = idx[pk], old.contains(loc.segment) { idx[pk] = RowLocation(segment: merged.id, row: UInt32(r)) }
            }
        }
        return merged
    }
}
