import GRPCCore
import SwiftProtobuf

/// Answers every Milvus RPC that Protos/milvus.proto does not declare (RBAC, resource
/// groups, import, snapshots, …) with a `common.Status` saying that this server does not
/// support it, instead of gRPC UNIMPLEMENTED, which some clients treat as fatal.
///
/// ``MilvusRoutes`` serves each of them without decoding the request. The response is
/// written by hand: either a bare `common.Status` or a message whose field `statusField`
/// holds the status, which is how every such Milvus response carries its outcome (checked
/// against pymilvus by the compat tests).
///
/// Thread safety: a namespace of immutable values; safe to use from any thread.
package enum UnservedMilvusMethods {
    /// A Milvus RPC and where its response keeps `common.Status` (0: it is the status).
    ///
    /// Thread safety: a value type; safe to share.
    package struct Method: Sendable, Equatable {
        package var name: String
        package var statusField: Int
    }

    /// RPCs whose response is `common.Status` itself.
    static let statusResponses: [String] = [
        "AddCollectionField", "AddCollectionFunction", "AddCollectionStructField",
        "AddFileResource", "AddUserTags", "AlterCollectionField", "AlterCollectionFunction",
        "AlterRole", "BatchUpdateManifest", "CreateCredential", "CreatePrivilegeGroup",
        "CreateResourceGroup", "CreateRole", "CreateRowPolicy", "CreateSnapshot",
        "DeleteCredential", "DeleteUserTags", "DropCollectionFunction", "DropPrivilegeGroup",
        "DropResourceGroup", "DropRole", "DropRowPolicy", "DropSnapshot", "LoadBalance",
        "OperatePrivilege", "OperatePrivilegeGroup", "OperatePrivilegeV2", "OperateUserRole",
        "RemoveFileResource", "RestoreRBAC", "TransferNode", "TransferReplica",
        "UnpinSnapshotData", "UpdateCredential", "UpdateReplicateConfiguration",
        "UpdateResourceGroups",
    ]

    /// RPCs whose response carries `common.Status` in field 1.
    static let wrappedStatusResponses: [String] = [
        "AlterCollectionSchema", "BackupRBAC", "BatchDescribeCollection", "CalcDistance",
        "ComputePhraseMatchSlop", "CreateNamespace", "DescribeNamespace", "DescribePrewarmTask",
        "DescribeResourceGroup", "DescribeSegmentIndexData", "DescribeSnapshot", "DropNamespace",
        "DumpMessages", "ExportSnapshot", "FlushAll", "GetExportSnapshotState", "GetFlushAllState",
        "GetImportState", "GetIndexBuildProgress", "GetIndexState", "GetIndexStatistics",
        "GetMetrics", "GetNamespaceStats", "GetQuerySegmentInfo",
        "GetRefreshExternalCollectionProgress", "GetReplicas", "GetReplicateConfiguration",
        "GetRestoreSnapshotState", "GetUserTags", "HasNamespace", "Import", "ListCredUsers",
        "ListFileResources", "ListImportTasks", "ListIndexedSegment", "ListNamespaces",
        "ListPrivilegeGroups", "ListRefreshExternalCollectionJobs", "ListResourceGroups",
        "ListRestoreSnapshotJobs", "ListRowPolicies", "ListSnapshots", "ListUsersWithTag",
        "PinSnapshotData", "Prewarm", "RefreshExternalCollection", "ReplicateMessage",
        "RestoreExternalSnapshot", "RestoreSnapshot", "RunAnalyzer", "SelectGrant", "SelectRole",
        "SelectUser",
    ]

    /// RPCs whose response carries `common.Status` in another field.
    static let otherStatusResponses: [Method] = [
        Method(name: "RegisterLink", statusField: 2),
        Method(name: "GetComponentStates", statusField: 3),
    ]

    /// Every RPC this service answers.
    package static var methods: [Method] {
        statusResponses.map { Method(name: $0, statusField: 0) }
            + wrappedStatusResponses.map { Method(name: $0, statusField: 1) }
            + otherStatusResponses
    }

    /// The encoded response for `method`: the "not supported" status, bare or wrapped.
    package static func response(for method: Method) -> [UInt8] {
        let status = MilvusError.notSupported(method.name).status
        let statusBytes: [UInt8] = (try? status.serializedBytes()) ?? []
        guard method.statusField > 0 else { return statusBytes }
        var bytes: [UInt8] = []
        appendVarint(UInt64(method.statusField << 3 | 2), to: &bytes)  // length-delimited
        appendVarint(UInt64(statusBytes.count), to: &bytes)
        return bytes + statusBytes
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}
