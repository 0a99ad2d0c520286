import OspreyCore
import OspreyIndex
import OspreyQuery

// Index declarations. A vector index is built for sealed segments; growing segments are
// searched exactly. Scalar indexes are declared for the filter planner.

/// Scalar index types Milvus accepts, and the field types each applies to.
enum ScalarIndexType: String, CaseIterable {
    case inverted = "INVERTED"
    case stlSort = "STL_SORT"
    case bitmap = "BITMAP"
    case trie = "TRIE"
    case autoIndex = "AUTOINDEX"

    func supports(_ f: FieldSchema) -> Bool {
        switch self {
        case .inverted, .autoIndex: return !f.dataType.isVector
        case .stlSort: return f.dataType.isNumeric || f.dataType == .varchar
        case .bitmap:
            if f.dataType == .array { return f.elementType.map { $0 == .bool || $0.isInteger || $0 == .varchar } ?? false }
            return f.dataType == .bool || f.dataType.isInteger || f.dataType == .varchar
        case .trie: return f.dataType == .varchar
        }
    }
}

extension Collection {
    /// Declares an index on a field.
    ///
    /// - Parameters:
    ///   - field: the field to index.
    ///   - name: the index name; defaults to the field name.
    ///   - indexType: Milvus's name: FLAT, HNSW, IVF_FLAT, IVF_SQ8, IVF_PQ, BIN_FLAT,
    ///     BIN_IVF_FLAT or AUTOINDEX for vector fields; INVERTED, STL_SORT, BITMAP, Trie or
    ///     AUTOINDEX for scalar fields.
    ///   - metric: required for vector fields (defaults to COSINE for float vectors under
    ///     AUTOINDEX, as in Milvus; HAMMING for binary; IP for sparse).
    ///   - params: build parameters (M, efConstruction, nlist, m, nbits, …).
    /// - Throws: `.invalidArgument` for an unknown type, a type or metric that does not fit the
    ///   field, or a second index on the same field with different parameters.
    public func createIndex(field: String, name: String? = nil, indexType: String, metric: Metric? = nil,
                            params: [String: String] = [:]) throws(OspreyError) {
        try context.checkOpen()
        let schema = self.schema
        guard let f = schema.field(named: field) else { throw .fieldNotFound(collection: self.name, field: field) }
        let indexName = (name?.isEmpty ?? true) ? field : name!
        do { try Naming.validate(indexName, what: "index name") } catch { throw .validation(error) }
        var resolvedMetric = metric
        let typeName = indexType.isEmpty ? "AUTOINDEX" : indexType.uppercased()
        if f.dataType.isVector {
            if f.dataType == .sparseFloatVector {
                guard ["SPARSE_INVERTED_INDEX", "SPARSE_WAND", "AUTOINDEX"].contains(typeName) else {
                    throw .invalidArgument("index type \(indexType) does not apply to SPARSE_FLOAT_VECTOR field '\(field)'")
                }
            } else {
                let t: IndexType
                do { t = try IndexType(milvusName: typeName) } catch { throw .invalidArgument(error.description) }
                guard t.supportedTypes.contains(f.dataType) else {
                    throw .invalidArgument("index type \(t) does not apply to \(f.dataType) field '\(field)'")
                }
            }
            let m = metric ?? (f.dataType == .binaryVector ? .hamming : f.dataType == .sparseFloatVector ? .ip : .cosine)
            guard f.dataType.supportedMetrics.contains(m) else {
                throw .invalidArgument("metric \(m) does not apply to \(f.dataType) field '\(field)'")
            }
            resolvedMetric = m
            if f.dataType.isDenseVector {
                do {
                    _ = try IndexFactory.make(indexType: typeName, metricType: m.rawValue, params: params, type: f.dataType, dim: f.dim!)
                } catch {
                    throw .invalidArgument(error.description)
                }
            }
        } else {
            guard metric == nil else { throw .invalidArgument("scalar index on '\(field)' takes no metric type") }
            guard let t = ScalarIndexType(rawValue: typeName) else {
                throw .invalidArgument("unknown scalar index type \(indexType); use INVERTED, STL_SORT, BITMAP, Trie or AUTOINDEX")
            }
            guard t.supports(f) else { throw .invalidArgument("index type \(indexType) does not apply to \(f.dataType) field '\(field)'") }
        }
        let desc = IndexDescription(name: indexName, field: field, indexType: typeName, metric: resolvedMetric, params: params, id: context.newID())
        try updateMeta { m throws(OspreyError) in
            if let existing = m.indexes.first(where: { $0.field == field }) {
                if existing.name == indexName, existing.indexType == desc.indexType, existing.metric == desc.metric, existing.params == desc.params {
                    return  // the same index again: nothing to do, as in Milvus
                }
                throw .invalidArgument("field '\(field)' already has index '\(existing.name)' (\(existing.indexType)); drop it first")
            }
            if m.indexes.contains(where: { $0.name == indexName }) {
                throw .alreadyExists(kind: "index", name: indexName)
            }
            m.indexes.append(desc)
        }
        scheduleIndexBuilds(segments.withLock { Array($0.values) }.filter(\.sealed))
    }

    /// The indexes declared on the collection (optionally only those on `field`).
    public func listIndexes(field: String? = nil) -> [IndexDescription] {
        meta.withLock { m in m.indexes.filter { field == nil || field!.isEmpty || $0.field == field } }
    }

    /// Drops an index by name.
    public func dropIndex(name: String) throws(OspreyError) {
        try context.checkOpen()
        let removed = try updateMeta { m throws(OspreyError) -> IndexDescription in
            guard let i = m.indexes.firstIndex(where: { $0.name == name }) else {
                throw .indexNotFound(collection: m.name, field: name)
            }
            let removed = m.indexes.remove(at: i)
            m.indexFailures[removed.id] = nil
            return removed
        }
        for seg in segments.withLock({ Array($0.values) }) {
            seg.removeIndex(field: removed.field)
            _ = seg.scalarIndexes.withLock { $0.removeValue(forKey: removed.field) }
        }
    }

    /// How far the build of an index has got.
    public func indexProgress(name: String) throws(OspreyError) -> IndexProgress {
        let (desc, failure) = try meta.withLock { m throws(OspreyError) -> (IndexDescription, String?) in
            guard let d = m.indexes.first(where: { $0.name == name }) else { throw .indexNotFound(collection: m.name, field: name) }
            return (d, m.indexFailures[d.id])
        }
        let segs = segments.withLock { Array($0.values) }
        var total = 0, indexed = 0, pending = 0
        for s in segs {
            let rows = s.rowCount
            total += rows
            let isVector = schema.field(named: desc.field)?.dataType.isDenseVector ?? false
            if !isVector || s.builtIndex(field: desc.field, indexID: desc.id) != nil {
                indexed += rows
            } else if s.sealed {
                pending += rows
            }
        }
        let state: IndexProgress.State = failure.map { .failed($0) } ?? (pending == 0 ? .finished : .inProgress)
        return IndexProgress(indexedRows: indexed, totalRows: total, pendingRows: pending, state: state)
    }

    /// Blocks until every index build scheduled so far (by any collection) has finished.
    public func waitForIndexBuilds() { context.indexBuilds.waitUntilIdle() }

    /// Builds the declared indexes for sealed segments that lack them, in the background.
    func scheduleIndexBuilds(_ sealed: [Segment]) {
        let (indexes, schema) = meta.withLock { ($0.indexes, $0.schema) }
        for desc in indexes {
            guard let field = schema.field(named: desc.field) else { continue }
            if !field.dataType.isVector {
                scheduleScalarIndexBuilds(desc, field: field, sealed: sealed)
                continue
            }
            guard field.dataType.isDenseVector else { continue }
            for seg in sealed where seg.sealed && seg.rowCount > 0 && seg.builtIndex(field: desc.field, indexID: desc.id) == nil {
                context.indexBuilds.schedule { [weak self] in
                    guard let self, self.listIndexes().contains(where: { $0.id == desc.id }) else { return }
                    do {
                        let built = try seg.buildIndex(desc, field: field)
                        if self.listIndexes().contains(where: { $0.id == desc.id }) { seg.installIndex(built) }
                    } catch {
                        self.meta.withLock { $0.indexFailures[desc.id] = "\(error)" }
                    }
                }
            }
        }
    }
}

extension Collection {
    /// Builds a declared scalar index for sealed segments, where the filter layer has an index
    /// for the field's type (others are accepted and their filters scan, as before).
    func scheduleScalarIndexBuilds(_ desc: IndexDescription, field: FieldSchema, sealed: [Segment]) {
        guard let type = OspreyQuery.ScalarIndexType(milvusName: desc.indexType) ?? OspreyQuery.ScalarIndexType.automatic(for: field),
              (try? type.check(field)) != nil else { return }
        for seg in sealed where seg.sealed && seg.rowCount > 0 && seg.scalarIndexes.withLock({ $0[field.name] == nil }) {
            context.indexBuilds.schedule { [weak self] in
                guard let self, self.listIndexes().contains(where: { $0.id == desc.id }) else { return }
                let rows = seg.rowCount
                guard let view = seg.column(named: field.name, rows: rows),
                      let built = try? ScalarIndex.build(type, over: view, rowCount: rows) else { return }
                if self.listIndexes().contains(where: { $0.id == desc.id }) {
                    seg.scalarIndexes.withLock { $0[field.name] = built }
                }
            }
        }
    }
}

/// The state of an index build, as `describe_index` reports it.
///
/// Thread safety: a value type; safe to share.
public struct IndexProgress: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case inProgress
        case finished
        case failed(String)
    }
    /// Rows covered by a built index (all rows for scalar indexes).
    public var indexedRows: Int
    public var totalRows: Int
    /// Rows of sealed segments still waiting for their index.
    public var pendingRows: Int
    public var state: State
}

extension Collection {
    /// The declared index on `field` that a search with `metric` may use.
    func usableIndex(field: String, metric: Metric) -> IndexDescription? {
        listIndexes(field: field).first { $0.metric == metric }
    }
}
