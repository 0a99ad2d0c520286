import COspreyKernels
import OspreyCore

/// k-means (Lloyd) over float32 vectors with sampling, for IVF coarse quantizers.
///
/// Trains on at most ``maxPointsPerCentroid`` × k rows drawn with a seeded generator;
/// assignment is a blocked matrix product (squared L2 via norms), split across cores; an empty
/// cluster takes over half of the largest one (its centroid nudged apart), as faiss does.
///
/// Thread safety: stateless functions; safe from any thread.
package enum KMeans {
    /// Rows sampled per centroid (faiss's default is 256).
    package static let maxPointsPerCentroid = 256

    /// `k` centroids (row-major, `k × dim`) of `count` vectors at `vectors`.
    package static func train(vectors: UnsafePointer<Float>, count n: Int, dim: Int, k: Int, iterations: Int = 12,
                               seed: UInt64 = 0x1234_5678, threads: Int = Parallel.cores) -> [Float] {
        precondition(n > 0 && k > 0)
        var rng = SplitMix64(seed: seed)
        // Sample rows (all of them when there are few).
        let m = Swift.min(n, k * maxPointsPerCentroid)
        var rows = Array(0..<n)
        if m < n {
            for i in 0..<m { rows.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
        }
        let sample = UnsafeMutablePointer<Float>.allocate(capacity: m * dim)
        defer { sample.deallocate() }
        for i in 0..<m { (sample + i * dim).update(from: vectors + rows[i] * dim, count: dim) }
        // Initial centroids: k distinct sample rows (repeated when the sample is smaller than k).
        var centroids = [Float](repeating: 0, count: k * dim)
        var order = Array(0..<m)
        for i in 0..<Swift.min(k, m) { order.swapAt(i, i + Int(rng.next() % UInt64(m - i))) }
        for c in 0..<k {
            let src = sample + order[c % m] * dim
            for d in 0..<dim { centroids[c * dim + d] = src[d] }
        }
        let assign = UnsafeMutablePointer<Int32>.allocate(capacity: m)
        defer { assign.deallocate() }
        for _ in 0..<iterations {
            centroids.withUnsafeBufferPointer { cb in
                nearest(queries: sample, count: m, centroids: cb.baseAddress!, k: k, dim: dim, into: assign, threads: threads)
            }
            var sums = [Double](repeating: 0, count: k * dim)
            var sizes = [Int](repeating: 0, count: k)
            for i in 0..<m {
                let c = Int(assign[i])
                sizes[c] += 1
                let v = sample + i * dim
                for d in 0..<dim { sums[c * dim + d] += Double(v[d]) }
            }
            for c in 0..<k where sizes[c] > 0 {
                for d in 0..<dim { centroids[c * dim + d] = Float(sums[c * dim + d] / Double(sizes[c])) }
            }
            // Split the largest cluster into each empty one.
            for c in 0..<k where sizes[c] == 0 {
                let big = sizes.indices.max { sizes[$0] < sizes[$1] }!
                for d in 0..<dim {
                    let eps: Float = 1 / 1024
                    let v = centroids[big * dim + d]
                    centroids[c * dim + d] = v * (1 + eps) + ((d & 1) == 0 ? eps : -eps)
                    centroids[big * dim + d] = v * (1 - eps) - ((d & 1) == 0 ? eps : -eps)
                }
                sizes[c] = sizes[big] / 2
                sizes[big] -= sizes[c]
            }
        }
        return centroids
    }

    /// For each of `count` queries, the index of the nearest centroid by squared L2 (or by largest
    /// inner product when `innerProduct` is true).
    package static func nearest(queries: UnsafePointer<Float>, count: Int, centroids: UnsafePointer<Float>, k: Int, dim: Int,
                                into out: UnsafeMutablePointer<Int32>, threads: Int, innerProduct: Bool = false) {
        let cn = UnsafeMutablePointer<Float>.allocate(capacity: k)
        defer { cn.deallocate() }
        osp_f32_norms_sq(centroids, k, dim, cn)
        let gemm = osp_gemm_select(Int32(OSP_ISA_BEST))!
        let shared = UncheckedSendable((queries, centroids, out, UnsafePointer(cn)))
        Parallel.forChunks(count: count, threads: threads, minChunk: 64) { range in
            let (q, c, o, norms) = shared.value
            let tq = 64
            let tile = UnsafeMutablePointer<Float>.allocate(capacity: tq * k)
            defer { tile.deallocate() }
            var i0 = range.lowerBound
            while i0 < range.upperBound {
                let nq = Swift.min(tq, range.upperBound - i0)
                gemm(q + i0 * dim, nq, c, k, dim, tile, k)
                for i in 0..<nq {
                    var best = Float.infinity, arg = 0
                    let row = tile + i * k
                    for j in 0..<k {
                        // |q|² is the same for every centroid, so it is left out.
                        let d = innerProduct ? -row[j] : norms[j] - 2 * row[j]
                        if d < best { best = d; arg = j }
                    }
                    o[i0 + i] = Int32(arg)
                }
                i0 += nq
            }
        }
    }
}
