import ArgumentParser
import Foundation
import OspreyCore
import OspreyIndex

/// `osprey bench`: builds an index over fvecs data, sweeps a search parameter and prints one JSON
/// line per setting (recall against the ground-truth file, QPS, build time, memory).
///
/// Thread safety: a command value run once from `main`.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmark a vector index on fvecs/ivecs files (use a release build).")

    @Option(help: "Base vectors (.fvecs).") var base: String
    @Option(help: "Query vectors (.fvecs).") var query: String
    @Option(help: "Ground-truth neighbour ids (.ivecs), nearest first.") var gt: String
    @Option(help: "L2, IP or COSINE.") var metric: String = "L2"
    @Option(help: "Index type (Milvus name): FLAT, HNSW, ...") var index: String = "HNSW"
    @Option(help: "Build params, e.g. 'M=16,efConstruction=200'.") var build: String = ""
    @Option(help: "One search param and its values, e.g. 'ef=16,32,64'.") var sweep: String = ""
    @Option(help: "Search params fixed for every setting of the sweep, e.g. 'refine_k=4'; several sets separated by ';' are each swept.")
    var search: String = ""
    @Option(help: "Neighbours per query.") var k: Int = 10
    @Flag(help: "All queries in one call (default: one query per call).") var batch = false
    @Option(help: "Search threads (single mode: concurrent callers; batch mode: workers). Default 1 for single, all cores for batch.")
    var threads: Int?
    @Option(help: "Build threads (default: all cores).") var buildThreads: Int?
    @Option(help: "Use only the first N base vectors (the ground truth must match).") var limit: Int?
    @Option(name: .customLong("repeat"), help: "Run each setting this many times and report the fastest (steadier on a busy machine).")
    var repeats: Int = 1

    func run() async throws {
        let (dim, baseVectors) = try VecsFile.read(base, as: Float.self)
        let (qdim, queries) = try VecsFile.read(query, as: Float.self)
        let (_, truthFlat) = try VecsFile.read(gt, as: Int32.self)
        guard dim == qdim else { throw ValidationError("base dim \(dim) != query dim \(qdim)") }
        let nq = queries.count / dim
        let gtK = truthFlat.count / max(nq, 1)
        guard gtK >= k else { throw ValidationError("ground truth has \(gtK) neighbours per query, fewer than k=\(k)") }
        let truth = (0..<nq).map { Array(truthFlat[($0 * gtK)..<($0 * gtK + k)].map(Int.init)) }
        let n = min(limit ?? Int.max, baseVectors.count / dim)

        let params = try parsePairs(build)
        let config = try IndexConfiguration(indexType: index, metricType: metric, params: params, type: .floatVector, dim: dim)
        let idx: any VectorIndex = config.indexType == .hnsw
            ? try HNSWIndex(config, buildThreads: buildThreads) : try IndexFactory.make(config)
        let source = try ContiguousVectorSource(floats: Array(baseVectors[0..<(n * dim)]), dim: dim)
        let t0 = Date(), c0 = processCPUSeconds()
        try idx.train(source)
        try idx.add(source)
        let buildSeconds = Date().timeIntervalSince(t0), buildCPU = processCPUSeconds() - c0
        let mib = Double(idx.memoryBytes) / 1_048_576

        let sweepKey: String, sweepValues: [String]
        if sweep.isEmpty {
            sweepKey = ""; sweepValues = [""]
        } else {
            let parts = sweep.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--sweep must look like 'ef=16,32'") }
            sweepKey = parts[0]
            sweepValues = parts[1].split(separator: ",").map(String.init)
        }
        let searchThreads = threads ?? (batch ? ProcessInfo.processInfo.activeProcessorCount : 1)
        let fixedSets = try search.split(separator: ";", omittingEmptySubsequences: false).map { try parsePairs(String($0)) }
        for (fixed, value) in fixedSets.flatMap({ f in sweepValues.map { (f, $0) } }) {
            var sp = fixed
            if !sweepKey.isEmpty { sp[sweepKey] = value }
            var p = try SearchParameters(k: k, milvusParams: sp)
            var results = [[Neighbor]](repeating: [], count: nq)
            var seconds = Double.infinity, cpuSeconds = Double.infinity
            for _ in 0..<max(1, self.repeats) {
                let start = Date(), cpuStart = processCPUSeconds()
                if batch {
                    p.threads = searchThreads
                    results = try idx.search(floats: queries, parameters: p)
                } else {
                    p.threads = 1
                    results = try singleQueries(idx, queries: queries, dim: dim, parameters: p, callers: searchThreads)
                }
                seconds = min(seconds, Date().timeIntervalSince(start))
                cpuSeconds = min(cpuSeconds, processCPUSeconds() - cpuStart)
            }
            var hits = 0
            for (r, t) in zip(results, truth) {
                let want = Set(t)
                hits += r.prefix(k).filter { want.contains($0.row.index) }.count
            }
            let line: [String: Any] = [
                "index": config.indexType.rawValue, "metric": config.metric.rawValue, "n": n, "dim": dim, "nq": nq,
                "build": params, "search": sp, "k": k,
                "recall": Double(hits) / Double(nq * k), "qps": Double(nq) / seconds,
                "mode": batch ? "batch" : "single", "threads": searchThreads,
                "build_s": buildSeconds, "build_cpu_s": buildCPU, "qps_cpu": Double(nq) / cpuSeconds, "index_mib": mib, "repeat": max(1, self.repeats),
            ]
            let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// One query per call; `callers` threads issue calls concurrently.
    func singleQueries(_ idx: any VectorIndex, queries: [Float], dim: Int, parameters: SearchParameters, callers: Int) throws -> [[Neighbor]] {
        let nq = queries.count / dim
        let box = ResultBox(count: nq)
        let per = (nq + callers - 1) / callers
        DispatchQueue.concurrentPerform(iterations: callers) { w in
            queries.withUnsafeBytes { raw in
                for qi in (w * per)..<min(nq, (w + 1) * per) {
                    let q = UnsafeRawBufferPointer(rebasing: raw[(qi * dim * 4)..<((qi + 1) * dim * 4)])
                    box.set(qi, (try? idx.search(queries: q, parameters: parameters))?.first ?? [])
                }
            }
        }
        return box.take()
    }
}

/// Collects per-query results written by concurrent callers (each writes distinct slots).
///
/// Thread safety: `set` from many threads on distinct indices; `take` after they finish.
private final class ResultBox: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<[Neighbor]>
    private let count: Int
    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [], count: count)
    }
    func set(_ i: Int, _ r: [Neighbor]) { slots[i] = r }
    func take() -> [[Neighbor]] { Array(UnsafeBufferPointer(start: slots, count: count)) }
    deinit { slots.deinitialize(count: count); slots.deallocate() }
}

/// CPU seconds used by this process so far (all threads): robust to other work on the machine.
private func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// `a=1,b=2` → ["a": "1", "b": "2"].
func parsePairs(_ s: String) throws -> [String: String] {
    var out: [String: String] = [:]
    for part in s.split(separator: ",") where !part.isEmpty {
        let kv = part.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
        guard kv.count == 2 else { throw ValidationError("bad parameter '\(part)'; expected name=value") }
        out[kv[0]] = kv[1]
    }
    return out
}
