import OspreyCore

// Scalar index file format (little-endian; ByteWriter primitives, docs/filters.md):
//
//   file     := magic:"OSPRSIDX" version:u32(=1) type:u8 keyKind:u8 reserved:u16(=0)
//               field:string rowCount:u64 keyCount:varint keys postings crc:u32
//   keys     := i64*keyCount (keyKind 0) | f64*keyCount (1) | string*keyCount (2)
//   postings := (type != BITMAP) offsets:u32*(keyCount+1) rows:u32*offsets[keyCount]
//             | (type == BITMAP)  per key: n:varint then n row numbers as varint deltas
//   crc      := CRC32C of every byte before it

extension ScalarIndex {
    static let magic: [UInt8] = Array("OSPRSIDX".utf8)
    static let formatVersion: UInt32 = 1

    static func typeCode(_ t: ScalarIndexType) -> UInt8 {
        switch t {
        case .inverted: return 0
        case .stlSort: return 1
        case .bitmap: return 2
        case .trie: return 3
        }
    }

    /// The index as bytes of the scalar index file format.
    package func serialized() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + rows.count * 4)
        w.writeRaw(Self.magic)
        w.write(Self.formatVersion)
        w.write(Self.typeCode(type))
        switch keys {
        case .ints: w.write(UInt8(0))
        case .doubles: w.write(UInt8(1))
        case .strings: w.write(UInt8(2))
        }
        w.write(UInt16(0))
        w.writeString(fieldName)
        w.write(UInt64(rowCount))
        w.writeVarint(UInt64(keys.count))
        switch keys {
        case .ints(let ks): for k in ks { w.write(k) }
        case .doubles(let ks): for k in ks { w.write(k) }
        case .strings(let ks): for k in ks { w.writeString(k) }
        }
        if type == .bitmap {
            for b in bitmaps {
                w.writeVarint(UInt64(b.cardinality))
                var previous = 0
                b.forEachSetBit { r in
                    w.writeVarint(UInt64(r - previous))
                    previous = r
                }
            }
        } else {
            for o in offsets { w.write(o) }
            for r in rows { w.write(r) }
        }
        let crc = CRC32C.checksum(w.bytes)
        w.write(crc)
        return w.bytes
    }

    /// Decodes an index written by `serialized()`.
    ///
    /// - Throws: `ScalarIndexError` (the service's fault) for bad magic, version, checksum,
    ///   truncation or inconsistent contents; never traps on corrupt input.
    package init(serialized bytes: [UInt8]) throws(ScalarIndexError) {
        func corrupt(_ why: String) -> ScalarIndexError { ScalarIndexError("corrupt scalar index file: \(why)", isCallerFault: false) }
        guard bytes.count >= Self.magic.count + 4 + 4, Array(bytes.prefix(Self.magic.count)) == Self.magic else {
            throw corrupt("bad magic")
        }
        let body = Array(bytes.dropLast(4))
        let stored = bytes.suffix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        guard CRC32C.checksum(body) == stored else { throw corrupt("checksum mismatch") }
        do {
            self = try ByteReader.withReader(body) { r throws -> ScalarIndex in
                _ = try r.readRaw(count: Self.magic.count)
                let version = try r.readUInt32()
                guard version == Self.formatVersion else { throw corrupt("unsupported version \(version)") }
                let typeCode = try r.readUInt8()
                guard let type = ScalarIndexType.allCases.first(where: { Self.typeCode($0) == typeCode }) else { throw corrupt("unknown index type \(typeCode)") }
                let keyKind = try r.readUInt8()
                _ = try r.readUInt16()
                let field = try r.readString()
                let rowCount64 = try r.readUInt64()
                guard rowCount64 <= UInt64(UInt32.max) else { throw corrupt("row count \(rowCount64) out of range") }
                let rowCount = Int(rowCount64)
                let keyCount64 = try r.readVarint()
                guard keyCount64 <= UInt64(r.remaining) else { throw corrupt("key count \(keyCount64) exceeds the file") }
                let keyCount = Int(keyCount64)
                let keys: Keys
                switch keyKind {
                case 0:
                    var ks: [Int64] = []
                    for _ in 0..<keyCount { ks.append(try r.readInt64()) }
                    guard zip(ks, ks.dropFirst()).allSatisfy({ $0 < $1 }) else { throw corrupt("keys out of order") }
                    keys = .ints(ks)
                case 1:
                    var ks: [Double] = []
                    for _ in 0..<keyCount { ks.append(try r.readDouble()) }
                    guard zip(ks, ks.dropFirst()).allSatisfy({ $0 < $1 }) else { throw corrupt("keys out of order") }
                    keys = .doubles(ks)
                case 2:
                    var ks: [String] = []
                    for _ in 0..<keyCount { ks.append(try r.readString()) }
                    guard zip(ks, ks.dropFirst()).allSatisfy({ $0 < $1 }) else { throw corrupt("keys out of order") }
                    keys = .strings(ks)
                default:
                    throw corrupt("unknown key kind \(keyKind)")
                }
                var offsets: [UInt32] = []
                var rows: [UInt32] = []
                var bitmaps: [Bitset] = []
                if type == .bitmap {
                    for _ in 0..<keyCount {
                        let n = try r.readVarint()
                        guard n <= UInt64(rowCount) else { throw corrupt("bitmap larger than the segment") }
                        var b = Bitset(count: rowCount)
                        var row = 0
                        for i in 0..<Int(n) {
                            let delta = try r.readVarint()
                            guard delta <= UInt64(rowCount), (i == 0 || delta > 0) else { throw corrupt("bad row delta") }
                            row += Int(delta)
                            guard row < rowCount else { throw corrupt("row \(row) past the segment") }
                            b.set(row)
                        }
                        bitmaps.append(b)
                    }
                } else {
                    guard UInt64(keyCount + 1) * 4 <= UInt64(r.remaining) else { throw corrupt("offsets exceed the file") }
                    for _ in 0...keyCount { offsets.append(try r.readUInt32()) }
                    guard offsets.first == 0, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 < $1 }) || keyCount == 0 else {
                        throw corrupt("offsets out of order")
                    }
                    let total = Int(offsets.last ?? 0)
                    guard UInt64(total) * 4 <= UInt64(r.remaining) else { throw corrupt("postings exceed the file") }
                    for _ in 0..<total {
                        let row = try r.readUInt32()
                        guard Int(row) < rowCount else { throw corrupt("row \(row) past the segment") }
                        rows.append(row)
                    }
                }
                guard r.isAtEnd else { throw corrupt("trailing bytes") }
                return ScalarIndex(type: type, fieldName: field, rowCount: rowCount, keys: keys, offsets: offsets, rows: rows, bitmaps: bitmaps)
            }
        } catch let e as ScalarIndexError {
            throw e
        } catch {
            throw corrupt("\(error)")
        }
    }
}
