import Foundation
import Testing
import OspreyCore
@testable import OspreyStorage

@Suite struct ManifestTests {
    func edit(_ i: Int) -> [UInt8] { testPayload(1000 + i, size: 40 + i) }

    @Test func createAppendReopen() throws {
        let dir = TemporaryDirectory()
        let manifest = try Manifest.create(directory: dir.path, snapshot: [1, 2, 3])
        for i in 0..<5 { try manifest.append(edit(i)) }
        #expect(manifest.editsSinceSnapshot == 5)
        try manifest.close()
        #expect(throws: StorageError.self) { try manifest.append([9]) }

        let current = try String(contentsOfFile: dir.join("CURRENT"), encoding: .utf8)
        let crc = String(format: "%08x", CRC32C.checksum(Array("MANIFEST-000001".utf8)))
        #expect(current == "osprey-current 1 MANIFEST-000001 \(crc)\n")

        let (reopened, contents) = try Manifest.open(directory: dir.path)
        #expect(contents.manifestNumber == 1)
        #expect(contents.snapshot == [1, 2, 3])
        #expect(contents.edits == (0..<5).map(edit))
        #expect(contents.discardedBytes == 0)
        try reopened.append(edit(5))
        try reopened.close()
        #expect(try Manifest.open(directory: dir.path).1.edits.count == 6)
    }

    @Test func createRefusesAnExistingCatalogAndOpenReportsAMissingOne() throws {
        let dir = TemporaryDirectory()
        #expect(throws: StorageError.notFound(path: dir.join("CURRENT"))) { try Manifest.open(directory: dir.path) }
        try Manifest.create(directory: dir.path, snapshot: []).close()
        #expect(throws: StorageError.alreadyExists(path: dir.join("CURRENT"))) {
            try Manifest.create(directory: dir.path, snapshot: [])
        }
    }

    @Test func rewriteStartsANewManifestWithASnapshot() throws {
        let dir = TemporaryDirectory()
        let manifest = try Manifest.create(directory: dir.path, snapshot: [0])
        for i in 0..<10 { try manifest.append(edit(i)) }
        let before = manifest.fileSize
        try manifest.rewrite(snapshot: [42, 42])
        #expect(manifest.manifestNumber == 2)
        #expect(manifest.editsSinceSnapshot == 0)
        #expect(manifest.fileSize < before)
        try manifest.append(edit(10))
        try manifest.close()
        let names = try PosixFileSystem().list(dir.path)
        #expect(names == ["CURRENT", "MANIFEST-000002"])
        let (reopened, contents) = try Manifest.open(directory: dir.path)
        #expect(contents.manifestNumber == 2)
        #expect(contents.snapshot == [42, 42])
        #expect(contents.edits == [edit(10)])
        try reopened.close()
    }

    @Test func tornLastEditIsCut() throws {
        let dir = TemporaryDirectory()
        let manifest = try Manifest.create(directory: dir.path, snapshot: [7])
        for i in 0..<3 { try manifest.append(edit(i)) }
        let path = dir.join("MANIFEST-000001")
        let fullSize = manifest.fileSize
        try manifest.close()
        let lastEditSize = LogRecord.headerSize + edit(2).count
        let fs = FaultInjectingFileSystem()
        try fs.chop(path, to: fullSize - lastEditSize / 2)
        let (reopened, contents) = try Manifest.open(directory: dir.path, fileSystem: fs)
        #expect(contents.edits == [edit(0), edit(1)])
        #expect(contents.discardedBytes == lastEditSize - lastEditSize / 2)
        try reopened.append(edit(9))
        try reopened.close()
        #expect(try Manifest.open(directory: dir.path).1.edits == [edit(0), edit(1), edit(9)])
    }

    @Test func syncedEditsSurviveACrash() throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        let manifest = try Manifest.create(directory: dir.path, fileSystem: fs, snapshot: [1])
        for i in 0..<4 { try manifest.append(edit(i)) }
        try manifest.rewrite(snapshot: [2])
        try manifest.append(edit(4))
        try fs.simulateCrash(.tornWrites(seed: 3))
        #expect(throws: StorageError.self) { try manifest.append(edit(5)) }
        let (_, contents) = try Manifest.open(directory: dir.path, fileSystem: fs)
        #expect(contents.manifestNumber == 2)
        #expect(contents.snapshot == [2])
        #expect(contents.edits == [edit(4)])
    }

    @Test func rewriteThatFailsBeforeCurrentMovesKeepsTheOldManifest() throws {
        let dir = TemporaryDirectory()
        let fs = FaultInjectingFileSystem()
        let manifest = try Manifest.create(directory: dir.path, fileSystem: fs, snapshot: [1])
        try manifest.append(edit(0))
        // Writing the new manifest fails part-way: the old one stays live and usable.
        fs.failNextWrite(afterBytes: 10)
        #expect(throws: StorageError.self) { try manifest.rewrite(snapshot: [2]) }
        try manifest.append(edit(1))
        #expect(!fs.exists(dir.join("MANIFEST-000002")))
        // So does a failed sync of the new manifest.
        fs.failNextSync()
        #expect(throws: StorageError.self) { try manifest.rewrite(snapshot: [2]) }
        try manifest.append(edit(2))
        try fs.simulateCrash()
        var (reopened, contents) = try Manifest.open(directory: dir.path, fileSystem: fs)
        #expect(contents.manifestNumber == 1)
        #expect(contents.snapshot == [1])
        #expect(contents.edits == [edit(0), edit(1), edit(2)])

        // A completed rewrite survives a crash right after it.
        try reopened.rewrite(snapshot: [3])
        try fs.simulateCrash()
        (reopened, contents) = try Manifest.open(directory: dir.path, fileSystem: fs)
        #expect(contents.snapshot == [3] && contents.edits.isEmpty)
        #expect(try fs.list(dir.path) == ["CURRENT", "MANIFEST-000002"])
        try reopened.close()
    }

    @Test func leftoverManifestFromACrashedRewriteIsRemoved() throws {
        let dir = TemporaryDirectory()
        try Manifest.create(directory: dir.path, snapshot: [1]).close()
        let stray = dir.join("MANIFEST-000002")
        try PosixFileSystem().createFile(stray).close()
        try PosixFileSystem().createFile(dir.join("CURRENT.tmp")).close()
        let (m, contents) = try Manifest.open(directory: dir.path)
        #expect(contents.manifestNumber == 1)
        #expect(try PosixFileSystem().list(dir.path) == ["CURRENT", "MANIFEST-000001"])
        try m.close()
    }

    @Test func damageIsReportedClearly() throws {
        let dir = TemporaryDirectory()
        let manifest = try Manifest.create(directory: dir.path, snapshot: [UInt8](repeating: 5, count: 100))
        for i in 0..<3 { try manifest.append(edit(i)) }
        try manifest.close()
        let path = dir.join("MANIFEST-000001")
        let pristine = try PosixFileSystem().readFile(path)
        let fs = FaultInjectingFileSystem()
        func restore() throws { try fs.overwrite(path, offset: 0, with: pristine) }

        // A damaged edit with edits after it: corruption, nothing cut.
        let secondEdit = LogFileHeader.size + LogRecord.headerSize + 100 + LogRecord.headerSize + edit(0).count
        try fs.flipBit(path, offset: secondEdit + LogRecord.headerSize + 3)
        #expect(throws: StorageError.self) { try Manifest.open(directory: dir.path, fileSystem: fs) }
        do { _ = try Manifest.open(directory: dir.path, fileSystem: fs) } catch let e as StorageError {
            #expect(e.corruptionOffset == secondEdit)
            #expect(e.description.contains("MANIFEST-000001"))
        }
        #expect(try fs.fileSize(path) == pristine.count)
        try restore()

        // A damaged snapshot.
        try fs.chop(path, to: LogFileHeader.size + 50)
        #expect {
            try Manifest.open(directory: dir.path, fileSystem: fs)
        } throws: { "\($0)".contains("snapshot record is damaged") }
        try restore()

        // CURRENT damaged, or naming a manifest that is missing.
        let current = dir.join("CURRENT")
        let goodCurrent = try fs.readFile(current)
        try fs.flipBit(current, offset: 25)
        #expect { try Manifest.open(directory: dir.path, fileSystem: fs) } throws: {
            ($0 as? StorageError)?.isCorruption == true && "\($0)".contains("CURRENT")
        }
        try fs.overwrite(current, offset: 0, with: Manifest.encodeCurrent(9))
        #expect { try Manifest.open(directory: dir.path, fileSystem: fs) } throws: {
            "\($0)".contains("MANIFEST-000009, which does not exist")
        }
        try fs.overwrite(current, offset: 0, with: goodCurrent)
        #expect(try Manifest.open(directory: dir.path, fileSystem: fs).1.edits.count == 3)
    }
}
