/// A fixed-size set of row positions, one bit per row, stored in 64-bit words.
///
/// Filters evaluate into a `Bitset` (bit set = row passes); indexes take one to restrict a
/// search to the rows it allows.
///
/// Thread safety: a value type with copy-on-write storage; a `Bitset` may be read from
/// several threads at once, and mutated by one owner.
public struct Bitset: Sendable, Hashable {
    @usableFromInline var words: [UInt64]
    /// The number of bits (rows) in the set.
    public private(set) var count: Int

    /// A set of `count` bits, all cleared (or all set when `filled` is true).
    public init(count: Int, filled: Bool = false) {
        precondition(count >= 0, "Bitset count must be non-negative")
        self.count = count
        let wordCount = (count + 63) >> 6
        self.words = Array(repeating: filled ? ~0 : 0, count: wordCount)
        if filled { clearTail() }
    }

    @inlinable public subscript(_ i: Int) -> Bool {
        get { (words[i >> 6] >> UInt64(i & 63)) & 1 == 1 }
        set {
            if newValue { words[i >> 6] |= (1 << UInt64(i & 63)) } else { words[i >> 6] &= ~(1 << UInt64(i & 63)) }
        }
    }

    @inlinable public mutating func set(_ i: Int) { words[i >> 6] |= (1 << UInt64(i & 63)) }
    @inlinable public mutating func clear(_ i: Int) { words[i >> 6] &= ~(1 << UInt64(i & 63)) }
    @inlinable public func contains(_ i: Int) -> Bool { (words[i >> 6] >> UInt64(i & 63)) & 1 == 1 }

    /// The number of set bits.
    /// - Complexity: O(count / 64)
    public var cardinality: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// The fraction of rows that are set, in 0...1 (1 for an empty set).
    public var density: Double { count == 0 ? 1 : Double(cardinality) / Double(count) }

    public var isAllClear: Bool { words.allSatisfy { $0 == 0 } }

    public mutating func formIntersection(_ other: Bitset) {
        precondition(other.count == count, "Bitset sizes differ")
        for i in words.indices { words[i] &= other.words[i] }
    }

    public mutating func formUnion(_ other: Bitset) {
        precondition(other.count == count, "Bitset sizes differ")
        for i in words.indices { words[i] |= other.words[i] }
    }

    /// Removes from `self` every bit set in `other` (self ∧ ¬other).
    public mutating func subtract(_ other: Bitset) {
        precondition(other.count == count, "Bitset sizes differ")
        for i in words.indices { words[i] &= ~other.words[i] }
    }

    public mutating func invert() {
        for i in words.indices { words[i] = ~words[i] }
        clearTail()
    }

    public func intersection(_ other: Bitset) -> Bitset { var r = self; r.formIntersection(other); return r }
    public func union(_ other: Bitset) -> Bitset { var r = self; r.formUnion(other); return r }
    public func inverted() -> Bitset { var r = self; r.invert(); return r }

    /// Calls `body` with the position of every set bit, in ascending order.
    @inlinable public func forEachSetBit(_ body: (Int) throws -> Void) rethrows {
        for (wi, var w) in words.enumerated() {
            while w != 0 {
                let bit = w.trailingZeroBitCount
                try body(wi << 6 | bit)
                w &= w &- 1
            }
        }
    }

    /// The positions of all set bits, ascending.
    public var setBits: [Int] {
        var out: [Int] = []
        out.reserveCapacity(cardinality)
        forEachSetBit { out.append($0) }
        return out
    }

    /// Calls `body` with the raw words (bit `i` of word `w` is row `w * 64 + i`).
    @inlinable public func withUnsafeWords<R>(_ body: (UnsafeBufferPointer<UInt64>) throws -> R) rethrows -> R {
        try words.withUnsafeBufferPointer(body)
    }

    @inlinable public mutating func withUnsafeMutableWords<R>(_ body: (UnsafeMutableBufferPointer<UInt64>) throws -> R) rethrows -> R {
        try words.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// Grows or shrinks the set to `newCount` bits; new bits take `fill`.
    public mutating func resize(to newCount: Int, fill: Bool = false) {
        precondition(newCount >= 0)
        if newCount > count && fill {
            let old = count
            words.append(contentsOf: repeatElement(0, count: ((newCount + 63) >> 6) - words.count))
            count = newCount
            for i in old..<newCount { set(i) }
        } else {
            words = Array(words.prefix((newCount + 63) >> 6))
            words.append(contentsOf: repeatElement(0, count: ((newCount + 63) >> 6) - words.count))
            count = newCount
            clearTail()
        }
    }

    @usableFromInline mutating func clearTail() {
        let rem = count & 63
        if rem != 0, !words.isEmpty { words[words.count - 1] &= (1 << UInt64(rem)) - 1 }
    }
}
