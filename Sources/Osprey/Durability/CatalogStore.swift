import OspreyCore
import OspreyStorage
import Synchronization

/// Where the engine records catalog changes; `record` returns once the change is durable.
///
/// Thread safety: implementations are safe to call from several threads.
protocol CatalogLog: Sendable {
    func record(_ edit: CatalogEdit, idHighWater: Int64, timestampHighWater: UInt64) throws(OspreyError)
}

/// A catalog log that keeps nothing (an in-memory database).
///
/// Thread safety: stateless.
struct VolatileCatalog: CatalogLog {
    func record(_ edit: CatalogEdit, idHighWater: Int64, timestampHighWater: UInt64) throws(OspreyError) {}
}

/// The catalog kept in the manifest: each edit is appended (and fsync'd) before the engine
/// applies it, and mirrored in a `CatalogState` from which a fresh snapshot is written when
/// the manifest's edit log grows past `rewriteThreshold` edits.
///
/// Thread safety: safe to call from several threads; appends are serialised by a lock.
final class ManifestCatalog: CatalogLog {
    /// Edits after which the manifest is rewritten as one snapshot.
    static let defaultRewriteThreshold = 1_000

    let manifest: Manifest
    let rewriteThreshold: Int
    private let state: Mutex<CatalogState>

    init(manifest: Manifest, state: CatalogState, rewriteThreshold: Int = ManifestCatalog.defaultRewriteThreshold) {
        self.manifest = manifest
        self.state = Mutex(state)
        self.rewriteThreshold = rewriteThreshold
    }

    /// The catalog as recorded so far.
    var current: CatalogState { state.withLock { $0 } }

    func record(_ edit: CatalogEdit, idHighWater: Int64, timestampHighWater: UInt64) throws(OspreyError) {
        try state.withLock { s throws(OspreyError) in
            let bytes = CatalogCodec.encode(edit, idHighWater: idHighWater, timestampHighWater: timestampHighWater)
            do {
                try manifest.append(bytes)
            } catch {
                throw Durability.storageError(error, doing: "appending a catalog edit to the manifest in \(manifest.directory)")
            }
            s.apply(edit, idHighWater: idHighWater, timestampHighWater: timestampHighWater)
            try rewriteIfLong(s)
        }
    }

    /// Records a new WAL checkpoint (a full snapshot, so the edit log also restarts).
    func setCheckpoint(_ lsn: UInt64) throws(OspreyError) {
        try state.withLock { s throws(OspreyError) in
            var next = s
            next.walCheckpoint = max(s.walCheckpoint, lsn)
            do { try manifest.rewrite(snapshot: next.encodedSnapshot()) } catch {
                throw Durability.storageError(error, doing: "rewriting the manifest in \(manifest.directory)")
            }
            s = next
        }
    }

    private func rewriteIfLong(_ s: CatalogState) throws(OspreyError) {
        guard manifest.editsSinceSnapshot >= rewriteThreshold else { return }
        do { try manifest.rewrite(snapshot: s.encodedSnapshot()) } catch {
            throw Durability.storageError(error, doing: "rewriting the manifest in \(manifest.directory)")
        }
    }
}

/// Helpers shared by the durable pieces.
///
/// Thread safety: stateless.
enum Durability {
    /// Wraps a storage-layer error as `OspreyError.storage`, keeping its file and offset.
    static func storageError(_ error: any Error, doing what: String) -> OspreyError {
        if let e = error as? OspreyError { return e }
        if let e = error as? StorageError {
            let kind: String
            switch e.fault {
            case .corruption: kind = "corruption"
            case .caller: kind = "refused"
            case .environment: kind = "I/O failure"
            }
            return .storage("\(kind) while \(what): \(e)")
        }
        return .storage("failure while \(what): \(error)")
    }
}
