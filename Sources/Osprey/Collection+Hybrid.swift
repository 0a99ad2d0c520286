import Foundation
import OspreyCore

/// How a hybrid search fuses the ranked lists of its sub-searches into one.
///
/// Thread safety: a value type; safe to share.
public enum HybridRanker: Sendable, Hashable {
    /// Reciprocal rank fusion: a hit's score is Σ 1 / (k + rank) over the lists it is in,
    /// with ranks counted from 1 (Milvus's `RRFRanker`, k = 60 by default).
    case rrf(k: Double)
    /// A weighted sum of each list's scores, one weight per sub-search (Milvus's
    /// `WeightedRanker`). With `normalize`, scores are first mapped into [0, 1] by the
    /// metric (COSINE: (1 + s) / 2; IP: 0.5 + atan(s) / π; distances: 1 − 2·atan(d) / π);
    /// without it IP and COSINE scores are summed as they are and distances still go through
    /// the arctan map, so that larger always means better.
    case weighted(weights: [Float], normalize: Bool)
}

extension Collection {
    /// Runs several searches (on one or more vector fields) and fuses their hits with `ranker`.
    ///
    /// Every request must carry the same number of query vectors; query `i` of the result
    /// fuses query `i` of each request. Each request's own `limit` is how deep its list goes.
    ///
    /// - Parameters:
    ///   - limit: hits per query after fusion; `offset` hits are skipped first.
    ///   - outputFields: fields returned with each fused hit (as in `search`).
    ///   - roundDecimal: decimal places of the fused scores; -1 keeps them as they are.
    /// - Returns: one `SearchHits` per query, best (highest fused score) first.
    /// - Throws: `.invalidArgument` for no requests, differing query counts, a weight count
    ///   that is not the request count, or a bad limit; whatever each search throws.
    public func hybridSearch(
        _ requests: [SearchRequest], ranker: HybridRanker, limit: Int, offset: Int = 0,
        outputFields: [String] = [], partitions: [String] = [], roundDecimal: Int = -1
    ) throws(OspreyError) -> [SearchHits] {
        guard !requests.isEmpty else { throw .invalidArgument("hybrid search needs at least one search request") }
        guard limit > 0 else { throw .invalidArgument("limit must be positive, got \(limit)") }
        guard offset >= 0 else { throw .invalidArgument("offset must be non-negative, got \(offset)") }
        guard limit + offset <= maxTopK else {
            throw .invalidArgument("limit + offset must be at most \(maxTopK), got \(limit + offset)")
        }
        let nq = requests[0].vectors.count
        guard requests.allSatisfy({ $0.vectors.count == nq }) else {
            throw .invalidArgument("every request of a hybrid search must have the same number of query vectors")
        }
        if case .rrf(let k) = ranker, !(k > 0 && k < 16_384) {
            throw .invalidArgument("RRF k must be in (0, 16384), got \(k)")
        }
        if case .weighted(let weights, _) = ranker, weights.count != requests.count {
            throw .invalidArgument("the weighted ranker has \(weights.count) weights for \(requests.count) search requests")
        }

        let schema = self.schema
        var lists: [[SearchHits]] = []
        var metrics: [Metric] = []
        // Every sub-search reads the same snapshot.
        let readAt = requests.compactMap(\.readTimestamp).min() ?? committedTimestamp
        for var r in requests {
            r.readTimestamp = readAt
            r.outputFields = []
            r.offset = 0
            if !partitions.isEmpty { r.partitions = partitions }
            let field = try vectorField(r.field, schema: schema)
            metrics.append(try searchMetric(r.metric, field: field))
            lists.append(try search(r))
        }

        var fused: [[(PrimaryKey, Float)]] = []
        for q in 0..<nq {
            var scores: [PrimaryKey: Float] = [:]
            for (i, list) in lists.enumerated() {
                let hits = list[q]
                for (rank, (id, score)) in zip(hits.ids, hits.scores).enumerated() {
                    let contribution: Float
                    switch ranker {
                    case .rrf(let k):
                        contribution = Float(1.0 / (k + Double(rank + 1)))
                    case .weighted(let weights, let normalize):
                        contribution = weights[i] * Self.weightedScore(score, metric: metrics[i], normalize: normalize)
                    }
                    scores[id, default: 0] += contribution
                }
            }
            let ranked = scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            fused.append(Array(ranked.dropFirst(offset).prefix(limit)).map { ($0.key, $0.value) })
        }

        return try fused.map { page throws(OspreyError) -> SearchHits in
            var scores = page.map(\.1)
            if roundDecimal >= 0 {
                let p = Float(pow(10.0, Double(min(roundDecimal, 6))))
                scores = scores.map { ($0 * p).rounded() / p }
            }
            let ids = page.map(\.0)
            guard !outputFields.isEmpty else { return SearchHits(ids: ids, scores: scores, fields: ColumnBatch(rowCount: ids.count)) }
            let pk = schema.primaryKey.name
            let keepKey = outputFields.contains(pk) || outputFields.contains("*")
            var rows = try get(ids: ids, outputFields: outputFields, partitions: partitions)
            var kept = ids.indices.map { $0 }
            if rows.count != ids.count, let keyColumn = rows.columns[pk] {
                // Rows deleted since the sub-searches ran are left out, with their scores.
                let present = Set((0..<rows.count).map { Self.primaryKey(keyColumn, at: $0) })
                kept = ids.indices.filter { present.contains(ids[$0]) }
                rows = try get(ids: kept.map { ids[$0] }, outputFields: outputFields, partitions: partitions)
            }
            var fields = rows.columns
            if !keepKey { fields[pk] = nil }
            return SearchHits(ids: kept.map { ids[$0] }, scores: kept.map { scores[$0] }, fields: fields)
        }
    }

    /// A sub-search score mapped so that larger is better (and into [0, 1] when normalising).
    static func weightedScore(_ s: Float, metric: Metric, normalize: Bool) -> Float {
        switch metric {
        case .cosine: return normalize ? (1 + s) / 2 : s
        case .ip: return normalize ? 0.5 + Float(atan(Double(s)) / Double.pi) : s
        default: return 1 - 2 * Float(atan(Double(s)) / Double.pi)
        }
    }

    static func primaryKey(_ column: Column, at i: Int) -> PrimaryKey {
        switch column.data {
        case .string(let v): return .string(v[i])
        case .int64(let v): return .int(v[i])
        default: return .int(0)
        }
    }
}
