import OspreyCore

extension IVFIndex {
    /// Payload (after the common header; docs/index.md "IVF files"):
    ///
    ///     count:u64 trained:u64 removed:bitmap pad(64) centroids:f32[nlist × dim]
    ///     [IVF_SQ8: vmin:f32[dim] scale:f32[dim]]
    ///     offsets:u64[nlist + 1] ids:u32[count] pad(64) codes[count]   (list order; f32[dim] or u8[dim])
    package func serialized() -> [UInt8] {
        let (centroids, quantizer, lists, removed) = state.withLock { ($0.centroids, $0.quantizer, $0.lists, $0.removed) }
        let dim = configuration.dim, nlist = configuration.nlist
        let n = lists?.count ?? 0
        var w = ByteWriter(capacity: n * dim * 4 + nlist * dim * 4 + 1024)
        w.write(UInt64(n))
        w.write(UInt64(centroids == nil ? 0 : 1))
        w.write(removed)
        w.alignFile(64)
        if let centroids { centroids.withUnsafeBytes { w.writeRaw($0) } }
        if let quantizer {
            quantizer.vmin.withUnsafeBytes { w.writeRaw($0) }
            quantizer.scale.withUnsafeBytes { w.writeRaw($0) }
        }
        if let lists {
            for o in lists.offsets { w.write(UInt64(o)) }
            w.writeRaw(UnsafeRawBufferPointer(start: lists.ids.pointer, count: n * 4))
            w.alignFile(64)
            w.writeRaw(UnsafeRawBufferPointer(start: lists.vectors.pointer, count: n * codeBytes))
        }
        return IndexFile.image(configuration, payload: w.bytes)
    }

    /// Loads and validates offsets and ids, so damaged files give errors, not traps.
    convenience init(file: IndexFile) throws(IndexError) {
        try self.init(file.configuration)
        let dim = configuration.dim, nlist = configuration.nlist, cb = codeBytes, quantized = self.quantized
        let loaded: State = try file.image.withBytes { raw throws(IndexError) in
            var r = PayloadReader(raw, offset: file.payloadOffset)
            let n = try r.count("row count", limit: Int(UInt32.max))
            let trained = try r.count("trained flag", limit: 1) == 1
            let removed = try r.bitset(rows: n)
            try r.align(64)
            guard trained else {
                guard n == 0, r.offset == raw.count else { throw .corruptFile("rows without centroids") }
                return State(centroids: nil, quantizer: nil, lists: nil, removed: removed)
            }
            func floats(_ count: Int, _ what: String) throws(IndexError) -> [Float] {
                let c = try r.raw(count * 4, what)
                return [Float](unsafeUninitializedCapacity: count) { b, filled in
                    UnsafeMutableRawPointer(b.baseAddress!).copyMemory(from: c.baseAddress!, byteCount: count * 4)
                    filled = count
                }
            }
            let centroids = try floats(nlist * dim, "centroids")
            var quantizer: ScalarQuantizer? = nil
            if quantized {
                let vmin = try floats(dim, "quantizer minimum"), scale = try floats(dim, "quantizer scale")
                quantizer = ScalarQuantizer(vmin: vmin, scale: scale)
            }
            if n == 0 && r.offset == raw.count { return State(centroids: centroids, quantizer: quantizer, lists: nil, removed: removed) }
            var offsets = [Int](repeating: 0, count: nlist + 1)
            for l in 0...nlist {
                offsets[l] = try r.count("list offset", limit: n)
                guard l == 0 ? offsets[0] == 0 : offsets[l] >= offsets[l - 1] else { throw .corruptFile("list offsets not ascending") }
            }
            guard offsets[nlist] == n else { throw .corruptFile("lists hold \(offsets[nlist]) rows, header says \(n)") }
            let idsRaw = try r.raw(n * 4, "row ids")
            try r.align(64)
            let vecRaw = try r.raw(n * cb, "codes")
            guard r.offset == raw.count else { throw .corruptFile("\(raw.count - r.offset) trailing bytes") }
            let ids = AlignedBuffer(byteCount: n * 4, zeroed: false)
            ids.pointer.copyMemory(from: idsRaw.baseAddress!, byteCount: n * 4)
            let idp = ids.pointer.assumingMemoryBound(to: UInt32.self)
            var seen = Bitset(count: n)
            for i in 0..<n {
                let row = Int(idp[i])
                guard row < n, !seen.contains(row) else { throw .corruptFile("bad or repeated row id \(row)") }
                seen.set(row)
            }
            let vectors = AlignedBuffer(byteCount: n * cb, zeroed: false)
            vectors.pointer.copyMemory(from: vecRaw.baseAddress!, byteCount: n * cb)
            return State(centroids: centroids, quantizer: quantizer, lists: Lists(offsets: offsets, ids: ids, vectors: vectors, count: n),
                         removed: removed)
        }
        state.withLock { $0 = loaded }
    }
}
