import OspreyCore
import OspreyTestSupport
import Testing
@testable import OspreyQuery

/// A test segment with scalar indexes on some of its columns.
struct IndexedSegment: SegmentColumns, FilterIndexSource {
    let base: FilterTestSegment
    let indexes: [String: ScalarIndex]
    var rowCount: Int { base.rowCount }
    var schema: CollectionSchema { base.schema }
    func column(named name: String) -> ColumnView? { base.column(named: name) }
    func scalarIndex(ofColumn name: String) -> ScalarIndex? { indexes[name] }

    /// Indexes of `type` (nil: AUTOINDEX) on every column it applies to.
    init(_ base: FilterTestSegment, type: ScalarIndexType?) throws {
        self.base = base
        var indexes: [String: ScalarIndex] = [:]
        for field in base.schema.fields {
            guard let t = type ?? ScalarIndexType.automatic(for: field), (try? t.check(field)) != nil,
                let column = base.column(named: field.name)
            else { continue }
            indexes[field.name] = try ScalarIndex.build(t, over: column, rowCount: base.rowCount)
        }
        self.indexes = indexes
    }
}

@Suite("Scalar indexes")
struct FilterScalarIndexTests {
    typealias F = FilterFixtures

    @Test func typesAndFields() throws {
        let s = F.schema
        #expect(ScalarIndexType(milvusName: "inverted") == .inverted)
        #expect(ScalarIndexType(milvusName: "STL_SORT") == .stlSort)
        #expect(ScalarIndexType(milvusName: "Bitmap") == .bitmap)
        #expect(ScalarIndexType(milvusName: "TRIE") == .trie)
        #expect(ScalarIndexType(milvusName: "AUTOINDEX") == nil)
        #expect(ScalarIndexType.automatic(for: s.field(named: "b")!) == .bitmap)
        #expect(ScalarIndexType.automatic(for: s.field(named: "i32")!) == .stlSort)
        #expect(ScalarIndexType.automatic(for: s.field(named: "d")!) == .stlSort)
        #expect(ScalarIndexType.automatic(for: s.field(named: "s")!) == .inverted)
        #expect(ScalarIndexType.automatic(for: s.field(named: "j")!) == nil)
        let bad: [(ScalarIndexType, String)] = [(.stlSort, "s"), (.trie, "i32"), (.bitmap, "f"), (.bitmap, "id"), (.inverted, "j"), (.inverted, "tags"), (.stlSort, "v")]
        for (t, name) in bad {
            #expect(throws: ScalarIndexError.self, "\(t) on \(name)") { try t.check(s.field(named: name)!) }
        }
        #expect((try? ScalarIndexType.trie.check(s.field(named: "name")!)) != nil)
    }

    @Test func lookups() throws {
        let seg = F.segment
        let idx = try ScalarIndex.build(.inverted, over: seg.column(named: "i8")!, rowCount: seg.rowCount)
        #expect(idx.distinctCount == 3)  // 1, -3, 127 (row 2 is null)
        #expect(idx.rows(lower: FilterBound(.int(0), inclusive: false), upper: nil)?.setBits == [0, 3])
        #expect(idx.rows(lower: FilterBound(.double(-3.5), inclusive: true), upper: FilterBound(.double(1.5), inclusive: true))?.setBits == [0, 2])
        #expect(idx.rows(equalToAnyOf: [.int(127), .double(1.0), .string("x")])?.setBits == [0, 3])
        #expect(idx.rows(lower: FilterBound(.int(200), inclusive: true), upper: nil)?.setBits == [])
        let names = try ScalarIndex.build(.trie, over: seg.column(named: "name")!, rowCount: seg.rowCount)
        #expect(names.rows(withPrefix: "be")?.setBits == [1])
        #expect(names.rows(withPrefix: "")?.setBits == [0, 1, 2, 3])
        #expect(names.rows(lower: FilterBound(.string("b"), inclusive: true), upper: FilterBound(.string("d"), inclusive: false))?.setBits == [1])
        let flags = try ScalarIndex.build(.bitmap, over: seg.column(named: "b")!, rowCount: seg.rowCount)
        #expect(flags.rows(equalToAnyOf: [.bool(true)])?.setBits == [0, 3])
    }

    /// The same answers with and without indexes, for every index type, over random data.
    @Test(arguments: [ScalarIndexType?.none, .inverted, .stlSort, .bitmap, .trie])
    func indexedEvaluationAgrees(type: ScalarIndexType?) throws {
        let seed: UInt64 = 77
        print("scalar index differential: seed \(seed), \(type?.rawValue ?? "AUTOINDEX")")
        var g = FilterGenerator(seed: seed)
        let rows = (0..<300).map { g.row(id: $0) }
        let plain = FilterTestSegment(schema: F.schema, rows: rows, chunkShift: 5)
        let indexed = try IndexedSegment(plain, type: type)
        #expect(!indexed.indexes.isEmpty)
        var used = 0
        for k in 0..<300 {
            let (text, templates) = g.expression()
            let filter = try CompiledFilter(text, schema: F.schema, templateValues: templates)
            #expect(filter.evaluate(on: indexed) == filter.evaluate(on: plain), "seed \(seed) expression \(k): \(text)")
            if FilterEvaluator(segment: indexed, plan: filter.plan).isIndexAnswerable(filter.plan) { used += 1 }
        }
        // Plus targeted leaves on indexed columns.
        for text in ["i8 > 0", "i8 != 1", "i16 in [1, 2, 3]", "-2 <= i32 < 3", "f >= 0.5", "d == 0.5", "s like 'a%'", "name like 'ab'",
                     "s == 'b'", "s != 'b'", "b", "b == false", "not (i64 > 0)", "id in [3, 5, 400]", "name > 'a' and i16 < 0",
                     "s in ['a', 'ab', 'x']", "i8 in [127, 1.5]", "i64 < 9.3e18", "f < 1e300", "s like '日%'"] {
            let filter = try F.compile(text)
            #expect(filter.evaluate(on: indexed) == filter.evaluate(on: plain), "\(text)")
        }
        #expect(used > 0)
    }

    @Test func selectivityIsExactWhenIndexesAnswer() throws {
        var g = FilterGenerator(seed: 5)
        let rows = (0..<5000).map { g.row(id: $0) }
        let seg = try IndexedSegment(FilterTestSegment(schema: F.schema, rows: rows), type: nil)
        let filter = try F.compile("i32 > 2 and s like 'a%'")
        let e = filter.estimateSelectivity(on: seg)
        #expect(e.isExact)
        #expect(e.fraction == filter.evaluate(on: seg).density)
        #expect(try !F.compile("j['a'] > 0").estimateSelectivity(on: seg).isExact)
    }

    @Test(arguments: ScalarIndexType.allCases)
    func fileRoundTripAndCorruption(type: ScalarIndexType) throws {
        let seg = F.segment
        let field = type == .stlSort ? "d" : (type == .bitmap ? "i8" : "s")
        let idx = try ScalarIndex.build(type, over: seg.column(named: field)!, rowCount: seg.rowCount)
        let bytes = idx.serialized()
        #expect(try ScalarIndex(serialized: bytes) == idx)
        for cut in 0..<bytes.count {
            #expect(throws: ScalarIndexError.self) { try ScalarIndex(serialized: Array(bytes.prefix(cut))) }
        }
        for i in 0..<bytes.count {
            var damaged = bytes
            damaged[i] ^= 0x5A
            let e = #expect(throws: ScalarIndexError.self) { try ScalarIndex(serialized: damaged) }
            #expect(e?.isCallerFault == false)
        }
    }
}
