import OspreyCore

extension IVFPQIndex {
    /// Payload (after the common header; docs/index.md "Index files"):
    ///
    ///     count:u64 trained:u64 refine:u64 removed:bitmap pad(64)
    ///     [trained:] centroids:f32[nlist × dim] codebooks:f32[m × dsub × 256]   (transposed)
    ///                offsets:u64[nlist + 1] ids:u32[count] pad(64) codes:u8[count × m]   (list order)
    ///                [refine:] pad(64) vectors:f32[count × dim]   (row order)
    ///
    /// Codes are stored one row after another (not in the search blocks), and the per-vector L2
    /// terms are recomputed on load, so the file does not depend on the scan kernel's layout.
    package func serialized() -> [UInt8] {
        let (centroids, codebook, lists, removed) = state.withLock { ($0.centroids, $0.codebook, $0.lists, $0.removed) }
        let dim = configuration.dim, nlist = configuration.nlist, m = self.m
        let n = lists?.count ?? 0
        var w = ByteWriter(capacity: n * (m + 4 + (configuration.refine ? dim * 4 : 0)) + nlist * dim * 4 + m * 1024 + 1024)
        w.write(UInt64(n))
        w.write(UInt64(centroids == nil ? 0 : 1))
        w.write(UInt64(configuration.refine ? 1 : 0))
        w.write(removed)
        w.alignFile(64)
        guard let centroids, let codebook else { return IndexFile.image(configuration, payload: w.bytes) }
        centroids.withUnsafeBytes { w.writeRaw($0) }
        codebook.transposed.withUnsafeBytes { w.writeRaw($0) }
        let bs = IVFPQIndex.block
        var offsets = [Int](repeating: 0, count: nlist + 1)
        if let lists { offsets = lists.offsets }
        for o in offsets { w.write(UInt64(o)) }
        var codes = [UInt8](repeating: 0, count: n * m)
        if let lists {
            let idp = lists.ids.pointer.assumingMemoryBound(to: UInt32.self)
            let cp = lists.codes.pointer.assumingMemoryBound(to: UInt8.self)
            var at = 0
            for l in 0..<nlist {
                for p in 0..<(offsets[l + 1] - offsets[l]) {
                    let slot = lists.blockStart[l] * bs + p
                    w.write(idp[slot])
                    let blk = cp + (slot / bs) * m * bs, v = slot % bs
                    for j in 0..<m { codes[at * m + j] = blk[j * bs + v] }
                    at += 1
                }
            }
        }
        w.alignFile(64)
        w.writeRaw(codes)
        if configuration.refine {
            w.alignFile(64)
            if let raw = lists?.raw { w.writeRaw(UnsafeRawBufferPointer(start: raw.pointer, count: n * dim * 4)) }
        }
        return IndexFile.image(configuration, payload: w.bytes)
    }

    /// Loads and validates a file image: sizes, offsets, a permutation of row ids; damaged files
    /// give errors, never traps.
    convenience init(file: IndexFile) throws(IndexError) {
        let bytes = file.bytes
        var config = file.configuration
        config.refine = try withRawBytes(bytes) { raw throws(IndexError) in
            var r = PayloadReader(raw, offset: file.payloadOffset)
            _ = try r.u64("row count")
            _ = try r.u64("trained flag")
            return try r.count("refine flag", limit: 1) == 1
        }
        try self.init(config)
        let dim = config.dim, nlist = config.nlist, m = self.m, dsub = self.dsub, refine = config.refine
        let loaded: State = try withRawBytes(bytes) { raw throws(IndexError) in
            var r = PayloadReader(raw, offset: file.payloadOffset)
            let n = try r.count("row count", limit: Int(UInt32.max))
            let trained = try r.count("trained flag", limit: 1) == 1
            _ = try r.u64("refine flag")
            let removed = try r.bitset(rows: n)
            try r.align(64)
            guard trained else {
                guard n == 0, r.offset == raw.count else { throw .corruptFile("rows without centroids") }
                return State(centroids: nil, codebook: nil, lists: nil, removed: removed)
            }
            func floats(_ count: Int, _ what: String) throws(IndexError) -> [Float] {
                let c = try r.raw(count * 4, what)
                return [Float](unsafeUninitializedCapacity: count) { b, filled in
                    if count > 0 { UnsafeMutableRawPointer(b.baseAddress!).copyMemory(from: c.baseAddress!, byteCount: count * 4) }
                    filled = count
                }
            }
            let centroids = try floats(nlist * dim, "centroids")
            let codebook = Codebook(transposed: try floats(m * dsub * IVFPQIndex.ksub, "codebooks"), m: m, dsub: dsub)
            var offsets = [Int](repeating: 0, count: nlist + 1)
            for l in 0...nlist {
                offsets[l] = try r.count("list offset", limit: n)
                guard l == 0 ? offsets[0] == 0 : offsets[l] >= offsets[l - 1] else { throw .corruptFile("list offsets not ascending") }
            }
            guard offsets[nlist] == n else { throw .corruptFile("lists hold \(offsets[nlist]) rows, header says \(n)") }
            var listOf = [Int32](repeating: -1, count: n)
            var order = [Int](repeating: 0, count: n)
            for l in 0..<nlist {
                for p in offsets[l]..<offsets[l + 1] {
                    let row = Int(try r.u32("row id"))
                    guard row < n, listOf[row] < 0 else { throw .corruptFile("bad or repeated row id \(row)") }
                    listOf[row] = Int32(l)
                    order[p] = row
                }
            }
            try r.align(64)
            let codesRaw = try r.raw(n * m, "codes")
            var e = Encoded(listOf: listOf, codes: [UInt8](repeating: 0, count: n * m), bias: [], raw: [])
            for p in 0..<n {
                let row = order[p]
                for j in 0..<m { e.codes[row * m + j] = codesRaw[p * m + j] }
            }
            if refine {
                try r.align(64)
                e.raw = try floats(n * dim, "vectors")
            }
            guard r.offset == raw.count else { throw .corruptFile("\(raw.count - r.offset) trailing bytes") }
            if !innerProduct, n > 0 {
                e.bias = e.codes.withUnsafeBufferPointer { c in
                    e.listOf.withUnsafeBufferPointer { lo in
                        biasTerms(codes: c.baseAddress!, listOf: lo.baseAddress!, count: n, centroids: centroids, codebook: codebook)
                    }
                }
            }
            var loaded = State(centroids: centroids, codebook: codebook, lists: makeLists(e), removed: removed)
            loaded.panels = CoarsePanels(centroids: centroids, nlist: nlist, dim: dim, innerProduct: innerProduct)
            return loaded
        }
        state.withLock { $0 = loaded }
    }
}
