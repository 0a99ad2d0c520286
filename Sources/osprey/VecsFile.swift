import ArgumentParser
import Foundation

/// The classic `.fvecs` / `.ivecs` files: each record is `dim` as a little-endian Int32
/// followed by `dim` 4-byte elements.
enum VecsFile {
    /// Reads every record; all must have the same dimension.
    static func read<T>(_ path: String, as _: T.Type) throws -> (dim: Int, values: [T]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        guard data.count >= 4 else { throw ValidationError("\(path) is empty") }
        let dim = Int(data.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
        let record = 4 + dim * 4
        guard dim > 0, data.count % record == 0 else { throw ValidationError("\(path) is not a vecs file of dim \(dim)") }
        let n = data.count / record
        var values: [T] = []
        values.reserveCapacity(n * dim)
        try data.withUnsafeBytes { raw in
            for i in 0..<n {
                guard raw.loadUnaligned(fromByteOffset: i * record, as: Int32.self) == Int32(dim) else {
                    throw ValidationError("\(path): record \(i) has another dimension")
                }
                for j in 0..<dim { values.append(raw.loadUnaligned(fromByteOffset: i * record + 4 + j * 4, as: T.self)) }
            }
        }
        return (dim, values)
    }
}
