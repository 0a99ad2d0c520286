import Dispatch
import Glibc
import OspreyCore
import OspreyIndex
import OspreyQuery

// The read path for vector search: snapshot → per segment (in parallel) a mask of visible,
// matching rows and a top-k scan → merge → offset, rounding → output fields for the winners.

/// The most hits one query may ask for (limit + offset), as in Milvus.
let maxTopK = 16_384

extension Collection {
    /// Searches one vector field for the nearest rows to each query vector.
    ///
    /// - Returns: one `SearchHits` per query vector, best first.
    /// - Throws: `OspreyError.invalidArgument` for a bad limit, metric or vector;
    ///   `.invalidFilter` for a filter that does not parse or type-check.
    public func search(_ request: SearchRequest) throws(OspreyError) -> [SearchHits] {
        try context.checkOpen()
        let schema = self.schema
        let field = try vectorField(request.field, schema: schema)
        guard request.limit > 0 else { throw .invalidArgument("limit must be positive, got \(request.limit)") }
        guard request.offset >= 0 else { throw .invalidArgument("offset must be non-negative, got \(request.offset)") }
        guard request.limit + request.offset <= maxTopK else {
            throw .invalidArgument("limit + offset must be at most \(maxTopK), got \(request.limit + request.offset)")
        }
        guard !request.vectors.isEmpty else { throw .invalidArgument("no query vectors") }
        let metric = try searchMetric(request.metric, field: field)
        let range = try RangeBounds(params: request.params, metric: metric)
        let output = try OutputSpec.resolve(request.outputFields, schema: schema, collection: name, includePrimaryKey: false)
        let snap = try snapshot(partitions: request.partitions, at: request.readTimestamp)
        let filter = try compileFilter(request.filter, params: request.filterParams, schema: schema)
        let k = request.limit + request.offset
        let group = try groupByField(request, schema: schema)

        var perQuery: [[(Neighbor, Int)]]  // (hit, segment index) per query, best first
        if let group {
            perQuery = try groupedHits(request, field: field, group: group, metric: metric, range: range, snapshot: snap, filter: filter)
        } else {
            perQuery = try rankedHits(request, field: field, metric: metric, range: range, snapshot: snap, filter: filter, k: k, useIndex: true)
            perQuery = perQuery.map { Array($0.dropFirst(request.offset)) }
        }

        return perQuery.map { page in
            let located = page.map { (snap.segments[$0.1], Int($0.0.row.rawValue)) }
            var scores = page.map { metric.score(fromDistance: $0.0.distance) }
            if request.roundDecimal >= 0 {
                let p = Float(pow(10.0, Double(min(request.roundDecimal, 6))))
                scores = scores.map { ($0 * p).rounded() / p }
            }
            return SearchHits(
                ids: located.map { $0.0.segment.primaryKey(row: $0.1) },
                scores: scores,
                fields: output.gather(located, schema: schema),
                groupValues: group.map { g in located.map { $0.0.column(named: g.name)!.value(at: $0.1) } })
        }
    }

    /// The best `k` hits per query, (hit, segment index), best first.
    func rankedHits(_ request: SearchRequest, field: FieldSchema, metric: Metric, range: RangeBounds?, snapshot snap: CollectionSnapshot,
                    filter: CompiledFilter?, k: Int, useIndex: Bool) throws(OspreyError) -> [[(Neighbor, Int)]] {
        if field.dataType == .sparseFloatVector {
            let queries = try request.vectors.enumerated().map { (i, v) throws(OspreyError) -> SparseVector in
                guard case .sparseVector(let s) = v else { throw .invalidArgument("query \(i) is not a sparse vector") }
                return s
            }
            return try searchSparse(queries, field: field, k: k, range: range, snapshot: snap, filter: filter)
        }
        let queries = try QueryBuffer(request.vectors, field: field)
        let distance: VectorDistance
        do { distance = try VectorDistance(metric: metric, type: field.dataType, dim: field.dim!) } catch {
            throw .invalidArgument(error.description)
        }
        let index = (range == nil && useIndex) ? usableIndex(field: field.name, metric: metric) : nil
        var indexParams = SearchParameters(k: min(k, SearchParameters.maxK))
        if index != nil {
            do { indexParams = try SearchParameters(k: k, milvusParams: request.params) } catch {
                throw .invalidArgument(error.description)
            }
        }
        return try searchDense(queries, field: field, distance: distance, k: k, range: range, snapshot: snap, filter: filter,
                               index: index, indexParams: indexParams)
    }

    /// The vector field a search names, or the only one.
    func vectorField(_ name: String?, schema: CollectionSchema) throws(OspreyError) -> FieldSchema {
        if let name, !name.isEmpty {
            guard let f = schema.field(named: name) else { throw .fieldNotFound(collection: self.name, field: name) }
            guard f.dataType.isVector else { throw .invalidArgument("field '\(name)' is not a vector field") }
            return f
        }
        let vs = schema.vectorFields
        guard vs.count == 1 else {
            throw .invalidArgument("the collection has \(vs.count) vector fields; name the one to search (anns_field)")
        }
        return vs[0]
    }

    /// The metric for a search: the request's, else the field index's, else the type's default.
    func searchMetric(_ requested: Metric?, field: FieldSchema) throws(OspreyError) -> Metric {
        let indexed = meta.withLock { m in m.indexes.first { $0.field == field.name }?.metric }
        if let requested {
            guard field.dataType.supportedMetrics.contains(requested) else {
                throw .invalidArgument("metric \(requested) does not apply to \(field.dataType) field '\(field.name)'")
            }
            if let indexed, indexed != requested {
                throw .invalidArgument("metric type not match: the index on '\(field.name)' uses \(indexed), the search asked for \(requested)")
            }
            return requested
        }
        return indexed ?? field.dataType.supportedMetrics[0]
    }

    /// The rows of a segment snapshot a read may return: visible and matching the filter;
    /// nil when that is every row.
    func rowMask(_ s: SegmentSnapshot, filter: CompiledFilter?) throws(OspreyError) -> Bitset? {
        var mask: Bitset? = s.allVisible ? nil : s.visibilityMask()
        if let filter {
            let f = filter.evaluate(on: s)
            if mask == nil { mask = f } else { mask!.formIntersection(f) }
        }
        return mask
    }

    private func searchDense(_ queries: QueryBuffer, field: FieldSchema, distance: VectorDistance, k: Int, range: RangeBounds?,
                             snapshot snap: CollectionSnapshot, filter: CompiledFilter?, index: IndexDescription?,
                             indexParams: SearchParameters) throws(OspreyError) -> [[(Neighbor, Int)]] {
        let nq = queries.count
        let masks = try snap.segments.map { s throws(OspreyError) in try rowMask(s, filter: filter) }
        let views: [VectorView] = snap.segments.map { s in
            guard case .vector(let v) = s.column(named: field.name)!.values else { preconditionFailure("not a vector column") }
            return v
        }
        let groups = Swift.max(1, Swift.min(nq, Parallelism.cores))
        let perGroup = (nq + groups - 1) / groups
        let tasks = snap.segments.count * groups
        let results = TaskResults<[TopK]>(count: tasks)
        DispatchQueue.concurrentPerform(iterations: tasks) { t in
            let s = t / groups, g = t % groups
            let qs = (g * perGroup) ..< Swift.min(nq, (g + 1) * perGroup)
            var heaps = qs.map { _ in TopK(k: k) }
            if !qs.isEmpty {
                let segment = snap.segments[s]
                let built = index.flatMap { segment.segment.builtIndex(field: field.name, indexID: $0.id) }
                if let built, built.rows == segment.rowCount,
                   IndexPlanner.useIndex(allowed: masks[s]?.cardinality ?? segment.rowCount, rows: segment.rowCount, k: k) {
                    IndexPlanner.search(built, queries: queries, range: qs, mask: masks[s], parameters: indexParams, heaps: &heaps) { q, heap in
                        // The index found too few: fall back to an exact scan for this query.
                        ExactScan.scan(view: views[s], mask: masks[s], queries: queries, range: q..<(q + 1), distance: distance,
                                       bounds: nil, heaps: &heap)
                    }
                } else {
                    ExactScan.scan(view: views[s], mask: masks[s], queries: queries, range: qs, distance: distance, bounds: range, heaps: &heaps)
                }
            }
            results.set(t, heaps)
        }
        return Collection.merge(results.values, segments: snap.segments.count, groups: groups, perGroup: perGroup, nq: nq, k: k)
    }

    private func searchSparse(_ queries: [SparseVector], field: FieldSchema, k: Int, range: RangeBounds?,
                              snapshot snap: CollectionSnapshot, filter: CompiledFilter?) throws(OspreyError) -> [[(Neighbor, Int)]] {
        var heaps = queries.map { _ in [TopK]() }
        for (si, s) in snap.segments.enumerated() {
            let mask = try rowMask(s, filter: filter)
            guard case .sparse(let col) = s.column(named: field.name)!.values else { continue }
            for (qi, q) in queries.enumerated() {
                var h = TopK(k: k)
                for r in 0..<s.rowCount where mask?.contains(r) ?? true {
                    guard let dot = q.dotIfOverlapping(col[r]) else { continue }
                    let d = -dot
                    if range?.contains(d) ?? true { h.push(distance: d, row: RowID(r)) }
                }
                heaps[qi].append(h)
                _ = si
            }
        }
        return heaps.map { perSeg in
            var all: [(Neighbor, Int)] = []
            for (si, h) in perSeg.enumerated() { all += h.sortedResults().map { ($0, si) } }
            return Array(all.sorted { $0.0 < $1.0 }.prefix(k))
        }
    }

    static func merge(_ results: [[TopK]], segments: Int, groups: Int, perGroup: Int, nq: Int, k: Int) -> [[(Neighbor, Int)]] {
        var out: [[(Neighbor, Int)]] = []
        out.reserveCapacity(nq)
        for q in 0..<nq {
            let g = q / perGroup, local = q % perGroup
            var all: [(Neighbor, Int)] = []
            for s in 0..<segments {
                for n in results[s * groups + g][local].sortedResults() { all.append((n, s)) }
            }
            all.sort { $0.0.distance < $1.0.distance || ($0.0.distance == $1.0.distance && ($0.1, $0.0.row) < ($1.1, $1.0.row)) }
            out.append(Array(all.prefix(k)))
        }
        return out
    }
}

/// Range search bounds in internal distances (smaller is better).
///
/// Milvus's semantics: for L2, HAMMING and JACCARD `range_filter <= distance < radius`; for IP
/// and COSINE `radius < score <= range_filter`, i.e. `-range_filter <= distance < -radius`.
struct RangeBounds: Sendable {
    var lower: Float  // inclusive
    var upper: Float  // exclusive

    init?(params: [String: String], metric: Metric) throws(OspreyError) {
        guard let r = params["radius"] else {
            if params["range_filter"] != nil { throw .invalidArgument("range_filter needs radius") }
            return nil
        }
        guard let radius = Float(r), radius.isFinite else { throw .invalidArgument("radius must be a number, got '\(r)'") }
        var filter: Float? = nil
        if let f = params["range_filter"] {
            guard let v = Float(f), v.isFinite else { throw .invalidArgument("range_filter must be a number, got '\(f)'") }
            filter = v
        }
        if metric.higherScoreIsBetter {
            if let filter, filter <= radius { throw .invalidArgument("range_filter (\(filter)) must be greater than radius (\(radius)) for \(metric)") }
            upper = -radius
            lower = filter.map { -$0 } ?? -.infinity
        } else {
            if let filter, filter >= radius { throw .invalidArgument("range_filter (\(filter)) must be less than radius (\(radius)) for \(metric)") }
            upper = radius
            lower = filter ?? -.infinity
        }
    }

    @inline(__always) func contains(_ d: Float) -> Bool { d >= lower && d < upper }
}

/// Query vectors converted to the field's element type, contiguous.
struct QueryBuffer: @unchecked Sendable {
    let bytes: [UInt8]
    let stride: Int
    let count: Int

    init(_ vectors: [FieldValue], field: FieldSchema) throws(OspreyError) {
        let dim = field.dim!
        stride = field.dataType.vectorBytes(dim: dim)
        count = vectors.count
        var out = [UInt8]()
        out.reserveCapacity(stride * vectors.count)
        func check(_ n: Int, _ i: Int) throws(OspreyError) {
            guard n == dim else { throw .invalidArgument("query vector \(i) has \(n) dimensions; field '\(field.name)' has \(dim)") }
        }
        for (i, v) in vectors.enumerated() {
            switch (field.dataType, v) {
            case (.floatVector, .floatVector(let f)):
                try check(f.count, i)
                guard f.allSatisfy(\.isFinite) else { throw .invalidArgument("query vector \(i) contains NaN or infinity") }
                f.withUnsafeBytes { out.append(contentsOf: $0) }
            case (.float16Vector, .floatVector(let f)):
                try check(f.count, i)
                f.map(HalfFloat.float16(from:)).withUnsafeBytes { out.append(contentsOf: $0) }
            case (.bfloat16Vector, .floatVector(let f)):
                try check(f.count, i)
                f.map(HalfFloat.bfloat16(from:)).withUnsafeBytes { out.append(contentsOf: $0) }
            case (.float16Vector, .float16Vector(let h)), (.bfloat16Vector, .bfloat16Vector(let h)):
                try check(h.count, i)
                h.withUnsafeBytes { out.append(contentsOf: $0) }
            case (.int8Vector, .int8Vector(let b)):
                try check(b.count, i)
                b.withUnsafeBytes { out.append(contentsOf: $0) }
            case (.binaryVector, .binaryVector(let b)):
                try check(b.count * 8, i)
                out.append(contentsOf: b)
            default:
                throw .invalidArgument("query vector \(i) is a \(v.kindName); field '\(field.name)' is \(field.dataType)")
            }
        }
        bytes = out
    }

    func withQuery<R>(_ i: Int, _ body: (UnsafeRawPointer) -> R) -> R {
        bytes.withUnsafeBytes { body($0.baseAddress! + i * stride) }
    }
}

/// Brute-force top-k over a segment's vectors, in blocks that stay in cache while every
/// query of the group is compared with them.
enum ExactScan {
    static let blockRows = 256

    /// Below this fraction of allowed rows, only the allowed rows are compared.
    static let sparseDensity = 0.05

    static func scan(view: VectorView, mask: Bitset?, queries: QueryBuffer, range qs: Range<Int>, distance: VectorDistance,
                     bounds: RangeBounds?, heaps: inout [TopK]) {
        if let mask, mask.density < sparseDensity {
            let rows = mask.setBits
            queries.bytes.withUnsafeBytes { qbuf in
                for (hi, q) in qs.enumerated() {
                    let query = qbuf.baseAddress! + q * queries.stride
                    for row in rows {
                        let d = distance.distance(query, view.vector(at: row))
                        if let bounds, !bounds.contains(d) { continue }
                        heaps[hi].push(distance: d, row: RowID(row))
                    }
                }
            }
            return
        }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: blockRows)
        defer { scratch.deallocate() }
        queries.bytes.withUnsafeBytes { qbuf in
            let qbase = qbuf.baseAddress!
            view.forEachChunk { first, base, rows in
                var b = 0
                while b < rows {
                    let n = Swift.min(blockRows, rows - b)
                    let blockBase = base + b * view.bytesPerRow
                    for (hi, q) in qs.enumerated() {
                        distance.distances(query: qbase + q * queries.stride, base: blockBase, count: n, into: scratch)
                        for i in 0..<n {
                            let row = first + b + i
                            if let mask, !mask.contains(row) { continue }
                            let d = scratch[i]
                            if let bounds, !bounds.contains(d) { continue }
                            if d < heaps[hi].worstDistance || !heaps[hi].isFull { heaps[hi].push(distance: d, row: RowID(row)) }
                        }
                    }
                    b += n
                }
            }
        }
    }
}

/// Results written by parallel tasks, one slot each: tasks write disjoint slots, and the
/// values are read after every task has finished, so no lock is needed.
final class TaskResults<T>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<T?>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil, count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func set(_ i: Int, _ v: T) { slots[i] = v }

    var values: [T] { (0..<count).map { slots[$0]! } }
}

/// How many threads a read spreads over.
public enum Parallelism {
    public static let cores: Int = Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// Chooses between a segment's index and an exact scan, and runs the index search.
enum IndexPlanner {
    /// Allowed rows below which an exact scan over them is cheaper and exact.
    static let exactBelowRows = 2_048
    /// Allowed fraction below which graph search loses recall; an exact scan is used instead.
    static let exactBelowFraction = 0.01

    static func useIndex(allowed: Int, rows: Int, k: Int) -> Bool {
        allowed >= exactBelowRows && Double(allowed) >= exactBelowFraction * Double(rows)
    }

    /// Searches the index for queries `qs`, with the allowed rows as its filter; any query that
    /// gets fewer than min(k, allowed) hits is handed to `fallback`.
    static func search(_ built: BuiltIndex, queries: QueryBuffer, range qs: Range<Int>, mask: Bitset?, parameters: SearchParameters,
                       heaps: inout [TopK], fallback: (Int, inout [TopK]) -> Void) {
        var p = parameters
        p.filter = mask
        p.threads = 1
        let allowed = mask?.cardinality ?? built.rows
        let results: [[Neighbor]]? = queries.bytes.withUnsafeBytes { qbuf in
            let slice = UnsafeRawBufferPointer(rebasing: qbuf[(qs.lowerBound * queries.stride) ..< (qs.upperBound * queries.stride)])
            return try? built.index.search(queries: slice, parameters: p)
        }
        for (hi, q) in qs.enumerated() {
            let hits = results?[hi] ?? []
            if hits.count < min(heaps[hi].k, allowed) {
                var one = [heaps[hi]]
                fallback(q, &one)
                heaps[hi] = one[0]
            } else {
                for n in hits { heaps[hi].push(n) }
            }
        }
    }
}
