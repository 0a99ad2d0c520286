import Foundation
import Testing
import OspreyCore
@testable import OspreyStorage

@Suite struct SectionFileTests {
    static let kind = SectionFileKind("TEST")

    /// Writes a small file with varied sections; returns the expected contents.
    @discardableResult
    func writeSample(_ path: String) throws -> [(String, [UInt8])] {
        let sections: [(String, [UInt8])] = [
            ("columns/id", testPayload(1, size: 1000)),
            ("empty", []),
            ("odd", testPayload(2, size: 7)),
            ("vectors", testPayload(3, size: 3 * 64 + 5)),
        ]
        let writer = try SectionFileWriter(path: path, kind: Self.kind, kindVersion: 3)
        for (name, bytes) in sections.prefix(3) { try writer.addSection(name, bytes: bytes) }
        // Stream the last one in pieces.
        try writer.beginSection("vectors")
        let v = sections[3].1
        try writer.write(Array(v[0..<100]))
        try writer.write(Array(v[100...]))
        try writer.endSection()
        #expect(!FileManager.default.fileExists(atPath: path), "invisible until finished")
        try writer.finish()
        return sections
    }

    @Test func roundTripWithAlignedSections() throws {
        let dir = TemporaryDirectory()
        let path = dir.join("seg.osp")
        let expected = try writeSample(path)
        let file = try SectionFile.open(path: path, expectedKind: Self.kind)
        #expect(file.kind == Self.kind && file.kindVersion == 3)
        #expect(file.sectionNames == expected.map(\.0))
        for (name, bytes) in expected {
            let section = try file.section(name)
            #expect(Array(section) == bytes)
            #expect(Int(bitPattern: section.baseAddress) % 64 == 0 || bytes.isEmpty, "\(name) is 64-byte aligned")
        }
        #expect(file.sections.allSatisfy { $0.offset % 64 == 0 })
        #expect(file.sectionIfPresent("nope") == nil)
        #expect { try file.section("nope") } throws: { "\($0)".contains("no section named \"nope\"") }
        #expect(try PosixFileSystem().list(dir.path) == ["seg.osp"], "no temporary file left")
    }

    @Test func largeStreamedSection() throws {
        let dir = TemporaryDirectory()
        let path = dir.join("big")
        let writer = try SectionFileWriter(path: path, kind: Self.kind, kindVersion: 1)
        try writer.beginSection("data")
        var all: [UInt8] = []
        for i in 0..<40 {
            let chunk = testPayload(i, size: 100_000)
            all += chunk
            try writer.write(chunk)
        }
        try writer.endSection()
        try writer.addSection("tail", bytes: [1, 2, 3])
        try writer.finish()
        let file = try SectionFile.open(path: path)
        #expect(try file.copySection("data") == all)
        #expect(try file.copySection("tail") == [1, 2, 3])
    }

    @Test func abandonedWriterLeavesNothing() throws {
        let dir = TemporaryDirectory()
        do {
            let writer = try SectionFileWriter(path: dir.join("x"), kind: Self.kind, kindVersion: 1)
            try writer.addSection("a", bytes: [1])
            #expect(throws: StorageError.self) { try writer.addSection("a", bytes: [2]) }
            #expect(throws: StorageError.self) { try writer.addSection("", bytes: [2]) }
        }
        #expect(try PosixFileSystem().list(dir.path).isEmpty)
    }

    /// Every offset in the header, the table and footer region, and every fifth one between.
    static func interestingOffsets(_ count: Int) -> [Int] {
        Array(Set(Array(0..<128) + Array(stride(from: 128, to: count - 160, by: 5)) + Array((count - 160)..<count)))
            .filter { $0 >= 0 && $0 < count }.sorted()
    }

    @Test func truncationsAreRejected() throws {
        let dir = TemporaryDirectory()
        let path = dir.join("seg")
        try writeSample(path)
        let full = try PosixFileSystem().readFile(path)
        for length in Self.interestingOffsets(full.count) {
            let cut = MappedFile(copying: Array(full[..<length]), path: "cut")
            #expect(throws: StorageError.self, "length \(length)") { try SectionFile(mapped: cut) }
        }
    }

    @Test func bitFlipsAreRejected() throws {
        let dir = TemporaryDirectory()
        let path = dir.join("seg")
        try writeSample(path)
        let full = try PosixFileSystem().readFile(path)
        var rng = SplitMix64(seed: 11)
        for offset in Self.interestingOffsets(full.count) {
            var damaged = full
            damaged[offset] ^= UInt8(1 << (rng.next() % 8))
            do {
                _ = try SectionFile(mapped: MappedFile(copying: damaged, path: "flipped"))
                Issue.record("a flipped bit at offset \(offset) was not detected")
            } catch let error as StorageError {
                #expect(error.isCorruption, "offset \(offset): \(error)")
            }
        }
    }

    @Test func clearErrorsForWrongKindAndDamagedSection() throws {
        let dir = TemporaryDirectory()
        let path = dir.join("seg")
        try writeSample(path)
        #expect(throws: StorageError.unsupportedFormat(path: path, reason: "file kind is TEST, expected HNSW")) {
            try SectionFile.open(path: path, expectedKind: SectionFileKind("HNSW"))
        }
        let file = try SectionFile.open(path: path)
        let odd = file.sections.first { $0.name == "odd" }!
        try FaultInjectingFileSystem().flipBit(path, offset: odd.offset + 3)
        #expect(throws: StorageError.corruption(path: path, offset: odd.offset, reason: "section \"odd\" checksum mismatch")) {
            try SectionFile.open(path: path)
        }
        // Without eager verification the damage is found on demand.
        let lazy = try SectionFile.open(path: path, verifyChecksums: false)
        try lazy.verify(section: "columns/id")
        #expect(throws: StorageError.self) { try lazy.verify(section: "odd") }
        // Not a section file at all.
        try Data("hello, this is certainly not a section file at all; it is text......".utf8)
            .write(to: URL(fileURLWithPath: dir.join("text")))
        #expect { try SectionFile.open(path: dir.join("text")) } throws: { "\($0)".contains("not a section file") }
    }

    @Test func sectionsOutliveTheirCallerThroughTheReader() throws {
        let dir = TemporaryDirectory()
        let path = dir.join("seg")
        let expected = try writeSample(path)
        let file = try SectionFile.open(path: path)
        let bytes = try file.section("columns/id")
        try FileManager.default.removeItem(atPath: path)  // the mapping keeps the data
        #expect(Array(bytes) == expected[0].1)
        withExtendedLifetime(file) {}
    }

    @Test func finishedFilesSurviveACrashAndUnfinishedOnesVanish() async throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        let done = try SectionFileWriter(path: dir.join("done"), fileSystem: fs, kind: Self.kind, kindVersion: 1)
        try done.addSection("a", bytes: testPayload(1, size: 3000))
        try done.finish()
        let store = try LocalDirectoryObjectStore(root: dir.join("objects"), fileSystem: fs)
        try await store.put("seg/1", bytes: testPayload(2, size: 100))
        let pending = try SectionFileWriter(path: dir.join("pending"), fileSystem: fs, kind: Self.kind, kindVersion: 1)
        try pending.addSection("a", bytes: testPayload(3, size: 3000))
        try fs.simulateCrash()
        let survivor = try SectionFile.open(path: dir.join("done"), fileSystem: fs)
        #expect(try survivor.copySection("a") == testPayload(1, size: 3000))
        #expect(try await store.get("seg/1") == testPayload(2, size: 100))
        #expect(try fs.list(dir.path) == ["done", "objects"], "the unfinished file's temporary is gone")
        withExtendedLifetime(pending) {}
    }
}
