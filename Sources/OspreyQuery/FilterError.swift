/// An error in a filter expression: what is wrong, and where.
///
/// Parse and type errors are always the caller's fault (`isCallerFault` is true): the
/// expression, or the template values sent with it, do not fit Milvus's filter language or
/// the collection's schema. `offset` counts Unicode scalars from the start of the expression
/// (for ASCII text, characters), so a client can point at the spot.
///
/// Thread safety: a value type; safe to share.
package struct FilterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of mistake, for callers that map errors to status codes or want to test them.
    package enum Kind: String, Sendable, Hashable {
        /// A token that does not fit the grammar where it stands.
        case syntax
        /// A character that starts no token.
        case unexpectedCharacter
        /// A string literal without its closing quote.
        case unterminatedString
        /// A bad escape sequence, number or other literal.
        case invalidLiteral
        /// `(` without `)`, `)` without `(`, or the same for `[` and `]`.
        case unbalancedParentheses
        /// A name that is neither a schema field nor (with the dynamic field) a dynamic key.
        case unknownField
        /// Operands whose types do not fit the operator (string field with a number, …).
        case typeMismatch
        /// A function called with the wrong number of arguments, or an unknown function.
        case wrongArity
        /// A vector field used in a filter.
        case vectorField
        /// A `{name}` placeholder with no value sent for it.
        case missingTemplateValue
        /// A construct Milvus's language has that Osprey does not evaluate.
        case unsupported
        /// The expression nests deeper than `FilterLimits.maxDepth`, or is longer than allowed.
        case tooComplex
    }

    package var kind: Kind
    /// Where the problem is, in Unicode scalars from the start of the expression.
    package var offset: Int
    package var message: String

    package init(_ kind: Kind, at offset: Int, _ message: String) {
        self.kind = kind
        self.offset = offset
        self.message = message
    }

    /// Parse and type errors are always the caller's fault.
    package var isCallerFault: Bool { true }

    package var description: String { "invalid filter expression at character \(offset): \(message)" }
}

/// Limits that keep hostile or generated expressions from exhausting the stack or memory.
///
/// Thread safety: constants only.
package enum FilterLimits {
    /// The deepest nesting of sub-expressions (parentheses, operators) accepted.
    /// Chains of `and`/`or` are flattened and do not count towards it.
    package static let maxDepth = 200
    /// The longest expression text accepted, in bytes of UTF-8.
    package static let maxLength = 4 << 20
}
