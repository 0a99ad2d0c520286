import OspreyCore

/// An error from the engine: a bad request (the caller's fault) or a failure of the service.
///
/// The engine knows nothing of gRPC or HTTP; servers map these cases to their status codes.
///
/// Thread safety: a value type; safe to share.
public enum OspreyError: Error, Sendable, CustomStringConvertible {
    /// Rows or a schema that break the rules (dimension, type, length, nulls, names…).
    case validation(ValidationError)
    /// A parameter that is wrong or missing, with what is wrong.
    case invalidArgument(String)
    case databaseNotFound(String)
    case collectionNotFound(String)
    case partitionNotFound(collection: String, partition: String)
    case aliasNotFound(String)
    case indexNotFound(collection: String, field: String)
    case fieldNotFound(collection: String, field: String)
    /// Something with that name exists already (kind is e.g. "collection", "alias").
    case alreadyExists(kind: String, name: String)
    /// A filter expression that does not parse or does not type-check.
    case invalidFilter(String)
    /// The operation is valid but not supported by this version of Osprey.
    case unsupported(String)
    /// The database was closed.
    case closed
    /// Durable storage failed (I/O error or corruption); the message says which file.
    case storage(String)
    /// A failure inside the engine that is not the caller's fault.
    case internalError(String)

    /// Whether the request was at fault (as opposed to the service).
    public var isCallerFault: Bool {
        switch self {
        case .closed, .storage, .internalError: return false
        default: return true
        }
    }

    public var description: String {
        switch self {
        case .validation(let e): return e.description
        case .invalidArgument(let m): return m
        case .databaseNotFound(let n): return "database not found: '\(n)'"
        case .collectionNotFound(let n): return "collection not found: '\(n)'"
        case .partitionNotFound(let c, let p): return "partition not found: '\(p)' in collection '\(c)'"
        case .aliasNotFound(let a): return "alias not found: '\(a)'"
        case .indexNotFound(let c, let f): return "index not found on field '\(f)' of collection '\(c)'"
        case .fieldNotFound(let c, let f): return "field not found: '\(f)' in collection '\(c)'"
        case .alreadyExists(let k, let n): return "\(k) already exists: '\(n)'"
        case .invalidFilter(let m): return "invalid filter: \(m)"
        case .unsupported(let m): return "not supported: \(m)"
        case .closed: return "the database is closed"
        case .storage(let m): return "storage error: \(m)"
        case .internalError(let m): return "internal error: \(m)"
        }
    }
}
