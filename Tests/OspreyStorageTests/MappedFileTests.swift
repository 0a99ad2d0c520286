import Foundation
import Testing
import OspreyCore
@testable import OspreyStorage

/// A file system that cannot map files: everything but `map` is the real one, and `map` is
/// the protocol's default (the file copied into an aligned heap buffer).
struct NoMappingFileSystem: FileSystem {
    let base = PosixFileSystem()
    func createFile(_ path: String) throws -> any WritableFile { try base.createFile(path) }
    func openForAppend(_ path: String) throws -> any WritableFile { try base.openForAppend(path) }
    func readFile(_ path: String) throws -> [UInt8] { try base.readFile(path) }
    func fileSize(_ path: String) throws -> Int { try base.fileSize(path) }
    func exists(_ path: String) -> Bool { base.exists(path) }
    func isDirectory(_ path: String) -> Bool { base.isDirectory(path) }
    func rename(_ from: String, to: String) throws { try base.rename(from, to: to) }
    func remove(_ path: String) throws { try base.remove(path) }
    func truncate(_ path: String, to length: Int) throws { try base.truncate(path, to: length) }
    func list(_ directory: String) throws -> [String] { try base.list(directory) }
    func createDirectory(_ path: String) throws { try base.createDirectory(path) }
    func syncDirectory(_ path: String) throws { try base.syncDirectory(path) }
    func lockFile(_ path: String) throws -> any FileLock { try base.lockFile(path) }
}

/// Read-only mappings and their heap fallback: same bytes, aligned, alive as long as the
/// object, independent of later renames and removals; clear errors for missing files.
@Suite struct MappedFileTests {
    @Test func everyWayOfMappingGivesTheSameAlignedBytes() throws {
        let dir = TemporaryDirectory()
        let path = dir.join("f")
        let content = testPayload(5, size: 3 * 4096 + 17)
        try Data(content).write(to: URL(fileURLWithPath: path))
        let faulty = FaultInjectingFileSystem()
        faulty.mapsFiles = false
        let ways: [(String, MappedFile, Bool)] = [
            ("mmap", try PosixFileSystem().map(path), true),
            ("mmap sequential", try PosixFileSystem().map(path, access: .sequential), true),
            ("fault-injecting, mapping", try FaultInjectingFileSystem().map(path), true),
            ("fault-injecting, reading", try faulty.map(path), false),
            ("protocol default", try NoMappingFileSystem().map(path), false),
        ]
        for (name, file, mapped) in ways {
            #expect(Array(file.bytes) == content, "\(name)")
            #expect(file.isMapped == mapped, "\(name)")
            #expect(Int(bitPattern: file.bytes.baseAddress) % 64 == 0, "\(name) starts aligned")
            for advice in [MappedFile.Advice.random, .willNeed, .sequential, .normal] {
                file.advise(advice)
                file.advise(advice, range: 5000..<9000)
            }
            #expect(Array(file.bytes) == content, "\(name) after advice")
        }
    }

    @Test func emptyAndMissingFiles() throws {
        let dir = TemporaryDirectory()
        try Data().write(to: URL(fileURLWithPath: dir.join("empty")))
        for fs in [PosixFileSystem() as any FileSystem, NoMappingFileSystem()] {
            #expect(try fs.map(dir.join("empty")).bytes.isEmpty)
            #expect(throws: StorageError.notFound(path: dir.join("missing"))) { try fs.map(dir.join("missing")) }
        }
        #expect(throws: StorageError.notFound(path: dir.join("missing"))) { try MappedFile(reading: dir.join("missing")) }
        #expect(try MappedFile(reading: dir.join("empty")).bytes.isEmpty)
    }

    @Test func aMappingKeepsTheBytesItWasOpenedWith() throws {
        let dir = TemporaryDirectory()
        let path = dir.join("f")
        let old = testPayload(1, size: 10_000), new = testPayload(2, size: 500)
        try Data(old).write(to: URL(fileURLWithPath: path))
        let mapped = try PosixFileSystem().map(path)
        try Data(new).write(to: URL(fileURLWithPath: dir.join("g")))
        try PosixFileSystem().rename(dir.join("g"), to: path)  // replaced, as objects are
        #expect(Array(mapped.bytes) == old)
        try PosixFileSystem().remove(path)
        #expect(Array(mapped.bytes) == old, "removal leaves the mapped inode")
    }

    @Test func sectionFilesVerifyTheHeapCopyToo() throws {
        let dir = TemporaryDirectory()
        let path = dir.join("seg")
        let writer = try SectionFileWriter(path: path, kind: SectionFileKind("TEST"), kindVersion: 1)
        try writer.addSection("a", bytes: testPayload(3, size: 777))
        try writer.addSection("b", bytes: testPayload(4, size: 64 * 10))
        try writer.finish()
        let fs = FaultInjectingFileSystem()
        fs.mapsFiles = false
        let file = try SectionFile.open(path: path, fileSystem: fs)
        #expect(!file.mapping.isMapped)
        #expect(try file.copySection("b") == testPayload(4, size: 64 * 10))
        #expect(Int(bitPattern: try file.section("b").baseAddress) % 64 == 0)
        try fs.flipBit(path, offset: file.sections[1].offset + 100, bit: 6)
        #expect { try SectionFile.open(path: path, fileSystem: fs) } throws: { ($0 as? StorageError)?.isCorruption == true }
        try fs.chop(path, to: 500)
        #expect { try SectionFile.open(path: path, fileSystem: fs) } throws: { ($0 as? StorageError)?.isCorruption == true }
        fs.mapsFiles = true
        #expect { try SectionFile.open(path: path, fileSystem: fs) } throws: { ($0 as? StorageError)?.isCorruption == true }
    }
}
