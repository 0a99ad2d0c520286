import COspreyKernels
import OspreyCore

/// The immutable, compact HNSW graph used for search.
///
/// Layout: one block per node for level 0, `[count:u32][2M links:u32][vector]`, so a visit reads
/// links and vector from adjacent cache lines; upper levels packed in one `u32` array with
/// per-node offsets (`upperStart[i]..<upperStart[i+1]`, one `[count][M links]` run per level).
///
/// Thread safety: immutable; any number of threads may search at once (each takes its own
/// scratch from the pool).
final class HNSWGraph: Sendable {
    let n: Int
    let vectorBytes: Int
    let dim: Int
    let M: Int
    let nodeBytes: Int
    let vectorOffset: Int
    let level0: AlignedBuffer
    let levels: AlignedBuffer
    let upperStart: AlignedBuffer
    let upper: AlignedBuffer
    let entry: Int
    let maxLevel: Int
    let dist: VectorDistance.PairFunction
    let gather: VectorDistance.GatherFunction
    let pool: ScratchPool

    init(n: Int, vectorBytes: Int, dim: Int, M: Int, nodeBytes: Int, level0: AlignedBuffer, levels: AlignedBuffer,
         upperStart: AlignedBuffer, upper: AlignedBuffer, entry: Int, maxLevel: Int, kernel: VectorDistance) {
        self.n = n
        self.vectorBytes = vectorBytes
        self.dim = dim
        self.M = M
        self.nodeBytes = nodeBytes
        vectorOffset = 4 + 8 * M
        self.level0 = level0
        self.levels = levels
        self.upperStart = upperStart
        self.upper = upper
        self.entry = entry
        self.maxLevel = maxLevel
        dist = kernel.pair
        gather = kernel.gather
        pool = ScratchPool(nodeCount: n, linkCapacity: 2 * M + 1)
    }

    /// Bytes of each neighbour's vector prefetched before a batch of distances: the first lines;
    /// the hardware prefetcher streams the rest of longer vectors.
    static let prefetchLimit = 256

    /// Heap bytes held: level-0 blocks, upper links, offsets, levels (or the heap image they
    /// point into).
    var memoryBytes: Int { IndexImage.memory(of: [level0, upper, upperStart, levels]).heap }
    /// Bytes of a mapped index file the graph is read from in place.
    var mappedBytes: Int { IndexImage.memory(of: [level0, upper, upperStart, levels]).mapped }

    @inline(__always) func vector(_ i: Int) -> UnsafeRawPointer { UnsafeRawPointer(level0.pointer + i * nodeBytes + vectorOffset) }

    /// The `k` nearest nodes to `q` among those `allowed` (nil = all), exploring `ef` candidates.
    /// Disallowed nodes are traversed but never returned.
    func search(_ q: UnsafeRawPointer, k: Int, ef efIn: Int, allowed: UnsafePointer<UInt64>?) -> [Neighbor] {
        guard entry >= 0 else { return [] }
        let ef = efIn > k ? efIn : k
        let scratch = pool.take(heapCapacity: ef + 1)
        defer { pool.give(scratch) }
        let dist = self.dist, dim = self.dim
        let base = UnsafeRawPointer(level0.pointer), nodeBytes = self.nodeBytes, vOff = vectorOffset
        // Greedy descent through the upper levels.
        var cur = entry
        var curD = dist(q, base + cur * nodeBytes + vOff, dim)
        let starts = UnsafePointer(upperStart.pointer.assumingMemoryBound(to: UInt32.self))
        let up = UnsafePointer(upper.pointer.assumingMemoryBound(to: UInt32.self))
        var lev = maxLevel
        while lev > 0 {
            var changed = true
            while changed {
                changed = false
                let l = up + Int(starts[cur]) + (lev - 1) * (M + 1)
                let c = Int(l[0])
                for j in 0..<c {
                    let e = Int(l[1 + j])
                    let d = dist(q, base + e * nodeBytes + vOff, dim)
                    if d < curD { curD = d; cur = e; changed = true }
                }
            }
            lev -= 1
        }
        // Best-first search of level 0.
        scratch.reset()
        let visited = scratch.visited, epoch = scratch.epoch
        var cand = scratch.candidates, res = scratch.results
        defer { scratch.candidates = cand; scratch.results = res }
        @inline(__always) func isAllowed(_ i: Int) -> Bool {
            guard let allowed else { return true }
            return (allowed[i >> 6] >> UInt64(i & 63)) & 1 != 0
        }
        let ids = scratch.linkBuffer, dists = scratch.dists, gather = self.gather, vb = vectorBytes
        let vbase = base + vOff
        let prefetchBytes = Swift.min(vb, HNSWGraph.prefetchLimit)
        visited[cur] = epoch
        cand.push(HeapEntry(d: curD, id: UInt32(cur)))
        var bound = Float.infinity
        if isAllowed(cur) { res.push(HeapEntry(d: curD, id: UInt32(cur))); bound = res.count >= ef ? curD : .infinity }
        while !cand.isEmpty {
            let c = cand.pop()
            if c.d > bound { break }
            let l = (base + Int(c.id) * nodeBytes).assumingMemoryBound(to: UInt32.self)
            let count = Int(l[0])
            // Collect the unvisited neighbours, prefetch their vectors, then compute their distances
            // in one gathered call (four at a time) so memory loads overlap.
            var m = 0
            for j in 0..<count {
                let e = l[1 + j]
                if visited[Int(e)] == epoch { continue }
                visited[Int(e)] = epoch
                osp_prefetch_range(vbase + Int(e) * nodeBytes, prefetchBytes)
                ids[m] = e
                m += 1
            }
            if m == 0 { continue }
            gather(q, vbase, ids, m, nodeBytes, dim, dists)
            for j in 0..<m {
                let d = dists[j]
                if d < bound {
                    let e = ids[j]
                    cand.push(HeapEntry(d: d, id: e))
                    if isAllowed(Int(e)) {
                        if res.count < ef { res.push(HeapEntry(d: d, id: e)) } else { res.replaceTop(HeapEntry(d: d, id: e)) }
                        if res.count >= ef { bound = res.top.d }
                    }
                }
            }
            if !cand.isEmpty { osp_prefetch(base + Int(cand.top.id) * nodeBytes) }
        }
        while res.count > k { _ = res.pop() }
        var out = [Neighbor](repeating: Neighbor(distance: 0, row: RowID(0)), count: res.count)
        var i = res.count - 1
        while i >= 0 {
            let e = res.pop()
            out[i] = Neighbor(distance: e.d, row: RowID(e.id))
            i -= 1
        }
        return out
    }
}

