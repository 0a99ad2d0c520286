import OspreyCore

// Partial upsert (Milvus's `upsert(partial_update=True)`, "merge mode"): rows carry the
// primary key and only the fields to change.

extension Collection {
    /// Upserts rows that carry only some fields: for a key that exists, the fields left out
    /// keep their stored values and dynamic keys are merged (keys given replace stored ones,
    /// the others stay); for a new key, the fields left out take their default or null.
    ///
    /// The stored rows are read, merged and written as one ordinary upsert. The read and the
    /// write are two steps: a write to the same key by another client between them is
    /// overwritten by the values read before it (Milvus's merge mode, a query followed by an
    /// upsert, behaves the same way).
    ///
    /// - Parameters:
    ///   - columns: the primary key column and the columns to set, all with the same rows;
    ///     `$meta` (or, through rows, keys that are not fields) for dynamic keys.
    ///   - partition: as for `upsert`.
    /// - Throws: `.invalidArgument` when the primary key is missing or generated (auto_id);
    ///   `.validation` for an unknown field, a value of the wrong type, or a new key without a
    ///   value for a field that is neither nullable nor has a default.
    @discardableResult
    public func partialUpsert(columns batch: ColumnBatch, partition: String? = nil) throws(OspreyError) -> MutationResult {
        try context.checkOpen()
        let schema = self.schema
        let pk = schema.primaryKey
        guard !pk.autoID else {
            throw .invalidArgument("a partial upsert needs the rows' primary keys, which this collection generates (auto_id)")
        }
        guard let keyColumn = batch[pk.name] else {
            throw .invalidArgument("a partial upsert needs the primary key field '\(pk.name)' in every row")
        }
        for name in batch.columns.keys where schema.field(named: name) == nil && name != CollectionSchema.dynamicFieldName {
            throw .validation(ValidationError(.unknownField, "unknown field '\(name)'", field: name))
        }
        var keys: [PrimaryKey] = []
        keys.reserveCapacity(batch.rowCount)
        for r in 0..<batch.rowCount {
            switch (keyColumn.value(at: r), pk.dataType) {
            case (.int(let k), .int64): keys.append(.int(k))
            case (.string(let k), .varchar): keys.append(.string(k))
            case (let v, _):
                throw .validation(ValidationError(.typeMismatch, "expected a \(pk.dataType) primary key, got \(v.kindName)", field: pk.name, row: r))
            }
        }
        var stored: [PrimaryKey: [String: FieldValue]] = [:]
        if !keys.isEmpty {
            let found = try get(ids: Array(Set(keys)), outputFields: ["*"])
            for i in 0..<found.count {
                let row = found.row(i)
                switch row[pk.name] {
                case .int(let k)?: stored[.int(k)] = row
                case .string(let k)?: stored[.string(k)] = row
                default: break
                }
            }
        }
        let merged = (0..<batch.rowCount).map { r -> [String: FieldValue] in
            var row = stored[keys[r]] ?? [:]
            for (name, value) in batch.row(r) { row[name] = value }
            return row
        }
        return try upsert(merged, partition: partition)
    }
}
