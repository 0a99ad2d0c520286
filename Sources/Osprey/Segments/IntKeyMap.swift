#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An `Int64 → RowLocation` hash map (a collection's INT64 primary keys) that grows without
/// stopping: where a dictionary rehashes
/// every entry at once when it fills (a pause that grows with its size, under whatever lock
/// guards it), this map allocates the larger table and moves the old one's entries over a
/// few slots at a time, on each later change.
///
/// The primary-key index of a collection holds one entry per live row, and it is changed
/// under a lock that every write takes; with a dictionary, each doubling held every writer
/// for a rehash of the whole index (half a second at 8 million keys).
///
/// Open addressing with linear probing; removed entries leave tombstones, which the next
/// move to a new table drops (a table full of tombstones moves to a smaller one). While a
/// move is under way, lookups try the new table, then the old. Tables come from `calloc`,
/// whose large blocks are fresh zeroed pages: allocating one costs no time up front, and
/// an all-zero slot is an empty one.
///
/// Thread safety: a value type (copy-on-write storage); guard shared instances with a lock.
struct IntKeyMap: @unchecked Sendable {
    typealias Value = Collection.RowLocation

    private var table: Table
    /// The table being emptied into `table`, if a move is under way.
    private var draining: Table?
    /// The next slot of `draining` to move.
    private var cursor = 0

    /// Slots of the draining table moved per change: with the new table at least twice the
    /// old one's entries, a move ends long before the new table fills.
    static var slotsMovedPerChange: Int { 64 }

    init() {
        table = Table(capacity: 16)
    }

    /// Entries in the map.
    var count: Int { table.full + (draining?.full ?? 0) }

    subscript(key: Int64) -> Value? {
        get {
            if let slot = table.find(key) { return table.values[slot] }
            if let draining, let slot = draining.find(key) { return draining.values[slot] }
            return nil
        }
        set {
            makeUnique()
            if let value = newValue {
                let (slot, found) = table.locate(key)
                if found {
                    table.values[slot] = value
                } else {
                    if let draining, let old = draining.find(key) { draining.remove(at: old) }
                    if table.needsRoom(filling: slot) {
                        makeRoom()
                        table.insertNew(key, value)
                    } else {
                        table.place(key, value, at: slot)
                    }
                }
            } else if let slot = table.find(key) {
                table.remove(at: slot)
            } else if let draining, let slot = draining.find(key) {
                draining.remove(at: slot)
            }
            moveSome()
        }
    }

    /// Copies the tables before a change when another copy of the map shares them.
    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&table) { table = table.copy() }
        if draining != nil, !isKnownUniquelyReferenced(&draining!) { draining = draining!.copy() }
    }

    /// Starts a move to a new table when one more entry would fill the current one past
    /// three quarters (entries and tombstones). The new table has room for twice the
    /// entries, so a move ends long before it fills; after long runs of removals, when a move
    /// is still under way as the new table fills, both tables go into a third at once.
    private mutating func makeRoom() {
        guard table.used + 1 > table.maxUsed else { return }
        if let old = draining {
            let merged = Table(capacity: Self.capacity(for: table.full + old.full))
            for source in [old, table] {
                for slot in 0..<source.capacity where source.states[slot] == Slot.full {
                    merged.insertNew(source.keys[slot], source.values[slot])
                }
            }
            table = merged
            draining = nil
            return
        }
        draining = table
        table = Table(capacity: Self.capacity(for: table.full))
        cursor = 0
    }

    /// The table size for `entries` entries: a power of two, at least twice as many slots.
    static func capacity(for entries: Int) -> Int {
        var capacity = 16
        while capacity < 2 * (entries + 1) { capacity <<= 1 }
        return capacity
    }

    private mutating func moveSome() {
        guard let old = draining else { return }
        let end = Swift.min(cursor + Self.slotsMovedPerChange, old.capacity)
        for slot in cursor..<end where old.states[slot] == Slot.full {
            table.insertNew(old.keys[slot], old.values[slot])
            old.remove(at: slot)
        }
        cursor = end
        if cursor == old.capacity { draining = nil }
    }

    /// One open-addressing table.
    final class Table {
        let keys: UnsafeMutablePointer<Int64>
        let values: UnsafeMutablePointer<Value>
        let states: UnsafeMutablePointer<UInt8>
        let capacity: Int
        private let mask: Int
        /// Slots holding an entry.
        private(set) var full = 0
        /// Slots holding an entry or a tombstone.
        private(set) var used = 0

        init(capacity: Int) {
            self.capacity = capacity
            mask = capacity - 1
            keys = Self.zeroed(Int64.self, capacity)
            values = Self.zeroed(Value.self, capacity)
            states = Self.zeroed(UInt8.self, capacity)
        }

        deinit {
            free(keys)
            free(values)
            free(states)
        }

        private static func zeroed<T>(_: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
            guard let raw = calloc(count, MemoryLayout<T>.stride) else { fatalError("out of memory for \(count) key-index slots") }
            return raw.bindMemory(to: T.self, capacity: count)
        }

        func copy() -> Table {
            let other = Table(capacity: capacity)
            other.keys.update(from: keys, count: capacity)
            other.values.update(from: values, count: capacity)
            other.states.update(from: states, count: capacity)
            other.full = full
            other.used = used
            return other
        }

        /// splitmix64's finalizer: consecutive keys spread over the whole table.
        @inline(__always) static func hash(_ key: Int64) -> Int {
            var x = UInt64(bitPattern: key) &+ 0x9E37_79B9_7F4A_7C15
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int(truncatingIfNeeded: x ^ (x >> 31))
        }

        func find(_ key: Int64) -> Int? {
            var slot = Self.hash(key) & mask
            while true {
                let state = states[slot]
                if state == Slot.empty { return nil }
                if state == Slot.full && keys[slot] == key { return slot }
                slot = (slot + 1) & mask
            }
        }

        /// Entries and tombstones allowed: three quarters of the slots.
        var maxUsed: Int { capacity / 4 * 3 }

        /// The slot holding `key` (`found`), or else the first free slot of its probe
        /// sequence: a tombstone if one comes before the empty slot that ends it.
        func locate(_ key: Int64) -> (slot: Int, found: Bool) {
            var slot = Self.hash(key) & mask
            var free = -1
            while true {
                let state = states[slot]
                if state == Slot.empty { return (free >= 0 ? free : slot, false) }
                if state == Slot.full {
                    if keys[slot] == key { return (slot, true) }
                } else if free < 0 {
                    free = slot
                }
                slot = (slot + 1) & mask
            }
        }

        /// Whether filling `slot` (from ``locate(_:)``) would take the table past ``maxUsed``.
        func needsRoom(filling slot: Int) -> Bool {
            states[slot] == Slot.empty && used + 1 > maxUsed
        }

        /// Puts a key that is not in the table into `slot`, a free slot of its probe sequence.
        func place(_ key: Int64, _ value: Value, at slot: Int) {
            if states[slot] == Slot.empty { used += 1 }
            states[slot] = Slot.full
            keys[slot] = key
            values[slot] = value
            full += 1
        }

        /// Puts a key that is not in the table into its first free slot (the caller keeps
        /// the table from filling).
        func insertNew(_ key: Int64, _ value: Value) {
            var slot = Self.hash(key) & mask
            while states[slot] == Slot.full { slot = (slot + 1) & mask }
            place(key, value, at: slot)
        }

        func remove(at slot: Int) {
            states[slot] = Slot.removed
            full -= 1
        }
    }
}

/// What a slot of an ``IntKeyMap`` table holds.
private enum Slot {
    static let empty: UInt8 = 0
    static let full: UInt8 = 1
    /// A removed entry (a tombstone): probes go on past it.
    static let removed: UInt8 = 2
}
