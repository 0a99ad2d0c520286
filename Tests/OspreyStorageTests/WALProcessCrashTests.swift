#if os(Linux)
import Foundation
import Testing
import OspreyCore
@testable import OspreyStorage

/// A child process appends to the WAL from several threads and is killed with SIGKILL at a
/// random moment, several times; after each kill every acknowledged record must replay,
/// intact, and the log must continue. The child is this same test binary running only
/// `childWriter`, which is enabled by the environment the parent sets.
@Suite struct WALProcessCrashTests {
    static let childDirectory = "OSPREY_WAL_CRASH_CHILD_DIR"
    static let payloadSize = 200

    @Test(.enabled(if: ProcessInfo.processInfo.environment[childDirectory] != nil))
    func childWriter() throws {
        let dir = ProcessInfo.processInfo.environment[Self.childDirectory]!
        let wal = try WriteAheadLog.open(directory: FilePath.join(dir, "wal"))
        let ackFile = open(FilePath.join(dir, "acks"), O_WRONLY | O_CREAT | O_APPEND, 0o644)
        runOnThreads(4) { t in
            var i = 0
            while true {
                // The payload's bytes follow from its id, stored in its first 8 bytes.
                let id = t << 40 | i
                let lsn = try! wal.appendBlocking(testPayload(id, size: Self.payloadSize))
                let line = Array("\(lsn.rawValue)\n".utf8)
                _ = line.withUnsafeBytes { write(ackFile, $0.baseAddress, $0.count) }
                i += 1
            }
        }
    }

    @Test func acknowledgedRecordsSurviveSIGKILL() throws {
        let dir = TemporaryDirectory("osprey-wal-crash")
        var rng = SplitMix64(seed: 2026)
        var previousCount = 0
        for round in 0..<4 {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
            child.arguments = ["--testing-library", "swift-testing", "--filter", "WALProcessCrashTests/childWriter"]
            var environment = ProcessInfo.processInfo.environment
            environment[Self.childDirectory] = dir.path
            child.environment = environment
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            try child.run()
            // Wait for the child to get going, then let it run a random while and kill it.
            let acksPath = dir.join("acks")
            var waited = 0
            while ackCount(acksPath) <= previousCount && waited < 20_000 {
                usleep(10_000)
                waited += 10
            }
            usleep(useconds_t(50_000 + rng.next() % 250_000))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal)

            let acknowledged = readAcks(acksPath)
            #expect(acknowledged.count > previousCount, "round \(round): the child acknowledged appends")
            let wal = try WriteAheadLog.open(directory: dir.join("wal"))
            var replayed = Set<UInt64>()
            var last: UInt64 = 0
            _ = try wal.replay(from: LSN(1)) { lsn, payload in
                #expect(lsn.rawValue == last + 1)
                last = lsn.rawValue
                replayed.insert(lsn.rawValue)
                let id = Int(payload.loadUnaligned(as: UInt64.self))
                #expect(Array(payload) == testPayload(id, size: Self.payloadSize), "record \(lsn) is intact")
            }
            let missing = acknowledged.subtracting(replayed)
            #expect(missing.isEmpty, "round \(round): acknowledged but lost: \(missing.sorted().prefix(5))")
            try wal.close()
            previousCount = acknowledged.count
        }
    }

    private func readAcks(_ path: String) -> Set<UInt64> {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let text = String(decoding: data, as: UTF8.self)
        // A line cut by the kill has no newline; it is not counted.
        let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
        return Set(complete.split(separator: "\n").compactMap { UInt64($0) })
    }

    private func ackCount(_ path: String) -> Int { readAcks(path).count }
}
#endif
