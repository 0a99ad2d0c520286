/// A request that does not fit the schema or the rules for names and values.
///
/// Always the caller's fault. The message says what is wrong; `field` and `row` (0-based
/// position in the batch) say where, when that applies.
///
/// Thread safety: a value type; safe to share.
public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of rule was broken.
    public enum Kind: String, Sendable, Hashable {
        case invalidSchema
        case invalidName
        case dimensionMismatch
        case typeMismatch
        case valueTooLong
        case arrayTooLong
        case nonFiniteVector
        case missingField
        case unknownField
        case duplicateField
        case outOfRange
        case invalidValue
        case invalidParameter
    }

    public var kind: Kind
    public var field: String?
    public var row: Int?
    public var message: String

    public init(_ kind: Kind, _ message: String, field: String? = nil, row: Int? = nil) {
        self.kind = kind
        self.message = message
        self.field = field
        self.row = row
    }

    public var description: String {
        var where_: [String] = []
        if let field { where_.append("field '\(field)'") }
        if let row { where_.append("row \(row)") }
        return where_.isEmpty ? message : "\(where_.joined(separator: ", ")): \(message)"
    }
}
