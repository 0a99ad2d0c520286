import OspreyCore

/// The inverted lists of IVF_FLAT, IVF_SQ8 and BIN_IVF_FLAT: every list's codes stored
/// contiguously (all of list 0, then list 1, …) with their row ids beside them.
///
/// Thread safety: immutable; one generation of an index's lists, shared by its searches.
final class IVFLists: Sendable {
    /// Rows per list, as a prefix sum (`nlist + 1` entries).
    let offsets: [Int]
    /// Row id (u32) per slot, in list order.
    let ids: AlignedBuffer
    /// Codes in list order: float32 vectors (IVF_FLAT), bytes (IVF_SQ8) or packed bits
    /// (BIN_IVF_FLAT).
    let codes: AlignedBuffer
    let count: Int
    /// Rows of the longest list.
    let longest: Int

    init(offsets: [Int], ids: AlignedBuffer, codes: AlignedBuffer, count: Int) {
        self.offsets = offsets
        self.ids = ids
        self.codes = codes
        self.count = count
        var longest = 0
        for l in 0..<(offsets.count - 1) { longest = Swift.max(longest, offsets[l + 1] - offsets[l]) }
        self.longest = longest
    }

    var memoryBytes: Int { ids.byteCount + codes.byteCount + offsets.count * 8 }

    /// Appends the lists as the index files lay them out (docs/index.md):
    /// `offsets:u64[nlist + 1] ids:u32[count] pad(64) codes[count]`.
    func write(to w: inout ByteWriter, codeBytes: Int) {
        for o in offsets { w.write(UInt64(o)) }
        w.writeRaw(UnsafeRawBufferPointer(start: ids.pointer, count: count * 4))
        w.alignFile(64)
        w.writeRaw(UnsafeRawBufferPointer(start: codes.pointer, count: count * codeBytes))
    }

    /// Reads lists laid out as ``write(to:codeBytes:)`` writes them, checking that the
    /// offsets ascend to `rows` and that the ids are a permutation of `0..<rows`, so that a
    /// damaged file gives an error rather than a trap.
    static func read(_ r: inout PayloadReader, nlist: Int, rows n: Int, codeBytes: Int) throws(IndexError) -> IVFLists {
        var offsets = [Int](repeating: 0, count: nlist + 1)
        for l in 0...nlist {
            offsets[l] = try r.count("list offset", limit: n)
            guard l == 0 ? offsets[0] == 0 : offsets[l] >= offsets[l - 1] else { throw .corruptFile("list offsets not ascending") }
        }
        guard offsets[nlist] == n else { throw .corruptFile("lists hold \(offsets[nlist]) rows, header says \(n)") }
        let idsRaw = try r.raw(n * 4, "row ids")
        try r.align(64)
        let codesRaw = try r.raw(n * codeBytes, "codes")
        let ids = AlignedBuffer(byteCount: n * 4, zeroed: false)
        if n > 0 { ids.pointer.copyMemory(from: idsRaw.baseAddress!, byteCount: n * 4) }
        let idp = ids.pointer.assumingMemoryBound(to: UInt32.self)
        var seen = Bitset(count: n)
        for i in 0..<n {
            let row = Int(UInt32(littleEndian: idp[i]))
            guard row < n, !seen.contains(row) else { throw .corruptFile("bad or repeated row id \(row)") }
            seen.set(row)
        }
        let codes = AlignedBuffer(byteCount: n * codeBytes, zeroed: false)
        if n > 0 { codes.pointer.copyMemory(from: codesRaw.baseAddress!, byteCount: n * codeBytes) }
        return IVFLists(offsets: offsets, ids: ids, codes: codes, count: n)
    }
}
