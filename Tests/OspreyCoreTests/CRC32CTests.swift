import Testing
@testable import OspreyCore

@Suite struct CRC32CTests {
    /// Bit-at-a-time reference, straight from the definition (reflected 0x82F63B78).
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        }
        return ~c
    }

    static func pseudoRandomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    @Test func knownVectors() {
        // The check value from the CRC catalogue and RFC 3720 (iSCSI) appendix B.4.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array(0..<32)) == 0x46DD_794E)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test(arguments: [0, 1, 7, 8, 9, 63, 64, 100, 4095, 4096, 12288, 12289, 40000, 100_003])
    func hardwareAndPortableAgreeWithReference(length: Int) {
        let data = Self.pseudoRandomBytes(length + 3, seed: UInt64(length) &+ 17)
        // Unaligned starts exercise the byte-wise heads.
        for start in 0..<3 {
            let slice = Array(data[start..<(start + length)])
            let expected = Self.reference(slice)
            slice.withUnsafeBytes { raw in
                #expect(CRC32C.extend(0, raw) == expected)
                #expect(CRC32C.extendPortable(0, raw) == expected)
            }
        }
    }

    @Test func extendChainsPieces() {
        let data = Self.pseudoRandomBytes(30_000, seed: 42)
        let whole = CRC32C.checksum(data)
        for cut in [0, 1, 5000, 12288, 29_999, 30_000] {
            let a = Array(data[..<cut]), b = Array(data[cut...])
            let chained = b.withUnsafeBytes { CRC32C.extend(CRC32C.checksum(a), $0) }
            #expect(chained == whole, "cut at \(cut)")
        }
    }

    @Test func detectsEverySingleBitFlip() {
        let data = Self.pseudoRandomBytes(64, seed: 7)
        let good = CRC32C.checksum(data)
        for bit in 0..<(data.count * 8) {
            var bad = data
            bad[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(CRC32C.checksum(bad) != good)
        }
    }
}

@Suite struct ByteCodingTests {
    @Test func roundTripsEveryPrimitive() throws {
        var w = ByteWriter()
        w.write(UInt8(0xAB)); w.write(UInt16(0xBEEF)); w.write(UInt32(0xDEAD_BEEF))
        w.write(UInt64.max - 1); w.write(Int32(-5)); w.write(Int64.min)
        w.write(Float(-1.5)); w.write(Double.pi); w.write(true)
        let varints: [UInt64] = [0, 1, 127, 128, 300, 1 << 35, UInt64.max]
        for v in varints { w.writeVarint(v) }
        let signed: [Int64] = [0, -1, 1, -64, 64, Int64.min, Int64.max]
        for v in signed { w.writeSignedVarint(v) }
        w.writeLengthPrefixed([1, 2, 3]); w.writeString("héllo, 世界"); w.writeString("")
        #expect(w.bytes[1] == 0xEF && w.bytes[2] == 0xBE, "little-endian")

        try ByteReader.withReader(w.bytes) { (r: inout ByteReader) throws in
            #expect(try r.readUInt8() == 0xAB)
            #expect(try r.readUInt16() == 0xBEEF)
            #expect(try r.readUInt32() == 0xDEAD_BEEF)
            #expect(try r.readUInt64() == UInt64.max - 1)
            #expect(try r.readInt32() == -5)
            #expect(try r.readInt64() == Int64.min)
            #expect(try r.readFloat() == -1.5)
            #expect(try r.readDouble() == Double.pi)
            #expect(try r.readBool())
            for v in varints { #expect(try r.readVarint() == v) }
            for v in signed { #expect(try r.readSignedVarint() == v) }
            #expect(try r.readLengthPrefixed() == [1, 2, 3])
            #expect(try r.readString() == "héllo, 世界")
            #expect(try r.readString() == "")
            #expect(r.isAtEnd)
        }
    }

    @Test func truncationThrowsAtEveryCut() throws {
        var w = ByteWriter()
        w.write(UInt64(7)); w.writeVarint(1 << 40); w.writeString("abcdef"); w.write(Double(2))
        let full = w.bytes
        for cut in 0..<full.count {
            let prefix = Array(full[..<cut])
            #expect(throws: ByteCodingError.self) {
                try ByteReader.withReader(prefix) { r in
                    _ = try r.readUInt64(); _ = try r.readVarint()
                    _ = try r.readString(); _ = try r.readDouble()
                }
            }
        }
    }

    @Test func malformedInputGivesPreciseErrors() {
        #expect(throws: ByteCodingError.malformedVarint(offset: 0)) {
            try ByteReader.withReader([UInt8](repeating: 0xFF, count: 11)) { _ = try $0.readVarint() }
        }
        #expect(throws: ByteCodingError.truncated(offset: 1, needed: 4, available: 2)) {
            try ByteReader.withReader([9, 1, 2]) { r in _ = try r.readUInt8(); _ = try r.readUInt32() }
        }
        #expect(throws: ByteCodingError.lengthOutOfRange(offset: 0, length: 200)) {
            try ByteReader.withReader([0xC8, 0x01, 0x41]) { _ = try $0.readLengthPrefixed() }
        }
        #expect(throws: ByteCodingError.invalidUTF8(offset: 0)) {
            try ByteReader.withReader([2, 0xC3, 0x28]) { _ = try $0.readString() }
        }
    }

    @Test func paddingAndOverwrite() {
        var w = ByteWriter()
        w.write(UInt8(1)); w.pad(toMultipleOf: 64)
        #expect(w.count == 64)
        w.pad(toMultipleOf: 64)
        #expect(w.count == 64)
        w.write(UInt32(0)); w.overwrite(0x0102_0304, at: 64)
        #expect(Array(w.bytes[64..<68]) == [4, 3, 2, 1])
    }
}
