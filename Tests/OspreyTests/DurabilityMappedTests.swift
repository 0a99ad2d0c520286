import Foundation
import Testing
import OspreyCore
import OspreyIndex
@testable import Osprey
@testable import OspreyStorage

/// Sealed segments and index files read in place from their mappings: a reopened database
/// gives the same answers for every field type, fixed-width columns point into the mapping,
/// file systems that cannot map get the same answers from an aligned heap copy, damaged and
/// truncated files are clear errors, and files of the previous segment layout still open.
@Suite struct DurabilityMappedTests {
    static let options = DatabaseOptions(segmentMaxRows: 64)

    /// The field types `DurabilityRichRowsTests.schema` leaves out: INT64 values, INT8 and
    /// sparse vectors, BOOL without nulls, arrays of integers, nullable VARCHAR.
    static let otherSchema = CollectionSchema(fields: [
        .primaryKey("id"),
        .vector("i8", .int8Vector, dim: 8),
        .sparseVector("sp"),
        .scalar("flag", .bool),
        .scalar("big", .int64, nullable: true),
        .scalar("ratio", .double),
        .array("nums", of: .int64, maxCapacity: 8),
        .scalar("name", .varchar, maxLength: 20, nullable: true),
    ])

    static func otherRow(_ i: Int) throws -> [String: FieldValue] {
        var r: [String: FieldValue] = [
            "id": .int(Int64(i) * 3 - 50),
            "i8": .int8Vector((0..<8).map { Int8(truncatingIfNeeded: i * 7 + $0 * 13) }),
            "sp": .sparseVector(try SparseVector([(UInt32(i % 50), 1 + Float(i)), (UInt32(100 + i % 7), 0.5)])),
            "flag": .bool(i % 3 == 0), "ratio": .double(Double(i) / 3), "nums": .array([.int(Int64(i)), .int(Int64(i) * 2)]),
        ]
        if i % 4 != 1 { r["big"] = .int(Int64(i) << 33) }
        if i % 5 != 0 { r["name"] = .string("n\(i)") }
        return r
    }

    /// Everything a reader can ask of the two collections: every row, and searches over every
    /// vector field with and without filters.
    struct Answers: Hashable {
        var rows: [[String: FieldValue]] = []
        var hits: [[SearchHits]] = []
    }

    static func answers(_ db: Database) throws -> Answers {
        var a = Answers()
        let rich = try db.collection("rich"), other = try db.collection("other")
        a.rows.append(contentsOf: try rich.query(QueryRequest(filter: "pk != \"\"", outputFields: ["*"], limit: 1_000)).rows)
        a.rows.append(contentsOf: try other.query(QueryRequest(filter: "id > -1000", outputFields: ["*"], limit: 1_000)).rows)
        a.hits.append(try rich.search(SearchRequest(vectors: [.floatVector([3, -1, 0.5]), .floatVector([90, -1, 0.5])], field: "emb",
                                                     limit: 7, metric: .l2, outputFields: ["pk", "d", "doc", "tags"])))
        a.hits.append(try rich.search(SearchRequest(vectors: [.floatVector([40, -1, 0.5])], field: "emb", limit: 5, metric: .ip,
                                                     filter: "b == true and n > 10", outputFields: ["title"])))
        a.hits.append(try rich.search(SearchRequest(vectors: [.binaryVector([7, 0xA5])], field: "bits", limit: 5, metric: .hamming)))
        a.hits.append(try rich.search(SearchRequest(vectors: [.float16Vector([12, 1])], field: "half", limit: 4, metric: .l2)))
        a.hits.append(try rich.search(SearchRequest(vectors: [.bfloat16Vector([2, 30])], field: "bf", limit: 4, metric: .l2)))
        a.hits.append(try other.search(SearchRequest(vectors: [.int8Vector([1, 2, 3, 4, 5, 6, 7, 8])], field: "i8", limit: 6,
                                                      metric: .l2, filter: "big > 10 or name is null", outputFields: ["*"])))
        a.hits.append(try other.search(SearchRequest(vectors: [.sparseVector(try SparseVector([(7, 1), (103, 2)]))], field: "sp",
                                                      limit: 5, metric: .ip, outputFields: ["nums", "flag"])))
        return a
    }

    /// Writes both collections (100 rows each, in segments of 64 rows), deletes some rows after
    /// sealing, closes (every segment sealed and written) and returns the answers before close.
    func populate(_ dir: DurabilityTemporaryDirectory) throws -> Answers {
        let db = try Database.open(at: dir.path, options: Self.options)
        let rich = try db.createCollection("rich", schema: DurabilityRichRowsTests.schema)
        try rich.insert((0..<100).map(DurabilityRichRowsTests.row))
        let other = try db.createCollection("other", schema: Self.otherSchema)
        try other.insert((0..<100).map(Self.otherRow))
        try other.delete(ids: [.int(-50), .int(-41)])
        let before = try Self.answers(db)
        #expect(before.rows.count == 198)
        try db.close()
        return before
    }

    func segments(_ db: Database) throws -> [Segment] {
        try ["rich", "other"].flatMap { try db.collection($0).segments.withLock { Array($0.values) } }
    }

    func dataFiles(_ dir: DurabilityTemporaryDirectory) -> [String] {
        let e = FileManager.default.enumerator(atPath: dir.join("segments"))
        return (e?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix("/data") }.sorted().map { dir.join("segments/" + $0) }
    }

    @Test func reopenedSegmentsAreMappedAndAnswerTheSame() throws {
        let dir = DurabilityTemporaryDirectory("osprey-mapped")
        let before = try populate(dir)
        for round in 0..<2 {
            let db = try Database.open(at: dir.path, options: Self.options)
            #expect(db.storage!.recovery.replayedRecords == 0, "everything comes from segment files")
            #expect(try Self.answers(db) == before, "round \(round)")
            let segs = try segments(db)
            #expect(segs.count == 4)
            for seg in segs {
                let file = try #require(seg.backingFile)
                #expect(file.isMapped)
                #expect(seg.sealed)
                // Every fixed-width column (and the timestamps) is a view into the mapping.
                let region = UnsafeRawPointer(file.bytes.baseAddress!) ..< UnsafeRawPointer(file.bytes.baseAddress!) + file.bytes.count
                var borrowed = 0
                for f in Segment.storedFields(of: seg.schema) {
                    let view = try #require(seg.column(named: f.name, rows: seg.rowCount))
                    let first: UnsafeRawPointer?
                    switch view.values {
                    case .vector(let v): first = v.vector(at: 0)
                    case .bool(let v): first = UnsafeRawPointer(v.chunks[0])
                    case .int8(let v): first = UnsafeRawPointer(v.chunks[0])
                    case .int16(let v): first = UnsafeRawPointer(v.chunks[0])
                    case .int32(let v): first = UnsafeRawPointer(v.chunks[0])
                    case .int64(let v): first = UnsafeRawPointer(v.chunks[0])
                    case .float(let v): first = UnsafeRawPointer(v.chunks[0])
                    case .double(let v): first = UnsafeRawPointer(v.chunks[0])
                    case .string, .json, .array, .sparse: first = nil
                    }
                    if let first {
                        #expect(region.contains(first), "\(f.name) is read in place")
                        borrowed += 1
                    }
                }
                #expect(borrowed >= 5)
                #expect(seg.timestamps.isBorrowed)
                #expect(seg.mappedColumnBytes >= seg.rowCount * (8 + 12), "timestamps and at least the float vectors")
            }
            try db.close()
        }
    }

    @Test func fileSystemsThatCannotMapGetAHeapCopy() throws {
        let dir = DurabilityTemporaryDirectory("osprey-unmapped")
        let before = try populate(dir)
        let fs = FaultInjectingFileSystem()
        fs.mapsFiles = false
        let db = try DurableStorage.openDatabase(at: dir.path, options: Self.options, fileSystem: fs)
        #expect(try Self.answers(db) == before)
        for seg in try segments(db) {
            let file = try #require(seg.backingFile)
            #expect(!file.isMapped)
            #expect(Int(bitPattern: file.bytes.baseAddress) % 64 == 0, "the heap copy keeps sections aligned")
            #expect(seg.mappedColumnBytes == 0)
        }
        try db.close()
        // A bit flip is caught on this path too.
        let data = dataFiles(dir)[0]
        try fs.flipBit(data, offset: try sectionOffset(data, named: "c0") + 1, bit: 3)
        #expect(storageMessage { _ = try DurableStorage.openDatabase(at: dir.path, options: Self.options, fileSystem: fs) }?
            .contains("corruption") == true)
    }

    func sectionOffset(_ path: String, named name: String) throws -> Int {
        let file = try SectionFile.open(path: path, verifyChecksums: false)
        return try #require(file.sections.first { $0.name == name }).offset
    }

    func storageMessage(_ body: () throws -> Void) -> String? {
        do { try body() } catch {
            if case .storage(let m) = error as? OspreyError { return m }
            Issue.record("unexpected error \(error)")
        }
        return nil
    }

    @Test func damagedColumnsAreClearErrors() throws {
        let dir = DurabilityTemporaryDirectory("osprey-mapped-damage")
        _ = try populate(dir)
        let data = dataFiles(dir)[0]
        let original = try Data(contentsOf: URL(fileURLWithPath: data))
        let file = try SectionFile.open(path: data)
        for section in file.sections where section.length > 0 {
            try FaultInjectingFileSystem().flipBit(data, offset: section.offset + section.length / 2, bit: 5)
            let message = storageMessage { _ = try Database.open(at: dir.path, options: Self.options) }
            #expect(message?.contains("corruption") == true, "\(section.name): \(message ?? "opened")")
            #expect(message?.contains(data) == true, "the message names the file")
            try original.write(to: URL(fileURLWithPath: data))
        }
        // Truncated anywhere: an error before any page past the end could be touched.
        for cut in [0, 1, 63, 64, 200, original.count / 2, original.count - 33, original.count - 1] {
            try FaultInjectingFileSystem().chop(data, to: cut)
            let message = storageMessage { _ = try Database.open(at: dir.path, options: Self.options) }
            #expect(message?.contains("corruption") == true, "cut at \(cut): \(message ?? "opened")")
            try original.write(to: URL(fileURLWithPath: data))
        }
        let db = try Database.open(at: dir.path, options: Self.options)
        #expect(try db.collection("rich").count() + db.collection("other").count() == 198, "restored file opens")
        try db.close()
    }

    /// Rewrites a section file with one section's bytes changed and every checksum recomputed:
    /// damage no checksum can see.
    func reseal(_ path: String, section: String, _ change: (inout [UInt8]) -> Void) throws {
        let file = try SectionFile.open(path: path)
        let writer = try SectionFileWriter(path: path, kind: file.kind, kindVersion: file.kindVersion)
        for name in file.sectionNames {
            var bytes = try file.copySection(name)
            if name == section { change(&bytes) }
            try writer.addSection(name, bytes: bytes)
        }
        try writer.finish()
    }

    @Test func contentsBehindValidChecksumsAreChecked() throws {
        let dir = DurabilityTemporaryDirectory("osprey-mapped-reseal")
        _ = try populate(dir)
        // In "other", sorted columns: big, flag, i8, id, name, nums, ratio, sp → c1 is BOOL "flag".
        let other = try otherID(dir)
        let data = try #require(dataFiles(dir).first { $0.contains("/segments/\(other)/") })
        let pristine = try Data(contentsOf: URL(fileURLWithPath: data))
        let cases: [(String, String, (inout [UInt8]) -> Void)] = [
            ("c1", "not 0 or 1", { $0[3] = 2 }),                   // a BOOL byte that is neither
            ("c2", "bytes for", { $0.removeLast() }),              // a vector column one byte short
            ("n0", "not 0 or 1", { $0[0] = 7 }),                   // a validity byte
            ("timestamps", "decrease", { for k in 0..<8 { $0[8 * 5 + k] = 0 } }),  // row 5 inserted before row 4
            ("c4", "does not decode", { $0[$0.count / 2] = 0xFF; $0.append(0xFF) }),  // a VARCHAR column
        ]
        for (section, words, change) in cases {
            try reseal(data, section: section, change)
            let message = storageMessage { _ = try Database.open(at: dir.path, options: Self.options) }
            #expect(message?.contains("corruption") == true && message?.contains(words) == true, "\(section): \(message ?? "opened")")
            try pristine.write(to: URL(fileURLWithPath: data))
        }
    }

    func otherID(_ dir: DurabilityTemporaryDirectory) throws -> Int64 {
        let db = try Database.open(at: dir.path, options: Self.options)
        defer { try? db.close() }
        return try db.collection("other").id
    }

    @Test func segmentFilesOfTheFirstLayoutStillOpen() throws {
        let dir = DurabilityTemporaryDirectory("osprey-v1-segments")
        let before = try populate(dir)
        do {
            // Rewrite every data file in the version-1 layout (one batch section).
            let db = try Database.open(at: dir.path, options: Self.options)
            for name in ["rich", "other"] {
                let c = try db.collection(name)
                for seg in c.segments.withLock({ Array($0.values) }) {
                    let key = try db.storage!.files.writeData(seg, collection: c.id, version: 1)
                    #expect(key == seg.persistence.withLock { $0.dataKey })
                }
            }
            try db.storage!.close()
        }
        for path in dataFiles(dir) { #expect(try SectionFile.open(path: path).kindVersion == 1) }
        let db = try Database.open(at: dir.path, options: Self.options)
        #expect(try Self.answers(db) == before)
        for seg in try segments(db) {
            #expect(seg.backingFile == nil, "a version-1 file is decoded into memory")
            #expect(seg.mappedColumnBytes == 0)
        }
        try db.close()  // nothing changed: no file is rewritten
        for path in dataFiles(dir) { #expect(try SectionFile.open(path: path).kindVersion == 1) }
    }

    @Test(arguments: ["FLAT", "HNSW"])
    func savedIndexesAreSearchedFromTheirMapping(indexType: String) throws {
        let dir = DurabilityTemporaryDirectory("osprey-mapped-index")
        let queries: [FieldValue] = (0..<5).map { .floatVector(DurabilityFixture.vector(Int64($0 * 97), 1)) }
        var expected: [SearchHits] = []
        do {
            let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 256))
            let c = try db.createCollection("c", schema: DurabilityFixture.schema)
            try c.createIndex(field: "vec", indexType: indexType, metric: .l2,
                              params: indexType == "HNSW" ? ["M": "8", "efConstruction": "32"] : [:])
            try c.insert((0..<600).map { DurabilityFixture.row($0, version: 1) })
            try c.flush()
            c.waitForIndexBuilds()
            expected = try c.search(SearchRequest(vectors: queries, limit: 5, outputFields: ["tag"]))
            try db.close()
        }
        let db = try Database.open(at: dir.path, options: DatabaseOptions(segmentMaxRows: 256))
        let c = try db.collection("c")
        #expect(try c.indexProgress(name: "vec").state == .finished, "loaded, not rebuilt")
        #expect(try c.search(SearchRequest(vectors: queries, limit: 5, outputFields: ["tag"])) == expected)
        let indexes = c.segments.withLock { Array($0.values) }.compactMap { $0.indexes.withLock { $0["vec"] }?.index }
        #expect(indexes.count == 3)
        for index in indexes {
            #expect(index.mappedBytes > index.count * 16, "the vectors are read from the mapped file")
            #expect(index.memoryBytes < index.mappedBytes / 2)
        }
        try db.close()
    }

    @Test func indexFilesThroughTheHeapFallbackAndTruncated() throws {
        let dir = DurabilityTemporaryDirectory("osprey-index-fallback")
        var data = [Float](repeating: 0, count: 300 * 16)
        for i in data.indices { data[i] = Float((i * 31 + (i % 16) * 7) % 101) / 10 }
        let index = try IndexFactory.make(indexType: "HNSW", metricType: "L2", params: ["M": "8"], type: .floatVector, dim: 16)
        try index.add(ContiguousVectorSource(floats: data, dim: 16))
        let image = index.serialized()
        let path = dir.join("index-1")
        try Data(image).write(to: URL(fileURLWithPath: path))
        let query = Array(data[(16 * 40)..<(16 * 41)])
        let expected = try index.search(floats: query, parameters: SearchParameters(k: 5))
        let fs = FaultInjectingFileSystem()
        for mapsFiles in [true, false] {
            fs.mapsFiles = mapsFiles
            let loaded = try SegmentFiles.loadIndex(path: path, fileSystem: fs)
            #expect(try loaded.search(floats: query, parameters: SearchParameters(k: 5)) == expected)
            #expect((loaded.mappedBytes == image.count) == mapsFiles)
            #expect((loaded.memoryBytes >= image.count) == !mapsFiles)
        }
        for cut in [0, 10, 64, image.count / 3, image.count - 1] {
            try fs.chop(path, to: cut)
            #expect(throws: IndexError.self, "cut at \(cut)") { try SegmentFiles.loadIndex(path: path, fileSystem: PosixFileSystem()) }
        }
    }
}
