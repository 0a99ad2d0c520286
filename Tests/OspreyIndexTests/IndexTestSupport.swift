import OspreyCore
import OspreyIndex
import OspreyTestSupport

/// A small float32 dataset with queries and exact ground truth, shared by index tests.
struct SmallDataset {
    let dim: Int
    let base: [Float]
    let queries: [Float]
    let metric: Metric
    let truth: [[Int]]
    var count: Int { base.count / dim }

    init(count: Int, queries nq: Int, dim: Int, metric: Metric, k: Int, seed: UInt64) {
        print("dataset \(count)x\(dim) \(metric) seed \(seed)")
        self.dim = dim
        self.metric = metric
        base = VectorDatasets.clustered(count: count, dim: dim, clusters: 20, seed: seed)
        queries = VectorDatasets.clustered(count: nq, dim: dim, clusters: 20, seed: seed)  // same centres
            .enumerated().map { $0.element + 0.05 * Float(($0.offset * 7919) % 13) / 13 }
        truth = VectorGroundTruth.nearest(base: base, queries: queries, dim: dim, k: k, metric: metric)
    }

    func source() throws -> ContiguousVectorSource { try ContiguousVectorSource(floats: base, dim: dim) }
}

func rows(_ results: [[Neighbor]]) -> [[Int]] { results.map { $0.map(\.row.index) } }
