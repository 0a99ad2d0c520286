import OspreyCore

/// The common frame of every index file: a 64-byte header (magic, version, configuration,
/// payload length and checksums) followed by an index-specific payload.
///
/// Grammar (little-endian; docs/index.md "Index files"):
///
///     file    := header payload
///     header  := magic:"OSPRYIDX" version:u32 indexType:u32 metric:u32 dataType:i32 dim:u32
///                M:u32 efConstruction:u32 nlist:u32 m:u32 nbits:u32
///                payloadLength:u64 payloadCRC32C:u32 headerCRC32C:u32      (64 bytes)
///     payload := index-specific sections, each starting at a multiple of 64 from the file start
///
/// Thread safety: a value type; safe to share.
package struct IndexFile: Sendable {
    package static let magic: [UInt8] = Array("OSPRYIDX".utf8)
    /// The format version this build writes and reads.
    package static let version: UInt32 = 1
    package static let headerSize = 64

    package let configuration: IndexConfiguration
    /// The memory holding the whole file image.
    package let image: IndexImage
    /// The whole file image as an array (a copy when the image is a mapped region).
    package var bytes: [UInt8] { image.arrayOrCopy }
    /// The payload's offset in the image (always `headerSize`).
    package var payloadOffset: Int { IndexFile.headerSize }

    static func code(_ t: IndexType) -> UInt32 {
        switch t {
        case .flat: return 1
        case .hnsw, .autoIndex: return 2
        case .ivfFlat: return 3
        case .ivfSQ8: return 4
        case .ivfPQ: return 5
        case .binFlat: return 6
        case .binIVFFlat: return 7
        }
    }

    static func indexType(code: UInt32) -> IndexType? {
        [1: .flat, 2: .hnsw, 3: .ivfFlat, 4: .ivfSQ8, 5: .ivfPQ, 6: .binFlat, 7: .binIVFFlat][code]
    }

    static let metrics: [Metric] = [.l2, .ip, .cosine, .hamming, .jaccard]

    /// A file image of `configuration` with `payload` (which must lay its sections out assuming
    /// it starts at offset 64).
    package static func image(_ configuration: IndexConfiguration, payload: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize + payload.count)
        w.writeRaw(magic)
        w.write(version)
        w.write(code(configuration.indexType))
        w.write(UInt32(metrics.firstIndex(of: configuration.metric)!))
        w.write(configuration.type.rawValue)
        w.write(UInt32(configuration.dim))
        w.write(UInt32(configuration.M))
        w.write(UInt32(configuration.efConstruction))
        w.write(UInt32(configuration.nlist))
        w.write(UInt32(configuration.m))
        w.write(UInt32(configuration.nbits))
        w.write(UInt64(payload.count))
        w.write(CRC32C.checksum(payload))
        let headerCRC = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<60])) }
        w.write(headerCRC)
        w.writeRaw(payload)
        return w.bytes
    }

    /// Checks magic, version, checksums and the configuration; never traps on bad input.
    package static func parse(_ bytes: [UInt8]) throws(IndexError) -> IndexFile {
        try parse(IndexImage(bytes))
    }

    /// Checks an image held in memory or mapped: the header is read only after the size has
    /// been checked, and the payload only after its length matches the header, so a short
    /// file gives an error and never a read past its end.
    package static func parse(_ image: IndexImage) throws(IndexError) -> IndexFile {
        let config: IndexConfiguration = try image.withBytes { bytes throws(IndexError) in
            guard bytes.count >= headerSize else { throw .corruptFile("\(bytes.count) bytes is shorter than the header") }
            guard bytes.prefix(8).elementsEqual(magic) else { throw .corruptFile("bad magic") }
            func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
            let headerCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<60]))
            guard headerCRC == u32(60) else { throw .corruptFile("header checksum mismatch") }
            let version = u32(8)
            guard version == IndexFile.version else { throw .unsupportedVersion(found: version, supported: IndexFile.version) }
            let payloadLength = UInt64(u32(48)) | UInt64(u32(52)) << 32
            guard payloadLength == UInt64(bytes.count - headerSize) else {
                throw .corruptFile("payload is \(bytes.count - headerSize) bytes, header says \(payloadLength)")
            }
            let payloadCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[headerSize...]))
            guard payloadCRC == u32(56) else { throw .corruptFile("payload checksum mismatch") }
            guard let t = indexType(code: u32(12)) else { throw .corruptFile("unknown index type code \(u32(12))") }
            let mi = Int(u32(16))
            guard mi < metrics.count else { throw .corruptFile("unknown metric code \(mi)") }
            guard let dt = DataType(rawValue: Int32(bitPattern: u32(20))) else { throw .corruptFile("unknown data type") }
            do {
                return try IndexConfiguration(indexType: t, metric: metrics[mi], type: dt, dim: Int(u32(24)), M: Int(u32(28)),
                                              efConstruction: Int(u32(32)), nlist: Int(u32(36)), m: Int(u32(40)), nbits: Int(u32(44)))
            } catch {
                throw .corruptFile("inconsistent configuration: \(error)")
            }
        }
        return IndexFile(configuration: config, image: image)
    }

    /// A buffer over `bytes`, a part of this file's image: the bytes themselves when the image
    /// stays at a fixed address and they are aligned to `alignment` (a mapped file: no copy),
    /// otherwise a 64-byte aligned copy.
    func buffer(_ bytes: UnsafeRawBufferPointer, alignment: Int) -> AlignedBuffer {
        if image.pinned != nil, let base = bytes.baseAddress, !bytes.isEmpty, Int(bitPattern: base) % alignment == 0 {
            return AlignedBuffer(borrowing: base, byteCount: bytes.count, owner: image)
        }
        let copy = AlignedBuffer(byteCount: bytes.count, zeroed: false)
        if let base = bytes.baseAddress, !bytes.isEmpty { copy.pointer.copyMemory(from: base, byteCount: bytes.count) }
        return copy
    }
}

/// The memory an index file image lives in: an array read into memory, or a region that
/// stays at a fixed address as long as this object lives — a file mapping, or an aligned heap
/// copy from a file system that cannot map. Loaders point into a fixed region instead of
/// copying what its layout allows (FLAT vectors; HNSW level-0 blocks, links and levels).
///
/// Memory is accounted by where it lives: an index's `memoryBytes` counts heap it allocated
/// plus a heap region it points into, whole; `mappedBytes` counts a mapped region it points
/// into, whole — file pages the kernel faults in on use and may reclaim, which are resident
/// only while touched.
///
/// Thread safety: immutable; safe to share.
package final class IndexImage: @unchecked Sendable {
    /// The bytes, when they were given as an array.
    let array: [UInt8]?
    private let region: UnsafeRawBufferPointer
    private let owner: AnyObject?
    /// Whether the image is a file mapping rather than heap memory.
    package let isMapped: Bool

    /// An image read into an array; loaders copy out of it.
    package init(_ bytes: [UInt8]) {
        array = bytes
        region = UnsafeRawBufferPointer(start: nil, count: 0)
        owner = nil
        isMapped = false
    }

    /// An image in `region`, which `owner` keeps valid and unchanged (for a file: the mapping
    /// object); `mapped` says whether it is a file mapping or heap memory.
    package init(region: UnsafeRawBufferPointer, mapped: Bool, owner: AnyObject) {
        array = nil
        self.region = region
        self.owner = owner
        isMapped = mapped
    }

    /// The image's size in bytes.
    package var byteCount: Int { array?.count ?? region.count }

    /// The bytes as an array: the array itself, or a copy of the region.
    var arrayOrCopy: [UInt8] { array ?? withExtendedLifetime(self) { [UInt8](region) } }

    /// The bytes at their fixed address, or nil for an array image.
    var pinned: UnsafeRawBufferPointer? { array == nil ? region : nil }

    /// Calls `body` with the image's bytes.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(IndexError) -> R) throws(IndexError) -> R {
        if let array { return try withRawBytes(array, body) }
        return try withExtendedLifetime(self) { () throws(IndexError) -> R in try body(region) }
    }

    /// Heap and mapped bytes held by `buffers`: owned buffers count as heap; every distinct
    /// image that borrowed buffers point into counts whole, as heap or as mapped.
    static func memory(of buffers: [AlignedBuffer?]) -> (heap: Int, mapped: Int) {
        var heap = 0, mapped = 0
        var seen: Set<ObjectIdentifier> = []
        for case let b? in buffers {
            guard let image = b.owner as? IndexImage else {
                heap += b.byteCount
                continue
            }
            guard seen.insert(ObjectIdentifier(image)).inserted else { continue }
            if image.isMapped { mapped += image.byteCount } else { heap += image.byteCount }
        }
        return (heap, mapped)
    }
}

/// Reads an index payload with bounds checks; every failure becomes ``IndexError/corruptFile(_:)``.
///
/// Thread safety: a value type over borrowed memory; use one per thread.
struct PayloadReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ buffer: UnsafeRawBufferPointer, offset: Int) {
        self.buffer = buffer
        self.offset = offset
    }

    mutating func require(_ n: Int, _ what: String) throws(IndexError) {
        guard n >= 0, n <= buffer.count - offset else { throw .corruptFile("truncated \(what)") }
    }

    mutating func u64(_ what: String) throws(IndexError) -> UInt64 {
        try require(8, what)
        let v = buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: v)
    }

    mutating func u32(_ what: String) throws(IndexError) -> UInt32 {
        try require(4, what)
        let v = buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        offset += 4
        return UInt32(littleEndian: v)
    }

    /// A count that must not exceed `limit`.
    mutating func count(_ what: String, limit: Int) throws(IndexError) -> Int {
        let v = try u64(what)
        guard v <= UInt64(limit) else { throw .corruptFile("\(what) \(v) exceeds \(limit)") }
        return Int(v)
    }

    mutating func align(_ a: Int) throws(IndexError) {
        let pad = (a - offset % a) % a
        try require(pad, "padding")
        offset += pad
    }

    mutating func raw(_ n: Int, _ what: String) throws(IndexError) -> UnsafeRawBufferPointer {
        try require(n, what)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + n)])
    }
}

extension PayloadReader {
    /// A bitset written by `ByteWriter.write(_: Bitset)`, which must have `rows` bits.
    mutating func bitset(rows n: Int) throws(IndexError) -> Bitset {
        let wc = try count("bitmap words", limit: (n + 63) / 64)
        guard wc == (n + 63) / 64 else { throw .corruptFile("bitmap has \(wc) words for \(n) rows") }
        var words = [UInt64](repeating: 0, count: wc)
        for i in 0..<wc { words[i] = try u64("bitmap") }
        var b = Bitset(count: n)
        for (wi, w) in words.enumerated() where w != 0 {
            for bit in 0..<64 where (w >> UInt64(bit)) & 1 != 0 {
                let r = wi * 64 + bit
                guard r < n else { throw .corruptFile("bitmap bit \(r) past \(n) rows") }
                b.set(r)
            }
        }
        return b
    }
}

extension ByteWriter {
    /// Writes `words:u64` then the bitset's 64-bit words.
    mutating func write(_ bits: Bitset) {
        bits.withUnsafeWords { words in
            write(UInt64(words.count))
            for x in words { write(x) }
        }
    }

    /// Pads with zeros so the file offset (payload offset + 64-byte header) is a multiple of `a`.
    mutating func alignFile(_ a: Int) {
        let at = count + IndexFile.headerSize
        writeZeros((a - at % a) % a)
    }
}
