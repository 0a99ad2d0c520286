import Foundation
import OspreyCore

/// A validated index definition: Milvus's `index_type`, `metric_type` and build params, with the
/// vector type and dimension of the field it indexes.
///
/// Thread safety: a value type; safe to share.
package struct IndexConfiguration: Sendable, Equatable {
    /// The resolved index type (AUTOINDEX already replaced by the concrete type).
    package var indexType: IndexType
    package var metric: Metric
    package var type: DataType
    package var dim: Int
    /// HNSW: links per node on upper levels (level 0 keeps 2·M).
    package var M: Int = 16
    /// HNSW: candidate-list size while building.
    package var efConstruction: Int = 200
    /// IVF: number of lists (k-means centroids).
    package var nlist: Int = 128
    /// IVF_PQ: sub-quantizers (must divide dim).
    package var m: Int = 0
    /// IVF_PQ: bits per code (8).
    package var nbits: Int = 8
    /// IVF_PQ: keep the raw float32 vectors so that searches can re-rank candidates exactly
    /// (Milvus's `refine`, with `refine_type` FP32).
    package var refine: Bool = false

    /// A configuration from values already parsed; validated.
    package init(indexType: IndexType, metric: Metric, type: DataType, dim: Int,
                 M: Int = 16, efConstruction: Int = 200, nlist: Int = 128, m: Int = 0, nbits: Int = 8,
                 refine: Bool = false) throws(IndexError) {
        self.indexType = indexType == .autoIndex ? (type == .binaryVector ? .binFlat : .hnsw) : indexType
        self.metric = metric
        self.type = type
        self.dim = dim
        self.M = M
        self.efConstruction = efConstruction
        self.nlist = nlist
        self.m = m
        self.nbits = nbits
        self.refine = refine
        try validate()
    }

    /// Parses Milvus's `create_index` arguments: names case-insensitive, params string-valued
    /// (`{"M": "16", "efConstruction": "200"}`). Params an index type does not use are ignored.
    package init(indexType: String, metricType: String, params: [String: String], type: DataType, dim: Int) throws(IndexError) {
        let t = try IndexType(milvusName: indexType)
        guard let metric = Metric(milvusName: metricType) else { throw .unknownMetric(metricType) }
        var M = 16, efc = 200, nlist = 128, m = 0, nbits = 8, refine = false
        for (key, value) in params {
            switch key.lowercased() {
            case "m" where key == "M": M = try parseInt("M", value, in: 2...2048)
            case "efconstruction": efc = try parseInt("efConstruction", value, in: 1...Int(Int32.max))
            case "nlist": nlist = try parseInt("nlist", value, in: 1...65536)
            case "m": m = try parseInt("m", value, in: 1...65536)
            case "nbits": nbits = try parseInt("nbits", value, in: 1...24)
            case "refine": refine = try parseBool("refine", value)
            case "refine_type":
                guard value.trimmingCharacters(in: .whitespaces).uppercased() == "FP32" else {
                    throw .invalidParameter(name: "refine_type", value: value, reason: "only FP32 is supported")
                }
            default: continue
            }
        }
        try self.init(indexType: t, metric: metric, type: type, dim: dim, M: M, efConstruction: efc, nlist: nlist, m: m, nbits: nbits,
                      refine: refine && t == .ivfPQ)
    }

    /// Checks the combination: type fits the index, metric fits the type, params in range.
    package func validate() throws(IndexError) {
        guard indexType.supportedTypes.contains(type) else { throw .typeNotSupported(indexType: indexType.rawValue, type: type) }
        guard type.supportedMetrics.contains(metric) else { throw .metricNotSupported(metric: metric.rawValue, type: type) }
        guard dim > 0, dim <= VectorDistance.maxDimension else {
            throw .invalidDimension(dim, reason: "must be in 1...\(VectorDistance.maxDimension)")
        }
        if type == .binaryVector, dim % 8 != 0 {
            throw .invalidDimension(dim, reason: "a binary vector's dimension must be a multiple of 8")
        }
        guard (2...2048).contains(M) else { throw .invalidParameter(name: "M", value: String(M), reason: "must be in 2...2048") }
        guard efConstruction >= 1 else {
            throw .invalidParameter(name: "efConstruction", value: String(efConstruction), reason: "must be at least 1")
        }
        guard (1...65536).contains(nlist) else {
            throw .invalidParameter(name: "nlist", value: String(nlist), reason: "must be in 1...65536")
        }
        if indexType == .ivfPQ {
            guard m >= 1 else { throw .missingParameter("m") }
            guard dim % m == 0 else { throw .invalidParameter(name: "m", value: String(m), reason: "must divide the dimension \(dim)") }
            guard nbits == 8 else { throw .invalidParameter(name: "nbits", value: String(nbits), reason: "only 8 is supported") }
        } else if refine {
            throw .invalidParameter(name: "refine", value: "true", reason: "only IVF_PQ keeps vectors for re-ranking")
        }
    }

    /// Milvus-style build params of this configuration, as strings.
    package var milvusParams: [String: String] {
        switch indexType {
        case .hnsw, .autoIndex: return ["M": String(M), "efConstruction": String(efConstruction)]
        case .ivfFlat, .ivfSQ8, .binIVFFlat: return ["nlist": String(nlist)]
        case .ivfPQ:
            var p = ["nlist": String(nlist), "m": String(m), "nbits": String(nbits)]
            if refine { p["refine"] = "true"; p["refine_type"] = "FP32" }
            return p
        case .flat, .binFlat: return [:]
        }
    }
}

/// Parses a Milvus boolean param: `true`/`false` (any case) or `1`/`0`.
func parseBool(_ name: String, _ value: String) throws(IndexError) -> Bool {
    switch value.trimmingCharacters(in: .whitespaces).lowercased() {
    case "true", "1": return true
    case "false", "0": return false
    default: throw .invalidParameter(name: name, value: value, reason: "must be true or false")
    }
}

@inline(__always)
func parseInt(_ name: String, _ value: String, in range: ClosedRange<Int>) throws(IndexError) -> Int {
    guard let v = Int(value.trimmingCharacters(in: .whitespaces)) else {
        throw .invalidParameter(name: name, value: value, reason: "not an integer")
    }
    guard range.contains(v) else {
        throw .invalidParameter(name: name, value: value, reason: "must be in \(range.lowerBound)...\(range.upperBound)")
    }
    return v
}
