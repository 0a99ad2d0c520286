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
        lists?.write(to: &w, codeBytes: codeBytes)
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
            let lists = try IVFLists.read(&r, nlist: nlist, rows: n, codeBytes: cb)
            guard r.offset == raw.count else { throw .corruptFile("\(raw.count - r.offset) trailing bytes") }
            return State(centroids: centroids, quantizer: quantizer, lists: lists, removed: removed)
        }
        state.withLock { $0 = loaded }
    }
}
