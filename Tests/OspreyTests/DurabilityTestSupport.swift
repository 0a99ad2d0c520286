import Foundation
import OspreyCore
@testable import Osprey

/// A fresh directory under the system temporary directory, removed when released.
final class DurabilityTemporaryDirectory: @unchecked Sendable {
    let path: String

    init(_ label: String) {
        var template = Array("\(NSTemporaryDirectory())/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    func join(_ name: String) -> String { path + "/" + name }

    /// The files of a subdirectory, sorted.
    func files(in sub: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: join(sub))) ?? []).sorted().map { join(sub) + "/" + $0 }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The collection most durability tests write: an int64 key, an 4-d vector, a version and a tag.
enum DurabilityFixture {
    static let schema = CollectionSchema(fields: [
        .primaryKey("id"),
        .vector("vec", dim: 4),
        .scalar("version", .int64),
        .scalar("tag", .varchar, maxLength: 64),
    ])

    /// The row of `key` written at `version`; every value follows from both.
    static func row(_ key: Int64, version: Int64) -> [String: FieldValue] {
        ["id": .int(key), "vec": .floatVector(vector(key, version)), "version": .int(version), "tag": .string("k\(key)v\(version)")]
    }

    static func vector(_ key: Int64, _ version: Int64) -> [Float] {
        [Float(key), Float(version % 100_000), Float(key % 7) * 0.5, 1]
    }

    /// Every live row as key → version, checking that the other fields match that version.
    static func contents(_ c: Collection) throws -> (versions: [Int64: Int64], mismatches: [Int64]) {
        let all = try c.query(QueryRequest(filter: "id >= 0", outputFields: ["*"], limit: 16_384))
        var out: [Int64: Int64] = [:]
        var bad: [Int64] = []
        for row in all.rows {
            guard case .int(let k)? = row["id"], case .int(let v)? = row["version"] else { continue }
            out[k] = v
            if row["tag"] != .string("k\(k)v\(v)") || row["vec"] != .floatVector(vector(k, v)) { bad.append(k) }
        }
        return (out, bad)
    }
}
