import Dispatch
import OspreyCore
import OspreyStorage

// Checkpoints (docs/storage.md §15), in four steps:
//
// 1. capture, with every collection's writer lock held and no file I/O: seal the growing
//    segments asked for, drop sealed segments expired by the TTL whole, and note each sealed
//    segment with its deleted-row count, the WAL cut (the LSN before the oldest record still
//    held only by a growing segment, or the last LSN when none is), the last LSN and a
//    timestamp newer than every write applied so far;
// 2. with no writer lock, make the WAL durable through that last LSN, then write the data
//    file of each captured segment not yet on disk, its delete state as of the captured
//    timestamp where its deleted count changed, and the vector indexes built for it;
// 3. record the segment lists with the cut in one manifest edit;
// 4. delete WAL files wholly at or before the cut and files no segment refers to.
//
// Deletes applied after the capture are not in the delete states written; their WAL records
// come after the cut, so they stay in the WAL and are replayed on recovery.

/// Where replay of a partition's inserts resumes: records before `lsn`, and the first
/// `rows` rows of record `lsn`, are in sealed segment files.
///
/// Thread safety: a value type; safe to share.
struct ReplayWatermark: Sendable {
    var lsn: UInt64
    var rows: Int
}

extension DurableStorage {
    /// A sealed segment as a checkpoint captured it, and what it wrote for it.
    ///
    /// Thread safety: a value type used by the one thread running the checkpoint.
    private struct CapturedSegment {
        let collection: Int64
        let segment: Segment
        let partitionID: Int64
        /// Rows marked deleted at capture: those with a delete timestamp at or before the
        /// checkpoint's capture timestamp.
        let deleted: Int
        var persistence: Segment.Persistence
    }

    /// Runs a checkpoint, sealing first the growing segments of the collections in `sealing`
    /// (every collection when nil). Writers wait only while step 1 runs; reads never wait.
    func checkpoint(_ db: Database, sealing: Set<Int64>?) throws {
        try checkpointLock.withLock { _ in
            guard !isClosed else { return }
            let start = DispatchTime.now().uptimeNanoseconds
            var capturedAt: UInt64 = 0
            let collections = db.namespaces.withLock { ns in ns.values.flatMap { $0.collections.values } }.sorted { $0.id < $1.id }
            // 1. Capture.
            var growing: [Segment] = []
            var captured: [CapturedSegment] = []
            var cut: UInt64 = 0
            var asOf: UInt64 = 0
            try Self.withWriters(collections[...], { c, w in
                if sealing == nil || sealing!.contains(c.id) {
                    for s in w.growing.values { s.seal() }
                    w.growing.removeAll()
                }
                growing += w.growing.values
            }) {
                let oldest = growing.compactMap { s -> UInt64? in
                    let first = s.persistence.withLock { $0.firstLSN }
                    return first > 0 ? first : nil
                }.min()
                cut = oldest.map { $0 - 1 } ?? wal.lastLSN.rawValue
                // Every write applied so far has an older timestamp, every later one a newer.
                asOf = db.context.oracle.next().rawValue
                for c in collections {
                    c.dropExpiredSegments()
                    let partitionIDs = c.partitionIDs()
                    for seg in c.segments.withLock({ Array($0.values) }).sorted(by: { $0.id < $1.id }) where seg.sealed && seg.rowCount > 0 {
                        guard let pid = partitionIDs[seg.partition] else { continue }
                        captured.append(CapturedSegment(collection: c.id, segment: seg, partitionID: pid, deleted: seg.deletedCount,
                                                        persistence: seg.persistence.withLock { $0 }))
                    }
                }
                capturedAt = DispatchTime.now().uptimeNanoseconds
            }
            // 2. Write the files. The captured rows and deletes come from records up to the
            // WAL's last LSN at the capture; they may still be in flight (group commit), and a
            // file must hold nothing that a crash could take back out of the WAL.
            try wal.syncBlocking()
            var lists: [Int64: [SegmentRecord]] = Dictionary(uniqueKeysWithValues: collections.map { ($0.id, []) })
            var keep: [String: Set<String>] = [:]  // segment directory → files it still uses
            for i in captured.indices {
                let seg = captured[i].segment, cid = captured[i].collection
                var p = captured[i].persistence
                if p.dataKey == nil { p.dataKey = try files.writeData(seg, collection: cid) }
                if captured[i].deleted != p.persistedDeletes {
                    let written = try files.writeDeletes(seg, collection: cid, checkpoint: cut, asOf: asOf)
                    p.deletesKey = written.key
                    p.persistedDeletes = written.deleted
                }
                // Vector indexes built since the last checkpoint are saved beside the segment.
                let built = seg.indexes.withLock { Array($0.values) }.filter { $0.rows == seg.rowCount }
                for b in built where p.indexKeys[b.indexID] == nil {
                    p.indexKeys[b.indexID] = try files.writeIndex(b, segment: seg, collection: cid)
                }
                let live = Set(built.map(\.indexID))
                p.indexKeys = p.indexKeys.filter { live.contains($0.key) }
                lists[cid]!.append(SegmentRecord(
                    segmentID: Int64(bitPattern: seg.id.rawValue), partition: seg.partition, partitionID: captured[i].partitionID,
                    rows: seg.rowCount, firstLSN: p.firstLSN, lastLSN: p.lastLSN, lastRows: p.lastRows, dataKey: p.dataKey!,
                    deletesKey: p.deletesKey ?? "", indexKeys: p.indexKeys))
                keep[SegmentFiles.directoryKey(collection: cid, segment: seg.id), default: []].formUnion(
                    [p.dataKey!, p.deletesKey].compactMap { $0 } + p.indexKeys.values)
                captured[i].persistence = p
            }
            // 3. Install them. Segments replaced or dropped since the capture may be listed:
            // their files hold what the capture saw (a later checkpoint lists their
            // successors), and a dropped collection's list is ignored.
            try db.context.recordCatalog(.checkpoint(walCheckpoint: cut, segments: lists))
            for c in captured {
                c.segment.persistence.withLock {
                    $0.dataKey = c.persistence.dataKey
                    $0.deletesKey = c.persistence.deletesKey
                    $0.persistedDeletes = c.persistence.persistedDeletes
                    $0.indexKeys = c.persistence.indexKeys
                }
            }
            // 4. Clean up.
            try wal.removeFiles(through: LSN(cut))
            removeUnreferencedFiles(keep)
            let end = DispatchTime.now().uptimeNanoseconds
            lastCheckpoint.withLock {
                $0 = CheckpointTimes(locked: Double(capturedAt &- start) / 1e9, total: Double(end - start) / 1e9)
            }
        }
    }

    /// Holds the writer of every collection in `cs` (in id order), calling `each` under each,
    /// then `body` with all of them held.
    private static func withWriters(
        _ cs: ArraySlice<Collection>, _ each: (Collection, inout Collection.WriterState) -> Void, _ body: () throws -> Void
    ) throws {
        guard let c = cs.first else { return try body() }
        try c.writer.withLock { w in
            each(c, &w)
            try withWriters(cs.dropFirst(), each, body)
        }
    }

    /// Best effort: removes segment files that no segment in the catalog refers to (dropped
    /// collections and partitions, replaced delete states). Directories stay.
    private func removeUnreferencedFiles(_ keep: [String: Set<String>]) {
        let root = FilePath.join(directory, "segments")
        guard fs.isDirectory(root), let collections = try? fs.list(root) else { return }
        for c in collections {
            let cdir = FilePath.join(root, c)
            guard let segs = try? fs.list(cdir) else { continue }
            for s in segs {
                let sdir = FilePath.join(cdir, s)
                let used = keep["segments/\(c)/\(s)"] ?? []
                for f in (try? fs.list(sdir)) ?? [] where !used.contains("segments/\(c)/\(s)/\(f)") {
                    try? fs.remove(FilePath.join(sdir, f))
                }
            }
        }
    }

    /// Loads every sealed segment in the catalog into its collection and returns, per
    /// collection and partition id, where WAL replay of inserts resumes.
    func loadSegments(_ db: Database, _ state: CatalogState) throws(OspreyError) -> [Int64: [Int64: ReplayWatermark]] {
        let byID = db.namespaces.withLock { ns in
            Dictionary(uniqueKeysWithValues: ns.values.flatMap { $0.collections.values }.map { ($0.id, $0) })
        }
        var marks: [Int64: [Int64: ReplayWatermark]] = [:]
        for (cid, records) in state.segments {
            guard let c = byID[cid] else { continue }
            let (schema, partitions, declared) = c.meta.withLock { ($0.schema, $0.partitions, $0.indexes) }
            var loaded: [Segment] = []
            for r in records {
                guard let p = partitions.first(where: { $0.id == r.partitionID }) else { continue }
                let seg: Segment
                do { seg = try files.load(r, collection: cid, partition: p.name, schema: schema) } catch {
                    throw Durability.storageError(error, doing: "loading segment \(r.segmentID) of collection '\(c.name)'")
                }
                files.loadIndexes(r, into: seg, declared: declared)
                loaded.append(seg)
                let m = ReplayWatermark(lsn: r.lastLSN, rows: r.lastRows)
                if let old = marks[cid]?[r.partitionID], (old.lsn, old.rows) >= (m.lsn, m.rows) { continue }
                marks[cid, default: [:]][r.partitionID] = m
            }
            c.installRestoredSegments(loaded)
        }
        return marks
    }
}
