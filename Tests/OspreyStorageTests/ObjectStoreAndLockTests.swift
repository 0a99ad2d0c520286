import Foundation
import Testing
import OspreyCore
@testable import OspreyStorage

@Suite struct ObjectStoreTests {
    @Test func putGetListExistsDelete() async throws {
        let dir = TemporaryDirectory()
        let store = try LocalDirectoryObjectStore(root: dir.join("objects"))
        try await store.put("segments/c1/10/columns", bytes: [1, 2, 3])
        try await store.put("segments/c1/10/index", bytes: testPayload(5, size: 5000))
        try await store.put("segments/c1/2/columns", bytes: [4])
        try await store.put("segments/c2/7/columns", bytes: [])
        try await store.put("top", bytes: [9])

        #expect(try await store.get("segments/c1/10/columns") == [1, 2, 3])
        #expect(try await store.get("segments/c2/7/columns") == [])
        #expect(try await store.list(prefix: "segments/c1/") ==
            ["segments/c1/10/columns", "segments/c1/10/index", "segments/c1/2/columns"])
        #expect(try await store.list(prefix: "segments/c1/1") == ["segments/c1/10/columns", "segments/c1/10/index"])
        #expect(try await store.list(prefix: "").count == 5)
        #expect(try await store.list(prefix: "nothing/here").isEmpty)
        #expect(try await store.exists("top"))
        #expect(try await !store.exists("segments/c1"), "a directory is not an object")

        // Replacing is atomic; an old mapping keeps the old bytes.
        let old = try await store.map("top")
        try await store.put("top", bytes: [8, 8])
        #expect(withExtendedLifetime(old) { Array(old.bytes) } == [9])
        #expect(try await store.get("top") == [8, 8])

        try await store.delete("top")
        try await store.delete("top")  // missing: not an error
        #expect(try await !store.exists("top"))
        await #expect(throws: StorageError.notFound(path: "object top in \(dir.join("objects"))")) {
            try await store.get("top")
        }
        // No upload leftovers.
        #expect(try PosixFileSystem().list(dir.join("objects/segments/c1/10")) == ["columns", "index"])
    }

    @Test func sectionFileThroughTheStore() async throws {
        let dir = TemporaryDirectory()
        let store = try LocalDirectoryObjectStore(root: dir.join("objects"))
        let local = dir.join("seg.tmpfile")
        let writer = try SectionFileWriter(path: local, kind: SectionFileKind("SEGC"), kindVersion: 1)
        try writer.addSection("pk", bytes: testPayload(1, size: 777))
        try writer.finish()
        try await store.put("segments/1/data", contentsOf: local)
        let file = try SectionFile(mapped: try await store.map("segments/1/data"), expectedKind: SectionFileKind("SEGC"))
        #expect(try file.copySection("pk") == testPayload(1, size: 777))
    }

    @Test(arguments: ["", "/abs", "a//b", "a/../b", "./a", "a/.tmp-x", "trailing/"])
    func invalidKeysAreCallerErrors(key: String) async throws {
        let dir = TemporaryDirectory()
        let store = try LocalDirectoryObjectStore(root: dir.path)
        do {
            try await store.put(key, bytes: [1])
            Issue.record("key \"\(key)\" was accepted")
        } catch let error as StorageError {
            #expect(error.fault == .caller)
        }
    }

    @Test func concurrentPutsOfOneKeyLeaveOneWholeObject() async throws {
        let dir = TemporaryDirectory()
        let store = try LocalDirectoryObjectStore(root: dir.path)
        let versions = (0..<8).map { testPayload($0, size: 20_000) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for v in versions { group.addTask { try await store.put("k", bytes: v) } }
            try await group.waitForAll()
        }
        #expect(versions.contains(try await store.get("k")))
        #expect(try await store.list(prefix: "") == ["k"])
    }
}

@Suite struct DirectoryLockTests {
    @Test func secondLockInTheSameProcessFails() throws {
        let dir = TemporaryDirectory()
        let data = dir.join("data")
        let lock = try DirectoryLock.acquire(directory: data)
        #expect(throws: StorageError.directoryLocked(directory: data)) {
            try DirectoryLock.acquire(directory: data)
        }
        do {
            _ = try DirectoryLock.acquire(directory: data)
        } catch let error as StorageError {
            #expect(error.description.contains(data))
            #expect(error.fault == .caller)
        }
        let text = try String(contentsOfFile: FilePath.join(data, "LOCK"), encoding: .utf8)
        #expect(text == "osprey-lock pid=\(getpid())\n")
        lock.release()
        let again = try DirectoryLock.acquire(directory: data)
        again.release()
    }

    @Test func releasedOnDeinit() throws {
        let dir = TemporaryDirectory()
        do { _ = try DirectoryLock.acquire(directory: dir.path) }
        try DirectoryLock.acquire(directory: dir.path).release()
    }

    @Test func anotherProcessSeesTheLock() throws {
        let dir = TemporaryDirectory()
        let flock = "/usr/bin/flock"
        guard FileManager.default.isExecutableFile(atPath: flock) else { return }
        func otherProcessCanLock() throws -> Bool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: flock)
            p.arguments = ["-n", dir.join("LOCK"), "true"]
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus == 0
        }
        let lock = try DirectoryLock.acquire(directory: dir.path)
        #expect(try !otherProcessCanLock())
        lock.release()
        #expect(try otherProcessCanLock())
    }
}
