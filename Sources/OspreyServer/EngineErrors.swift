import Osprey
import OspreyCore

// The one place where engine errors become Milvus statuses. The engine knows nothing of
// status codes (docs/design.md §2); this table is the server's half of that contract.

extension MilvusError {
    /// The Milvus status for an engine error, with the engine's message as the reason.
    ///
    /// | engine error | merr code / legacy code |
    /// | --- | --- |
    /// | collectionNotFound | 100 / CollectionNotExists (4) |
    /// | partitionNotFound | 200 / MetaFailed (15) |
    /// | indexNotFound | 700 / IndexNotExist (25) |
    /// | databaseNotFound | 800 / UnexpectedError |
    /// | aliasNotFound | 1600; an alias that exists already 1602 |
    /// | fieldNotFound | 1700 |
    /// | validation, invalidArgument, invalidFilter, alreadyExists, unsupported | 1100 / IllegalArgument (5) |
    /// | closed | 1 (service not ready, retriable) |
    /// | storage, internalError | 65535 / UnexpectedError |
    package init(engine error: OspreyError) {
        let code: MilvusErrorCode
        switch error {
        case .collectionNotFound: code = .collectionNotFound
        case .partitionNotFound: code = .partitionNotFound
        case .indexNotFound: code = .indexNotFound
        case .databaseNotFound: code = .databaseNotFound
        case .aliasNotFound: code = .aliasNotFound
        case .alreadyExists(let kind, _) where kind == "alias": code = .aliasAlreadyExists
        case .fieldNotFound: code = .fieldNotFound
        case .validation, .invalidArgument, .invalidFilter, .alreadyExists, .unsupported: code = .invalidParameter
        case .closed: code = .serviceNotReady
        case .storage, .internalError: code = .unexpected
        }
        self.init(code, error.description)
    }

    /// An invalid-parameter error (1100) with `reason`.
    package static func invalid(_ reason: String) -> MilvusError {
        MilvusError(.invalidParameter, reason)
    }
}

extension MilvusService {
    /// Runs blocking engine work on the worker pool, never on the caller's thread, and turns
    /// an `OspreyError` into the matching ``MilvusError``. The request task then goes on on
    /// the event loop it came from (see ``EventLoopTaskExecutor``).
    package func engine<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let home = EventLoopTaskExecutor.currentLoop
        do {
            return try await pool.run(body) { resume in EventLoopTaskExecutor.resuming(on: home, resume) }
        } catch let error as OspreyError {
            throw MilvusError(engine: error)
        }
    }

    /// The collection (or alias) `name` in database `db`, on the calling thread (a catalog
    /// lookup under a short lock, which never blocks on I/O).
    package func collection(_ name: String, in db: String) throws -> Collection {
        guard !name.isEmpty else { throw MilvusError.invalid("collection name is empty") }
        do {
            return try database.collection(name, database: db)
        } catch {
            throw MilvusError(engine: error)
        }
    }
}
