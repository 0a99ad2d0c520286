import Testing
@testable import OspreyCore

@Suite struct BitsetTests {
    @Test func setClearCountAndIterate() {
        var b = Bitset(count: 130)
        for i in [0, 63, 64, 129] { b.set(i) }
        #expect(b.cardinality == 4)
        #expect(b.setBits == [0, 63, 64, 129])
        b.clear(63)
        #expect(!b[63])
        #expect(b.inverted().cardinality == 127)
    }

    @Test func filledHasNoStrayTailBits() {
        let b = Bitset(count: 70, filled: true)
        #expect(b.cardinality == 70)
        var c = b
        c.resize(to: 65)
        #expect(c.cardinality == 65)
        c.resize(to: 80, fill: true)
        #expect(c.cardinality == 80)
    }

    @Test func topKKeepsSmallest() {
        var t = TopK(k: 3)
        for (i, d) in [5.0, 1.0, 4.0, 2.0, 3.0].enumerated() { t.push(distance: Float(d), row: RowID(i)) }
        #expect(t.sortedResults().map(\.distance) == [1, 2, 3])
    }
}
