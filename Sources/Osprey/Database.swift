import Glibc
import OspreyCore
import Synchronization

/// An Osprey database: the root of the embedding API. It holds databases (namespaces, with
/// `default` always present), their collections and aliases.
///
/// ```swift
/// let db = try Database.open(at: "./osprey-data")
/// let schema = CollectionSchema(fields: [
///     .primaryKey("id"),
///     .vector("embedding", dim: 4),
///     .scalar("title", .varchar, maxLength: 200),
/// ])
/// let faces = try db.createCollection("faces", schema: schema)
/// try faces.insert([["id": 1, "embedding": .floatVector([0.1, 0.2, 0.3, 0.4]), "title": "a"]])
/// let hits = try faces.search(SearchRequest(vectors: [.floatVector([0.1, 0.2, 0.3, 0.4])], limit: 3))
/// ```
///
/// Thread safety: every method is safe to call from several threads at once.
public final class Database: Sendable {
    /// The name of the database that always exists.
    public static let defaultDatabase = "default"

    struct Namespace: Sendable {
        var id: Int64
        var created: Timestamp
        var properties: [String: String]
        var collections: [String: Collection] = [:]
        /// alias → collection name
        var aliases: [String: String] = [:]
    }

    /// The data directory, or nil for a database that lives in memory only.
    public let path: String?
    let context: EngineContext
    let namespaces: Mutex<[String: Namespace]>
    /// The lock, manifest and WAL of a durable database; nil in memory.
    let storage: DurableStorage?
    /// Compacts sealed segments in the background (Compactor.swift).
    let compactor: BackgroundCompactor

    init(path: String?, options: DatabaseOptions, log: any MutationLog, catalog: any CatalogLog = VolatileCatalog(),
         storage: DurableStorage? = nil) {
        self.path = path
        self.storage = storage
        self.context = EngineContext(options: options, log: log, catalog: catalog)
        self.compactor = BackgroundCompactor(options: options.compaction)
        let now = context.oracle.next()
        self.namespaces = Mutex([Database.defaultDatabase: Namespace(id: 1, created: now, properties: [:])])
    }

    deinit { compactor.cancel() }

    /// Opens (creating if needed) the database whose data lives in the directory `path`:
    /// locks the directory, replays the catalog from the manifest and the data from the
    /// write-ahead log. Every acknowledged write survives a crash (docs/storage.md §16).
    ///
    /// - Throws: `OspreyError.storage` when the directory cannot be created or used, is
    ///   already open (in this or another process), or holds damaged files (the message names
    ///   the file and says whether it is corruption); `.invalidArgument` for bad options.
    public static func open(at path: String, options: DatabaseOptions = DatabaseOptions()) throws(OspreyError) -> Database {
        try options.compaction.validate()
        var st = stat()
        if stat(path, &st) != 0 {
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
                throw .storage("cannot create the data directory '\(path)': \(String(cString: strerror(errno)))")
            }
        } else if st.st_mode & S_IFMT != S_IFDIR {
            throw .storage("'\(path)' exists and is not a directory")
        }
        return try DurableStorage.openDatabase(at: path, options: options)
    }

    /// A database that keeps everything in memory and forgets it when closed. Background
    /// compaction does not run when `options.compaction` is invalid.
    public static func inMemory(options: DatabaseOptions = DatabaseOptions()) -> Database {
        let db = Database(path: nil, options: options, log: VolatileLog())
        if (try? options.compaction.validate()) != nil { db.compactor.start(db) }
        return db
    }

    /// Closes the database; later calls on it or its collections throw `OspreyError.closed`.
    public func close() throws(OspreyError) {
        guard !context.isClosed else { return }
        // A compaction in progress stops after its current chunk.
        compactor.stop()
        var failure: OspreyError?
        if let storage {
            // One checkpoint seals everything, so that reopening replays no WAL.
            do { try storage.checkpoint(self, sealing: nil) } catch {
                failure = Durability.storageError(error, doing: "writing the final checkpoint in \(storage.directory)")
            }
        } else {
            for c in namespaces.withLock({ $0.values.flatMap { $0.collections.values } }) { try? c.flush() }
        }
        context.close()
        do { try storage?.close() } catch { failure = failure ?? error }
        if let failure { throw failure }
    }

    // MARK: - Databases

    /// The names of the databases, `default` first.
    public func listDatabases() -> [String] {
        namespaces.withLock { ns in [Database.defaultDatabase] + ns.keys.filter { $0 != Database.defaultDatabase }.sorted() }
    }

    /// Creates a database (a namespace for collections).
    public func createDatabase(_ name: String, properties: [String: String] = [:]) throws(OspreyError) {
        try context.checkOpen()
        do { try Naming.validate(name, what: "database name") } catch { throw .validation(error) }
        let id = context.newID(), now = context.oracle.next()
        try namespaces.withLock { ns throws(OspreyError) in
            guard ns[name] == nil else { throw .alreadyExists(kind: "database", name: name) }
            guard ns.count < 64 else { throw .invalidArgument("at most 64 databases are allowed") }
            try context.recordCatalog(.putDatabase(DatabaseRecord(name: name, id: id, created: now, properties: properties)))
            ns[name] = Namespace(id: id, created: now, properties: properties)
        }
    }

    /// Drops an empty database. `default` cannot be dropped.
    public func dropDatabase(_ name: String) throws(OspreyError) {
        try context.checkOpen()
        guard name != Database.defaultDatabase else { throw .invalidArgument("the default database cannot be dropped") }
        try namespaces.withLock { ns throws(OspreyError) in
            guard let n = ns[name] else { throw .databaseNotFound(name) }
            guard n.collections.isEmpty else {
                throw .invalidArgument("database '\(name)' still has \(n.collections.count) collections; drop them first")
            }
            try context.recordCatalog(.dropDatabase(name))
            ns[name] = nil
        }
    }

    /// The id, creation time and properties of a database.
    public func describeDatabase(_ name: String) throws(OspreyError) -> (id: Int64, created: Timestamp, properties: [String: String]) {
        try namespaces.withLock { ns throws(OspreyError) in
            guard let n = ns[name] else { throw .databaseNotFound(name) }
            return (n.id, n.created, n.properties)
        }
    }

    /// Sets or removes database properties.
    public func alterDatabase(_ name: String, set: [String: String] = [:], remove: [String] = []) throws(OspreyError) {
        try context.checkOpen()
        try namespaces.withLock { ns throws(OspreyError) in
            guard let n = ns[name] else { throw .databaseNotFound(name) }
            var properties = n.properties
            for (k, v) in set { properties[k] = v }
            for k in remove { properties[k] = nil }
            try context.recordCatalog(.putDatabase(DatabaseRecord(name: name, id: n.id, created: n.created, properties: properties)))
            ns[name]!.properties = properties
        }
    }

    func withNamespace<R>(_ db: String, _ body: (inout Namespace) throws(OspreyError) -> R) throws(OspreyError) -> R {
        let name = db.isEmpty ? Database.defaultDatabase : db
        return try namespaces.withLock { ns throws(OspreyError) -> R in
            guard ns[name] != nil else { throw .databaseNotFound(name) }
            return try body(&ns[name]!)
        }
    }

    // MARK: - Collections

    /// Creates a collection. The schema is validated and field ids are assigned.
    ///
    /// - Throws: `.validation` for a bad schema or name, `.alreadyExists` when a collection or
    ///   alias has the name.
    @discardableResult
    public func createCollection(_ name: String, schema: CollectionSchema, database: String = Database.defaultDatabase,
                                 options: CollectionOptions = CollectionOptions()) throws(OspreyError) -> Collection {
        try context.checkOpen()
        let validated: CollectionSchema
        do {
            try Naming.validate(name, what: "collection name")
            validated = try schema.validated()
        } catch { throw .validation(error) }
        if validated.primaryKey.autoID, validated.primaryKey.dataType != .int64 {
            throw .validation(ValidationError(.invalidSchema, "auto_id needs an INT64 primary key", field: validated.primaryKey.name))
        }
        if validated.partitionKey != nil, !(1...1024).contains(options.numPartitions) {
            throw .invalidArgument("num_partitions must be in 1...1024, got \(options.numPartitions)")
        }
        if let ttl = options.properties[Collection.ttlProperty], Int(ttl).map({ $0 < 0 }) ?? true {
            throw .invalidArgument("\(Collection.ttlProperty) must be a non-negative integer number of seconds, got '\(ttl)'")
        }
        try CompactionOptions.validateProperties(options.properties)
        let id = context.newID()
        return try withNamespace(database) { ns throws(OspreyError) -> Collection in
            guard ns.collections[name] == nil, ns.aliases[name] == nil else { throw .alreadyExists(kind: "collection", name: name) }
            guard ns.collections.count < 65_536 else { throw .invalidArgument("too many collections") }
            let dbName = database.isEmpty ? Database.defaultDatabase : database
            let c = Collection(id: id, database: dbName, name: name, schema: validated, options: options, context: context)
            try context.recordCatalog(.putCollection(c.meta.withLock { c.catalogRecord($0, database: dbName) }))
            ns.collections[name] = c
            return c
        }
    }

    /// The collection with this name or alias.
    public func collection(_ name: String, database: String = Database.defaultDatabase) throws(OspreyError) -> Collection {
        try context.checkOpen()
        return try withNamespace(database) { ns throws(OspreyError) -> Collection in
            if let c = ns.collections[name] { return c }
            if let target = ns.aliases[name], let c = ns.collections[target] { return c }
            throw .collectionNotFound(name)
        }
    }

    /// Whether a collection (or alias) with this name exists.
    public func hasCollection(_ name: String, database: String = Database.defaultDatabase) -> Bool {
        (try? collection(name, database: database)) != nil
    }

    /// The names of the collections, sorted.
    public func listCollections(database: String = Database.defaultDatabase) throws(OspreyError) -> [String] {
        try withNamespace(database) { ns throws(OspreyError) in ns.collections.keys.sorted() }
    }

    /// Drops a collection and all its data. Dropping a collection that does not exist is not
    /// an error (as in Milvus); dropping one that still has aliases is.
    public func dropCollection(_ name: String, database: String = Database.defaultDatabase) throws(OspreyError) {
        try context.checkOpen()
        try withNamespace(database) { ns throws(OspreyError) in
            guard ns.collections[name] != nil else { return }
            let aliases = ns.aliases.filter { $0.value == name }.map(\.key).sorted()
            guard aliases.isEmpty else {
                throw .invalidArgument("collection '\(name)' still has aliases (\(aliases.joined(separator: ", "))); drop them first")
            }
            try context.recordCatalog(.dropCollection(ns.collections[name]!.id))
            ns.collections[name] = nil
        }
    }

    /// Renames a collection, optionally moving it to another database.
    public func renameCollection(_ name: String, to newName: String, database: String = Database.defaultDatabase,
                                 newDatabase: String? = nil) throws(OspreyError) {
        try context.checkOpen()
        do { try Naming.validate(newName, what: "collection name") } catch { throw .validation(error) }
        let target = (newDatabase?.isEmpty ?? true) ? (database.isEmpty ? Database.defaultDatabase : database) : newDatabase!
        let source = database.isEmpty ? Database.defaultDatabase : database
        try namespaces.withLock { ns throws(OspreyError) in
            guard ns[source] != nil else { throw .databaseNotFound(source) }
            guard ns[target] != nil else { throw .databaseNotFound(target) }
            guard let c = ns[source]!.collections[name] else { throw .collectionNotFound(name) }
            guard ns[target]!.collections[newName] == nil, ns[target]!.aliases[newName] == nil else {
                throw .alreadyExists(kind: "collection", name: newName)
            }
            if source != target, ns[source]!.aliases.values.contains(name) {
                throw .invalidArgument("collection '\(name)' has aliases; drop them before moving it to another database")
            }
            let ts = context.oracle.next()
            var record = c.meta.withLock { c.catalogRecord($0, database: target) }
            record.name = newName
            record.updated = ts
            var aliases = ns[source]!.aliases
            for (a, t) in aliases where t == name { aliases[a] = newName }
            try context.recordCatalog(.putCollection(record))
            if aliases != ns[source]!.aliases { try context.recordCatalog(.setAliases(database: source, aliases: aliases)) }
            ns[source]!.collections[name] = nil
            ns[target]!.collections[newName] = c
            ns[source]!.aliases = aliases
            c.rename(to: newName, database: target, at: ts)
        }
    }

    // MARK: - Aliases

    /// Creates an alias: another name under which the collection can be used.
    public func createAlias(_ alias: String, collection: String, database: String = Database.defaultDatabase) throws(OspreyError) {
        try context.checkOpen()
        do { try Naming.validate(alias, what: "alias") } catch { throw .validation(error) }
        try withNamespace(database) { ns throws(OspreyError) in
            guard ns.collections[alias] == nil else {
                throw .invalidArgument("alias '\(alias)' is the name of an existing collection")
            }
            guard ns.aliases[alias] == nil else { throw .alreadyExists(kind: "alias", name: alias) }
            guard ns.collections[collection] != nil else { throw .collectionNotFound(collection) }
            try setAliases(&ns, alias, collection, database: database)
        }
    }

    /// Points an existing alias at another collection.
    public func alterAlias(_ alias: String, collection: String, database: String = Database.defaultDatabase) throws(OspreyError) {
        try context.checkOpen()
        try withNamespace(database) { ns throws(OspreyError) in
            guard ns.aliases[alias] != nil else { throw .aliasNotFound(alias) }
            guard ns.collections[collection] != nil else { throw .collectionNotFound(collection) }
            try setAliases(&ns, alias, collection, database: database)
        }
    }

    /// Drops an alias (the collection stays).
    public func dropAlias(_ alias: String, database: String = Database.defaultDatabase) throws(OspreyError) {
        try context.checkOpen()
        try withNamespace(database) { ns throws(OspreyError) in
            guard ns.aliases[alias] != nil else { throw .aliasNotFound(alias) }
            try setAliases(&ns, alias, nil, database: database)
        }
    }

    /// The collection an alias names.
    public func describeAlias(_ alias: String, database: String = Database.defaultDatabase) throws(OspreyError) -> String {
        try withNamespace(database) { ns throws(OspreyError) -> String in
            guard let c = ns.aliases[alias] else { throw .aliasNotFound(alias) }
            return c
        }
    }

    /// The aliases of one collection, or of every collection, sorted.
    public func listAliases(collection: String? = nil, database: String = Database.defaultDatabase) throws(OspreyError) -> [String] {
        try withNamespace(database) { ns throws(OspreyError) -> [String] in
            if let collection, !collection.isEmpty {
                guard ns.collections[collection] != nil else { throw .collectionNotFound(collection) }
                return ns.aliases.filter { $0.value == collection }.map(\.key).sorted()
            }
            return ns.aliases.keys.sorted()
        }
    }

    /// Points `alias` at `collection` (nil removes it), recording the change first.
    private func setAliases(_ ns: inout Namespace, _ alias: String, _ collection: String?, database: String) throws(OspreyError) {
        var aliases = ns.aliases
        aliases[alias] = collection
        let db = database.isEmpty ? Database.defaultDatabase : database
        try context.recordCatalog(.setAliases(database: db, aliases: aliases))
        ns.aliases = aliases
        Database.refreshAliases(&ns)
    }

    static func refreshAliases(_ ns: inout Namespace) {
        var byCollection: [String: [String]] = [:]
        for (a, c) in ns.aliases { byCollection[c, default: []].append(a) }
        for (name, c) in ns.collections { c.setAliases(byCollection[name] ?? []) }
    }
}
