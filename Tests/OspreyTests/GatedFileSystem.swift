import Dispatch
import Synchronization
@testable import OspreyStorage

/// A gate a thread can be held at: `pass()` blocks while the gate is closed, and counts the
/// threads that arrived, so a test can wait until the work it wants to hold is really held.
///
/// Thread safety: safe to use from any thread.
final class TestGate: Sendable {
    private struct State {
        var closed = false
        var arrivals = 0
    }
    private let state = Mutex(State())
    private let opened = DispatchSemaphore(value: 0)
    private let arrived = DispatchSemaphore(value: 0)

    func close() { state.withLock { $0.closed = true } }

    /// Opens the gate and lets every held thread through.
    func open() {
        let held = state.withLock { s -> Int in
            s.closed = false
            defer { s.arrivals = 0 }
            return s.arrivals
        }
        for _ in 0..<held { opened.signal() }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Called by the gated operation: returns at once when open, else waits for `open()`.
    func pass() {
        let wait = state.withLock { s -> Bool in
            guard s.closed else { return false }
            s.arrivals += 1
            return true
        }
        guard wait else { return }
        arrived.signal()
        opened.wait()
    }

    /// Waits until one more operation is held at the gate (true) or `seconds` pass (false).
    func waitForArrival(seconds: Double) -> Bool {
        arrived.wait(timeout: .now() + seconds) == .success
    }
}

/// A file system over another one that holds chosen operations at gates: creating a file
/// whose path matches `createGate`'s filter (segment files being written by a checkpoint),
/// and syncing a file whose path matches `syncGate`'s (WAL files), so that tests can prove
/// which work proceeds while such I/O is stuck.
///
/// Thread safety: safe to call from any thread.
final class GatedFileSystem: FileSystem {
    let base: any FileSystem
    let createGate = TestGate()
    let syncGate = TestGate()
    private let createFilter: @Sendable (String) -> Bool
    private let syncFilter: @Sendable (String) -> Bool

    init(base: any FileSystem, gateCreating createFilter: @escaping @Sendable (String) -> Bool = { _ in false },
         gateSyncing syncFilter: @escaping @Sendable (String) -> Bool = { _ in false }) {
        self.base = base
        self.createFilter = createFilter
        self.syncFilter = syncFilter
    }

    private func wrap(_ f: any WritableFile) -> any WritableFile {
        syncFilter(f.path) ? GatedFile(file: f, gate: syncGate) : f
    }

    func createFile(_ path: String) throws -> any WritableFile {
        if createFilter(path) { createGate.pass() }
        return wrap(try base.createFile(path))
    }
    func openForAppend(_ path: String) throws -> any WritableFile { wrap(try base.openForAppend(path)) }
    func readFile(_ path: String) throws -> [UInt8] { try base.readFile(path) }
    func map(_ path: String, access: MappedFile.Access) throws -> MappedFile { try base.map(path, access: access) }
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

/// A file whose `sync` waits at a gate first.
///
/// Thread safety: as the wrapped file.
private final class GatedFile: WritableFile {
    let file: any WritableFile
    let gate: TestGate
    init(file: any WritableFile, gate: TestGate) {
        self.file = file
        self.gate = gate
    }
    var path: String { file.path }
    var size: Int { file.size }
    func append(_ bytes: UnsafeRawBufferPointer) throws { try file.append(bytes) }
    func sync() throws {
        gate.pass()
        try file.sync()
    }
    func close() throws { try file.close() }
}
