import OspreyCore

extension HNSWIndex {
    /// Payload (after the common 64-byte header; docs/index.md "HNSW file"):
    ///
    ///     n:u64 entryPlusOne:u64 maxLevel:u64 nodeBytes:u64 upperWords:u64
    ///     removed:bitset levels:u8[n] pad(4) upperStart:u32[n+1] upper:u32[upperWords]
    ///     pad(64) level0:(nodeBytes × n)     — [count:u32][2M links:u32][vector] per node
    package func serialized() -> [UInt8] {
        let (graph, removed) = state.withLock { ($0.graph, $0.removed) }
        var w = ByteWriter(capacity: (graph.map { $0.level0.byteCount + $0.upper.byteCount + $0.upperStart.byteCount + $0.levels.byteCount } ?? 0) + 512)
        guard let g = graph else {
            for _ in 0..<5 { w.write(UInt64(0)) }
            w.write(Bitset(count: 0))
            return IndexFile.image(configuration, payload: w.bytes)
        }
        let upperWords = g.upper.byteCount / 4
        w.write(UInt64(g.n))
        w.write(UInt64(g.entry + 1))
        w.write(UInt64(g.maxLevel))
        w.write(UInt64(g.nodeBytes))
        w.write(UInt64(upperWords))
        w.write(removed)
        w.writeRaw(UnsafeRawBufferPointer(start: g.levels.pointer, count: g.n))
        w.alignFile(4)
        w.writeRaw(UnsafeRawBufferPointer(start: g.upperStart.pointer, count: (g.n + 1) * 4))
        w.writeRaw(UnsafeRawBufferPointer(start: g.upper.pointer, count: upperWords * 4))
        w.alignFile(64)
        w.writeRaw(UnsafeRawBufferPointer(start: g.level0.pointer, count: g.n * g.nodeBytes))
        return IndexFile.image(configuration, payload: w.bytes)
    }

    /// Bytes of a mapped index file the graph is read from in place (0 when in memory).
    package var mappedBytes: Int { state.withLock { $0.graph?.mappedBytes ?? 0 } }

    /// Loads and fully validates a graph: every count, link, level and offset is checked, so a
    /// damaged file gives ``IndexError/corruptFile(_:)`` and never a trap or a wild read. A
    /// mapped image's level-0 blocks (links and vectors), upper links and levels are used in
    /// place, not copied.
    convenience init(file: IndexFile) throws(IndexError) {
        try self.init(file.configuration)
        let config = configuration, kernel = self.kernel
        let loaded: State = try file.image.withBytes { raw throws(IndexError) in
            var r = PayloadReader(raw, offset: file.payloadOffset)
            let n = try r.count("node count", limit: Int(Int32.max))
            let entryPlusOne = try r.count("entry", limit: n)
            let maxLevel = try r.count("max level", limit: HNSWBuilder.levelCap)
            let M = config.M, M0 = 2 * M
            let expectedNodeBytes = (4 + 4 * M0 + kernel.vectorBytes + 3) & ~3
            let nodeBytes = try r.count("node size", limit: expectedNodeBytes)
            let upperWords = try r.count("upper links", limit: n * HNSWBuilder.levelCap * (M + 1))
            let removed = try r.bitset(rows: n)
            if n == 0 {
                guard r.offset == raw.count else { throw .corruptFile("trailing bytes") }
                return State(graph: nil, removed: removed)
            }
            guard nodeBytes == expectedNodeBytes else { throw .corruptFile("node size \(nodeBytes), expected \(expectedNodeBytes)") }
            guard entryPlusOne >= 1 else { throw .corruptFile("no entry point for \(n) nodes") }
            let levelsRaw = try r.raw(n, "levels")
            try r.align(4)
            let startsRaw = try r.raw((n + 1) * 4, "upper offsets")
            let upperRaw = try r.raw(upperWords * 4, "upper links")
            try r.align(64)
            let level0Raw = try r.raw(n * nodeBytes, "level-0 blocks")
            guard r.offset == raw.count else { throw .corruptFile("\(raw.count - r.offset) trailing bytes") }

            let levels = file.buffer(levelsRaw, alignment: 1)
            let starts = file.buffer(startsRaw, alignment: 4)
            let upper = file.buffer(upperRaw, alignment: 4)
            let level0 = file.buffer(level0Raw, alignment: 64)

            let lv = levels.pointer.assumingMemoryBound(to: UInt8.self)
            let st = starts.pointer.assumingMemoryBound(to: UInt32.self)
            let up = upper.pointer.assumingMemoryBound(to: UInt32.self)
            guard Int(lv[entryPlusOne - 1]) == maxLevel else { throw .corruptFile("entry point is not on the top level") }
            var at = 0
            for i in 0..<n {
                let level = Int(lv[i])
                guard level <= maxLevel else { throw .corruptFile("node \(i) has level \(level) above \(maxLevel)") }
                guard Int(st[i]) == at else { throw .corruptFile("upper offset of node \(i)") }
                guard at + level * (M + 1) <= upperWords else { throw .corruptFile("upper links of node \(i) overrun") }
                for l in 1...Swift.max(1, level) where level >= 1 {
                    let run = up + at + (l - 1) * (M + 1)
                    let c = Int(run[0])
                    guard c <= M else { throw .corruptFile("node \(i) has \(c) links on level \(l)") }
                    for j in 0..<c {
                        let e = Int(run[1 + j])
                        guard e < n, Int(lv[e]) >= l else { throw .corruptFile("bad link \(e) from node \(i) on level \(l)") }
                    }
                }
                at += level * (M + 1)
                let l0 = (level0.pointer + i * nodeBytes).assumingMemoryBound(to: UInt32.self)
                let c = Int(l0[0])
                guard c <= M0 else { throw .corruptFile("node \(i) has \(c) links on level 0") }
                for j in 0..<c where Int(l0[1 + j]) >= n { throw .corruptFile("bad link from node \(i) on level 0") }
            }
            guard at == upperWords, Int(st[n]) == at else { throw .corruptFile("upper link total") }
            let graph = HNSWGraph(n: n, vectorBytes: kernel.vectorBytes, dim: config.dim, M: M, nodeBytes: nodeBytes,
                                  level0: level0, levels: levels, upperStart: starts, upper: upper,
                                  entry: entryPlusOne - 1, maxLevel: maxLevel, kernel: kernel)
            return State(graph: graph, removed: removed)
        }
        state.withLock { $0 = loaded }
    }
}
