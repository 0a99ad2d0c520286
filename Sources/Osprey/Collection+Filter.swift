import OspreyCore
import OspreyQuery

// Filters: compiled once per request against the collection's schema (OspreyQuery), then
// evaluated per segment snapshot; primary-key restrictions go through the key index.

extension Collection {
    /// Parses and type-checks a filter; nil for an empty one (or one that is always true).
    func compileFilter(_ filter: String?, params: [String: FieldValue], schema: CollectionSchema) throws(OspreyError) -> CompiledFilter? {
        guard let filter, !filter.trimmingSpaces.isEmpty else { return nil }
        var templates: [String: FilterTemplateValue] = [:]
        for (k, v) in params {
            guard let t = FilterTemplateValue(v) else {
                throw .invalidArgument("filter parameter '\(k)' has a value of kind \(v.kindName), which a filter cannot use")
            }
            templates[k] = t
        }
        let compiled: CompiledFilter
        do { compiled = try CompiledFilter(filter, schema: schema, templateValues: templates) } catch {
            throw .invalidFilter(error.description)
        }
        return compiled.matchesEverything ? nil : compiled
    }

    /// The snapshot rows whose keys satisfy an exact primary-key restriction, found through the
    /// key index instead of a scan; nil when the filter is not such a restriction.
    /// `pastSnapshot`: the read asked for an older snapshot (see `locate`).
    func rowsByKey(_ filter: CompiledFilter?, snapshot snap: CollectionSnapshot, pastSnapshot: Bool = false) -> [(PrimaryKey, SegmentSnapshot, Int)]? {
        guard let filter, let r = filter.primaryKeyRestriction, r.isExact, let keys = r.keys else { return nil }
        let byID = Dictionary(uniqueKeysWithValues: snap.segments.map { ($0.segment.id, $0) })
        let locations = locate(keys, in: snap, pastSnapshot: pastSnapshot)
        var out: [(PrimaryKey, SegmentSnapshot, Int)] = []
        for (k, loc) in zip(keys, locations) {
            guard let loc, let s = byID[loc.segment], r.boundsContain(k) else { continue }
            let row = Int(loc.row)
            guard row < s.rowCount, s.liveRange.contains(row), !(s.deleted?.contains(row) ?? false) else { continue }
            out.append((k, s, row))
        }
        return out
    }

    /// Deletes the live rows that match a filter (only in `partition`, when given).
    @discardableResult
    public func delete(filter: String, filterParams: [String: FieldValue] = [:], partition: String? = nil) throws(OspreyError) -> MutationResult {
        try context.checkOpen()
        guard !filter.trimmingSpaces.isEmpty else { throw .invalidArgument("delete needs a filter; an empty one would delete every row") }
        let schema = self.schema
        let compiled = try compileFilter(filter, params: filterParams, schema: schema)
        let snap = try snapshot(partitions: partition.map { [$0] } ?? [])
        var keys: [PrimaryKey] = []
        if let byKey = rowsByKey(compiled, snapshot: snap) {
            keys = byKey.map(\.0)
        } else {
            for s in snap.segments {
                if let mask = try rowMask(s, filter: compiled) {
                    mask.forEachSetBit { keys.append(s.segment.primaryKey(row: $0)) }
                } else {
                    for r in 0..<s.rowCount { keys.append(s.segment.primaryKey(row: r)) }
                }
            }
        }
        return try delete(ids: keys, partition: partition)
    }
}
