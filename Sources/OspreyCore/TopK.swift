/// One search hit: a row of some segment and its internal distance (smaller is better).
public struct Neighbor: Sendable, Hashable, Comparable {
    public var distance: Float
    public var row: RowID
    @inlinable public init(distance: Float, row: RowID) { self.distance = distance; self.row = row }
    /// Orders by distance, then by row so that ties resolve deterministically.
    @inlinable public static func < (a: Neighbor, b: Neighbor) -> Bool {
        a.distance < b.distance || (a.distance == b.distance && a.row < b.row)
    }
}

/// Keeps the `k` smallest neighbours seen so far: a bounded max-heap on distance.
///
/// - Complexity: `push` is O(log k); `sortedResults` is O(k log k).
///
/// Thread safety: a value type; use one per thread.
public struct TopK: Sendable {
    public let k: Int
    @usableFromInline var heap: [Neighbor] = []

    public init(k: Int) {
        precondition(k >= 0, "k must be non-negative")
        self.k = k
        heap.reserveCapacity(Swift.min(k, 1 << 16))
    }

    @inlinable public var count: Int { heap.count }
    @inlinable public var isFull: Bool { heap.count >= k }

    /// The largest distance kept, or +infinity while fewer than `k` are kept.
    @inlinable public var worstDistance: Float { heap.count < k ? .infinity : heap[0].distance }

    /// Offers a candidate; keeps it when it is among the `k` best so far.
    @inlinable public mutating func push(_ n: Neighbor) {
        if heap.count < k {
            heap.append(n)
            siftUp(heap.count - 1)
        } else if k > 0, n < heap[0] {
            heap[0] = n
            siftDown(0)
        }
    }

    @inlinable public mutating func push(distance: Float, row: RowID) { push(Neighbor(distance: distance, row: row)) }

    /// The kept neighbours, best first.
    public func sortedResults() -> [Neighbor] { heap.sorted() }

    @usableFromInline mutating func siftUp(_ i0: Int) {
        var i = i0
        while i > 0 {
            let p = (i - 1) >> 1
            if heap[p] < heap[i] { heap.swapAt(p, i); i = p } else { break }
        }
    }

    @usableFromInline mutating func siftDown(_ i0: Int) {
        var i = i0
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n, heap[m] < heap[l] { m = l }
            if r < n, heap[m] < heap[r] { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }
}
