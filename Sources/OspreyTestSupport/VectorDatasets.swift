import Foundation
import OspreyCore

/// A seeded generator (SplitMix64) with float helpers, so datasets are reproducible.
///
/// Thread safety: a value type; use one per thread.
package struct VectorRNG: RandomNumberGenerator, Sendable {
    private var base: SplitMix64
    package init(seed: UInt64) { base = SplitMix64(seed: seed) }
    package mutating func next() -> UInt64 { base.next() }
    /// A uniform float in [0, 1).
    package mutating func unit() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }
    /// A standard normal float (Box–Muller).
    package mutating func gaussian() -> Float {
        let u1 = Swift.max(unit(), 1e-7), u2 = unit()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
    }
}

/// Seeded synthetic vector datasets for tests and benchmarks.
///
/// Thread safety: stateless functions; safe from any thread.
package enum VectorDatasets {
    /// `count` vectors of `dim` floats drawn around `clusters` Gaussian centres (row-major).
    package static func clustered(count: Int, dim: Int, clusters: Int, spread: Float = 0.35, seed: UInt64) -> [Float] {
        var rng = VectorRNG(seed: seed)
        var centres = [Float](repeating: 0, count: clusters * dim)
        for i in centres.indices { centres[i] = rng.gaussian() }
        var out = [Float](repeating: 0, count: count * dim)
        for r in 0..<count {
            let c = Int(rng.next() % UInt64(clusters))
            for d in 0..<dim { out[r * dim + d] = centres[c * dim + d] + spread * rng.gaussian() }
        }
        return out
    }

    /// `count` vectors of `dim` standard-normal floats.
    package static func gaussian(count: Int, dim: Int, seed: UInt64) -> [Float] {
        var rng = VectorRNG(seed: seed)
        return (0..<(count * dim)).map { _ in rng.gaussian() }
    }

    /// `count` random binary vectors of `dim` bits (`dim / 8` bytes each).
    package static func binary(count: Int, dim: Int, seed: UInt64) -> [UInt8] {
        var rng = VectorRNG(seed: seed)
        return (0..<(count * dim / 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// Scales each `dim`-float row to unit length (zero rows stay zero).
    package static func normalize(_ v: inout [Float], dim: Int) {
        for r in 0..<(v.count / dim) {
            var s: Float = 0
            for d in 0..<dim { s += v[r * dim + d] * v[r * dim + d] }
            guard s > 0 else { continue }
            let inv = 1 / s.squareRoot()
            for d in 0..<dim { v[r * dim + d] *= inv }
        }
    }
}

/// Brute-force ground truth and recall, independent of the kernels under test.
///
/// Thread safety: stateless functions; safe from any thread.
package enum VectorGroundTruth {
    /// Plain float32 distance in the internal convention (smaller is better).
    package static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dim: Int, metric: Metric) -> Float {
        var dot: Double = 0, na: Double = 0, nb: Double = 0, l2: Double = 0
        for i in 0..<dim {
            let x = Double(a[i]), y = Double(b[i])
            dot += x * y; na += x * x; nb += y * y; l2 += (x - y) * (x - y)
        }
        switch metric {
        case .l2: return Float(l2)
        case .ip: return Float(-dot)
        case .cosine: return na == 0 || nb == 0 ? 0 : Float(-dot / (na * nb).squareRoot())
        case .hamming, .jaccard: return .nan
        }
    }

    /// The `k` nearest base rows of every query, best first (ties by row).
    package static func nearest(base: [Float], queries: [Float], dim: Int, k: Int, metric: Metric) -> [[Int]] {
        let n = base.count / dim, nq = queries.count / dim
        return base.withUnsafeBufferPointer { b in
            queries.withUnsafeBufferPointer { q in
                (0..<nq).map { qi in
                    var top = TopK(k: k)
                    for r in 0..<n {
                        top.push(distance: distance(q.baseAddress! + qi * dim, b.baseAddress! + r * dim, dim: dim, metric: metric),
                                 row: RowID(r))
                    }
                    return top.sortedResults().map { $0.row.index }
                }
            }
        }
    }

    /// Mean recall@k: the share of each truth's first `k` rows found among the result's first `k`.
    package static func recall(results: [[Int]], truth: [[Int]], k: Int) -> Double {
        precondition(results.count == truth.count, "result and truth counts differ")
        guard !truth.isEmpty, k > 0 else { return 1 }
        var hits = 0, total = 0
        for (r, t) in zip(results, truth) {
            let want = Set(t.prefix(k))
            hits += r.prefix(k).filter { want.contains($0) }.count
            total += want.count
        }
        return total == 0 ? 1 : Double(hits) / Double(total)
    }
}
