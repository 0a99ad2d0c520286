import OspreyCore
import OspreyStorage
import Synchronization

/// The durable side of an open database: the directory lock, the manifest (catalog) and the
/// write-ahead log (data). Recovery, in order (docs/storage.md §16): lock the
/// directory; open the manifest (creating it in a new directory), cutting a torn last edit;
/// rebuild the catalog from its snapshot and edits; open the WAL, cutting a torn tail of its
/// newest file; replay every record after the checkpoint into the collections; move the id
/// counter and the timestamp oracle past every value seen.
///
/// Thread safety: safe to share; `close` may be called from any thread, once or more.
final class DurableStorage: Sendable {
    let directory: String
    let catalog: ManifestCatalog
    let wal: WriteAheadLog
    let files: SegmentFiles
    let fs: any FileSystem
    /// Serialises checkpoints.
    let checkpointLock = Mutex(())
    /// How long the last checkpoint took, and how long of that it held the writer locks.
    let lastCheckpoint = Mutex(CheckpointTimes())
    private let lock: DirectoryLock
    private let closed = Atomic<Bool>(false)
    private let report: Mutex<RecoveryReport>

    /// What recovery found and replayed, for tests and tools.
    var recovery: RecoveryReport { report.withLock { $0 } }

    /// The durations of one checkpoint, in seconds.
    ///
    /// Thread safety: a value type; safe to share.
    struct CheckpointTimes: Sendable {
        /// From the start until the capture (step 1) ended: waiting for and holding every
        /// collection's writer lock.
        var locked = 0.0
        var total = 0.0
    }

    /// What opening a data directory replayed and repaired.
    ///
    /// Thread safety: a value type; safe to share.
    struct RecoveryReport: Sendable {
        var manifestEdits = 0
        var manifestDiscardedBytes = 0
        var wal: WALRecoveryReport?
        var replayedRecords = 0
        var replayedBytes = 0
        var skippedRecords = 0
        var replaySeconds = 0.0
        var segmentLoadSeconds = 0.0
    }

    private init(directory: String, lock: DirectoryLock, catalog: ManifestCatalog, wal: WriteAheadLog, files: SegmentFiles,
                 fs: any FileSystem, recovery: RecoveryReport) {
        self.directory = directory
        self.files = files
        self.fs = fs
        self.lock = lock
        self.catalog = catalog
        self.wal = wal
        self.report = Mutex(recovery)
    }

    /// Opens (creating if needed) a durable database in `path` and recovers its contents.
    static func openDatabase(
        at path: String, options: DatabaseOptions, fileSystem fs: any FileSystem = PosixFileSystem(),
        walOptions: WALOptions = WALOptions(), manifestRewriteThreshold: Int = ManifestCatalog.defaultRewriteThreshold
    ) throws(OspreyError) -> Database {
        let lock: DirectoryLock
        do { lock = try DirectoryLock.acquire(directory: path, fileSystem: fs) } catch {
            throw Durability.storageError(error, doing: "locking the data directory \(path)")
        }
        var report = RecoveryReport()
        // 1. The catalog.
        let manifest: Manifest
        var state: CatalogState
        do {
            if fs.exists(FilePath.join(path, FileNames.current)) {
                let (m, contents) = try Manifest.open(directory: path, fileSystem: fs)
                manifest = m
                report.manifestEdits = contents.edits.count
                report.manifestDiscardedBytes = contents.discardedBytes
                let file = FilePath.join(path, FileNames.manifest(contents.manifestNumber))
                do {
                    state = try CatalogState.decodeSnapshot(contents.snapshot)
                    for bytes in contents.edits {
                        let (edit, ids, ts) = try CatalogCodec.decode(bytes)
                        state.apply(edit, idHighWater: ids, timestampHighWater: ts)
                    }
                } catch let e as RecordDecodingError {
                    throw OspreyError.storage("corruption in \(file): a catalog record passes its checksum but does not decode: \(e)")
                }
            } else {
                state = CatalogState.initial(created: Timestamp(physicalMilliseconds: TimestampOracle.nowMilliseconds(), logical: 0))
                manifest = try Manifest.create(directory: path, fileSystem: fs, snapshot: state.encodedSnapshot())
            }
        } catch let e as OspreyError {
            throw e
        } catch {
            throw Durability.storageError(error, doing: "reading the manifest in \(path)")
        }
        let catalog = ManifestCatalog(manifest: manifest, state: state, rewriteThreshold: manifestRewriteThreshold)
        // 2. The write-ahead log.
        let wal: WriteAheadLog
        do { wal = try WriteAheadLog.open(directory: FilePath.join(path, FileNames.walDirectory), fileSystem: fs, options: walOptions) } catch {
            try? manifest.close()
            throw Durability.storageError(error, doing: "opening the write-ahead log in \(FilePath.join(path, FileNames.walDirectory))")
        }
        report.wal = wal.recovery
        let files: SegmentFiles
        do { files = SegmentFiles(store: try LocalDirectoryObjectStore(root: path, fileSystem: fs), fs: fs) } catch {
            try? wal.close()
            try? manifest.close()
            throw Durability.storageError(error, doing: "opening the object store in \(path)")
        }
        let storage = DurableStorage(directory: path, lock: lock, catalog: catalog, wal: wal, files: files, fs: fs, recovery: report)
        let db = Database(path: path, options: options, log: WALMutationLog(wal: wal), catalog: catalog, storage: storage)
        db.restoreCatalog(state)
        do {
            let start = TimestampOracle.nowMilliseconds()
            let marks = try storage.loadSegments(db, state)
            storage.report.withLock { $0.segmentLoadSeconds = Double(TimestampOracle.nowMilliseconds() - start) / 1000 }
            let stats = try storage.replayWAL(into: db, from: state.walCheckpoint + 1, watermarks: marks)
            // Everything recovered is committed: later reads see deletes restored from files too.
            let now = db.context.oracle.next().rawValue
            for c in db.namespaces.withLock({ $0.values.flatMap { $0.collections.values } }) {
                if c.committed.load(ordering: .relaxed) < now { c.committed.store(now, ordering: .releasing) }
            }
            // Checkpoints only after replay: one taken halfway would cut the WAL past records
            // not yet applied.
            db.context.flushHook.withLock {
                $0 = { [weak db] c, seal in
                    guard let db, let storage = db.storage, !db.context.isClosed else { return }
                    try storage.checkpoint(db, sealing: seal ? [c.id] : [])
                }
            }
            db.compactor.start(db)
            storage.report.withLock {
                $0.replayedRecords = stats.records
                $0.replayedBytes = stats.bytes
                $0.skippedRecords = stats.skipped
                $0.replaySeconds = stats.seconds
            }
        } catch {
            try? storage.close()
            throw error
        }
        return db
    }

    /// Applies every WAL record from `from` on to the database's collections.
    private func replayWAL(into db: Database, from: UInt64, watermarks: [Int64: [Int64: ReplayWatermark]]) throws(OspreyError) -> (records: Int, bytes: Int, skipped: Int, seconds: Double) {
        let byID = db.namespaces.withLock { ns in
            Dictionary(uniqueKeysWithValues: ns.values.flatMap { $0.collections.values }.map { ($0.id, $0) })
        }
        let start = TimestampOracle.nowMilliseconds()
        var records = 0, skipped = 0
        let stats: WALReplayStatistics
        do {
            stats = try wal.replay(from: LSN(max(from, 1))) { lsn, payload in
                let record: MutationRecord
                do { record = try MutationRecordCodec.decode(payload) } catch {
                    throw OspreyError.storage(
                        "corruption in \(walFile(containing: lsn)): record \(lsn.rawValue) passes its checksum but does not decode: \(error)")
                }
                records += 1
                switch record {
                case let .insert(collectionID, _, partitionIDs, rowPartition, ts, batch):
                    guard let c = byID[collectionID] else { skipped += 1; db.context.oracle.advance(past: ts); return }
                    c.replayInsert(lsn: lsn.rawValue, partitionIDs: partitionIDs, rowPartition: rowPartition, timestamp: ts, batch: batch,
                                   watermarks: watermarks[collectionID] ?? [:])
                case let .delete(collectionID, partition, keys, ts):
                    guard let c = byID[collectionID] else { skipped += 1; db.context.oracle.advance(past: ts); return }
                    c.replayDelete(keys: keys, partition: partition, timestamp: ts)
                }
            }
        } catch let e as OspreyError {
            throw e
        } catch {
            throw Durability.storageError(error, doing: "replaying the write-ahead log in \(wal.directory)")
        }
        let seconds = Double(TimestampOracle.nowMilliseconds() - start) / 1000
        return (records, stats.payloadBytes, skipped, seconds)
    }

    private func walFile(containing lsn: LSN) -> String {
        wal.files.last { $0.firstLSN <= lsn }?.path ?? wal.directory
    }

    /// Closes the WAL and the manifest and releases the directory lock.
    func close() throws(OspreyError) {
        // Waits for a checkpoint in progress; later ones see `isClosed` and do nothing.
        try checkpointLock.withLock { _ throws(OspreyError) in try closeLocked() }
    }

    /// Whether `close` has run.
    var isClosed: Bool { closed.load(ordering: .acquiring) }

    private func closeLocked() throws(OspreyError) {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var failure: OspreyError?
        do { try wal.close() } catch { failure = Durability.storageError(error, doing: "closing the write-ahead log in \(wal.directory)") }
        do { try catalog.manifest.close() } catch {
            failure = failure ?? Durability.storageError(error, doing: "closing the manifest in \(directory)")
        }
        lock.release()
        if let failure { throw failure }
    }
}

extension Database {
    /// Rebuilds databases, collections and aliases from the recovered catalog and moves the
    /// id counter and the timestamp oracle past every value recorded in it.
    func restoreCatalog(_ state: CatalogState) {
        context.advanceIDs(past: state.idHighWater)
        context.oracle.advance(past: Timestamp(rawValue: state.timestampHighWater))
        var built: [String: Namespace] = [:]
        for (name, d) in state.databases {
            built[name] = Namespace(id: d.id, created: d.created, properties: d.properties, aliases: d.aliases)
        }
        for r in state.collections.values {
            guard built[r.database] != nil else { continue }
            built[r.database]!.collections[r.name] = Collection(restoring: r, context: context)
        }
        for name in built.keys { Database.refreshAliases(&built[name]!) }
        namespaces.withLock { $0 = built }
    }
}
