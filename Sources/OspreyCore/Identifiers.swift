// Distinct wrapper types for the identifiers that flow through the engine, so that a row
// position is never confused with a primary key, a segment id or a timestamp.

/// The position of a row inside one segment (0-based, dense).
///
/// Thread safety: a value type; safe to share.
public struct RowID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(_ value: Int) { self.rawValue = UInt32(truncatingIfNeeded: value) }
    @inlinable public var index: Int { Int(rawValue) }
    @inlinable public static func < (a: RowID, b: RowID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "row \(rawValue)" }
}

/// The identifier of a segment, unique within a data directory.
///
/// Thread safety: a value type; safe to share.
public struct SegmentID: Hashable, Comparable, Sendable, BitwiseCopyable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static func < (a: SegmentID, b: SegmentID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "segment \(rawValue)" }
}

/// A hybrid timestamp in Milvus's layout: physical milliseconds since the Unix epoch shifted
/// left by 18 bits, or-ed with an 18-bit logical counter.
///
/// Thread safety: a value type; safe to share.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Number of bits of the logical counter.
    public static let logicalBits: UInt64 = 18
    public static let logicalMask: UInt64 = (1 << logicalBits) - 1
    /// The smallest timestamp; older than every write.
    public static let zero = Timestamp(rawValue: 0)
    /// The largest timestamp; newer than every write ("read everything").
    public static let max = Timestamp(rawValue: UInt64.max)

    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(physicalMilliseconds: UInt64, logical: UInt64) {
        self.rawValue = (physicalMilliseconds << Timestamp.logicalBits) | (logical & Timestamp.logicalMask)
    }
    /// Milliseconds since the Unix epoch.
    @inlinable public var physicalMilliseconds: UInt64 { rawValue >> Timestamp.logicalBits }
    @inlinable public var logical: UInt64 { rawValue & Timestamp.logicalMask }
    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "ts \(physicalMilliseconds).\(logical)" }
}

/// A primary-key value: INT64 or VARCHAR, as the collection's schema declares.
///
/// Thread safety: a value type; safe to share.
public enum PrimaryKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    case int(Int64)
    case string(String)

    public static func < (a: PrimaryKey, b: PrimaryKey) -> Bool {
        switch (a, b) {
        case let (.int(x), .int(y)): return x < y
        case let (.string(x), .string(y)): return x < y
        case (.int, .string): return true
        case (.string, .int): return false
        }
    }

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .string(let s): return "\"\(s)\""
        }
    }
}
