import OspreyCore

/// The read side of every vector index: search, range search, size, and serialisation.
///
/// Queries are raw vectors of the index's type, contiguous, `vectorBytes` apart; results are
/// per query, best first, as ``Neighbor``s whose `row` is the position (0..<count) of the row in
/// the segment the index was built over and whose distance follows the internal convention.
///
/// Thread safety: implementations are safe to search from any number of threads at once.
package protocol VectorIndexRead: AnyObject, Sendable {
    /// What the index is: type, metric, vector type, dimension, build params.
    var configuration: IndexConfiguration { get }
    /// Rows in the index (including removed ones, which are never returned).
    var count: Int { get }
    /// Bytes of heap memory the index holds (vectors, links, codes, tables).
    var memoryBytes: Int { get }
    /// Bytes of a mapped index file the index reads in place (see ``IndexImage``).
    var mappedBytes: Int { get }
    /// The `k` nearest allowed rows of each query.
    func search(queries: UnsafeRawBufferPointer, parameters: SearchParameters) throws(IndexError) -> [[Neighbor]]
    /// Every row within the bounds (FLAT), or those found among the candidates explored (approximate
    /// indexes); every hit returned satisfies the bounds.
    func rangeSearch(queries: UnsafeRawBufferPointer, parameters: RangeParameters) throws(IndexError) -> [[Neighbor]]
    /// The index as a self-contained, checksummed file image (docs/index.md).
    func serialized() -> [UInt8]
}

/// The write side: training, adding rows, removing rows.
///
/// Thread safety: `train`, `add` and `remove` may be called from any thread; implementations
/// serialise writers internally and searches running concurrently see either the old or the new
/// state.
package protocol VectorIndex: VectorIndexRead {
    /// Whether `add` can be called (true for indexes that need no training).
    var isTrained: Bool { get }
    /// Learns centroids / codebooks from a sample of the source (no-op for FLAT and HNSW).
    func train(_ source: some VectorSource) throws(IndexError)
    /// Appends every row of `source`; row `i` of the source becomes row `count + i` of the index.
    func add(_ source: some VectorSource) throws(IndexError)
    /// Marks rows as removed: they are never returned again.
    func remove(_ rows: [RowID]) throws(IndexError)
}

extension VectorIndexRead {
    /// Searches float32 queries given as row-major floats.
    package func search(floats: [Float], parameters: SearchParameters) throws(IndexError) -> [[Neighbor]] {
        try withRawBytes(floats) { raw throws(IndexError) in try search(queries: raw, parameters: parameters) }
    }

    /// Range-searches float32 queries given as row-major floats.
    package func rangeSearch(floats: [Float], parameters: RangeParameters) throws(IndexError) -> [[Neighbor]] {
        try withRawBytes(floats) { raw throws(IndexError) in try rangeSearch(queries: raw, parameters: parameters) }
    }

    /// The number of queries in `queries`, after checking it holds whole vectors.
    package func queryCount(_ queries: UnsafeRawBufferPointer) throws(IndexError) -> Int {
        let vb = configuration.type.vectorBytes(dim: configuration.dim)
        guard queries.count % vb == 0 else { throw .dimensionMismatch(expectedBytes: vb, actualBytes: queries.count) }
        return queries.count / vb
    }
}

/// Creates and loads indexes by Milvus's names.
///
/// Thread safety: stateless; safe from any thread.
package enum IndexFactory {
    /// An empty index for a configuration.
    package static func make(_ configuration: IndexConfiguration) throws(IndexError) -> any VectorIndex {
        switch configuration.indexType {
        case .flat, .binFlat: return try FlatIndex(configuration)
        case .hnsw, .autoIndex: return try HNSWIndex(configuration)
        case .ivfFlat, .ivfSQ8: return try IVFIndex(configuration)
        case .ivfPQ: return try IVFPQIndex(configuration)
        case .binIVFFlat: return try BinaryIVFIndex(configuration)
        }
    }

    /// An empty index from Milvus's `create_index` arguments.
    package static func make(indexType: String, metricType: String, params: [String: String], type: DataType, dim: Int) throws(IndexError) -> any VectorIndex {
        try make(IndexConfiguration(indexType: indexType, metricType: metricType, params: params, type: type, dim: dim))
    }

    /// Loads an index from a file image written by `serialized()`; corrupt images throw.
    package static func load(_ bytes: [UInt8]) throws(IndexError) -> any VectorIndex {
        try load(IndexFile.parse(bytes))
    }

    /// Loads an index from a parsed file image (in memory or mapped).
    package static func load(_ file: IndexFile) throws(IndexError) -> any VectorIndex {
        switch file.configuration.indexType {
        case .flat, .binFlat: return try FlatIndex(file: file)
        case .hnsw, .autoIndex: return try HNSWIndex(file: file)
        case .ivfFlat, .ivfSQ8: return try IVFIndex(file: file)
        case .ivfPQ: return try IVFPQIndex(file: file)
        case .binIVFFlat: return try BinaryIVFIndex(file: file)
        }
    }
}

extension VectorIndexRead {
    /// Indexes that never read a file in place hold no mapped bytes.
    package var mappedBytes: Int { 0 }
}

/// Calls `body` with the bytes of an array, keeping `body`'s typed error.
func withRawBytes<T, R>(_ array: [T], _ body: (UnsafeRawBufferPointer) throws(IndexError) -> R) throws(IndexError) -> R {
    let result: Result<R, IndexError> = array.withUnsafeBytes { raw in
        Result { () throws(IndexError) -> R in try body(raw) }
    }
    return try result.get()
}

/// The rows a search may return: the filter (sized to `count` rows) minus the removed rows;
/// nil when every row is allowed.
func allowedRows(filter: Bitset?, removed: Bitset, count: Int) -> Bitset? {
    if var f = filter {
        if f.count != count { f.resize(to: count) }
        if !removed.isAllClear { f.subtract(removed) }
        return f
    }
    return removed.isAllClear ? nil : removed.inverted()
}
