import OspreyCore
import OspreyIndex

// Compaction (docs/design.md §4): per partition, sealed segments that are small or have many
// deleted rows are rewritten, live rows only, into as few new sealed segments as fit. The
// rows are copied with no lock held (sealed rows never change), in chunks the caller's pacer
// may slow down or stop; the declared vector indexes of the new segment are built before it
// is visible; then, under the writer lock, deletes that arrived meanwhile are carried over and
// the new segment replaces the old ones in one step. `compact()` and the background compactor
// (Compactor.swift) share this code.

extension Collection {
    /// Rows copied between two looks at the pacer.
    static let compactionChunkRows = 4_096

    /// Merges small sealed segments and rewrites those whose deleted share is high, returning
    /// when done. In a durable database the result is written by a checkpoint, which also
    /// deletes the old segments' files. Returns the number of segments rewritten.
    ///
    /// Writes to the collection wait only while the new segments replace the old ones; reads
    /// never wait. Runs at full speed; a background compaction of the database in progress
    /// finishes its current collection first.
    @discardableResult
    public func compact() throws(OspreyError) -> Int {
        try context.checkOpen()
        return try context.compactionLock.withLock { _ throws(OspreyError) -> Int in
            try compact(pacer: CompactionPacer(bytesPerSecond: 0))
        }
    }

    /// Whether the background compactor may compact this collection (the property
    /// `collection.autocompaction.enabled`, true unless set to "false").
    var autoCompactionEnabled: Bool {
        meta.withLock { $0.properties[CompactionOptions.autoCompactionProperty] }?.lowercased() != "false"
    }

    /// The groups of sealed segments of one partition that a compaction would rewrite into
    /// one new segment each, oldest rows first.
    func compactionPlan(options: CompactionOptions) -> [[Segment]] {
        let capacity = context.options.segmentMaxRows
        let small = Double(capacity) * options.smallSegmentShare
        func holey(_ s: Segment) -> Bool { Double(s.deletedCount) >= Double(s.rowCount) * options.deletedShare }
        // A segment whose rows have all expired is left to retention, which drops it whole.
        let expired = expiryCutoff() ?? 0
        let sealed = segments.withLock { Array($0.values) }.filter {
            $0.sealed && $0.rowCount > 0 && $0.insertTimestamp(row: $0.rowCount - 1) >= expired
        }
        var plan: [[Segment]] = []
        for (_, segs) in Dictionary(grouping: sealed, by: \.partition).sorted(by: { $0.key < $1.key }) {
            let candidates = segs.filter { Double($0.rowCount - $0.deletedCount) < small || holey($0) }
                .sorted { ($0.insertTimestamp(row: 0), $0.id) < ($1.insertTimestamp(row: 0), $1.id) }
            guard candidates.count >= 2 || candidates.contains(where: holey) else { continue }
            var group: [Segment] = []
            var live = 0
            func close() {
                // A lone segment is rewritten only to drop its deleted rows.
                if group.count >= 2 || group.contains(where: holey) { plan.append(group) }
                group = []
                live = 0
            }
            for s in candidates {
                let n = s.rowCount - s.deletedCount
                if live + n > capacity, !group.isEmpty { close() }
                group.append(s)
                live += n
            }
            if !group.isEmpty { close() }
        }
        return plan
    }

    /// Rewrites what `compactionPlan` names, paced by `pacer`; returns the number of segments
    /// rewritten (0 when stopped before any was replaced). The caller holds the compaction lock.
    func compact(pacer: CompactionPacer) throws(OspreyError) -> Int {
        let options = context.options.compaction
        var rewritten = 0
        var created: [Segment] = []
        var copiedBytes = 0
        for group in compactionPlan(options: options) {
            guard let outcome = copyLiveRows(group, pacer: pacer, deletedShare: options.deletedShare) else { break }  // asked to stop
            guard case .copied(let copy) = outcome else { continue }
            buildVectorIndexes(copy.merged)
            guard replace(group, with: copy) else { continue }  // the old segments changed meanwhile
            rewritten += group.count
            if copy.merged.rowCount > 0 { created.append(copy.merged) }
            copiedBytes += copy.merged.rowCount * Self.approximateRowBytes(schema)
        }
        guard rewritten > 0 else { return 0 }
        // Write the new segments and forget the old ones on disk; growing segments stay. When
        // asked to stop (the database is closing), the final checkpoint of `close` does it;
        // until a checkpoint does, the manifest lists the old segments, whose files with the
        // WAL still hold the same rows.
        if let hook = context.flushHook.withLock({ $0 }), !context.isClosed, !pacer.stopRequested {
            do { try hook(self, false) } catch { throw Durability.storageError(error, doing: "compacting collection '\(name)'") }
            _ = pacer.charge(bytes: copiedBytes)  // the files written count against the budget too
        }
        scheduleIndexBuilds(created)
        return rewritten
    }

    /// A new sealed segment holding copies of rows of old ones; not yet visible.
    ///
    /// Thread safety: used by the one thread running the compaction.
    struct CompactionCopy {
        let merged: Segment
        /// The old row each new row was copied from.
        let sources: [RowLocation]
        let groupIDs: Set<SegmentID>
    }

    /// What copying a group gave.
    private enum CopyOutcome {
        case copied(CompactionCopy)
        /// A lone segment whose deletes are mostly not published yet: rewriting it now would
        /// keep the rows they delete; a later pass will.
        case notYet
    }

    /// Copies the rows of `group` not deleted at the committed timestamp, in insert-timestamp
    /// order, into a new sealed segment (no lock held). Rows deleted since that timestamp are
    /// copied too, so that snapshots at or after it read the same rows from the new segment;
    /// their delete marks are carried over by `replace`. Returns nil when the pacer says stop.
    private func copyLiveRows(_ group: [Segment], pacer: CompactionPacer, deletedShare: Double) -> CopyOutcome? {
        let horizon = committed.load(ordering: .acquiring)
        var rows: [(segment: Int, row: Int, ts: UInt64)] = []
        for (i, s) in group.enumerated() {
            for r in 0..<s.rowCount where s.deletes.deleteTimestamp(r) > horizon { rows.append((i, r, s.insertTimestamp(row: r))) }
        }
        if group.count == 1, Double(group[0].rowCount - rows.count) < Double(group[0].rowCount) * deletedShare { return .notYet }
        // Insert timestamps must not decrease within a segment (readers cut a snapshot by them).
        if zip(rows, rows.dropFirst()).contains(where: { $0.ts > $1.ts }) {
            rows = rows.enumerated().sorted { ($0.element.ts, $0.offset) < ($1.element.ts, $1.offset) }.map(\.element)
        }
        let schema = group[0].schema
        let snaps = group.map { $0.snapshot(at: .max, expiredBefore: nil) }
        let spec = OutputSpec(fields: schema.fields.map(\.name), dynamicKeys: [], allDynamic: schema.enableDynamicField)
        let merged = Segment(id: SegmentID(UInt64(context.newID())), partition: group[0].partition, schema: schema,
                             capacity: max(rows.count, 1))
        let rowBytes = Self.approximateRowBytes(schema)
        var start = 0
        while start < rows.count {
            guard !pacer.stopRequested else { return nil }
            let chunk = rows[start ..< min(start + Self.compactionChunkRows, rows.count)]
            let batch = spec.gather(chunk.map { (snaps[$0.segment], $0.row) }, schema: schema)
            merged.append(batch, timestamps: chunk.map(\.ts))
            start += chunk.count
            guard pacer.charge(bytes: chunk.count * rowBytes) else { return nil }
        }
        merged.publish()
        merged.seal()
        let states = group.map { $0.persistence.withLock { $0 } }
        merged.persistence.withLock { p in
            p.firstLSN = states.map(\.firstLSN).filter { $0 > 0 }.min() ?? 0
            let last = states.max { ($0.lastLSN, $0.lastRows) < ($1.lastLSN, $1.lastRows) }!
            p.lastLSN = last.lastLSN
            p.lastRows = last.lastRows
        }
        return .copied(CompactionCopy(merged: merged, sources: rows.map { RowLocation(segment: group[$0.segment].id, row: UInt32($0.row)) },
                                      groupIDs: Set(group.map(\.id))))
    }

    /// Builds the declared vector indexes of a new segment before it becomes visible, so that
    /// searches never meet it unindexed. A failure is left to the background build, which
    /// reports it.
    private func buildVectorIndexes(_ seg: Segment) {
        guard seg.rowCount > 0 else { return }
        let (indexes, schema) = meta.withLock { ($0.indexes, $0.schema) }
        for desc in indexes {
            guard let field = schema.field(named: desc.field), field.dataType.isDenseVector,
                  let built = try? seg.buildIndex(desc, field: field) else { continue }
            seg.installIndex(built)
        }
    }

    /// Under the writer lock: carries delete marks set since the copy over to the new segment,
    /// then swaps it in for the old ones and repoints their keys. Returns false (and changes
    /// nothing) when an old segment has left the collection meanwhile (a dropped partition, a
    /// truncation, retention).
    private func replace(_ group: [Segment], with copy: CompactionCopy) -> Bool {
        writer.withLock { _ in
            let current = segments.withLock { $0 }
            guard group.allSatisfy({ current[$0.id] === $0 }) else { return false }
            let merged = copy.merged
            for (i, src) in copy.sources.enumerated() {
                let d = current[src.segment]!.deletes.deleteTimestamp(Int(src.row))
                if d != .max { merged.markDeleted(row: i, at: Timestamp(rawValue: d)) }
            }
            // Readers take the segment set and then the key index: between the two steps below
            // a key may point at a segment their snapshot lacks, which they treat as missing for
            // that one read.
            segments.withLock { segs in
                if merged.rowCount > 0 { segs[merged.id] = merged }
                for id in copy.groupIDs { segs[id] = nil }
            }
            keys.withLock { idx in
                var moved: [RowLocation: RowLocation] = [:]
                for (i, src) in copy.sources.enumerated() {
                    let here = RowLocation(segment: merged.id, row: UInt32(i))
                    let pk = merged.primaryKey(row: i)
                    if idx[pk] == src { idx[pk] = here }
                    if !idx.replaced.isEmpty { moved[src] = here }
                }
                if !idx.replaced.isEmpty {
                    idx.replaced.remap { loc in copy.groupIDs.contains(loc.segment) ? moved[loc] : loc }
                }
            }
            return true
        }
    }

    /// About how many bytes one row of `schema` takes in memory and in a segment file (the
    /// unit of the compaction budget): vectors at their size, 8 bytes per other value, 8 for
    /// the insert timestamp.
    static func approximateRowBytes(_ schema: CollectionSchema) -> Int {
        schema.fields.reduce(8) { n, f in
            if f.dataType.isDenseVector, let dim = f.dim { return n + f.dataType.vectorBytes(dim: dim) }
            return n + 8
        }
    }
}
