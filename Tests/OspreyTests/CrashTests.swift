#if os(Linux)
import Foundation
import Testing
import OspreyCore
@testable import Osprey

/// The `osprey crash-writer` child writes (inserts, upserts, deletes) to a data directory and
/// is killed with SIGKILL at a random moment, round after round on the same directory. After
/// each kill the directory is reopened here: every acknowledged write must be visible with the
/// right values, and the one operation that was in flight must be applied wholly or not at all.
@Suite struct CrashTests {
    static let seed: UInt64 = 20_261_125
    static let rounds = 15

    /// The `osprey` executable built beside the test bundle (or named by `OSPREY_BINARY`).
    static let binary: String? = {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["OSPREY_BINARY"] { candidates.append(explicit) }
        for start in [CommandLine.arguments.first ?? "", Bundle.main.bundlePath] where !start.isEmpty {
            var dir = URL(fileURLWithPath: start).deletingLastPathComponent()
            for _ in 0..<3 {
                candidates.append(dir.appendingPathComponent("osprey").path)
                dir = dir.deletingLastPathComponent()
            }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) && !$0.hasSuffix(".xctest") }
    }()

    /// One operation the child announced: keys written at a version, or keys deleted.
    enum Operation {
        case write(version: Int64, keys: [Int64])
        case delete(keys: [Int64])

        func apply(to state: inout [Int64: Int64]) {
            switch self {
            case let .write(version, keys): for k in keys { state[k] = version }
            case let .delete(keys): for k in keys { state[k] = nil }
            }
        }
    }

    /// The acknowledged operations in order, and the announced one without an acknowledgement.
    static func parse(_ text: String) -> (acknowledged: [Operation], pending: Operation?) {
        // A line cut by the kill has no newline; it is not counted.
        let complete = text.hasSuffix("\n") ? Substring(text) : text[..<(text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex)]
        var done: [Operation] = []
        var pending: Operation?
        for line in complete.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts == ["A"] {
                if let p = pending { done.append(p) }
                pending = nil
            } else if parts.count == 4, parts[0] == "P", parts[1] == "W", let v = Int64(parts[2]) {
                pending = .write(version: v, keys: parts[3].split(separator: ",").compactMap { Int64($0) })
            } else if parts.count == 3, parts[0] == "P", parts[1] == "D" {
                pending = .delete(keys: parts[2].split(separator: ",").compactMap { Int64($0) })
            }
        }
        return (done, pending)
    }

    @Test(.enabled(if: binary != nil, "the osprey executable was not found next to the test bundle; build it or set OSPREY_BINARY"),
          .timeLimit(.minutes(2)))
    func acknowledgedWritesSurviveSIGKILL() throws {
        let dir = DurabilityTemporaryDirectory("osprey-crash")
        let data = dir.join("data")
        var rng = SplitMix64(seed: Self.seed)
        print("crash test: seed \(Self.seed), \(Self.rounds) rounds, binary \(Self.binary!)")
        var model: [Int64: Int64] = [:]
        var totalAcknowledged = 0
        for round in 0..<Self.rounds {
            let out = dir.join("out-\(round)")
            _ = FileManager.default.createFile(atPath: out, contents: nil)
            let child = Process()
            child.executableURL = URL(fileURLWithPath: Self.binary!)
            child.arguments = ["crash-writer", "--directory", data, "--seed", String(rng.next()), "--round", String(round + 1)]
            child.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            child.standardError = FileHandle.nullDevice
            try child.run()
            // Let it acknowledge something, then kill it at a random moment.
            var waited = 0
            while (try? String(contentsOfFile: out, encoding: .utf8))?.contains("A\n") != true, waited < 20_000, child.isRunning {
                usleep(5_000)
                waited += 5
            }
            usleep(useconds_t(20_000 + rng.next() % 300_000))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal, "round \(round): the child was killed, not stopped by an error")

            let (acknowledged, pending) = Self.parse(try String(contentsOfFile: out, encoding: .utf8))
            #expect(!acknowledged.isEmpty, "round \(round): the child acknowledged writes")
            totalAcknowledged += acknowledged.count
            for op in acknowledged { op.apply(to: &model) }
            var withPending = model
            pending?.apply(to: &withPending)

            let db = try Database.open(at: data, options: DatabaseOptions(segmentMaxRows: 256))
            let (seen, mismatched) = try DurabilityFixture.contents(db.collection("crash"))
            #expect(mismatched.isEmpty, "round \(round): rows whose fields do not match their version: \(mismatched.prefix(5))")
            if seen == model {
                // The pending operation was not applied (or changed nothing).
            } else if seen == withPending {
                model = withPending
            } else {
                let lost = model.filter { seen[$0.key] != $0.value }.prefix(5)
                let extra = seen.filter { model[$0.key] != $0.value && withPending[$0.key] != $0.value }.prefix(5)
                Issue.record("round \(round): acknowledged writes missing or wrong: \(Array(lost)); unexpected rows: \(Array(extra)); pending \(String(describing: pending))")
                model = seen
            }
            try db.close()
        }
        print("crash test: \(totalAcknowledged) acknowledged operations over \(Self.rounds) kills, \(model.count) live keys at the end")
    }
}

/// A second process opening a data directory that is open here gets a clear error.
@Suite struct CrossProcessLockTests {
    @Test(.enabled(if: CrashTests.binary != nil, "the osprey executable was not found next to the test bundle"))
    func secondProcessIsRefused() throws {
        let dir = DurabilityTemporaryDirectory("osprey-lock-process")
        let db = try Database.open(at: dir.path)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CrashTests.binary!)
        child.arguments = ["crash-writer", "--directory", dir.path]
        let errors = Pipe()
        child.standardOutput = FileHandle.nullDevice
        child.standardError = errors
        try child.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        #expect(child.terminationReason == .exit && child.terminationStatus != 0)
        #expect(message.contains("locked") && message.contains(dir.path), "the child says why: \(message)")
        try db.close()
    }
}
#endif
