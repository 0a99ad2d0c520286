import OspreyCore

/// The scalar index types Milvus accepts, under Milvus's names.
///
/// Thread safety: a value type; safe to share.
package enum ScalarIndexType: String, Sendable, Hashable, CaseIterable {
    /// Sorted distinct values, each with the ascending list of its rows (all scalar types).
    case inverted = "INVERTED"
    /// Sorted (value, row) postings for range lookups (numeric fields).
    case stlSort = "STL_SORT"
    /// One bitset per distinct value, for low-cardinality fields (BOOL, integers, VARCHAR).
    case bitmap = "BITMAP"
    /// Sorted distinct strings with their rows; prefix lookups by binary search (VARCHAR).
    case trie = "Trie"

    /// Parses Milvus's name case-insensitively; `AUTOINDEX` (or an empty name) is
    /// resolved per field with `automatic(for:)`, so it gives nil here.
    package init?(milvusName: String) {
        guard let t = Self.allCases.first(where: { $0.rawValue.uppercased() == milvusName.uppercased() }) else { return nil }
        self = t
    }

    /// What AUTOINDEX builds for a field: BITMAP for BOOL, STL_SORT for numbers, INVERTED
    /// for VARCHAR; nil for types no scalar index covers here (JSON, ARRAY, vectors).
    package static func automatic(for field: FieldSchema) -> ScalarIndexType? {
        switch field.dataType {
        case .bool: return .bitmap
        case .int8, .int16, .int32, .int64, .float, .double: return .stlSort
        case .varchar: return .inverted
        default: return nil
        }
    }

    /// Whether this index type can be built on `field`.
    ///
    /// - Throws: `ScalarIndexError` naming the field and the types the index accepts.
    package func check(_ field: FieldSchema) throws(ScalarIndexError) {
        let t = field.dataType
        let ok: Bool
        switch self {
        case .inverted: ok = t == .bool || t.isNumeric || t == .varchar
        case .stlSort: ok = t.isNumeric
        case .bitmap: ok = (t == .bool || t.isInteger || t == .varchar) && !field.isPrimaryKey
        case .trie: ok = t == .varchar
        }
        guard ok else {
            let accepted: String
            switch self {
            case .inverted: accepted = "BOOL, integer, FLOAT, DOUBLE and VARCHAR fields"
            case .stlSort: accepted = "integer, FLOAT and DOUBLE fields"
            case .bitmap: accepted = "BOOL, integer and VARCHAR fields other than the primary key"
            case .trie: accepted = "VARCHAR fields"
            }
            throw ScalarIndexError("a \(rawValue) index cannot be built on \(t) field '\(field.name)'; it applies to \(accepted)")
        }
    }
}

/// A request for a scalar index that does not fit the field, or an index file that does not
/// decode. Building errors are the caller's fault; decoding errors are the service's.
///
/// Thread safety: a value type; safe to share.
package struct ScalarIndexError: Error, Sendable, Hashable, CustomStringConvertible {
    package var message: String
    package var isCallerFault: Bool

    package init(_ message: String, isCallerFault: Bool = true) {
        self.message = message
        self.isCallerFault = isCallerFault
    }

    package var description: String { message }
}

/// Segments that carry scalar indexes adopt this so that filter evaluation uses them.
///
/// Thread safety: implementations are immutable snapshots, safe to read from several threads.
package protocol FilterIndexSource {
    /// The scalar index built over a column, or nil.
    func scalarIndex(ofColumn name: String) -> ScalarIndex?
}

/// A scalar index over one column of one sealed segment: the column's distinct non-null
/// values in ascending order, each with the rows holding it. Null rows are not indexed.
///
/// INVERTED, STL_SORT and Trie keep postings in one compressed-sparse-row array (sorted
/// keys, offsets, ascending row numbers); BITMAP keeps one bitset per key. Lookups binary-
/// search the keys and touch only the matching postings.
///
/// Thread safety: immutable; safe to query from several threads.
package struct ScalarIndex: Sendable, Hashable {
    /// The distinct keys, ascending (BOOL as 0/1, integers widened, FLOAT widened to double).
    package enum Keys: Sendable, Hashable {
        case ints([Int64])
        case doubles([Double])
        case strings([String])

        var count: Int {
            switch self {
            case .ints(let k): return k.count
            case .doubles(let k): return k.count
            case .strings(let k): return k.count
            }
        }
    }

    package let type: ScalarIndexType
    package let fieldName: String
    /// The number of rows of the segment the index was built over.
    package let rowCount: Int
    package let keys: Keys
    /// Postings of key `i`: `rows[offsets[i] ..< offsets[i + 1]]` (empty for BITMAP).
    let offsets: [UInt32]
    let rows: [UInt32]
    /// BITMAP: the rows of key `i`.
    let bitmaps: [Bitset]

    /// The number of distinct non-null values.
    package var distinctCount: Int { keys.count }

    init(type: ScalarIndexType, fieldName: String, rowCount: Int, keys: Keys, offsets: [UInt32], rows: [UInt32], bitmaps: [Bitset]) {
        self.type = type
        self.fieldName = fieldName
        self.rowCount = rowCount
        self.keys = keys
        self.offsets = offsets
        self.rows = rows
        self.bitmaps = bitmaps
    }

    /// Builds an index of `type` over the first `rowCount` rows of `column`.
    ///
    /// - Throws: `ScalarIndexError` when the type does not apply to the field.
    /// - Complexity: O(n log n) for n rows.
    package static func build(_ type: ScalarIndexType, over column: ColumnView, rowCount: Int) throws(ScalarIndexError) -> ScalarIndex {
        try type.check(column.field)
        let name = column.field.name
        func collect<T, K: Comparable>(_ view: ChunkedView<T>, _ key: (T) -> K) -> [(K, UInt32)] {
            var pairs: [(K, UInt32)] = []
            pairs.reserveCapacity(rowCount)
            for i in 0..<Swift.min(rowCount, view.count) where !column.isNull(i) {
                pairs.append((key(view[i]), UInt32(i)))
            }
            return pairs
        }
        switch column.values {
        case .bool(let v): return make(type, name, rowCount, collect(v) { Int64($0 ? 1 : 0) }, Keys.ints)
        case .int8(let v): return make(type, name, rowCount, collect(v) { Int64($0) }, Keys.ints)
        case .int16(let v): return make(type, name, rowCount, collect(v) { Int64($0) }, Keys.ints)
        case .int32(let v): return make(type, name, rowCount, collect(v) { Int64($0) }, Keys.ints)
        case .int64(let v): return make(type, name, rowCount, collect(v) { $0 }, Keys.ints)
        case .float(let v): return make(type, name, rowCount, collect(v) { Double($0) }, Keys.doubles)
        case .double(let v): return make(type, name, rowCount, collect(v) { $0 }, Keys.doubles)
        case .string(let v): return make(type, name, rowCount, collect(v) { $0 }, Keys.strings)
        default: throw ScalarIndexError("field '\(name)' has no scalar column to index")
        }
    }

    static func make<K: Comparable>(_ type: ScalarIndexType, _ name: String, _ rowCount: Int, _ pairs: [(K, UInt32)], _ wrap: ([K]) -> Keys) -> ScalarIndex {
        let sorted = pairs.sorted { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        var keys: [K] = []
        var offsets: [UInt32] = []
        var rows: [UInt32] = []
        var bitmaps: [Bitset] = []
        rows.reserveCapacity(type == .bitmap ? 0 : sorted.count)
        for (k, r) in sorted {
            if keys.last != k {
                keys.append(k)
                if type == .bitmap { bitmaps.append(Bitset(count: rowCount)) } else { offsets.append(UInt32(rows.count)) }
            }
            if type == .bitmap { bitmaps[bitmaps.count - 1].set(Int(r)) } else { rows.append(r) }
        }
        if type != .bitmap { offsets.append(UInt32(rows.count)) }
        return ScalarIndex(type: type, fieldName: name, rowCount: rowCount, keys: wrap(keys), offsets: offsets, rows: rows, bitmaps: bitmaps)
    }

    // MARK: - Lookups

    /// Rows of keys `range` (indexes into the sorted keys).
    func rows(ofKeys range: Range<Int>) -> Bitset {
        var out = Bitset(count: rowCount)
        guard !range.isEmpty else { return out }
        if type == .bitmap {
            for k in range { out.formUnion(bitmaps[k]) }
            return out
        }
        rows.withUnsafeBufferPointer { rs in
            out.withUnsafeMutableWords { words in
                for p in Int(offsets[range.lowerBound])..<Int(offsets[range.upperBound]) {
                    let r = Int(rs[p])
                    words[r >> 6] |= 1 << UInt64(r & 63)
                }
            }
        }
        return out
    }

    /// The first index in `keys` whose key is not `before` the probe.
    static func partition<K>(_ keys: [K], _ before: (K) -> Bool) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if before(keys[mid]) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The key positions whose values satisfy the bounds; nil when the bounds do not apply
    /// to this index's keys (a string bound on numbers, …).
    func keyRange(_ lower: FilterBound?, _ upper: FilterBound?) -> Range<Int>? {
        switch keys {
        case .ints(let ks):
            if let b = lower?.value ?? upper?.value, case .bool = b {
                return keyRange(lower.map(Self.boolAsInt), upper.map(Self.boolAsInt))
            }
            guard let (lo, hi) = FilterKernels.intInterval(lower, upper) else {
                // Numeric bounds that no integer satisfies select nothing; others do not apply.
                let numeric = (lower?.value.isNumber ?? true) && (upper?.value.isNumber ?? true)
                return numeric ? 0..<0 : nil
            }
            let i = Self.partition(ks) { $0 < lo }, j = Self.partition(ks) { $0 <= hi }
            return i..<Swift.max(i, j)
        case .doubles(let ks):
            guard let (lo, hi) = FilterKernels.doubleInterval(lower, upper) else { return nil }
            let i = Self.partition(ks) { $0 < lo }, j = Self.partition(ks) { $0 <= hi }
            return i..<Swift.max(i, j)
        case .strings(let ks):
            var i = 0, j = ks.count
            if let lower {
                guard case .string(let s) = lower.value else { return nil }
                i = lower.inclusive ? Self.partition(ks) { $0 < s } : Self.partition(ks) { $0 <= s }
            }
            if let upper {
                guard case .string(let s) = upper.value else { return nil }
                j = upper.inclusive ? Self.partition(ks) { $0 <= s } : Self.partition(ks) { $0 < s }
            }
            return i..<Swift.max(i, j)
        }
    }

    static func boolAsInt(_ b: FilterBound) -> FilterBound {
        if case .bool(let v) = b.value { return FilterBound(.int(v ? 1 : 0), inclusive: b.inclusive) }
        return b
    }

    /// Rows whose value lies within the bounds; nil when the index cannot answer.
    package func rows(lower: FilterBound?, upper: FilterBound?) -> Bitset? {
        keyRange(lower, upper).map { rows(ofKeys: $0) }
    }

    /// Rows whose value equals one of `items`; nil when the index cannot answer.
    package func rows(equalToAnyOf items: [JSONValue]) -> Bitset? {
        var out = Bitset(count: rowCount)
        for item in items {
            let b = FilterBound(item, inclusive: true)
            switch (keys, item) {
            case (.strings, .string), (.ints, .int), (.ints, .double), (.ints, .bool), (.doubles, .int), (.doubles, .double):
                guard let r = keyRange(b, b) else { return nil }
                out.formUnion(rows(ofKeys: r))
            case (.strings, _), (.ints, _), (.doubles, _):
                continue  // a value of another type equals no key
            }
        }
        return out
    }

    /// Rows whose string starts with `prefix` (compared by UTF-8 bytes); nil for non-strings.
    package func rows(withPrefix prefix: String) -> Bitset? {
        guard case .strings(let ks) = keys else { return nil }
        let i = Self.partition(ks) { $0 < prefix }
        var j = i
        while j < ks.count, ks[j].utf8.starts(with: prefix.utf8) { j += 1 }
        // Keys are in String order (Unicode scalar order of their NFC forms), where the keys
        // sharing a prefix are contiguous for normalised text.
        return rows(ofKeys: i..<j)
    }
}

extension JSONValue {
    var isNumber: Bool {
        switch self {
        case .int, .double: return true
        default: return false
        }
    }
}
