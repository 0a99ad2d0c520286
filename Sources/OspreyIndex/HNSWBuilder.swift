import COspreyKernels
import Foundation
import OspreyCore

/// The mutable HNSW graph while it is built: every node's level-0 links sit beside its vector in
/// one block (`[count:u32][2M links:u32][vector]`), upper-level links live in per-node arrays,
/// and per-node spin locks let every core insert at once. ``freeze()`` turns it into an
/// ``HNSWGraph``.
///
/// Levels follow the exponential distribution with `mL = 1/ln(M)`; neighbours are chosen with
/// the heuristic of Malkov & Yashunin (Algorithm 4, without extending or keeping pruned
/// candidates); level 0 keeps up to 2·M links, upper levels M.
///
/// Thread safety: `insert` may run on many threads at once (each node's links are guarded by its
/// own lock, the entry point by a global one); `freeze` must run after every insert returned.
final class HNSWBuilder: @unchecked Sendable {
    let n: Int
    let vectorBytes: Int
    let M: Int
    let M0: Int
    let efConstruction: Int
    let nodeBytes: Int
    let vectorOffset: Int
    let level0: AlignedBuffer
    let levels: UnsafeMutablePointer<UInt8>
    let upper: UnsafeMutablePointer<UnsafeMutablePointer<UInt32>?>
    let locks: UnsafeMutablePointer<UInt32>
    /// [0]: global lock, [1]: entry node + 1 (0 = none), [2]: max level.
    let global: UnsafeMutablePointer<UInt32>
    let dist: VectorDistance.PairFunction
    let kernel: VectorDistance
    let dim: Int
    let pool: ScratchPool

    /// The highest level a node may get.
    static let levelCap = 31

    /// A builder for `n` vectors copied from `vectors` (contiguous, `kernel.vectorBytes` apart).
    init(vectors: UnsafeRawPointer, count n: Int, kernel: VectorDistance, M: Int, efConstruction: Int, seed: UInt64) {
        self.n = n
        vectorBytes = kernel.vectorBytes
        self.M = M
        M0 = 2 * M
        self.efConstruction = Swift.max(efConstruction, M)
        vectorOffset = 4 + 4 * M0
        nodeBytes = (vectorOffset + vectorBytes + 3) & ~3
        level0 = AlignedBuffer(byteCount: n * nodeBytes)
        levels = .allocate(capacity: Swift.max(n, 1))
        upper = .allocate(capacity: Swift.max(n, 1))
        upper.initialize(repeating: nil, count: Swift.max(n, 1))
        locks = .allocate(capacity: Swift.max(n, 1))
        locks.initialize(repeating: 0, count: Swift.max(n, 1))
        global = .allocate(capacity: 3)
        global.initialize(repeating: 0, count: 3)
        dist = kernel.pair
        self.kernel = kernel
        dim = kernel.dim
        pool = ScratchPool(nodeCount: n, linkCapacity: M0 + 1)
        let mL = 1 / Foundation.log(Double(Swift.max(M, 2)))
        for i in 0..<n {
            (level0.pointer + i * nodeBytes + vectorOffset).copyMemory(from: vectors + i * vectorBytes, byteCount: vectorBytes)
            // A per-node hash keeps levels independent of thread scheduling.
            var z = seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let u = (Double(z >> 11) + 1) / Double(1 << 53)
            let level = Int(-Foundation.log(u) * mL)
            levels[i] = UInt8(Swift.min(level, HNSWBuilder.levelCap))
            if levels[i] > 0 {
                let words = Int(levels[i]) * (M + 1)
                let p = UnsafeMutablePointer<UInt32>.allocate(capacity: words)
                p.initialize(repeating: 0, count: words)
                upper[i] = p
            }
        }
    }

    deinit {
        for i in 0..<n { upper[i]?.deallocate() }
        upper.deallocate()
        levels.deallocate()
        locks.deallocate()
        global.deallocate()
    }

    @inline(__always) func vector(_ i: Int) -> UnsafeRawPointer { UnsafeRawPointer(level0.pointer + i * nodeBytes + vectorOffset) }

    /// The link list of node `i` at `level`: `[count, links...]`.
    @inline(__always) func links(_ i: Int, _ level: Int) -> UnsafeMutablePointer<UInt32> {
        if level == 0 { return (level0.pointer + i * nodeBytes).assumingMemoryBound(to: UInt32.self) }
        return upper[i]! + (level - 1) * (M + 1)
    }

    /// Builds the graph over every node, on `threads` workers.
    func build(threads: Int) {
        guard n > 0 else { return }
        insert(0, scratch: pool.take(heapCapacity: efConstruction + 1))
        let next = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        next.initialize(to: 1)
        defer { next.deallocate() }
        let counter = UncheckedSendable(next)
        Parallel.run(workers: Swift.min(threads, n)) { _ in
            let scratch = self.pool.take(heapCapacity: self.efConstruction + 1)
            while true {
                let i = Int(osp_atomic_fetch_add(counter.value, 1))
                if i >= self.n { break }
                self.insert(i, scratch: scratch)
            }
            self.pool.give(scratch)
        }
    }

    /// Inserts node `i` (its vector is already in place).
    func insert(_ i: Int, scratch: HNSWScratch) {
        let level = Int(levels[i])
        osp_spin_lock(global)
        let entryPlusOne = Int(global[1])
        let maxLevel = Int(global[2])
        if entryPlusOne == 0 {
            global[1] = UInt32(i + 1)
            global[2] = UInt32(level)
            osp_spin_unlock(global)
            return
        }
        let raisesTop = level > maxLevel
        if !raisesTop { osp_spin_unlock(global) }

        let q = vector(i)
        var cur = entryPlusOne - 1
        var curD = dist(q, vector(cur), dim)
        var lev = maxLevel
        while lev > level {
            var changed = true
            while changed {
                changed = false
                let count = copyLinks(cur, lev, into: scratch.linkBuffer)
                for j in 0..<count {
                    let c = Int(scratch.linkBuffer[j])
                    let d = dist(q, vector(c), dim)
                    if d < curD { curD = d; cur = c; changed = true }
                }
            }
            lev -= 1
        }
        lev = Swift.min(level, maxLevel)
        while lev >= 0 {
            searchLayer(q, entry: cur, entryDistance: curD, level: lev, scratch: scratch)
            let found = drainSorted(scratch)
            cur = Int(scratch.sorted[0].id)
            curD = scratch.sorted[0].d
            let kept = selectNeighbors(scratch.sorted, count: found, limit: M, into: scratch.chosen)
            let own = links(i, lev)
            osp_spin_lock(locks + i)
            for j in 0..<kept { own[1 + j] = scratch.chosen[j].id }
            own[0] = UInt32(kept)
            osp_spin_unlock(locks + i)
            // `connect` reuses `chosen`, so keep this level's neighbours in the link buffer.
            for j in 0..<kept { scratch.linkBuffer[j] = scratch.chosen[j].id }
            for j in 0..<kept { connect(Int(scratch.linkBuffer[j]), to: i, level: lev, scratch: scratch) }
            lev -= 1
        }
        if raisesTop {
            global[1] = UInt32(i + 1)
            global[2] = UInt32(level)
            osp_spin_unlock(global)
        }
    }

    /// Copies a node's links under its lock; returns how many.
    @inline(__always) func copyLinks(_ node: Int, _ level: Int, into buffer: UnsafeMutablePointer<UInt32>) -> Int {
        let l = links(node, level)
        osp_spin_lock(locks + node)
        let c = Int(l[0])
        buffer.update(from: l + 1, count: c)
        osp_spin_unlock(locks + node)
        return c
    }

    /// Best-first search of one level from one entry; leaves the `efConstruction` best in
    /// `scratch.results`.
    func searchLayer(_ q: UnsafeRawPointer, entry: Int, entryDistance: Float, level: Int, scratch: HNSWScratch) {
        scratch.reset()
        let visited = scratch.visited, epoch = scratch.epoch, ef = efConstruction
        var cand = scratch.candidates, res = scratch.results
        defer { scratch.candidates = cand; scratch.results = res }
        visited[entry] = epoch
        cand.push(HeapEntry(d: entryDistance, id: UInt32(entry)))
        res.push(HeapEntry(d: entryDistance, id: UInt32(entry)))
        var bound = entryDistance
        let buf = scratch.linkBuffer, dists = scratch.dists, gather = kernel.gather
        let vbase = UnsafeRawPointer(level0.pointer + vectorOffset), nodeBytes = self.nodeBytes, vb = vectorBytes
        let prefetchBytes = Swift.min(vb, HNSWGraph.prefetchLimit)
        while !cand.isEmpty {
            let c = cand.pop()
            if c.d > bound && res.count >= ef { break }
            let count = copyLinks(Int(c.id), level, into: buf)
            var m = 0
            for j in 0..<count {
                let e = buf[j]
                if visited[Int(e)] == epoch { continue }
                visited[Int(e)] = epoch
                osp_prefetch_range(vbase + Int(e) * nodeBytes, prefetchBytes)
                buf[m] = e
                m += 1
            }
            if m == 0 { continue }
            gather(q, vbase, buf, m, nodeBytes, dim, dists)
            for j in 0..<m {
                let d = dists[j]
                if res.count < ef || d < bound {
                    let e = buf[j]
                    cand.push(HeapEntry(d: d, id: e))
                    if res.count < ef { res.push(HeapEntry(d: d, id: e)) } else { res.replaceTop(HeapEntry(d: d, id: e)) }
                    bound = res.top.d
                }
            }
        }
    }

    /// Moves `scratch.results` into `scratch.sorted`, ascending by distance; returns the count.
    func drainSorted(_ scratch: HNSWScratch) -> Int {
        var res = scratch.results
        let n = res.count
        var i = n - 1
        while i >= 0 { scratch.sorted[i] = res.pop(); i -= 1 }
        scratch.results = res
        return n
    }

    /// The neighbour-selection heuristic: walk candidates nearest first and keep one only if it
    /// is closer to the base than to every neighbour kept so far. Returns how many were kept.
    func selectNeighbors(_ sorted: UnsafeMutablePointer<HeapEntry>, count: Int, limit: Int,
                         into chosen: UnsafeMutablePointer<HeapEntry>) -> Int {
        var kept = 0
        for j in 0..<count {
            if kept >= limit { break }
            let c = sorted[j]
            let cv = vector(Int(c.id))
            var good = true
            for r in 0..<kept where dist(cv, vector(Int(chosen[r].id)), dim) < c.d {
                good = false
                break
            }
            if good { chosen[kept] = c; kept += 1 }
        }
        return kept
    }

    /// Adds a back-link `node → newNode`, pruning `node`'s list with the heuristic when full.
    func connect(_ node: Int, to newNode: Int, level: Int, scratch: HNSWScratch) {
        let limit = level == 0 ? M0 : M
        let l = links(node, level)
        osp_spin_lock(locks + node)
        defer { osp_spin_unlock(locks + node) }
        let c = Int(l[0])
        if c < limit {
            l[1 + c] = UInt32(newNode)
            l[0] = UInt32(c + 1)
            return
        }
        // Full: candidates are the current links plus the new node, by distance to `node`.
        let nv = vector(node)
        let cands = scratch.sorted
        for j in 0..<c { cands[j] = HeapEntry(d: dist(nv, vector(Int(l[1 + j])), dim), id: l[1 + j]) }
        cands[c] = HeapEntry(d: dist(nv, vector(newNode), dim), id: UInt32(newNode))
        // Insertion sort: at most 2M + 1 entries.
        for a in 1...c {
            let x = cands[a]
            var b = a - 1
            while b >= 0 && cands[b].d > x.d { cands[b + 1] = cands[b]; b -= 1 }
            cands[b + 1] = x
        }
        let kept = selectNeighbors(cands, count: c + 1, limit: limit, into: scratch.chosen)
        for j in 0..<kept { l[1 + j] = scratch.chosen[j].id }
        l[0] = UInt32(kept)
    }

    /// The immutable graph: level 0 moves over as is; upper levels are packed into one array.
    func freeze() -> HNSWGraph {
        var upperWords = 0
        for i in 0..<n { upperWords += Int(levels[i]) * (M + 1) }
        let upperStart = AlignedBuffer(byteCount: (n + 1) * 4)
        let upperAll = AlignedBuffer(byteCount: upperWords * 4)
        let levelBuf = AlignedBuffer(byteCount: n)
        let starts = upperStart.pointer.assumingMemoryBound(to: UInt32.self)
        let words = upperAll.pointer.assumingMemoryBound(to: UInt32.self)
        var at = 0
        for i in 0..<n {
            starts[i] = UInt32(at)
            levelBuf.pointer.storeBytes(of: levels[i], toByteOffset: i, as: UInt8.self)
            let w = Int(levels[i]) * (M + 1)
            if w > 0 { (words + at).update(from: upper[i]!, count: w) }
            at += w
        }
        starts[n] = UInt32(at)
        let entry = global[1] == 0 ? -1 : Int(global[1]) - 1
        return HNSWGraph(n: n, vectorBytes: vectorBytes, dim: dim, M: M, nodeBytes: nodeBytes, level0: level0,
                         levels: levelBuf, upperStart: upperStart, upper: upperAll, entry: entry,
                         maxLevel: Int(global[2]), kernel: kernel)
    }
}
