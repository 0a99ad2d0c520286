import OspreyCore

extension BinaryIVFIndex {
    /// Payload (after the common header; docs/index.md "Index files"):
    ///
    ///     count:u64 trained:u64 removed:bitmap pad(64)
    ///     [trained:] centroids:u8[nlist × dim/8] offsets:u64[nlist + 1] ids:u32[count] pad(64)
    ///                codes:u8[count × dim/8]   (list order)
    package func serialized() -> [UInt8] {
        let (centroids, lists, removed) = state.withLock { ($0.centroids, $0.lists, $0.removed) }
        let nlist = configuration.nlist, vb = kernel.vectorBytes
        let n = lists?.count ?? 0
        var w = ByteWriter(capacity: n * (vb + 4) + nlist * (vb + 8) + 1024)
        w.write(UInt64(n))
        w.write(UInt64(centroids == nil ? 0 : 1))
        w.write(removed)
        w.alignFile(64)
        guard let centroids else { return IndexFile.image(configuration, payload: w.bytes) }
        w.writeRaw(centroids)
        if let lists {
            lists.write(to: &w, codeBytes: vb)
        } else {
            // A trained index always has its lists in the file, empty ones included.
            for _ in 0...nlist { w.write(UInt64(0)) }
            w.alignFile(64)
        }
        return IndexFile.image(configuration, payload: w.bytes)
    }

    /// Loads and validates offsets and ids, so damaged files give errors, not traps.
    convenience init(file: IndexFile) throws(IndexError) {
        try self.init(file.configuration)
        let nlist = configuration.nlist, vb = kernel.vectorBytes
        let loaded: State = try withRawBytes(file.bytes) { raw throws(IndexError) in
            var r = PayloadReader(raw, offset: file.payloadOffset)
            let n = try r.count("row count", limit: Int(UInt32.max))
            let trained = try r.count("trained flag", limit: 1) == 1
            let removed = try r.bitset(rows: n)
            try r.align(64)
            guard trained else {
                guard n == 0, r.offset == raw.count else { throw .corruptFile("rows without centroids") }
                return State(centroids: nil, lists: nil, removed: removed)
            }
            let centroids = [UInt8](try r.raw(nlist * vb, "centroids"))
            let lists = try IVFLists.read(&r, nlist: nlist, rows: n, codeBytes: vb)
            guard r.offset == raw.count else { throw .corruptFile("\(raw.count - r.offset) trailing bytes") }
            return State(centroids: centroids, lists: lists, removed: removed)
        }
        state.withLock { $0 = loaded }
    }
}
