import ArgumentParser
import Foundation
import Osprey
#if OSPREY_WITH_SERVER
import OspreyServer
#endif

extension EngineBenchCommand {
    /// `--grpc`: the same single-query searches in-process and through a gRPC client on
    /// loopback, interleaved one for one so both see the same machine load; prints one JSON
    /// line with both latency distributions and what the server adds (p50 and mean).
    func compareWithServer(_ c: Collection, database db: Database, metric: Metric, params: [String: String], queries: [Float],
                           dim: Int, nq: Int, rows: Int) async throws {
        #if OSPREY_WITH_SERVER
        let name = c.name
        let seconds = self.seconds, k = self.k, index = self.index, build = self.build, search = self.search
        let (local, remote, mismatches) = try await LoopbackSearchClient.withServer(database: db) { client in
            let clock = ContinuousClock()
            var local: [Double] = [], remote: [Double] = []
            var mismatches = 0
            // A short warm-up: connection set-up, first allocations, worker threads.
            for q in 0..<min(nq, 50) {
                _ = try await client.search(collection: name, field: "v", vector: Array(queries[q * dim ..< (q + 1) * dim]),
                                            limit: k, metric: metric, params: params)
            }
            let deadline = clock.now + .milliseconds(Int(seconds * 1000))
            var i = 0
            while clock.now < deadline {
                let q = i % nq
                let vector = Array(queries[q * dim ..< (q + 1) * dim])
                let t0 = clock.now
                let inProcess = try c.search(SearchRequest(vectors: [.floatVector(vector)], limit: k, metric: metric, params: params))[0]
                let t1 = clock.now
                let overGRPC = try await client.search(collection: name, field: "v", vector: vector, limit: k, metric: metric, params: params)
                let t2 = clock.now
                local.append((t1 - t0).seconds * 1000)
                remote.append((t2 - t1).seconds * 1000)
                if inProcess.ids.map({ if case .int(let v) = $0 { v } else { -1 } }) != overGRPC { mismatches += 1 }
                i += 1
            }
            return (local, remote, mismatches)
        }
        func summary(_ values: [Double]) -> (p50: Double, p99: Double, mean: Double) {
            let s = values.sorted()
            return (s[s.count / 2], s[min(s.count - 1, s.count * 99 / 100)], s.reduce(0, +) / Double(s.count))
        }
        let l = summary(local), r = summary(remote)
        let out: [String: Any] = [
            "mode": "in-process vs grpc", "rows": rows, "dim": dim, "index": index, "build": build, "search": search, "k": k,
            "searches": local.count, "in_process_p50_ms": l.p50, "in_process_p99_ms": l.p99, "in_process_mean_ms": l.mean,
            "grpc_p50_ms": r.p50, "grpc_p99_ms": r.p99, "grpc_mean_ms": r.mean,
            "added_p50_ms": r.p50 - l.p50, "added_mean_ms": r.mean - l.mean, "result_mismatches": mismatches,
        ]
        let json = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
        #else
        throw ValidationError("--grpc needs the server, which this build leaves out (OSPREY_CORE_ONLY)")
        #endif
    }
}
