import Synchronization

/// A (distance, node) pair in search heaps.
struct HeapEntry {
    var d: Float
    var id: UInt32
}

/// The order of an ``EntryHeap``: which entry belongs nearer the top.
protocol HeapOrder {
    static func before(_ a: HeapEntry, _ b: HeapEntry) -> Bool
}

/// Smallest distance on top (candidates to expand).
enum NearestFirst: HeapOrder {
    @inline(__always) static func before(_ a: HeapEntry, _ b: HeapEntry) -> Bool { a.d < b.d }
}

/// Largest distance on top (the bounded result set).
enum FarthestFirst: HeapOrder {
    @inline(__always) static func before(_ a: HeapEntry, _ b: HeapEntry) -> Bool { a.d > b.d }
}

/// A binary heap of ``HeapEntry`` over a growable unsafe buffer, ordered by `Order` (a static
/// type, so the comparison is inlined into the sift loops).
///
/// Thread safety: owned by one search at a time.
struct EntryHeap<Order: HeapOrder> {
    var storage: UnsafeMutablePointer<HeapEntry>
    var capacity: Int
    var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    func free() { storage.deallocate() }

    @inline(never) mutating func grow() {
        let bigger = UnsafeMutablePointer<HeapEntry>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: storage, count: count)
        storage.deallocate()
        storage = bigger
        capacity *= 2
    }

    @inline(__always) func before(_ a: HeapEntry, _ b: HeapEntry) -> Bool { Order.before(a, b) }
    @inline(__always) var top: HeapEntry { storage[0] }
    @inline(__always) var isEmpty: Bool { count == 0 }

    @inline(__always) mutating func push(_ e: HeapEntry) {
        if count == capacity { grow() }
        var i = count
        count += 1
        while i > 0 {
            let p = (i - 1) >> 1
            if !before(e, storage[p]) { break }
            storage[i] = storage[p]
            i = p
        }
        storage[i] = e
    }

    @inline(__always) mutating func pop() -> HeapEntry {
        let result = storage[0]
        count -= 1
        if count > 0 { siftDown(storage[count]) }
        return result
    }

    /// Replaces the top with `e` (faster than pop + push).
    @inline(__always) mutating func replaceTop(_ e: HeapEntry) { siftDown(e) }

    @inline(__always) mutating func siftDown(_ e: HeapEntry) {
        var i = 0
        let n = count
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n, before(storage[l + 1], storage[l]) { c = l + 1 }
            if !before(storage[c], e) { break }
            storage[i] = storage[c]
            i = c
        }
        storage[i] = e
    }
}

/// Per-search scratch: an epoch-stamped visited set over every node and two heaps.
///
/// Thread safety: used by one thread at a time; a ``ScratchPool`` hands them out.
final class HNSWScratch: @unchecked Sendable {
    let visited: UnsafeMutablePointer<UInt16>
    let nodeCount: Int
    var epoch: UInt16 = 0
    var candidates: EntryHeap<NearestFirst>
    var results: EntryHeap<FarthestFirst>
    /// A buffer for neighbour lists copied under a lock.
    let linkBuffer: UnsafeMutablePointer<UInt32>
    let linkCapacity: Int
    /// Distances of the neighbours in `linkBuffer`.
    let dists: UnsafeMutablePointer<Float>
    /// Candidates sorted by distance, and the neighbours the heuristic keeps.
    let sorted: UnsafeMutablePointer<HeapEntry>
    let chosen: UnsafeMutablePointer<HeapEntry>
    let sortedCapacity: Int

    init(nodeCount: Int, heapCapacity: Int, linkCapacity: Int) {
        self.nodeCount = nodeCount
        visited = .allocate(capacity: Swift.max(1, nodeCount))
        visited.initialize(repeating: 0, count: Swift.max(1, nodeCount))
        candidates = EntryHeap(capacity: heapCapacity)
        results = EntryHeap(capacity: heapCapacity)
        self.linkCapacity = linkCapacity
        linkBuffer = .allocate(capacity: linkCapacity)
        dists = .allocate(capacity: linkCapacity)
        sortedCapacity = Swift.max(heapCapacity, linkCapacity) + 1
        sorted = .allocate(capacity: sortedCapacity)
        chosen = .allocate(capacity: sortedCapacity)
    }

    deinit {
        visited.deallocate()
        candidates.free()
        results.free()
        linkBuffer.deallocate()
        dists.deallocate()
        sorted.deallocate()
        chosen.deallocate()
    }

    /// Starts a new search: a fresh epoch (clearing the array when it wraps), empty heaps.
    @inline(__always) func reset() {
        epoch &+= 1
        if epoch == 0 {
            visited.update(repeating: 0, count: Swift.max(1, nodeCount))
            epoch = 1
        }
        candidates.count = 0
        results.count = 0
    }
}

/// A pool of ``HNSWScratch`` sized for one graph, so searches allocate nothing in steady state.
///
/// Thread safety: `take` and `give` are safe from any thread (a mutex guards the free list).
final class ScratchPool: Sendable {
    let nodeCount: Int
    let linkCapacity: Int
    let free = Mutex<[HNSWScratch]>([])

    init(nodeCount: Int, linkCapacity: Int) {
        self.nodeCount = nodeCount
        self.linkCapacity = linkCapacity
    }

    /// A scratch whose heaps hold at least `heapCapacity` entries.
    func take(heapCapacity: Int) -> HNSWScratch {
        let s = free.withLock { list -> HNSWScratch? in
            guard let i = list.lastIndex(where: { $0.sortedCapacity > heapCapacity }) else { return nil }
            return list.remove(at: i)
        }
        return s ?? HNSWScratch(nodeCount: nodeCount, heapCapacity: Swift.max(heapCapacity, 64), linkCapacity: linkCapacity)
    }

    func give(_ s: HNSWScratch) {
        free.withLock { if $0.count < 64 { $0.append(s) } }
    }
}
