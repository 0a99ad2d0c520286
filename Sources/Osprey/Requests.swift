import OspreyCore

/// What a write returned: the primary keys written and the write's timestamp.
public struct MutationResult: Sendable, Hashable {
    /// The keys of the rows written (generated ones for auto_id), in row order.
    public var primaryKeys: [PrimaryKey]
    /// The hybrid timestamp of the write; reads at or after it see it.
    public var timestamp: Timestamp
    /// Rows inserted or upserted; for deletes, rows deleted.
    public var count: Int
}

/// A vector search: `vectors.count` queries against one vector field.
///
/// Thread safety: a value type; safe to share.
public struct SearchRequest: Sendable {
    /// The query vectors: `.floatVector`, `.float16Vector`, `.bfloat16Vector`, `.int8Vector`,
    /// `.binaryVector` or `.sparseVector`, matching the field (float vectors also serve FLOAT16
    /// and BFLOAT16 fields).
    public var vectors: [FieldValue]
    /// The vector field to search; may be nil when the collection has exactly one.
    public var field: String?
    /// Hits per query (Milvus's `limit` / `topk`).
    public var limit: Int
    /// The metric; nil means the field index's metric, or the type's default without an index
    /// (L2 for float vectors, HAMMING for binary, IP for sparse).
    public var metric: Metric?
    /// A filter expression in Milvus's syntax; nil or empty for none.
    public var filter: String?
    /// Values for `{name}` placeholders in the filter.
    public var filterParams: [String: FieldValue]
    /// Fields to return with each hit (`*` for all; dynamic keys by name).
    public var outputFields: [String]
    /// Partitions to search; empty for all.
    public var partitions: [String]
    /// Index-specific parameters: `ef` (HNSW), `nprobe` (IVF); range search: `radius`, `range_filter`.
    public var params: [String: String]
    /// Hits to skip per query, before `limit` (pagination).
    public var offset: Int
    /// Decimal places to round scores to; -1 keeps them as they are.
    public var roundDecimal: Int
    /// Group hits by this scalar field: at most `groupSize` hits per distinct value, `limit`
    /// groups (Milvus's `group_by_field`); `offset` then skips whole groups.
    public var groupByField: String?
    /// Hits per group (Milvus's `group_size`, default 1).
    public var groupSize: Int
    /// Search on until every returned group has `groupSize` hits, where the data has them;
    /// otherwise `limit` groups are enough (Milvus's `strict_group_size`).
    public var strictGroupSize: Bool
    /// Read as of this timestamp instead of the newest commit (never later than it): rows
    /// written after it are not seen, rows deleted after it still are. Iterators and the
    /// sub-searches of a hybrid search read one snapshot this way. Rows that compaction or
    /// retention has removed since are not brought back.
    public var readTimestamp: Timestamp? = nil

    public init(
        vectors: [FieldValue], field: String? = nil, limit: Int = 10, metric: Metric? = nil, filter: String? = nil,
        filterParams: [String: FieldValue] = [:], outputFields: [String] = [], partitions: [String] = [],
        params: [String: String] = [:], offset: Int = 0, roundDecimal: Int = -1,
        groupByField: String? = nil, groupSize: Int = 1, strictGroupSize: Bool = false
    ) {
        self.groupByField = groupByField
        self.groupSize = groupSize
        self.strictGroupSize = strictGroupSize
        self.vectors = vectors
        self.field = field
        self.limit = limit
        self.metric = metric
        self.filter = filter
        self.filterParams = filterParams
        self.outputFields = outputFields
        self.partitions = partitions
        self.params = params
        self.offset = offset
        self.roundDecimal = roundDecimal
    }
}

/// The hits of one query, best first.
///
/// Thread safety: a value type; safe to share.
public struct SearchHits: Sendable, Hashable {
    public var ids: [PrimaryKey]
    /// Scores as clients see them: L2 squared distance (ascending), IP and COSINE similarity
    /// (descending), HAMMING and JACCARD distance (ascending).
    public var scores: [Float]
    /// The requested output fields of each hit, row-aligned with `ids`.
    public var fields: ColumnBatch
    /// For a grouped search, each hit's value of the group-by field.
    public var groupValues: [FieldValue]?

    public init(ids: [PrimaryKey], scores: [Float], fields: ColumnBatch, groupValues: [FieldValue]? = nil) {
        self.ids = ids
        self.scores = scores
        self.fields = fields
        self.groupValues = groupValues
    }

    public var count: Int { ids.count }

    /// Hit `i` as a dictionary of its output fields.
    public func row(_ i: Int) -> [String: FieldValue] { fields.row(i) }
}

/// Rows returned by `query` or `get`, in columns (always including the primary key).
///
/// Thread safety: a value type; safe to share.
public struct QueryResult: Sendable, Hashable {
    public var columns: ColumnBatch
    public var count: Int { columns.rowCount }
    /// Row `i` as a dictionary of field name to value (dynamic keys merged in).
    public func row(_ i: Int) -> [String: FieldValue] { columns.row(i) }
    /// Every row as a dictionary.
    public var rows: [[String: FieldValue]] { (0..<count).map(row) }
}

/// A query over scalar fields: which rows, which fields, how many.
///
/// Thread safety: a value type; safe to share.
public struct QueryRequest: Sendable {
    /// A filter in Milvus's syntax; empty matches every row (then a limit is required, as in Milvus).
    public var filter: String
    public var filterParams: [String: FieldValue]
    /// Fields to return (`*` for all; dynamic keys by name); the primary key is always returned.
    public var outputFields: [String]
    public var partitions: [String]
    public var limit: Int?
    public var offset: Int
    /// Read as of this timestamp instead of the newest commit; see `SearchRequest.readTimestamp`.
    public var readTimestamp: Timestamp? = nil

    public init(filter: String = "", filterParams: [String: FieldValue] = [:], outputFields: [String] = [],
                partitions: [String] = [], limit: Int? = nil, offset: Int = 0) {
        self.filter = filter
        self.filterParams = filterParams
        self.outputFields = outputFields
        self.partitions = partitions
        self.limit = limit
        self.offset = offset
    }
}

/// A vector index declared on a field.
///
/// Thread safety: a value type; safe to share.
public struct IndexDescription: Sendable, Hashable {
    public var name: String
    public var field: String
    /// Milvus's index type name (HNSW, IVF_FLAT, FLAT, AUTOINDEX, INVERTED, …).
    public var indexType: String
    public var metric: Metric?
    /// Build parameters as given (M, efConstruction, nlist, …).
    public var params: [String: String]
    public var id: Int64
}

/// What `describe` says about a collection.
///
/// Thread safety: a value type; safe to share.
public struct CollectionDescription: Sendable, Hashable {
    public var name: String
    public var id: Int64
    public var database: String
    public var schema: CollectionSchema
    public var properties: [String: String]
    public var partitions: [String]
    public var aliases: [String]
    public var indexes: [IndexDescription]
    public var createdTimestamp: Timestamp
    /// Changes whenever the schema or properties change (clients cache schemas by it).
    public var updatedTimestamp: Timestamp
    public var numPartitions: Int
    public var consistencyLevel: String
}

/// Options of a collection at creation.
public struct CollectionOptions: Sendable {
    /// Collection properties, e.g. `collection.ttl.seconds`.
    public var properties: [String: String]
    /// Partitions to hash rows into when the schema has a partition key (Milvus's default 16).
    public var numPartitions: Int
    /// The consistency level clients asked for; Osprey always reads its own writes.
    public var consistencyLevel: String
    public var description: String

    public init(properties: [String: String] = [:], numPartitions: Int = 16, consistencyLevel: String = "Bounded", description: String = "") {
        self.properties = properties
        self.numPartitions = numPartitions
        self.consistencyLevel = consistencyLevel
        self.description = description
    }
}

/// Options of a database when it is opened.
public struct DatabaseOptions: Sendable {
    /// Rows per growing segment before it is sealed.
    public var segmentMaxRows: Int
    /// Background compaction (Compactor.swift).
    public var compaction: CompactionOptions

    public init(segmentMaxRows: Int = 1 << 20, compaction: CompactionOptions = CompactionOptions()) {
        self.segmentMaxRows = segmentMaxRows
        self.compaction = compaction
    }
}
