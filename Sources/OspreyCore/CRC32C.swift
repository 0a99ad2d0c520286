import COspreyKernels

/// CRC-32C (Castagnoli): the checksum of every record and file Osprey writes.
///
/// Uses the SSE4.2 `crc32` instruction when the CPU has it and a slicing-by-8 table
/// otherwise (the choice is made once, in C). `extend` chains, so a checksum can be
/// computed over data that arrives in pieces:
/// `extend(extend(0, a), b) == checksum(a + b)`. See docs/storage.md.
///
/// Thread safety: stateless; safe to call from any thread.
package enum CRC32C {
    /// The checksum of `bytes`.
    @inlinable
    package static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        extend(0, bytes)
    }

    /// The checksum of `bytes`.
    @inlinable
    package static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { extend(0, $0) }
    }

    /// The checksum of a previous piece (`crc`, 0 for none) followed by `bytes`.
    @inlinable
    package static func extend(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return osprey_crc32c_extend(crc, base, bytes.count)
    }

    /// `extend` computed with the portable table version; for testing the two paths agree.
    package static func extendPortable(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return osprey_crc32c_extend_portable(crc, base, bytes.count)
    }

    /// Whether `extend` uses a hardware instruction on this CPU.
    package static var isHardwareAccelerated: Bool { osprey_crc32c_is_hardware_accelerated() != 0 }
}
