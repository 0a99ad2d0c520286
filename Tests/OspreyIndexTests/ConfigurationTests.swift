import OspreyCore
import OspreyIndex
import Testing

@Suite("Index configuration (Milvus names and params)")
struct ConfigurationTests {
    @Test("Milvus create_index arguments parse, AUTOINDEX resolves per vector type")
    func parses() throws {
        let c = try IndexConfiguration(indexType: "hnsw", metricType: "cosine", params: ["M": "32", "efConstruction": "300"],
                                       type: .floatVector, dim: 128)
        #expect(c.indexType == .hnsw && c.metric == .cosine && c.M == 32 && c.efConstruction == 300)
        #expect(try IndexConfiguration(indexType: "AUTOINDEX", metricType: "L2", params: [:], type: .floatVector, dim: 8).indexType == .hnsw)
        #expect(try IndexConfiguration(indexType: "AUTOINDEX", metricType: "HAMMING", params: [:], type: .binaryVector, dim: 64).indexType == .binFlat)
        let pq = try IndexConfiguration(indexType: "IVF_PQ", metricType: "L2", params: ["nlist": "64", "m": "8", "nbits": "8"],
                                        type: .floatVector, dim: 64)
        #expect(pq.m == 8 && pq.nlist == 64)
    }

    @Test("bad combinations are caller errors with clear messages")
    func rejects() {
        func check(_ body: () throws(IndexError) -> Void, mentions word: String) {
            do {
                try body()
                Issue.record("expected an error mentioning \(word)")
            } catch {
                #expect(error.isCallerFault)
                #expect(error.description.contains(word), "\(error.description)")
            }
        }
        check({ () throws(IndexError) in _ = try IndexConfiguration(indexType: "DISKANNX", metricType: "L2", params: [:], type: .floatVector, dim: 8) }, mentions: "DISKANNX")
        check({ () throws(IndexError) in _ = try IndexConfiguration(indexType: "HNSW", metricType: "HAMMING", params: [:], type: .floatVector, dim: 8) }, mentions: "HAMMING")
        check({ () throws(IndexError) in _ = try IndexConfiguration(indexType: "HNSW", metricType: "L2", params: [:], type: .binaryVector, dim: 8) }, mentions: "HNSW")
        check({ () throws(IndexError) in _ = try IndexConfiguration(indexType: "HNSW", metricType: "L2", params: ["M": "abc"], type: .floatVector, dim: 8) }, mentions: "M")
        check({ () throws(IndexError) in _ = try IndexConfiguration(indexType: "HNSW", metricType: "L2", params: ["M": "1"], type: .floatVector, dim: 8) }, mentions: "M")
        check({ () throws(IndexError) in _ = try IndexConfiguration(indexType: "IVF_PQ", metricType: "L2", params: ["m": "7"], type: .floatVector, dim: 64) }, mentions: "divide")
        check({ () throws(IndexError) in _ = try IndexConfiguration(indexType: "IVF_FLAT", metricType: "IP", params: ["nlist": "0"], type: .floatVector, dim: 8) }, mentions: "nlist")
        check({ () throws(IndexError) in _ = try IndexConfiguration(indexType: "FLAT", metricType: "FOO", params: [:], type: .floatVector, dim: 8) }, mentions: "FOO")
        check({ () throws(IndexError) in _ = try SearchParameters(k: 10, milvusParams: ["ef": "5"]) }, mentions: "ef")
        check({ () throws(IndexError) in _ = try SearchParameters(k: 0, milvusParams: [:]) }, mentions: "limit")
        check({ () throws(IndexError) in try RangeParameters(radius: 1, rangeFilter: 2).validate(metric: .l2) }, mentions: "range_filter")
        check({ () throws(IndexError) in try RangeParameters(radius: 0.5, rangeFilter: 0.2).validate(metric: .ip) }, mentions: "range_filter")
    }

    @Test("range bounds follow Milvus: L2 radius > d >= range_filter; IP radius < score <= range_filter")
    func rangeSemantics() {
        let l2 = RangeParameters(radius: 4, rangeFilter: 1)
        #expect(l2.accepts(distance: 1, metric: .l2) && l2.accepts(distance: 3.9, metric: .l2))
        #expect(!l2.accepts(distance: 4, metric: .l2) && !l2.accepts(distance: 0.5, metric: .l2))
        let ip = RangeParameters(radius: 0.2, rangeFilter: 0.9)
        #expect(ip.accepts(distance: -0.9, metric: .ip) && ip.accepts(distance: -0.3, metric: .ip))
        #expect(!ip.accepts(distance: -0.2, metric: .ip) && !ip.accepts(distance: -0.95, metric: .ip))
    }
}
