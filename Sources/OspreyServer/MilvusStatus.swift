import SwiftProtobuf

/// Milvus's error codes ("merr" codes, the `code` field of `common.Status`), each with the
/// legacy `ErrorCode` that older clients read from `error_code`.
///
/// The mapping is Milvus's own (pkg/util/merr); clients such as pymilvus rely on specific
/// pairs, for example `collectionNotFound` (100 / CollectionNotExists) for
/// `has_collection` and `indexNotFound` (700 / IndexNotExist) for `describe_index`.
///
/// Thread safety: a value type; safe to share.
package enum MilvusErrorCode: Int32, Sendable, CaseIterable {
    case success = 0
    case serviceNotReady = 1
    case rateLimit = 8
    case quotaExceeded = 9
    case collectionNotFound = 100
    case collectionNotLoaded = 101
    case partitionNotFound = 200
    case indexNotFound = 700
    case databaseNotFound = 800
    case invalidParameter = 1100
    case missingParameter = 1101
    case aliasNotFound = 1600
    case aliasCollectionNameConflict = 1601
    case aliasAlreadyExists = 1602
    case fieldNotFound = 1700
    case unexpected = 65535

    /// The legacy code that goes into `common.Status.error_code` beside this code.
    package var legacyCode: Common_ErrorCode {
        switch self {
        case .success: .success
        case .serviceNotReady: .notReadyServe
        case .rateLimit: .rateLimit
        case .quotaExceeded: .forceDeny
        case .collectionNotFound: .collectionNotExists
        case .partitionNotFound: .metaFailed
        case .indexNotFound: .indexNotExist
        case .invalidParameter: .illegalArgument
        case .collectionNotLoaded, .databaseNotFound, .missingParameter, .aliasNotFound,
             .aliasCollectionNameConflict, .aliasAlreadyExists, .fieldNotFound, .unexpected:
            .unexpectedError
        }
    }

    /// Whether the caller, not the server, is at fault; sent as
    /// `extra_info["is_input_error"]`.
    package var isInputError: Bool {
        switch self {
        case .collectionNotFound, .partitionNotFound, .indexNotFound, .databaseNotFound,
             .invalidParameter, .missingParameter, .aliasNotFound, .aliasCollectionNameConflict,
             .aliasAlreadyExists, .fieldNotFound:
            true
        case .success, .serviceNotReady, .rateLimit, .quotaExceeded, .collectionNotLoaded,
             .unexpected:
            false
        }
    }

    /// Whether a client may retry the same call later and expect it to succeed.
    package var isRetriable: Bool {
        switch self {
        case .serviceNotReady, .rateLimit: true
        default: false
        }
    }
}

/// An error a handler throws to answer a call with a Milvus status instead of a result.
///
/// Handlers throw it (or map engine errors to it); ``MilvusResponse/answer(_:)`` turns it
/// into the response's `status`, so no error ever surfaces as a gRPC failure.
///
/// Thread safety: a value type; safe to share.
package struct MilvusError: Error, Sendable, Equatable, CustomStringConvertible {
    package var code: MilvusErrorCode
    package var reason: String

    package init(_ code: MilvusErrorCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// The answer to a Milvus RPC that this server does not serve at all.
    package static func notSupported(_ rpc: String) -> MilvusError {
        MilvusError(.unexpected, "\(rpc) is not supported by this server (Osprey)")
    }

    package var description: String { "\(code) (\(code.rawValue)): \(reason)" }

    /// This error as a `common.Status` with both the merr and the legacy code set.
    package var status: Common_Status { Common_Status(code, reason: reason) }
}

extension Common_Status {
    /// The status of a successful call: every code zero.
    package static var success: Common_Status { Common_Status() }

    /// A status carrying `code` in `code` (merr) and its legacy twin in `error_code`, with
    /// `extra_info["is_input_error"]` saying whether the caller is at fault.
    package init(_ code: MilvusErrorCode, reason: String) {
        self.init()
        guard code != .success else { return }
        self.code = code.rawValue
        self.errorCode = code.legacyCode
        self.reason = reason
        self.retriable = code.isRetriable
        self.extraInfo["is_input_error"] = code.isInputError ? "true" : "false"
    }

    /// Whether pymilvus would treat this status as a failure.
    package var isError: Bool { code != 0 || errorCode != .success }
}

/// A response message of the Milvus service: either `common.Status` itself or a message
/// whose `status` field carries the outcome.
///
/// Thread safety: conformers are generated protobuf value types; safe to share.
package protocol MilvusResponse: SwiftProtobuf.Message {
    /// The outcome of the call.
    var status: Common_Status { get set }
}

extension MilvusResponse {
    /// An empty response whose status is `error`'s.
    package static func failure(_ error: MilvusError) -> Self {
        var response = Self()
        response.status = error.status
        return response
    }

    /// Runs `body` and returns its response; a thrown ``MilvusError`` becomes the status of
    /// an empty response, and any other error the `unexpected` code with its description.
    package static func answer(_ body: () async throws -> Self) async -> Self {
        do {
            return try await body()
        } catch let error as MilvusError {
            return failure(error)
        } catch is CancellationError {
            return failure(MilvusError(.unexpected, "the request was cancelled"))
        } catch {
            return failure(MilvusError(.unexpected, String(describing: error)))
        }
    }
}

extension Common_Status: MilvusResponse {
    package var status: Common_Status {
        get { self }
        set { self = newValue }
    }
}

extension Milvus_AllocTimestampResponse: MilvusResponse {}
extension Milvus_BoolResponse: MilvusResponse {}
extension Milvus_CheckHealthResponse: MilvusResponse {}
extension Milvus_ConnectResponse: MilvusResponse {}
extension Milvus_DescribeAliasResponse: MilvusResponse {}
extension Milvus_DescribeCollectionResponse: MilvusResponse {}
extension Milvus_DescribeDatabaseResponse: MilvusResponse {}
extension Milvus_DescribeIndexResponse: MilvusResponse {}
extension Milvus_FlushResponse: MilvusResponse {}
extension Milvus_GetCollectionStatisticsResponse: MilvusResponse {}
extension Milvus_GetCompactionPlansResponse: MilvusResponse {}
extension Milvus_GetCompactionStateResponse: MilvusResponse {}
extension Milvus_GetFlushStateResponse: MilvusResponse {}
extension Milvus_GetLoadStateResponse: MilvusResponse {}
extension Milvus_GetLoadingProgressResponse: MilvusResponse {}
extension Milvus_GetPartitionStatisticsResponse: MilvusResponse {}
extension Milvus_GetPersistentSegmentInfoResponse: MilvusResponse {}
extension Milvus_GetVersionResponse: MilvusResponse {}
extension Milvus_ListAliasesResponse: MilvusResponse {}
extension Milvus_ListDatabasesResponse: MilvusResponse {}
extension Milvus_ManualCompactionResponse: MilvusResponse {}
extension Milvus_MutationResult: MilvusResponse {}
extension Milvus_QueryResults: MilvusResponse {}
extension Milvus_SearchResults: MilvusResponse {}
extension Milvus_ShowCollectionsResponse: MilvusResponse {}
extension Milvus_ShowPartitionsResponse: MilvusResponse {}
extension Milvus_TruncateCollectionResponse: MilvusResponse {}
