import ArgumentParser
import Foundation
import Osprey

/// `osprey engine-bench`: the engine's search path in-process (snapshot, index, merge, ids),
/// the baseline against which the server's per-request cost is measured.
struct EngineBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine-bench",
        abstract: "Load fvecs data into an in-process collection, index it and time single-query searches (release build).")

    @Option(help: "Base vectors (.fvecs).") var base: String
    @Option(help: "Query vectors (.fvecs).") var query: String
    @Option(help: "Ground-truth ids (.ivecs), nearest first; gives recall.") var gt: String?
    @Option(help: "L2, IP or COSINE.") var metric = "L2"
    @Option(help: "Index type (Milvus's name).") var index = "HNSW"
    @Option(help: "Build parameters, e.g. 'M=16,efConstruction=200'.") var build = "M=16,efConstruction=200"
    @Option(help: "Search parameters, e.g. 'ef=64'.") var search = "ef=64"
    @Option(help: "Hits per query.") var k = 10
    @Option(help: "Seconds of searching.") var seconds = 5.0
    @Option(help: "Filtered-search mode: fractions of rows a filter allows, e.g. '1,0.1,0.01,0.001'; recall is measured against an exact filtered search of the same rows.")
    var selectivities: String?
    @Option(help: "Queries per selectivity in filtered-search mode.") var filteredQueries = 200
    @Option(help: "Filtered-search mode: a scalar index type (STL_SORT, INVERTED, BITMAP) to build on the filtered field.")
    var scalarIndex: String?
    @Flag(help: "Also serve the collection over gRPC on loopback and time the same searches through a client, interleaved with the in-process ones (what the server adds per request).")
    var grpc = false

    func run() async throws {
        guard let m = Metric(milvusName: metric) else { throw ValidationError("unknown metric \(metric)") }
        let (dim, baseValues) = try VecsFile.read(base, as: Float.self)
        let (qdim, queryValues) = try VecsFile.read(query, as: Float.self)
        guard qdim == dim else { throw ValidationError("queries have dim \(qdim), base has \(dim)") }
        let rows = baseValues.count / dim, nq = queryValues.count / dim
        let db = Database.inMemory(options: DatabaseOptions(segmentMaxRows: rows + 1))
        let schema = CollectionSchema(fields: [.primaryKey("id"), .vector("v", dim: dim), .scalar("bucket", .int64)])
        let c = try db.createCollection("bench", schema: schema)
        // In filtered mode a second, unindexed copy gives the exact filtered answers.
        let exact = selectivities == nil ? nil : try db.createCollection("exact", schema: schema)
        let clock = ContinuousClock()
        let start = clock.now
        for s in stride(from: 0, to: rows, by: 10_000) {
            let n = min(10_000, rows - s)
            let batch = ColumnBatch(rowCount: n, columns: [
                "id": Column(.int64((s ..< s + n).map(Int64.init))),
                "v": Column(.floatVector(dim: dim, Array(baseValues[s * dim ..< (s + n) * dim]))),
                "bucket": Column(.int64((s ..< s + n).map { Int64($0 % Self.buckets) })),
            ])
            try c.insert(columns: batch)
            try exact?.insert(columns: batch)
        }
        let insertDone = clock.now
        try c.createIndex(field: "v", indexType: index, metric: m, params: try parsePairs(build))
        if let scalarIndex { try c.createIndex(field: "bucket", indexType: scalarIndex) }
        try c.flush()
        c.waitForIndexBuilds()
        let built = clock.now
        let params = try parsePairs(search)
        if let selectivities, let exact {
            try filtered(c, exact: exact, metric: m, params: params, queries: queryValues, dim: dim, nq: nq,
                         selectivities: selectivities, buildSeconds: (built - insertDone).seconds, rows: rows)
            try db.close()
            return
        }
        if grpc {
            try await compareWithServer(c, database: db, metric: m, params: params, queries: queryValues, dim: dim, nq: nq, rows: rows)
            try db.close()
            return
        }
        var latencies: [Double] = []
        var found: [Int: [Int64]] = [:]
        let deadline = clock.now + .milliseconds(Int(seconds * 1000))
        var i = 0
        while clock.now < deadline {
            let q = i % nq
            let t0 = clock.now
            let hits = try c.search(SearchRequest(vectors: [.floatVector(Array(queryValues[q * dim ..< (q + 1) * dim]))],
                                                  limit: k, metric: m, params: params))[0]
            latencies.append((clock.now - t0).seconds * 1000)
            found[q] = hits.ids.map { if case .int(let v) = $0 { v } else { -1 } }
            i += 1
        }
        var recall: Double? = nil
        if let gt {
            let (gdim, truth) = try VecsFile.read(gt, as: Int32.self)
            var sum = 0.0
            for (q, ids) in found {
                let t = Set(truth[q * gdim ..< q * gdim + min(k, gdim)].map(Int64.init))
                sum += Double(ids.filter(t.contains).count) / Double(k)
            }
            recall = sum / Double(found.count)
        }
        latencies.sort()
        let total = latencies.reduce(0, +)
        var out: [String: Any] = [
            "mode": "in-process", "rows": rows, "dim": dim, "index": index, "build": build, "search": search, "k": k,
            "insert_s": (insertDone - start).seconds, "build_s": (built - insertDone).seconds,
            "searches": latencies.count, "qps": Double(latencies.count) / (total / 1000),
            "p50_ms": latencies[latencies.count / 2], "p99_ms": latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
        ]
        if let recall { out["recall"] = recall }
        let json = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
        try db.close()
    }

    /// Rows are spread over this many buckets (`id % buckets`); a filter `bucket < b` allows b/buckets of them.
    static let buckets = 10_000

    /// For each selectivity: recall@k of the indexed, filtered search against the exact filtered
    /// search, and single-thread QPS; one JSON line each.
    private func filtered(_ c: Collection, exact: Collection, metric: Metric, params: [String: String], queries: [Float],
                          dim: Int, nq: Int, selectivities: String, buildSeconds: Double, rows: Int) throws {
        let clock = ContinuousClock()
        for part in selectivities.split(separator: ",") {
            guard let fraction = Double(part), fraction > 0, fraction <= 1 else { throw ValidationError("bad selectivity '\(part)'") }
            let allowed = max(1, Int((fraction * Double(Self.buckets)).rounded()))
            let filter = "bucket < \(allowed)"
            var recallSum = 0.0, seconds = 0.0, short = 0
            let count = min(filteredQueries, nq)
            for q in 0..<count {
                let v: [FieldValue] = [.floatVector(Array(queries[q * dim ..< (q + 1) * dim]))]
                let t0 = clock.now
                let got = try c.search(SearchRequest(vectors: v, limit: k, metric: metric, filter: filter, params: params))[0]
                seconds += (clock.now - t0).seconds
                let truth = try exact.search(SearchRequest(vectors: v, limit: k, metric: metric, filter: filter))[0]
                if got.count < truth.count { short += 1 }
                recallSum += truth.count == 0 ? 1 : Double(Set(got.ids).intersection(truth.ids).count) / Double(truth.count)
            }
            let out: [String: Any] = [
                "mode": "filtered", "rows": rows, "dim": dim, "index": index, "build": build, "search": search, "k": k,
                "selectivity": Double(allowed) / Double(Self.buckets), "filter": filter, "queries": count,
                "recall": recallSum / Double(count), "qps": Double(count) / seconds, "short_results": short,
                "build_s": buildSeconds, "scalar_index": scalarIndex ?? "none",
            ]
            let json = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
            print(String(decoding: json, as: UTF8.self))
            fflush(nil)
        }
    }
}
