import Foundation
import OspreyCore

/// Per-search knobs: `k`, the HNSW `ef`, the IVF `nprobe`, and an optional filter of allowed rows.
///
/// Milvus sends search parameters as strings (`{"ef": "64"}`); ``init(k:milvusParams:filter:)``
/// parses and checks them. A knob an index does not use is ignored, as in Milvus.
///
/// Thread safety: a value type; safe to share.
package struct SearchParameters: Sendable {
    /// Results wanted per query (Milvus `limit`, 1...16384).
    package var k: Int
    /// HNSW: candidates kept while searching (≥ k); nil → max(k, 64).
    package var ef: Int?
    /// IVF: lists probed per query; nil → 8.
    package var nprobe: Int?
    /// IVF_PQ built with `refine`: candidates re-ranked with exact distances (≥ k); nil → from
    /// `refineK`.
    package var reorderK: Int?
    /// IVF_PQ built with `refine`: candidates re-ranked with exact distances, as a multiple of `k`
    /// (Milvus's `refine_k`, ≥ 1); nil → 1 (the `k` best by code distance, re-ranked).
    package var refineK: Double?
    /// Row positions that may be returned (bit set = allowed); nil allows every row.
    package var filter: Bitset?
    /// Worker threads for a batch of queries (nil → every core).
    package var threads: Int?

    /// The largest `k` Milvus accepts.
    package static let maxK = 16384
    /// The largest `ef` accepted.
    package static let maxEf = 32768

    package init(k: Int, ef: Int? = nil, nprobe: Int? = nil, reorderK: Int? = nil, refineK: Double? = nil, filter: Bitset? = nil,
                 threads: Int? = nil) {
        self.k = k
        self.ef = ef
        self.nprobe = nprobe
        self.reorderK = reorderK
        self.refineK = refineK
        self.filter = filter
        self.threads = threads
    }

    /// Parses Milvus's search params (`ef`, `nprobe`, `reorder_k`, `refine_k`), all string-valued.
    package init(k: Int, milvusParams: [String: String], filter: Bitset? = nil) throws(IndexError) {
        self.init(k: k, filter: filter)
        for (key, value) in milvusParams {
            switch key.lowercased() {
            case "ef": ef = try parseInt(key, value, in: 1...SearchParameters.maxEf)
            case "nprobe": nprobe = try parseInt(key, value, in: 1...65536)
            case "reorder_k": reorderK = try parseInt(key, value, in: 1...SearchParameters.maxEf)
            case "refine_k":
                guard let v = Double(value.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                    throw .invalidParameter(name: key, value: value, reason: "not a number")
                }
                refineK = v
            default: continue
            }
        }
        try validate()
    }

    /// Checks the combination: k in range, ef ≥ k, reorder_k ≥ k, refine_k ≥ 1.
    package func validate() throws(IndexError) {
        guard k >= 1, k <= SearchParameters.maxK else {
            throw .invalidParameter(name: "limit", value: String(k), reason: "must be in 1...\(SearchParameters.maxK)")
        }
        if let ef {
            guard ef >= k else { throw .invalidParameter(name: "ef", value: String(ef), reason: "ef must be at least k (\(k))") }
            guard ef <= SearchParameters.maxEf else {
                throw .invalidParameter(name: "ef", value: String(ef), reason: "must be at most \(SearchParameters.maxEf)")
            }
        }
        if let nprobe, nprobe < 1 { throw .invalidParameter(name: "nprobe", value: String(nprobe), reason: "must be at least 1") }
        if let reorderK, reorderK < k {
            throw .invalidParameter(name: "reorder_k", value: String(reorderK), reason: "must be at least k (\(k))")
        }
        if let refineK {
            guard refineK >= 1, refineK.isFinite else {
                throw .invalidParameter(name: "refine_k", value: "\(refineK)", reason: "must be at least 1")
            }
            guard refineK * Double(k) <= Double(SearchParameters.maxEf) else {
                throw .invalidParameter(name: "refine_k", value: "\(refineK)",
                                        reason: "refine_k × limit must be at most \(SearchParameters.maxEf)")
            }
        }
    }
}

/// Range-search bounds in Milvus's semantics, in client-facing scores.
///
/// L2, HAMMING, JACCARD (smaller is better): hits satisfy `rangeFilter ≤ d < radius`.
/// IP, COSINE (larger is better): hits satisfy `radius < score ≤ rangeFilter`.
///
/// Thread safety: a value type; safe to share.
package struct RangeParameters: Sendable {
    package var radius: Float
    package var rangeFilter: Float?
    /// The knobs of a normal search (`ef`, `nprobe`, filter); `k` bounds the candidates an
    /// approximate index explores (FLAT returns every hit regardless).
    package var search: SearchParameters

    package init(radius: Float, rangeFilter: Float? = nil, search: SearchParameters = SearchParameters(k: 100)) {
        self.radius = radius
        self.rangeFilter = rangeFilter
        self.search = search
    }

    /// Checks the bounds against the metric: for IP/COSINE range_filter must exceed radius, for the
    /// others it must be below it.
    package func validate(metric: Metric) throws(IndexError) {
        guard radius.isFinite else { throw .invalidParameter(name: "radius", value: "\(radius)", reason: "must be finite") }
        guard let rf = rangeFilter else { return }
        if metric.higherScoreIsBetter {
            guard rf > radius else {
                throw .invalidParameter(name: "range_filter", value: "\(rf)", reason: "must be greater than radius (\(radius)) for \(metric)")
            }
        } else {
            guard rf < radius else {
                throw .invalidParameter(name: "range_filter", value: "\(rf)", reason: "must be less than radius (\(radius)) for \(metric)")
            }
        }
    }

    /// The internal-distance interval `[low, high)`-style check: whether internal distance `d` is a hit.
    @inlinable
    package func accepts(distance d: Float, metric: Metric) -> Bool {
        if metric.higherScoreIsBetter {
            let s = -d
            return s > radius && (rangeFilter.map { s <= $0 } ?? true)
        }
        return d < radius && (rangeFilter.map { d >= $0 } ?? true)
    }
}

