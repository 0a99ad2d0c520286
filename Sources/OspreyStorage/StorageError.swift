import OspreyCore

/// Everything that can go wrong in OspreyStorage, with the file and byte offset involved.
///
/// Each case says who is at fault (`fault`): the caller (a bad argument, a directory
/// already in use), the data on disk (corruption: a checksum mismatch, a truncated or
/// malformed file), or the environment (an I/O error from the operating system).
///
/// Thread safety: a value type; safe to share.
package enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed: `operation` on `path` returned `errno`.
    case io(operation: String, path: String, errno: Int32)
    /// The file at `path` is damaged at `offset`: its bytes fail a checksum or are malformed.
    case corruption(path: String, offset: Int, reason: String)
    /// A file's magic or version is not one this build reads.
    case unsupportedFormat(path: String, reason: String)
    /// A file or object that must exist does not.
    case notFound(path: String)
    /// A file or object that must not exist already does.
    case alreadyExists(path: String)
    /// Another opener holds the lock of the data directory.
    case directoryLocked(directory: String)
    /// The caller passed an argument the operation cannot accept.
    case invalidArgument(String)
    /// The object was closed, or failed earlier and refuses further work (`reason` says which).
    case closed(path: String, reason: String)

    /// Who caused an error.
    package enum Fault: Sendable, Equatable {
        /// The caller: a bad argument or a resource already in use; retrying will not help.
        case caller
        /// The stored data is damaged; needs repair or restore, never silent dropping.
        case corruption
        /// The operating system or the device failed; may be transient.
        case environment
    }

    /// Who caused this error.
    package var fault: Fault {
        switch self {
        case .corruption, .unsupportedFormat: .corruption
        case .io, .closed: .environment
        case .notFound, .alreadyExists, .directoryLocked, .invalidArgument: .caller
        }
    }

    /// Whether this error reports damaged data.
    package var isCorruption: Bool { fault == .corruption }

    package var description: String {
        switch self {
        case let .io(operation, path, code):
            "I/O error: \(operation) \(path): \(StorageError.errnoDescription(code)) (errno \(code))"
        case let .corruption(path, offset, reason):
            "corruption in \(path) at offset \(offset): \(reason)"
        case let .unsupportedFormat(path, reason):
            "unsupported file format in \(path): \(reason)"
        case let .notFound(path):
            "not found: \(path)"
        case let .alreadyExists(path):
            "already exists: \(path)"
        case let .directoryLocked(directory):
            "data directory \(directory) is locked by another open database (its LOCK file is held); "
                + "close the other process or open a different directory"
        case let .invalidArgument(message):
            "invalid argument: \(message)"
        case let .closed(path, reason):
            "\(path) is not usable: \(reason)"
        }
    }

    static func errnoDescription(_ code: Int32) -> String {
        guard let s = strerror(code) else { return "unknown error" }
        return String(cString: s)
    }

    /// Wraps a decoding error found inside `path`, where the decoded buffer starts at `base`.
    static func decoding(_ error: any Error, path: String, base: Int) -> StorageError {
        if let e = error as? StorageError { return e }
        if let e = error as? ByteCodingError {
            let offset: Int
            switch e {
            case let .truncated(o, _, _), let .malformedVarint(o), let .lengthOutOfRange(o, _),
                let .invalidUTF8(o):
                offset = o
            }
            return .corruption(path: path, offset: base + offset, reason: e.description)
        }
        return .corruption(path: path, offset: base, reason: "\(error)")
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
