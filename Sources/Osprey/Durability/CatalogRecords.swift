import OspreyCore

// The catalog as the manifest records it: a snapshot of the whole catalog, then edits.
// Grammar (docs/storage.md §13); primitives as in ByteCoding.swift,
// `value` as in ValueCodec.swift, i64 ids written zigzag:
//
//   snapshot   := u8(version = 1) varint(idHighWater) u64(tsHighWater) u64(walCheckpoint)
//                 varint(n) database*n varint(m) collection*m varint(k) segmentList*k
//   database   := string(name) zigzag(id) u64(created) props varint(k) (string(alias) string(collection))*k
//   edit       := u8(kind) varint(idHighWater) u64(tsHighWater) body
//     kind 1 put database      body := string(name) zigzag(id) u64(created) props
//     kind 2 drop database     body := string(name)
//     kind 3 put collection    body := collection
//     kind 4 drop collection   body := zigzag(id)
//     kind 5 set aliases       body := string(database) varint(k) (string(alias) string(collection))*k
//     kind 6 checkpoint        body := u64(walCheckpoint) varint(k) segmentList*k
//                              (replaces the sealed-segment lists of the collections listed)
//   segmentList := zigzag(collectionID) varint(s) segment*s
//   segment    := zigzag(segmentID) string(partition) zigzag(partitionID) varint(rows)
//                 u64(firstLSN) u64(lastLSN) varint(lastRows) string(dataKey) string(deletesKey; "" = none)
//                 varint(i) (zigzag(indexID) string(indexKey))*i      saved vector indexes
//   collection := zigzag(id) string(database; "" = unchanged) string(name) u64(created) u64(updated)
//                 varint(numPartitions) schema props string(description) string(consistencyLevel)
//                 varint(p) (string(name) zigzag(id) u64(created))*p varint(x) index*x
//   schema     := string(description) u8(enableDynamicField) varint(f) field*f
//   field      := string(name) u8(DataType) u8(flags) string(description)
//                 [varint(dim)] [varint(maxLength)] [u8(elementType)] [varint(maxCapacity)]
//                 [value(default)] props(extraParams) zigzag(fieldID)
//                 flags: 1 primary key, 2 auto_id, 4 nullable, 8 partition key, 16 has dim,
//                 32 has maxLength, 64 has elementType, 128 has maxCapacity; the default value
//                 follows when a u8 1 precedes it (u8 0 = none)
//   index      := string(name) string(field) string(indexType) string(metric; "" = none) props zigzag(id)
//   props      := varint(k) (string(key) string(value))*k, keys sorted

/// One database in the catalog.
///
/// Thread safety: a value type; safe to share.
struct DatabaseRecord: Sendable, Hashable {
    var name: String
    var id: Int64
    var created: Timestamp
    var properties: [String: String]
    var aliases: [String: String] = [:]
}

/// One collection in the catalog: everything needed to rebuild it with the same ids.
///
/// Thread safety: a value type; safe to share.
struct CollectionRecord: Sendable, Hashable {
    var id: Int64
    /// The database holding it; empty in an edit that leaves it where it is.
    var database: String
    var name: String
    var created: Timestamp
    var updated: Timestamp
    var numPartitions: Int
    var schema: CollectionSchema
    var properties: [String: String]
    var description: String
    var consistencyLevel: String
    var partitions: [Collection.PartitionInfo]
    var indexes: [IndexDescription]
}

/// A sealed segment whose rows are in a file of the object store.
///
/// Thread safety: a value type; safe to share.
struct SegmentRecord: Sendable, Hashable {
    var segmentID: Int64
    var partition: String
    var partitionID: Int64
    var rows: Int
    /// The WAL records the rows came from: `firstLSN ... lastLSN`, and of record `lastLSN`,
    /// the first `lastRows` rows for this partition (in this and earlier segments).
    var firstLSN: UInt64
    var lastLSN: UInt64
    var lastRows: Int
    /// Object keys of the segment file and of its delete state ("" = no deletes).
    var dataKey: String
    var deletesKey: String
    /// Saved vector indexes (`serialized()` images): object key by index id.
    var indexKeys: [Int64: String] = [:]
}

/// A change to the catalog, as appended to the manifest.
///
/// Thread safety: a value type; safe to share.
enum CatalogEdit: Sendable, Hashable {
    case putDatabase(DatabaseRecord)
    case dropDatabase(String)
    /// Creates a collection or replaces its description (schema, properties, partitions,
    /// indexes, name). With an empty database it only updates a collection that exists.
    case putCollection(CollectionRecord)
    case dropCollection(Int64)
    case setAliases(database: String, aliases: [String: String])
    /// A WAL checkpoint: the sealed segments of each listed collection, and the LSN up to
    /// which the WAL is reflected in them (or in growing segments' later records).
    case checkpoint(walCheckpoint: UInt64, segments: [Int64: [SegmentRecord]])
}

/// The catalog rebuilt from the manifest, and kept current as edits are appended (the
/// source of the next snapshot).
///
/// Thread safety: a value type; the owner serialises access.
struct CatalogState: Sendable, Hashable {
    var databases: [String: DatabaseRecord] = [:]
    var collections: [Int64: CollectionRecord] = [:]
    /// Sealed segments on disk, by collection id.
    var segments: [Int64: [SegmentRecord]] = [:]
    /// Every id handed out so far is at most this.
    var idHighWater: Int64 = 0
    /// Every timestamp handed out so far is at most this.
    var timestampHighWater: UInt64 = 0
    /// WAL records up to this LSN are reflected in files; replay starts after it.
    var walCheckpoint: UInt64 = 0

    /// A fresh catalog holding the `default` database.
    static func initial(created: Timestamp) -> CatalogState {
        var s = CatalogState()
        s.databases[Database.defaultDatabase] = DatabaseRecord(name: Database.defaultDatabase, id: 1, created: created, properties: [:])
        s.idHighWater = 1
        s.timestampHighWater = created.rawValue
        return s
    }

    mutating func apply(_ edit: CatalogEdit, idHighWater: Int64, timestampHighWater: UInt64) {
        self.idHighWater = max(self.idHighWater, idHighWater)
        self.timestampHighWater = max(self.timestampHighWater, timestampHighWater)
        switch edit {
        case .putDatabase(let d):
            let aliases = databases[d.name]?.aliases ?? [:]
            databases[d.name] = d
            databases[d.name]!.aliases = aliases
        case .dropDatabase(let name):
            databases[name] = nil
        case .putCollection(var c):
            if c.database.isEmpty {
                // An update racing with a drop must not bring the collection back.
                guard let old = collections[c.id] else { return }
                c.database = old.database
            }
            collections[c.id] = c
        case .dropCollection(let id):
            collections[id] = nil
            segments[id] = nil
        case .checkpoint(let lsn, let lists):
            walCheckpoint = max(walCheckpoint, lsn)
            for (id, list) in lists where collections[id] != nil { segments[id] = list.isEmpty ? nil : list }
        case .setAliases(let db, let aliases):
            databases[db]?.aliases = aliases
        }
    }
}

// MARK: - Encoding

extension CatalogState {
    static let snapshotVersion: UInt8 = 1

    func encodedSnapshot() -> [UInt8] {
        var w = ByteWriter()
        w.write(Self.snapshotVersion)
        w.writeVarint(UInt64(bitPattern: idHighWater))
        w.write(timestampHighWater)
        w.write(walCheckpoint)
        w.writeVarint(UInt64(databases.count))
        for name in databases.keys.sorted() {
            let d = databases[name]!
            CatalogCodec.writeDatabase(d, to: &w)
            CatalogCodec.write(d.aliases, to: &w)
        }
        w.writeVarint(UInt64(collections.count))
        for id in collections.keys.sorted() { CatalogCodec.write(collections[id]!, to: &w) }
        CatalogCodec.write(segments, to: &w)
        return w.bytes
    }

    static func decodeSnapshot(_ bytes: [UInt8]) throws -> CatalogState {
        try ByteReader.withReader(bytes) { r in
            let version = try r.readUInt8()
            guard version == snapshotVersion else { throw RecordDecodingError("catalog snapshot version \(version); this build reads 1") }
            var s = CatalogState()
            s.idHighWater = Int64(bitPattern: try r.readVarint())
            s.timestampHighWater = try r.readUInt64()
            s.walCheckpoint = try r.readUInt64()
            for _ in 0..<(try ValueCodec.readCount(&r)) {
                var d = try CatalogCodec.readDatabase(&r)
                d.aliases = try CatalogCodec.readProps(&r)
                s.databases[d.name] = d
            }
            for _ in 0..<(try ValueCodec.readCount(&r)) {
                let c = try CatalogCodec.readCollection(&r)
                s.collections[c.id] = c
            }
            s.segments = try CatalogCodec.readSegmentLists(&r)
            guard r.isAtEnd else { throw RecordDecodingError("\(r.remaining) bytes after the catalog snapshot") }
            return s
        }
    }
}

/// Encoders and decoders for catalog records (grammar at the top of this file).
///
/// Thread safety: stateless.
enum CatalogCodec {
    static func encode(_ edit: CatalogEdit, idHighWater: Int64, timestampHighWater: UInt64) -> [UInt8] {
        var w = ByteWriter()
        switch edit {
        case .putDatabase: w.write(UInt8(1))
        case .dropDatabase: w.write(UInt8(2))
        case .putCollection: w.write(UInt8(3))
        case .dropCollection: w.write(UInt8(4))
        case .setAliases: w.write(UInt8(5))
        case .checkpoint: w.write(UInt8(6))
        }
        w.writeVarint(UInt64(bitPattern: idHighWater))
        w.write(timestampHighWater)
        switch edit {
        case .putDatabase(let d): writeDatabase(d, to: &w)
        case .dropDatabase(let name): w.writeString(name)
        case .putCollection(let c): write(c, to: &w)
        case .dropCollection(let id): w.writeSignedVarint(id)
        case .setAliases(let db, let aliases): w.writeString(db); write(aliases, to: &w)
        case .checkpoint(let lsn, let lists): w.write(lsn); write(lists, to: &w)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> (edit: CatalogEdit, idHighWater: Int64, timestampHighWater: UInt64) {
        try ByteReader.withReader(bytes) { r in
            let kind = try r.readUInt8()
            let ids = Int64(bitPattern: try r.readVarint())
            let ts = try r.readUInt64()
            let edit: CatalogEdit
            switch kind {
            case 1: edit = .putDatabase(try readDatabase(&r))
            case 2: edit = .dropDatabase(try r.readString())
            case 3: edit = .putCollection(try readCollection(&r))
            case 4: edit = .dropCollection(try r.readSignedVarint())
            case 5: edit = .setAliases(database: try r.readString(), aliases: try readProps(&r))
            case 6: edit = .checkpoint(walCheckpoint: try r.readUInt64(), segments: try readSegmentLists(&r))
            default: throw RecordDecodingError("unknown catalog edit kind \(kind)")
            }
            guard r.isAtEnd else { throw RecordDecodingError("\(r.remaining) bytes after a catalog edit of kind \(kind)") }
            return (edit, ids, ts)
        }
    }

    static func write(_ props: [String: String], to w: inout ByteWriter) {
        w.writeVarint(UInt64(props.count))
        for k in props.keys.sorted() { w.writeString(k); w.writeString(props[k]!) }
    }

    static func readProps(_ r: inout ByteReader) throws -> [String: String] {
        var out: [String: String] = [:]
        for _ in 0..<(try ValueCodec.readCount(&r)) { let k = try r.readString(); out[k] = try r.readString() }
        return out
    }

    static func write(_ lists: [Int64: [SegmentRecord]], to w: inout ByteWriter) {
        w.writeVarint(UInt64(lists.count))
        for id in lists.keys.sorted() {
            w.writeSignedVarint(id)
            w.writeVarint(UInt64(lists[id]!.count))
            for s in lists[id]! {
                w.writeSignedVarint(s.segmentID)
                w.writeString(s.partition)
                w.writeSignedVarint(s.partitionID)
                w.writeVarint(UInt64(s.rows))
                w.write(s.firstLSN)
                w.write(s.lastLSN)
                w.writeVarint(UInt64(s.lastRows))
                w.writeString(s.dataKey)
                w.writeString(s.deletesKey)
                w.writeVarint(UInt64(s.indexKeys.count))
                for id in s.indexKeys.keys.sorted() { w.writeSignedVarint(id); w.writeString(s.indexKeys[id]!) }
            }
        }
    }

    static func readSegmentLists(_ r: inout ByteReader) throws -> [Int64: [SegmentRecord]] {
        var out: [Int64: [SegmentRecord]] = [:]
        for _ in 0..<(try ValueCodec.readCount(&r)) {
            let id = try r.readSignedVarint()
            var list: [SegmentRecord] = []
            for _ in 0..<(try ValueCodec.readCount(&r)) {
                var s = SegmentRecord(
                    segmentID: try r.readSignedVarint(), partition: try r.readString(), partitionID: try r.readSignedVarint(),
                    rows: Int(try r.readVarint() & 0xFFFF_FFFF), firstLSN: try r.readUInt64(), lastLSN: try r.readUInt64(),
                    lastRows: Int(try r.readVarint() & 0xFFFF_FFFF), dataKey: try r.readString(), deletesKey: try r.readString())
                for _ in 0..<(try ValueCodec.readCount(&r)) { let id = try r.readSignedVarint(); s.indexKeys[id] = try r.readString() }
                list.append(s)
            }
            out[id] = list
        }
        return out
    }

    static func writeDatabase(_ d: DatabaseRecord, to w: inout ByteWriter) {
        w.writeString(d.name)
        w.writeSignedVarint(d.id)
        w.write(d.created.rawValue)
        write(d.properties, to: &w)
    }

    static func readDatabase(_ r: inout ByteReader) throws -> DatabaseRecord {
        DatabaseRecord(name: try r.readString(), id: try r.readSignedVarint(), created: Timestamp(rawValue: try r.readUInt64()),
                       properties: try readProps(&r))
    }

    static func write(_ c: CollectionRecord, to w: inout ByteWriter) {
        w.writeSignedVarint(c.id)
        w.writeString(c.database)
        w.writeString(c.name)
        w.write(c.created.rawValue)
        w.write(c.updated.rawValue)
        w.writeVarint(UInt64(c.numPartitions))
        write(c.schema, to: &w)
        write(c.properties, to: &w)
        w.writeString(c.description)
        w.writeString(c.consistencyLevel)
        w.writeVarint(UInt64(c.partitions.count))
        for p in c.partitions { w.writeString(p.name); w.writeSignedVarint(p.id); w.write(p.created.rawValue) }
        w.writeVarint(UInt64(c.indexes.count))
        for x in c.indexes {
            w.writeString(x.name)
            w.writeString(x.field)
            w.writeString(x.indexType)
            w.writeString(x.metric?.rawValue ?? "")
            write(x.params, to: &w)
            w.writeSignedVarint(x.id)
        }
    }

    static func readCollection(_ r: inout ByteReader) throws -> CollectionRecord {
        let id = try r.readSignedVarint()
        let database = try r.readString()
        let name = try r.readString()
        let created = Timestamp(rawValue: try r.readUInt64())
        let updated = Timestamp(rawValue: try r.readUInt64())
        let numPartitions = try ValueCodec.readCount(&r)
        let schema = try readSchema(&r)
        let properties = try readProps(&r)
        let description = try r.readString()
        let consistency = try r.readString()
        var partitions: [Collection.PartitionInfo] = []
        for _ in 0..<(try ValueCodec.readCount(&r)) {
            partitions.append(Collection.PartitionInfo(name: try r.readString(), id: try r.readSignedVarint(),
                                                       created: Timestamp(rawValue: try r.readUInt64())))
        }
        var indexes: [IndexDescription] = []
        for _ in 0..<(try ValueCodec.readCount(&r)) {
            let name = try r.readString(), field = try r.readString(), type = try r.readString()
            let metricName = try r.readString()
            var metric: Metric? = nil
            if !metricName.isEmpty {
                guard let m = Metric(rawValue: metricName) else { throw RecordDecodingError("unknown metric '\(metricName)'") }
                metric = m
            }
            indexes.append(IndexDescription(name: name, field: field, indexType: type, metric: metric,
                                            params: try readProps(&r), id: try r.readSignedVarint()))
        }
        return CollectionRecord(id: id, database: database, name: name, created: created, updated: updated,
                                numPartitions: numPartitions, schema: schema, properties: properties, description: description,
                                consistencyLevel: consistency, partitions: partitions, indexes: indexes)
    }

    static func write(_ s: CollectionSchema, to w: inout ByteWriter) {
        w.writeString(s.description)
        w.write(s.enableDynamicField)
        w.writeVarint(UInt64(s.fields.count))
        for f in s.fields {
            w.writeString(f.name)
            w.write(UInt8(f.dataType.rawValue))
            var flags: UInt8 = 0
            if f.isPrimaryKey { flags |= 1 }
            if f.autoID { flags |= 2 }
            if f.nullable { flags |= 4 }
            if f.isPartitionKey { flags |= 8 }
            if f.dim != nil { flags |= 16 }
            if f.maxLength != nil { flags |= 32 }
            if f.elementType != nil { flags |= 64 }
            if f.maxCapacity != nil { flags |= 128 }
            w.write(flags)
            w.writeString(f.description)
            if let d = f.dim { w.writeVarint(UInt64(d)) }
            if let m = f.maxLength { w.writeVarint(UInt64(m)) }
            if let e = f.elementType { w.write(UInt8(e.rawValue)) }
            if let c = f.maxCapacity { w.writeVarint(UInt64(c)) }
            if let dv = f.defaultValue { w.write(UInt8(1)); ValueCodec.write(dv, to: &w) } else { w.write(UInt8(0)) }
            write(f.extraParams, to: &w)
            w.writeSignedVarint(f.fieldID)
        }
    }

    static func readSchema(_ r: inout ByteReader) throws -> CollectionSchema {
        let description = try r.readString()
        let dynamic = try r.readBool()
        var fields: [FieldSchema] = []
        for _ in 0..<(try ValueCodec.readCount(&r)) {
            let name = try r.readString()
            let typeRaw = try r.readUInt8()
            guard let type = DataType(rawValue: Int32(typeRaw)) else { throw RecordDecodingError("field '\(name)': unknown data type \(typeRaw)") }
            let flags = try r.readUInt8()
            var f = FieldSchema(name: name, dataType: type, isPrimaryKey: flags & 1 != 0, autoID: flags & 2 != 0,
                                description: try r.readString(), nullable: flags & 4 != 0, isPartitionKey: flags & 8 != 0)
            if flags & 16 != 0 { f.dim = Int(try r.readVarint() & 0xFFFF_FFFF) }
            if flags & 32 != 0 { f.maxLength = Int(try r.readVarint() & 0xFFFF_FFFF) }
            if flags & 64 != 0 {
                let e = try r.readUInt8()
                guard let et = DataType(rawValue: Int32(e)) else { throw RecordDecodingError("field '\(name)': unknown element type \(e)") }
                f.elementType = et
            }
            if flags & 128 != 0 { f.maxCapacity = Int(try r.readVarint() & 0xFFFF_FFFF) }
            if try r.readUInt8() != 0 { f.defaultValue = try ValueCodec.readValue(&r) }
            f.extraParams = try readProps(&r)
            f.fieldID = try r.readSignedVarint()
            fields.append(f)
        }
        guard fields.filter(\.isPrimaryKey).count == 1 else { throw RecordDecodingError("a schema without exactly one primary key") }
        return CollectionSchema(fields: fields, description: description, enableDynamicField: dynamic)
    }
}
