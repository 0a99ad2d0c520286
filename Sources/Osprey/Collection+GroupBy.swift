import OspreyCore
import OspreyQuery

// Grouped search (Milvus's group_by_field): the best `limit` groups of a scalar field, each
// with up to `group_size` hits. Candidates come from the ordinary ranked search with a
// widening candidate count until enough groups are complete or every row was considered.

extension Collection {
    /// The group-by field of a request, checked: a scalar of a groupable type.
    func groupByField(_ request: SearchRequest, schema: CollectionSchema) throws(OspreyError) -> FieldSchema? {
        guard let name = request.groupByField?.trimmingSpaces, !name.isEmpty else { return nil }
        guard let f = schema.field(named: name) else { throw .fieldNotFound(collection: self.name, field: name) }
        guard f.dataType == .bool || f.dataType.isInteger || f.dataType == .varchar else {
            throw .invalidArgument("group_by_field '\(name)' must be BOOL, an integer or VARCHAR, not \(f.dataType)")
        }
        guard request.groupSize >= 1, request.groupSize <= 1_024 else {
            throw .invalidArgument("group_size must be in 1...1024, got \(request.groupSize)")
        }
        guard (request.limit + request.offset) * request.groupSize <= maxTopK else {
            throw .invalidArgument("(limit + offset) × group_size must be at most \(maxTopK)")
        }
        if request.params["radius"] != nil { throw .invalidArgument("group_by_field cannot be combined with range search") }
        return f
    }

    func groupedHits(_ request: SearchRequest, field: FieldSchema, group: FieldSchema, metric: Metric, range: RangeBounds?,
                     snapshot snap: CollectionSnapshot, filter: CompiledFilter?) throws(OspreyError) -> [[(Neighbor, Int)]] {
        let groups = request.limit + request.offset
        let visible = snap.segments.reduce(0) { $0 + $1.rowCount }
        var candidates = max(groups * request.groupSize * 4, 256)
        var result: [[(Neighbor, Int)]] = Array(repeating: [], count: request.vectors.count)
        var pending = Array(request.vectors.indices)
        while !pending.isEmpty {
            let exhaustive = candidates >= visible
            var sub = request
            sub.vectors = pending.map { request.vectors[$0] }
            // The index serves the first round; wider rounds and the last one scan exactly.
            let ranked = try rankedHits(sub, field: field, metric: metric, range: range, snapshot: snap, filter: filter,
                                        k: min(candidates, visible), useIndex: candidates <= maxTopK && !exhaustive)
            var stillPending: [Int] = []
            for (i, q) in pending.enumerated() {
                let (picked, complete) = Collection.pickGroups(ranked[i], snapshot: snap, group: group, groups: groups,
                                                               groupSize: request.groupSize, strict: request.strictGroupSize)
                if complete || exhaustive {
                    result[q] = Array(picked.dropFirst(request.offset).joined())
                } else {
                    stillPending.append(q)
                }
            }
            pending = stillPending
            candidates *= 4
        }
        return result
    }

    /// Assigns ranked candidates to groups; returns the groups (best first, hits ascending in
    /// each) and whether the answer is complete: `groups` groups with `groupSize` hits each, or
    /// (unless `strict`) just `groups` groups.
    static func pickGroups(_ ranked: [(Neighbor, Int)], snapshot snap: CollectionSnapshot, group: FieldSchema, groups: Int,
                           groupSize: Int, strict: Bool) -> ([[(Neighbor, Int)]], Bool) {
        var order: [FieldValue] = []
        var members: [FieldValue: [(Neighbor, Int)]] = [:]
        var views: [Int: ColumnView] = [:]
        for hit in ranked {
            let view: ColumnView
            if let v = views[hit.1] { view = v } else {
                view = snap.segments[hit.1].column(named: group.name)!
                views[hit.1] = view
            }
            let value = view.value(at: Int(hit.0.row.rawValue))
            if members[value] == nil {
                guard order.count < groups else { continue }
                order.append(value)
                members[value] = []
            }
            if members[value]!.count < groupSize { members[value]!.append(hit) }
            if order.count == groups, order.allSatisfy({ members[$0]!.count == groupSize }) {
                return (order.map { members[$0]! }, true)
            }
        }
        // Without strict_group_size, having `groups` groups is enough (Milvus prioritises the
        // number of groups); with it, the search widens until every group is full.
        return (order.map { members[$0]! }, !strict && order.count == groups)
    }
}
