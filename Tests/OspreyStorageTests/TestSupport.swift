import Foundation
import OspreyCore
@testable import OspreyStorage

/// A fresh directory under the system temporary directory, removed when released.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init(_ label: String = "osprey-storage") {
        var template = Array("\(NSTemporaryDirectory())/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    func join(_ name: String) -> String { FilePath.join(path, name) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A payload whose bytes are derived from `index`, so replay can check contents.
func testPayload(_ index: Int, size: Int) -> [UInt8] {
    var state = UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ 1
    var bytes = [UInt8](repeating: 0, count: size)
    for i in 0..<size {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        bytes[i] = UInt8(truncatingIfNeeded: state)
    }
    if size >= 8 { withUnsafeBytes(of: UInt64(index).littleEndian) { for j in 0..<8 { bytes[j] = $0[j] } } }
    return bytes
}

/// Replays the whole log into an array of (LSN, payload).
func replayAll(_ wal: WriteAheadLog, from: LSN = LSN(1)) throws -> [(LSN, [UInt8])] {
    var out: [(LSN, [UInt8])] = []
    _ = try wal.replay(from: from) { lsn, payload in out.append((lsn, [UInt8](payload))) }
    return out
}

extension StorageError {
    var corruptionOffset: Int? {
        if case let .corruption(_, offset, _) = self { return offset }
        return nil
    }
}
