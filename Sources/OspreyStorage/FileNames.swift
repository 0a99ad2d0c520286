/// Every file name OspreyStorage creates, in one place (docs/storage.md, "Files").
///
/// Thread safety: stateless.
package enum FileNames {
    /// The data-directory lock file.
    package static let lock = "LOCK"
    /// The file naming the live manifest.
    package static let current = "CURRENT"
    /// Where a new CURRENT is written before it is renamed over the old one.
    package static let currentTemporary = "CURRENT.tmp"
    /// The write-ahead-log directory inside a data directory.
    package static let walDirectory = "wal"
    /// Suffix of files being written that become visible by rename.
    package static let temporarySuffix = ".tmp"

    /// `MANIFEST-000042`: six digits or more.
    package static func manifest(_ number: UInt64) -> String {
        "MANIFEST-" + padded(number, width: 6)
    }

    /// The number of a manifest file name, or nil if `name` is not one.
    package static func manifestNumber(_ name: String) -> UInt64? {
        guard name.hasPrefix("MANIFEST-") else { return nil }
        let digits = name.dropFirst("MANIFEST-".count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigitCharacter) else { return nil }
        return UInt64(digits)
    }

    /// `00000000000000000001.log`: the LSN of the file's first record, 20 digits.
    package static func walFile(firstLSN: UInt64) -> String {
        padded(firstLSN, width: 20) + ".log"
    }

    /// The first LSN of a WAL file name, or nil if `name` is not one.
    package static func walFileLSN(_ name: String) -> UInt64? {
        guard name.hasSuffix(".log") else { return nil }
        let digits = name.dropLast(4)
        guard digits.count == 20, digits.allSatisfy(\.isASCIIDigitCharacter) else { return nil }
        return UInt64(digits)
    }

    private static func padded(_ n: UInt64, width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
