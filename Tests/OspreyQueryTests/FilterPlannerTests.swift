import OspreyCore
import OspreyTestSupport
import Testing
@testable import OspreyQuery

@Suite("Filter selectivity and primary keys")
struct FilterPlannerTests {
    typealias F = FilterFixtures

    static func bigSegment(rows n: Int) -> FilterTestSegment {
        var batch = ColumnBatch(rowCount: n)
        batch["id"] = Column(.int64((0..<n).map(Int64.init)))
        batch["i32"] = Column(.int32((0..<n).map { Int32($0 % 1000) }))
        batch["s"] = Column(.string((0..<n).map { $0 % 10 == 0 ? "ten" : "other" }), validity: (0..<n).map { $0 % 4 != 0 })
        return FilterTestSegment(schema: F.schema, batch: batch, chunkShift: 12)
    }

    @Test func estimatesAreCloseOnLargeSegments() throws {
        let seg = Self.bigSegment(rows: 100_000)
        for (text, truth) in [("i32 < 100", 0.1), ("i32 < 500", 0.5), ("i32 >= 0", 1.0), ("i32 == 5", 0.001), ("i32 < 0", 0.0),
                              ("s == 'ten'", 0.05), ("s is null", 0.25), ("i32 < 500 and s is not null", 0.375)] {
            let filter = try F.compile(text)
            let e = filter.estimateSelectivity(on: seg)
            let actual = filter.evaluate(on: seg).density
            #expect(abs(actual - truth) < 0.01, "\(text): actual \(actual)")
            #expect(!e.isExact)
            #expect(e.sampledRows == CompiledFilter.defaultSampleSize)
            #expect(abs(e.fraction - actual) < 0.08, "\(text): \(e) vs \(actual)")
            #expect(e.lowerBound <= actual + 0.02 && actual - 0.02 <= e.upperBound, "\(text): \(e) vs \(actual)")
        }
    }

    @Test func exactCases() throws {
        let small = F.segment
        let e = try F.compile("i8 > 0").estimateSelectivity(on: small)
        #expect(e.isExact)
        #expect(e.fraction == 0.5)
        #expect(try F.compile("").estimateSelectivity(on: small) == .exact(1))
        #expect(try F.compile("1 > 2").estimateSelectivity(on: small) == .exact(0))
        #expect(try F.compile("i8 > 0").estimateSelectivity(on: FilterTestSegment(schema: F.schema, rows: [])) == .exact(0))
    }

    struct SegmentWithStatistics: SegmentColumns, FilterStatisticsSource {
        let base: FilterTestSegment
        var rowCount: Int { base.rowCount }
        var schema: CollectionSchema { base.schema }
        func column(named name: String) -> ColumnView? { base.column(named: name) }
        func statistics(ofColumn name: String) -> FilterColumnStatistics? {
            name == "i32" ? FilterColumnStatistics(min: .int(0), max: .int(999)) : nil
        }
    }

    @Test func statisticsPruneImpossibleFilters() throws {
        let seg = SegmentWithStatistics(base: Self.bigSegment(rows: 10_000))
        #expect(try F.compile("i32 > 999").estimateSelectivity(on: seg) == .exact(0))
        #expect(try F.compile("i32 < 0 or i32 in [-1, 1000]").estimateSelectivity(on: seg) == .exact(0))
        #expect(try F.compile("2000 < i32 < 3000 and s == 'x'").estimateSelectivity(on: seg) == .exact(0))
        #expect(try F.compile("i32 >= 900").estimateSelectivity(on: seg).fraction > 0)
        #expect(try !F.compile("i32 > 999 or s == 'ten'").estimateSelectivity(on: seg).isExact)
    }

    @Test func computedStatistics() throws {
        let seg = F.segment
        #expect(FilterColumnStatistics.compute(seg.column(named: "i8")!, rowCount: 4) == FilterColumnStatistics(min: .int(-3), max: .int(127), nullCount: 1))
        #expect(FilterColumnStatistics.compute(seg.column(named: "name")!, rowCount: 4) == FilterColumnStatistics(min: .string("alpha"), max: .string("gamma")))
        #expect(FilterColumnStatistics.compute(seg.column(named: "f")!, rowCount: 4) == FilterColumnStatistics(min: .double(-1), max: .double(2.5)))
        #expect(FilterColumnStatistics.compute(seg.column(named: "j")!, rowCount: 4) == nil)
        #expect(try F.compile("i8 > 0 and j['a'] == 1").columnNames == ["i8", "j"])
        #expect(try F.compile("color == 'red'").columnNames == ["$meta"])
    }

    @Test func primaryKeyRestrictions() throws {
        func r(_ text: String, _ schema: CollectionSchema = F.schema) throws -> FilterPrimaryKeyRestriction? {
            try F.compile(text, schema: schema).primaryKeyRestriction
        }
        #expect(try r("id in [3, 1, 2, 3]") == FilterPrimaryKeyRestriction(keys: [.int(1), .int(2), .int(3)], isExact: true))
        #expect(try r("id == 7") == FilterPrimaryKeyRestriction(keys: [.int(7)], isExact: true))
        #expect(try r("7 == id") == FilterPrimaryKeyRestriction(keys: [.int(7)], isExact: true))
        #expect(try r("id in [1.0, 2.5]") == FilterPrimaryKeyRestriction(keys: [.int(1)], isExact: true))
        #expect(try r("id > 10") == FilterPrimaryKeyRestriction(lower: FilterKeyBound(.int(11), inclusive: true), isExact: true))
        #expect(try r("id <= 2.5") == FilterPrimaryKeyRestriction(upper: FilterKeyBound(.int(2), inclusive: true), isExact: true))
        #expect(try r("10 < id <= 20") == FilterPrimaryKeyRestriction(lower: FilterKeyBound(.int(11), inclusive: true), upper: FilterKeyBound(.int(20), inclusive: true), isExact: true))
        #expect(try r("id > 10 and (i32 > 1 or s == 'a')") == FilterPrimaryKeyRestriction(lower: FilterKeyBound(.int(11), inclusive: true), isExact: false))
        #expect(try r("id > 10 and id < 20 and id in [5, 15, 25]") == FilterPrimaryKeyRestriction(keys: [.int(15)], isExact: true))
        #expect(try r("id == 1 or id in [4, 2]") == FilterPrimaryKeyRestriction(keys: [.int(1), .int(2), .int(4)], isExact: true))
        #expect(try r("id == 1 or i32 == 2") == nil)
        #expect(try r("id != 1") == nil)
        #expect(try r("i32 in [1, 2]") == nil)
        #expect(try r("not (id in [1])") == nil)
        #expect(try r("id > 9223372036854775807") == FilterPrimaryKeyRestriction(keys: [], isExact: true))
        #expect(try r("id in []") == FilterPrimaryKeyRestriction(keys: [], isExact: true))
        #expect(try r("1 > 2") == FilterPrimaryKeyRestriction(keys: [], isExact: true))
        let vs = F.varcharKeySchema
        #expect(try r("pk in ['b', 'a']", vs) == FilterPrimaryKeyRestriction(keys: [.string("a"), .string("b")], isExact: true))
        #expect(try r("pk >= 'k' and n > 1", vs) == FilterPrimaryKeyRestriction(lower: FilterKeyBound(.string("k"), inclusive: true), isExact: false))
        #expect(try r("'a' < pk < 'c'", vs) == FilterPrimaryKeyRestriction(lower: FilterKeyBound(.string("a"), inclusive: false), upper: FilterKeyBound(.string("c"), inclusive: false), isExact: true))
        let restriction = try #require(try r("'a' < pk < 'c'", vs))
        #expect(restriction.contains(.string("b")) && !restriction.contains(.string("c")) && !restriction.contains(.string("a")))
    }

    @Test func restrictionAgreesWithEvaluation() throws {
        // Every row the filter passes satisfies the restriction; exact restrictions pass exactly those rows.
        let seg = F.segment
        for text in ["id in [1, 3]", "id > 1 and i8 > 0", "id <= 3", "id == 2 or id == 4", "2 <= id < 4 and b"] {
            let filter = try F.compile(text)
            let r = try #require(filter.primaryKeyRestriction, "\(text)")
            let bits = filter.evaluate(on: seg)
            for i in 0..<seg.rowCount {
                let key = PrimaryKey.int(Int64(i + 1))
                if bits[i] { #expect(r.contains(key), "\(text) row \(i)") }
                if r.isExact { #expect(bits[i] == r.contains(key), "\(text) row \(i)") }
            }
        }
    }
}
