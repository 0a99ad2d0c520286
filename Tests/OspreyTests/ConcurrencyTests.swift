import Dispatch
import Synchronization
import Testing
@testable import Osprey
import OspreyCore

/// Readers running while a writer upserts must always see whole rows and a consistent set:
/// every key exactly once, every row's fields from the same write.
@Suite struct ConcurrencyTests {
    static let keys = 1_000
    static let rounds = 150
    static let minimumReads = 60

    static func row(_ id: Int, version: Int) -> [String: FieldValue] {
        ["id": .int(Int64(id)), "v": .floatVector([Float(id), 1, 0, Float(version)]), "ver": .int(Int64(version)),
         "name": .string("v\(version)-\(id)")]
    }

    static func checkRow(_ r: [String: FieldValue]) -> Bool {
        guard case .int(let id) = r["id"], case .int(let ver) = r["ver"], case .string(let name) = r["name"],
              case .floatVector(let v) = r["v"] else { return false }
        return name == "v\(ver)-\(id)" && v == [Float(id), 1, 0, Float(ver)]
    }

    @Test func readersSeeConsistentSnapshotsDuringUpserts() throws {
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 4_096))
        let schema = CollectionSchema(fields: [
            .primaryKey("id"), .vector("v", dim: 4), .scalar("ver", .int64), .scalar("name", .varchar, maxLength: 32),
        ])
        let c = try db.createCollection("c", schema: schema)
        try c.insert((0..<Self.keys).map { Self.row($0, version: 0) })

        let done = Atomic<Bool>(false)
        let failures = Mutex<[String]>([])
        let reads = Atomic<Int>(0)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            var rng = SystemRandomNumberGenerator()
            // Keep writing until the readers have done a fair amount of reading alongside.
            var version = 0
            while version < Self.rounds || reads.load(ordering: .relaxed) < Self.minimumReads {
                version += 1
                let ids = (0..<50).map { _ in Int.random(in: 0..<Self.keys, using: &rng) }
                do { try c.upsert(ids.map { Self.row($0, version: version) }) } catch {
                    failures.withLock { $0.append("upsert: \(error)") }
                }
            }
            done.store(true, ordering: .releasing)
        }
        for reader in 0..<3 {
            DispatchQueue.global().async(group: group) {
                repeat {
                    do {
                        switch reader {
                        case 0:
                            let n = try c.count()
                            if n != Self.keys { failures.withLock { $0.append("count \(n)") } }
                        case 1:
                            let q = try c.query(QueryRequest(outputFields: ["*"], limit: Self.keys + 10))
                            let ids = Set(q.rows.map { $0["id"]! })
                            if q.count != Self.keys || ids.count != Self.keys { failures.withLock { $0.append("query returned \(q.count) rows, \(ids.count) keys") } }
                            if let bad = q.rows.first(where: { !Self.checkRow($0) }) { failures.withLock { $0.append("torn row \(bad)") } }
                        default:
                            let hits = try c.search(SearchRequest(vectors: [.floatVector([500, 1, 0, 0])], limit: 20, metric: .l2,
                                                                  outputFields: ["ver", "name", "v"]))[0]
                            if Set(hits.ids).count != hits.count || hits.count != 20 { failures.withLock { $0.append("search returned duplicates") } }
                            for i in 0..<hits.count {
                                var r = hits.row(i)
                                r["id"] = FieldValue(hits.ids[i])
                                if !Self.checkRow(r) { failures.withLock { $0.append("torn hit \(r)") } }
                            }
                        }
                        reads.add(1, ordering: .relaxed)
                    } catch {
                        failures.withLock { $0.append("read: \(error)") }
                    }
                } while !done.load(ordering: .acquiring)
            }
        }
        group.wait()
        let f = failures.withLock { $0 }
        #expect(f.isEmpty, "\(f.prefix(5))")
        #expect(reads.load(ordering: .relaxed) >= Self.minimumReads)
        #expect(try c.count() == Self.keys)
    }
}

extension FieldValue {
    init(_ key: PrimaryKey) {
        switch key {
        case .int(let i): self = .int(i)
        case .string(let s): self = .string(s)
        }
    }
}
