import OspreyCore
import OspreyQuery

// Reads without vectors: query (filter, output fields, limit, offset), get by primary key,
// and count.

extension Collection {
    /// Returns the rows that match a filter, ordered by primary key.
    ///
    /// - Throws: `.invalidArgument` when the filter is empty and there is no limit (as in
    ///   Milvus), or limit + offset is over 16384; `.invalidFilter` for a bad filter;
    ///   `.fieldNotFound` for an unknown output field.
    public func query(_ request: QueryRequest) throws(OspreyError) -> QueryResult {
        try context.checkOpen()
        let schema = self.schema
        if let limit = request.limit {
            guard limit >= 0 else { throw .invalidArgument("limit must be non-negative, got \(limit)") }
            guard limit + request.offset <= maxTopK else {
                throw .invalidArgument("limit + offset must be at most \(maxTopK), got \(limit + request.offset)")
            }
        } else if request.filter.trimmingSpaces.isEmpty {
            throw .invalidArgument("an empty filter needs a limit")
        }
        guard request.offset >= 0 else { throw .invalidArgument("offset must be non-negative, got \(request.offset)") }
        let output = try OutputSpec.resolve(request.outputFields, schema: schema, collection: name, includePrimaryKey: true)
        let snap = try snapshot(partitions: request.partitions, at: request.readTimestamp)
        let filter = try compileFilter(request.filter, params: request.filterParams, schema: schema)
        var matches: [(PrimaryKey, SegmentSnapshot, Int)]
        if let byKey = rowsByKey(filter, snapshot: snap, pastSnapshot: request.readTimestamp != nil) {
            matches = byKey
        } else {
            matches = []
            for s in snap.segments {
                if let mask = try rowMask(s, filter: filter) {
                    mask.forEachSetBit { r in matches.append((s.segment.primaryKey(row: r), s, r)) }
                } else {
                    for r in 0..<s.rowCount { matches.append((s.segment.primaryKey(row: r), s, r)) }
                }
            }
        }
        matches.sort { $0.0 < $1.0 }
        var page = matches.dropFirst(request.offset)
        if let limit = request.limit { page = page.prefix(limit) }
        let hits = page.map { ($0.1, $0.2) }
        return QueryResult(columns: output.gather(hits, schema: schema))
    }

    /// The number of live rows that match a filter (`count(*)`).
    public func count(filter: String, filterParams: [String: FieldValue] = [:], partitions: [String] = []) throws(OspreyError) -> Int {
        try context.checkOpen()
        let filterPlan = try compileFilter(filter, params: filterParams, schema: schema)
        var n = 0
        for s in try snapshot(partitions: partitions).segments {
            if let mask = try rowMask(s, filter: filterPlan) { n += mask.cardinality } else { n += s.rowCount }
        }
        return n
    }

    /// Returns the live rows with these primary keys, in the order asked (missing keys are
    /// left out).
    ///
    /// - Parameter outputFields: fields to return; empty means every field (`*`).
    public func get(ids: [PrimaryKey], outputFields: [String] = [], partitions: [String] = []) throws(OspreyError) -> QueryResult {
        try context.checkOpen()
        let schema = self.schema
        let output = try OutputSpec.resolve(outputFields.isEmpty ? ["*"] : outputFields, schema: schema, collection: name, includePrimaryKey: true)
        let snap = try snapshot(partitions: partitions)
        let byID = Dictionary(uniqueKeysWithValues: snap.segments.map { ($0.segment.id, $0) })
        let locations = locate(ids, in: snap)
        var hits: [(SegmentSnapshot, Int)] = []
        var seen = Set<PrimaryKey>()
        for (k, loc) in zip(ids, locations) {
            guard let loc, let s = byID[loc.segment], seen.insert(k).inserted else { continue }
            let r = Int(loc.row)
            guard r < s.rowCount, s.liveRange.contains(r), !(s.deleted?.contains(r) ?? false) else { continue }
            hits.append((s, r))
        }
        return QueryResult(columns: output.gather(hits, schema: schema))
    }
}
