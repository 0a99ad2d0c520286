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
        for o in lists?.offsets ?? [Int](repeating: 0, count: nlist + 1) { w.write(UInt64(o)) }
        if let lists { w.writeRaw(UnsafeRawBufferPointer(start: lists.ids.pointer, count: n * 4)) }
        w.alignFile(64)
        if let lists { w.writeRaw(UnsafeRawBufferPointer(start: lists.codes.pointer, count: n * vb)) }
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
            var offsets = [Int](repeating: 0, count: nlist + 1)
            for l in 0...nlist {
                offsets[l] = try r.count("list offset", limit: n)
                guard l == 0 ? offsets[0] == 0 : offsets[l] >= offsets[l - 1] else { throw .corruptFile("list offsets not ascending") }
            }
            guard offsets[nlist] == n else { throw .corruptFile("lists hold \(offsets[nlist]) rows, header says \(n)") }
            let idsRaw = try r.raw(n * 4, "row ids")
            try r.align(64)
            let codesRaw = try r.raw(n * vb, "codes")
            guard r.offset == raw.count else { throw .corruptFile("\(raw.count - r.offset) trailing bytes") }
            let ids = AlignedBuffer(byteCount: n * 4, zeroed: false)
            if n > 0 { ids.pointer.copyMemory(from: idsRaw.baseAddress!, byteCount: n * 4) }
            let idp = ids.pointer.assumingMemoryBound(to: UInt32.self)
            var seen = Bitset(count: n)
            for i in 0..<n {
                let row = Int(UInt32(littleEndian: idp[i]))
                guard row < n, !seen.contains(row) else { throw .corruptFile("bad or repeated row id \(row)") }
                seen.set(row)
            }
            let codes = AlignedBuffer(byteCount: n * vb, zeroed: false)
            if n > 0 { codes.pointer.copyMemory(from: codesRaw.baseAddress!, byteCount: n * vb) }
            return State(centroids: centroids, lists: Lists(offsets: offsets, ids: ids, codes: codes, count: n), removed: removed)
        }
        state.withLock { $0 = loaded }
    }
}
