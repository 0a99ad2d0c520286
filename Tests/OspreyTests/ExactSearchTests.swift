import Testing
@testable import Osprey
import OspreyCore
import OspreyTestSupport

/// Exact search against a brute-force reference computed in Double precision.
@Suite struct ExactSearchTests {
    static let seed: UInt64 = 20_261_125
    static let rows = 700
    static let dim = 24
    static let queries = 12
    static let k = 10

    static func referenceDistance(_ a: [Float], _ b: [Float], _ m: Metric) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0, l2 = 0.0
        for i in a.indices {
            let x = Double(a[i]), y = Double(b[i])
            dot += x * y; na += x * x; nb += y * y; l2 += (x - y) * (x - y)
        }
        switch m {
        case .l2: return l2
        case .ip: return -dot
        case .cosine: return (na == 0 || nb == 0) ? 0 : -dot / (na.squareRoot() * nb.squareRoot())
        default: fatalError()
        }
    }

    static func referenceBinary(_ a: [UInt8], _ b: [UInt8], _ m: Metric) -> Double {
        var diff = 0, inter = 0, uni = 0
        for i in a.indices {
            diff += (a[i] ^ b[i]).nonzeroBitCount
            inter += (a[i] & b[i]).nonzeroBitCount
            uni += (a[i] | b[i]).nonzeroBitCount
        }
        return m == .hamming ? Double(diff) : (uni == 0 ? 0 : 1 - Double(inter) / Double(uni))
    }

    /// Checks that `hits` are exactly the k best by the reference (ties may swap ids).
    static func check(_ hits: SearchHits, truth: [(Int64, Double)], metric: Metric) {
        let sorted = truth.sorted { $0.1 < $1.1 }
        let expected = sorted.prefix(k).map { metric.score(fromDistance: Float($0.1)) }
        #expect(hits.count == min(k, truth.count))
        let byID = Dictionary(uniqueKeysWithValues: truth)
        for (i, id) in hits.ids.enumerated() {
            guard case .int(let key) = id else { Issue.record("unexpected key"); continue }
            let d = byID[key]!
            let score = metric.score(fromDistance: Float(d))
            #expect(abs(hits.scores[i] - score) <= 1e-3 * max(1, abs(score)), "score of \(key)")
            #expect(abs(hits.scores[i] - expected[i]) <= 1e-3 * max(1, abs(expected[i])), "rank \(i)")
        }
    }

    @Test(arguments: [Metric.l2, .ip, .cosine])
    func floatMetrics(metric: Metric) throws {
        print("ExactSearchTests seed \(Self.seed) metric \(metric)")
        let base = VectorDatasets.gaussian(count: Self.rows, dim: Self.dim, seed: Self.seed)
        let qs = VectorDatasets.gaussian(count: Self.queries, dim: Self.dim, seed: Self.seed + 1)
        // Small segments so that the search merges across several of them.
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 256))
        let c = try db.createCollection("f", schema: CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: Self.dim)]))
        let vec = { (i: Int, a: [Float]) in Array(a[i * Self.dim ..< (i + 1) * Self.dim]) }
        try c.insert(columns: ColumnBatch(rowCount: Self.rows, columns: [
            "id": Column(.int64((0..<Self.rows).map(Int64.init))),
            "v": Column(.floatVector(dim: Self.dim, base)),
        ]))
        let req = SearchRequest(vectors: (0..<Self.queries).map { .floatVector(vec($0, qs)) }, limit: Self.k, metric: metric)
        let result = try c.search(req)
        #expect(result.count == Self.queries)
        for q in 0..<Self.queries {
            let truth = (0..<Self.rows).map { (Int64($0), Self.referenceDistance(vec(q, qs), vec($0, base), metric)) }
            Self.check(result[q], truth: truth, metric: metric)
        }
    }

    @Test(arguments: [Metric.hamming, .jaccard])
    func binaryMetrics(metric: Metric) throws {
        print("ExactSearchTests seed \(Self.seed) metric \(metric)")
        let dim = 64, bytes = dim / 8
        let base = VectorDatasets.binary(count: Self.rows, dim: dim, seed: Self.seed)
        let qs = VectorDatasets.binary(count: Self.queries, dim: dim, seed: Self.seed + 7)
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: 300))
        let c = try db.createCollection("b", schema: CollectionSchema(fields: [.primaryKey("id"), .vector("v", .binaryVector, dim: dim)]))
        try c.insert(columns: ColumnBatch(rowCount: Self.rows, columns: [
            "id": Column(.int64((0..<Self.rows).map(Int64.init))),
            "v": Column(.binaryVector(dim: dim, base)),
        ]))
        let vec = { (i: Int, a: [UInt8]) in Array(a[i * bytes ..< (i + 1) * bytes]) }
        let result = try c.search(SearchRequest(vectors: (0..<Self.queries).map { .binaryVector(vec($0, qs)) }, limit: Self.k, metric: metric))
        for q in 0..<Self.queries {
            let truth = (0..<Self.rows).map { (Int64($0), Self.referenceBinary(vec(q, qs), vec($0, base), metric)) }
            Self.check(result[q], truth: truth, metric: metric)
        }
    }

    @Test func rangeSearchReturnsOnlyHitsInBounds() throws {
        let base = VectorDatasets.gaussian(count: 300, dim: 8, seed: Self.seed)
        let db = Database.inMemory()
        let c = try db.createCollection("r", schema: CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: 8)]))
        try c.insert(columns: ColumnBatch(rowCount: 300, columns: [
            "id": Column(.int64((0..<300).map(Int64.init))), "v": Column(.floatVector(dim: 8, base)),
        ]))
        let q = Array(base[0..<8])
        let l2 = try c.search(SearchRequest(vectors: [.floatVector(q)], limit: 300, metric: .l2, params: ["radius": "8", "range_filter": "2"]))[0]
        let truthL2 = (0..<300).map { Self.referenceDistance(q, Array(base[$0 * 8 ..< $0 * 8 + 8]), .l2) }.filter { $0 >= 2 && $0 < 8 }
        #expect(l2.count == truthL2.count)
        #expect(l2.scores.allSatisfy { $0 >= 2 && $0 < 8 })
        let ip = try c.search(SearchRequest(vectors: [.floatVector(q)], limit: 300, metric: .ip, params: ["radius": "1", "range_filter": "3"]))[0]
        #expect(ip.scores.allSatisfy { $0 > 1 && $0 <= 3 })
        let truthIP = (0..<300).map { -Self.referenceDistance(q, Array(base[$0 * 8 ..< $0 * 8 + 8]), .ip) }.filter { $0 > 1 && $0 <= 3 }
        #expect(ip.count == truthIP.count)
        #expect(throws: OspreyError.self) {
            try c.search(SearchRequest(vectors: [.floatVector(q)], metric: .l2, params: ["radius": "1", "range_filter": "3"]))
        }
    }

    @Test func offsetOutputFieldsAndErrors() throws {
        let db = Database.inMemory()
        let s = CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: 2), .scalar("tag", .varchar, maxLength: 8)], enableDynamicField: true)
        let c = try db.createCollection("o", schema: s)
        try c.insert((0..<20).map { ["id": .int($0), "v": .floatVector([Float($0), 0]), "tag": .string("t\($0)"), "extra": .int($0 * 10)] })
        let q: [FieldValue] = [.floatVector([0, 0])]
        let first = try c.search(SearchRequest(vectors: q, limit: 5, metric: .l2, outputFields: ["tag", "extra"]))[0]
        #expect(first.ids == (0..<5).map { .int(Int64($0)) })
        #expect(first.row(2)["tag"] == .string("t2"))
        #expect(first.row(2)["extra"] == .json(.int(20)))
        let paged = try c.search(SearchRequest(vectors: q, limit: 5, metric: .l2, offset: 5))[0]
        #expect(paged.ids == (5..<10).map { .int(Int64($0)) })
        let rounded = try c.search(SearchRequest(vectors: [.floatVector([0.123456, 0])], limit: 1, metric: .l2, roundDecimal: 2))[0]
        #expect(rounded.scores[0] == 0.02)
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: [.floatVector([0, 0, 0])])) }
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: q, limit: 0)) }
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: q, metric: .hamming)) }
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: [.floatVector([.nan, 0])])) }
        #expect(throws: OspreyError.self) { try c.search(SearchRequest(vectors: q, field: "tag")) }
        let noDyn = try db.createCollection("n", schema: CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: 2)]))
        try noDyn.insert([["id": 1, "v": .floatVector([1, 1])]])
        #expect(throws: OspreyError.self) { try noDyn.search(SearchRequest(vectors: q, outputFields: ["nope"])) }
    }

    @Test func halfPrecisionAndInt8Fields() throws {
        let db = Database.inMemory()
        let s = CollectionSchema(fields: [.primaryKey("id"), .vector("h", .float16Vector, dim: 4), .vector("b", .bfloat16Vector, dim: 4), .vector("i", .int8Vector, dim: 4)])
        let c = try db.createCollection("h", schema: s)
        try c.insert((0..<10).map { i in
            let f = Float(i)
            return ["id": .int(Int64(i)), "h": .floatVector([f, 1, 0, 0]), "b": .floatVector([f, 1, 0, 0]), "i": .int8Vector([Int8(i), 1, 0, 0])]
        })
        for field in ["h", "b"] {
            let hits = try c.search(SearchRequest(vectors: [.floatVector([3, 1, 0, 0])], field: field, limit: 3, metric: .l2))[0]
            #expect(hits.ids.first == .int(3))
            #expect(hits.scores.first == 0)
        }
        let hits = try c.search(SearchRequest(vectors: [.int8Vector([5, 1, 0, 0])], field: "i", limit: 1, metric: .l2))[0]
        #expect(hits.ids == [.int(5)])
    }

    @Test func sparseInnerProduct() throws {
        let db = Database.inMemory()
        let s = CollectionSchema(fields: [.primaryKey("id"), .sparseVector("sp")])
        let c = try db.createCollection("sp", schema: s)
        try c.insert((0..<20).map { i in
            ["id": .int(Int64(i)), "sp": .sparseVector(try! SparseVector([(UInt32(i), 1), (100, Float(i) / 10)]))]
        })
        let q = try SparseVector([(5, 2), (100, 1)])
        let hits = try c.search(SearchRequest(vectors: [.sparseVector(q)], limit: 3))[0]
        #expect(hits.ids.first == .int(5))  // 2 + 0.5
        #expect(abs(hits.scores[0] - 2.5) < 1e-6)
        #expect(hits.ids[1] == .int(19))  // 1.9
        // Rows that share no dimension with the query are not hits at all.
        let disjoint = try SparseVector([(5000, 1)])
        #expect(try c.search(SearchRequest(vectors: [.sparseVector(disjoint)], limit: 3))[0].count == 0)
        let one = try c.search(SearchRequest(vectors: [.sparseVector(try SparseVector([(3, 1)]))], limit: 3))[0]
        #expect(one.ids == [.int(3)])
    }
}
