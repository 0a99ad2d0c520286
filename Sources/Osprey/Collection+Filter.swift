import OspreyCore

/// A filter expression checked against a schema, ready to evaluate on segments.
struct CompiledFilter: Sendable {
    let expression: String

    /// The rows of the segment snapshot (all `rowCount` of them) that match.
    func evaluate(on snapshot: SegmentSnapshot) throws(OspreyError) -> Bitset {
        throw .unsupported("filter expressions are not available yet")
    }
}

extension Collection {
    /// Parses and type-checks a filter; nil for an empty one.
    func compileFilter(_ filter: String?, params: [String: FieldValue], schema: CollectionSchema) throws(OspreyError) -> CompiledFilter? {
        guard let filter, !filter.trimmingSpaces.isEmpty else { return nil }
        throw .unsupported("filter expressions are not available yet: '\(filter)'")
    }
}
