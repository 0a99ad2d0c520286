import ArgumentParser
import Osprey

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `osprey crash-writer` (hidden): writes to a data directory until it is killed, for the
/// crash test. Before each operation it prints what it is about to do, and after the
/// operation has returned (is acknowledged) it prints `A`:
///
///     P W <version> <key,key,…>   insert or upsert these keys, every field derived from (key, version)
///     P D <key,key,…>             delete these keys
///     A                           the operation above was acknowledged
///
/// Lines go straight to file descriptor 1 with one `write` each, so a kill never leaves an
/// acknowledgement buffered. Rows: `id` INT64, `vec` FLOAT_VECTOR(4) =
/// [key, version % 100000, (key % 7) * 0.5, 1], `version` INT64, `tag` VARCHAR = "k<key>v<version>".
struct CrashWriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash-writer", abstract: "Write to a data directory until killed (crash tests).", shouldDisplay: false)

    @Option(help: "The data directory.") var directory: String
    @Option(help: "Seed of the operations.") var seed: UInt64 = 1
    @Option(help: "Round number; versions written are round * 1000000 + operation.") var round: Int64 = 0
    @Option(help: "Keys are drawn from 0 ..< key-space.") var keySpace: Int64 = 2_000
    @Option(help: "Rows per growing segment (small, so that segments are sealed often).") var segmentRows = 256

    func run() throws {
        let db = try Database.open(at: directory, options: DatabaseOptions(segmentMaxRows: segmentRows))
        let schema = CollectionSchema(fields: [
            .primaryKey("id"), .vector("vec", dim: 4), .scalar("version", .int64), .scalar("tag", .varchar, maxLength: 64),
        ])
        let c = db.hasCollection("crash") ? try db.collection("crash") : try db.createCollection("crash", schema: schema)
        var rng = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next(_ bound: Int64) -> Int64 {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            return Int64(rng % UInt64(bound))
        }
        var op: Int64 = 0
        while true {
            op += 1
            let count = Int(1 + next(20))
            var keys: [Int64] = []
            var seen = Set<Int64>()
            while keys.count < count {
                let k = next(keySpace)
                if seen.insert(k).inserted { keys.append(k) }
            }
            let list = keys.map(String.init).joined(separator: ",")
            let choice = next(10)
            if choice < 7 {
                let version = round * 1_000_000 + op
                emit("P W \(version) \(list)\n")
                let rows: [[String: FieldValue]] = keys.map { k in
                    ["id": .int(k), "vec": .floatVector([Float(k), Float(version % 100_000), Float(k % 7) * 0.5, 1]),
                     "version": .int(version), "tag": .string("k\(k)v\(version)")]
                }
                if choice < 4 { try c.insert(rows) } else { try c.upsert(rows) }
            } else {
                emit("P D \(list)\n")
                try c.delete(ids: keys.map { .int($0) })
            }
            emit("A\n")
            if next(50) == 0 { try c.flush() }
        }
    }

    private func emit(_ line: String) {
        var bytes = Array(line.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { return }
            done += n
        }
    }
}
