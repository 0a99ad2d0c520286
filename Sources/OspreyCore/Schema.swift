/// One field of a collection's schema.
///
/// Thread safety: a value type; safe to share.
public struct FieldSchema: Sendable, Hashable {
    /// The field's name: a letter or underscore, then letters, digits and underscores.
    public var name: String
    public var dataType: DataType
    public var isPrimaryKey: Bool
    /// For the primary key: the engine generates the keys; inserts must not carry them.
    public var autoID: Bool
    public var description: String
    /// Dimension of a dense vector field (bits for BINARY_VECTOR).
    public var dim: Int?
    /// Maximum length in bytes of a VARCHAR field, or of the elements of an ARRAY of VARCHAR.
    public var maxLength: Int?
    /// Element type of an ARRAY field.
    public var elementType: DataType?
    /// Maximum number of elements of an ARRAY field.
    public var maxCapacity: Int?
    public var nullable: Bool
    /// Filled in when a row leaves the field out (or sends null).
    public var defaultValue: FieldValue?
    /// Rows are spread over the collection's partitions by a hash of this field.
    public var isPartitionKey: Bool
    /// Other type parameters the engine keeps but does not interpret (e.g. `enable_analyzer`).
    public var extraParams: [String: String]
    /// Assigned by the engine when the collection is created: 100, 101, … in schema order.
    public var fieldID: Int64

    public init(
        name: String, dataType: DataType, isPrimaryKey: Bool = false, autoID: Bool = false,
        description: String = "", dim: Int? = nil, maxLength: Int? = nil, elementType: DataType? = nil,
        maxCapacity: Int? = nil, nullable: Bool = false, defaultValue: FieldValue? = nil,
        isPartitionKey: Bool = false, extraParams: [String: String] = [:], fieldID: Int64 = 0
    ) {
        self.name = name
        self.dataType = dataType
        self.isPrimaryKey = isPrimaryKey
        self.autoID = autoID
        self.description = description
        self.dim = dim
        self.maxLength = maxLength
        self.elementType = elementType
        self.maxCapacity = maxCapacity
        self.nullable = nullable
        self.defaultValue = defaultValue
        self.isPartitionKey = isPartitionKey
        self.extraParams = extraParams
        self.fieldID = fieldID
    }

    /// A primary-key field (INT64 or VARCHAR).
    public static func primaryKey(_ name: String, _ type: DataType = .int64, autoID: Bool = false, maxLength: Int? = nil) -> FieldSchema {
        FieldSchema(name: name, dataType: type, isPrimaryKey: true, autoID: autoID, maxLength: maxLength ?? (type == .varchar ? 65_535 : nil))
    }

    /// A dense vector field.
    public static func vector(_ name: String, _ type: DataType = .floatVector, dim: Int) -> FieldSchema {
        FieldSchema(name: name, dataType: type, dim: dim)
    }

    /// A sparse float vector field.
    public static func sparseVector(_ name: String) -> FieldSchema {
        FieldSchema(name: name, dataType: .sparseFloatVector)
    }

    /// A scalar field.
    public static func scalar(_ name: String, _ type: DataType, maxLength: Int? = nil, nullable: Bool = false, defaultValue: FieldValue? = nil) -> FieldSchema {
        FieldSchema(name: name, dataType: type, maxLength: maxLength, nullable: nullable, defaultValue: defaultValue)
    }

    /// An ARRAY field.
    public static func array(_ name: String, of element: DataType, maxCapacity: Int, maxLength: Int? = nil, nullable: Bool = false) -> FieldSchema {
        FieldSchema(name: name, dataType: .array, maxLength: maxLength, elementType: element, maxCapacity: maxCapacity, nullable: nullable)
    }
}

/// A collection's schema: its fields and whether it has the dynamic field.
///
/// Thread safety: a value type; safe to share.
public struct CollectionSchema: Sendable, Hashable {
    /// The name under which rows carry keys that are not schema fields.
    public static let dynamicFieldName = "$meta"
    /// The most vector fields one collection may have.
    public static let maxVectorFields = 4
    /// The most fields one collection may have.
    public static let maxFields = 64
    /// The largest dense vector dimension.
    public static let maxDimension = 32_768
    /// The largest VARCHAR max_length.
    public static let maxVarcharLength = 65_535
    /// The largest ARRAY max_capacity.
    public static let maxArrayCapacity = 4_096

    public var fields: [FieldSchema]
    public var description: String
    /// Rows may carry keys that are not fields; they are kept in the dynamic field `$meta`.
    public var enableDynamicField: Bool

    public init(fields: [FieldSchema], description: String = "", enableDynamicField: Bool = false) {
        self.fields = fields
        self.description = description
        self.enableDynamicField = enableDynamicField
    }

    /// The primary-key field (a validated schema has exactly one).
    public var primaryKey: FieldSchema { fields.first(where: \.isPrimaryKey)! }
    public var vectorFields: [FieldSchema] { fields.filter { $0.dataType.isVector } }
    public var partitionKey: FieldSchema? { fields.first(where: \.isPartitionKey) }
    public func field(named name: String) -> FieldSchema? { fields.first { $0.name == name } }
    public func fieldIndex(named name: String) -> Int? { fields.firstIndex { $0.name == name } }

    /// Checks the schema and assigns field ids (100, 101, … in order).
    ///
    /// - Throws: `ValidationError` naming the field and the rule: no or two primary keys,
    ///   duplicate or bad names, missing or bad dimensions, lengths and capacities, defaults
    ///   that do not fit the type, too many vector fields.
    public func validated() throws(ValidationError) -> CollectionSchema {
        var s = self
        guard !fields.isEmpty else { throw ValidationError(.invalidSchema, "the schema has no fields") }
        guard fields.count <= Self.maxFields else {
            throw ValidationError(.invalidSchema, "the schema has \(fields.count) fields; at most \(Self.maxFields) are allowed")
        }
        var seen = Set<String>()
        for f in fields {
            try Naming.validate(f.name, what: "field name")
            guard seen.insert(f.name).inserted else {
                throw ValidationError(.duplicateField, "duplicate field name '\(f.name)'", field: f.name)
            }
        }
        let pks = fields.filter(\.isPrimaryKey)
        guard pks.count == 1 else {
            throw ValidationError(.invalidSchema, pks.isEmpty ? "the schema has no primary key field" : "the schema has \(pks.count) primary key fields (\(pks.map(\.name).joined(separator: ", "))); exactly one is required")
        }
        let vectors = fields.filter { $0.dataType.isVector }
        guard !vectors.isEmpty else { throw ValidationError(.invalidSchema, "the schema has no vector field") }
        guard vectors.count <= Self.maxVectorFields else {
            throw ValidationError(.invalidSchema, "the schema has \(vectors.count) vector fields; at most \(Self.maxVectorFields) are allowed")
        }
        let partitionKeys = fields.filter(\.isPartitionKey)
        guard partitionKeys.count <= 1 else {
            throw ValidationError(.invalidSchema, "the schema has \(partitionKeys.count) partition key fields; at most one is allowed")
        }
        for i in s.fields.indices {
            try FieldSchema.validate(&s.fields[i])
            s.fields[i].fieldID = 100 + Int64(i)
        }
        return s
    }
}

extension FieldSchema {
    static func validate(_ f: inout FieldSchema) throws(ValidationError) {
        let name = f.name
        func fail(_ message: String) -> ValidationError { ValidationError(.invalidSchema, message, field: name) }
        if f.isPrimaryKey {
            guard f.dataType.canBePrimaryKey else { throw fail("the primary key must be INT64 or VARCHAR, not \(f.dataType)") }
            guard !f.nullable else { throw fail("the primary key cannot be nullable") }
            guard f.defaultValue == nil else { throw fail("the primary key cannot have a default value") }
            guard !f.isPartitionKey else { throw fail("the primary key cannot be the partition key") }
        } else if f.autoID {
            throw fail("auto_id applies to the primary key only")
        }
        if f.isPartitionKey, !(f.dataType == .int64 || f.dataType == .varchar) {
            throw fail("the partition key must be INT64 or VARCHAR, not \(f.dataType)")
        }
        if f.dataType.isDenseVector {
            guard let dim = f.dim else { throw fail("a \(f.dataType) field needs a dimension (dim)") }
            guard dim > 0, dim <= CollectionSchema.maxDimension else {
                throw fail("dimension \(dim) is out of range 1...\(CollectionSchema.maxDimension)")
            }
            if f.dataType == .binaryVector, dim % 8 != 0 {
                throw fail("a BINARY_VECTOR dimension must be a multiple of 8, got \(dim)")
            }
        } else if f.dim != nil, f.dataType != .sparseFloatVector {
            throw fail("only dense vector fields have a dimension")
        }
        if f.dataType.isVector {
            guard !f.nullable else { throw fail("vector fields cannot be nullable") }
            guard f.defaultValue == nil else { throw fail("vector fields cannot have a default value") }
        }
        if f.dataType == .varchar || (f.dataType == .array && f.elementType == .varchar) {
            guard let ml = f.maxLength else { throw fail("a VARCHAR field needs max_length") }
            guard ml > 0, ml <= CollectionSchema.maxVarcharLength else {
                throw fail("max_length \(ml) is out of range 1...\(CollectionSchema.maxVarcharLength)")
            }
        }
        if f.dataType == .array {
            guard let et = f.elementType else { throw fail("an ARRAY field needs an element type") }
            guard et.isArrayElementType else { throw fail("\(et) cannot be an ARRAY element type") }
            guard let cap = f.maxCapacity else { throw fail("an ARRAY field needs max_capacity") }
            guard cap > 0, cap <= CollectionSchema.maxArrayCapacity else {
                throw fail("max_capacity \(cap) is out of range 1...\(CollectionSchema.maxArrayCapacity)")
            }
        } else if f.elementType != nil {
            throw fail("only ARRAY fields have an element type")
        }
        if let dv = f.defaultValue {
            if dv.isNull {
                guard f.nullable else { throw fail("a null default value needs a nullable field") }
            } else {
                guard f.dataType != .json, f.dataType != .array else {
                    throw fail("\(f.dataType) fields cannot have a default value")
                }
                do {
                    f.defaultValue = try ValueCoercion.coerceScalar(dv, to: f)
                } catch {
                    throw fail("default value: \(error.message)")
                }
            }
        }
    }
}

/// Rules for the names of databases, collections, partitions, aliases, fields and indexes.
public enum Naming {
    public static let maxLength = 255

    /// A letter or underscore first, then letters, digits and underscores; at most 255 characters.
    public static func validate(_ name: String, what: String) throws(ValidationError) {
        guard !name.isEmpty else { throw ValidationError(.invalidName, "the \(what) is empty") }
        guard name.utf8.count <= maxLength else {
            throw ValidationError(.invalidName, "the \(what) '\(name.prefix(32))…' is longer than \(maxLength) characters")
        }
        let first = name.utf8.first!
        guard isLetter(first) || first == UInt8(ascii: "_") else {
            throw ValidationError(.invalidName, "the \(what) '\(name)' must start with a letter or an underscore")
        }
        for c in name.utf8 where !(isLetter(c) || isDigit(c) || c == UInt8(ascii: "_")) {
            throw ValidationError(.invalidName, "the \(what) '\(name)' may contain only letters, digits and underscores")
        }
    }

    @inline(__always) static func isLetter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
}
