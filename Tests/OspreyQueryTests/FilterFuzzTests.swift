import OspreyCore
import OspreyTestSupport
import Testing
@testable import OspreyQuery

/// Random bytes and random token sequences into the parser and type check: each input gives
/// a plan or a `FilterError` whose offset lies inside the input, never a crash; every plan
/// that comes out evaluates.
@Suite("Filter fuzz")
struct FilterFuzzTests {
    static let seeds: [UInt64] = [11, 12, 13]
    static let inputsPerSeed = 3000

    static let segment = FilterTestSegment(schema: FilterFixtures.schema, rows: FilterFixtures.rows, chunkShift: 1)

    func check(_ text: String, seed: UInt64, plans: inout Int) {
        let length = text.unicodeScalars.count
        do {
            let filter = try CompiledFilter(text, schema: FilterFixtures.schema, templateValues: ["t": .int(1), "l": .array([.int(1), .string("a")])])
            _ = filter.evaluate(on: Self.segment)
            _ = filter.estimateSelectivity(on: Self.segment)
            _ = filter.primaryKeyRestriction
            plans += 1
        } catch {
            #expect(error.offset >= 0 && error.offset <= length, "seed \(seed): offset \(error.offset) outside \(text.debugDescription)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test(arguments: seeds)
    func randomBytes(seed: UInt64) {
        print("filter fuzz (bytes): seed \(seed)")
        var rng = SeededGenerator(seed: seed)
        // Bytes biased towards the language's own characters, so that some inputs get deep.
        let alphabet = Array("()[]{}'\"\\ ,.<>=!&|+-*/%_ 0123456789abdefijnorstuxAINLOT$".utf8)
        var plans = 0
        for _ in 0..<Self.inputsPerSeed {
            let n = Int.random(in: 0...48, using: &rng)
            let bytes: [UInt8] = (0..<n).map { _ in
                Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            }
            check(String(decoding: bytes, as: UTF8.self), seed: seed, plans: &plans)
        }
        print("filter fuzz (bytes): seed \(seed): \(plans) plans")
    }

    static let vocabulary = [
        "i8", "i32", "s", "name", "b", "j", "tags", "words", "v", "k", "$meta", "nope", "id", "d",
        "[", "]", "(", ")", "{t}", "{l}", "{x}", ",", "'a'", "\"b%\"", "1", "-", "2.5", "0x10", "true", "FALSE",
        "==", "!=", "<", "<=", ">", ">=", "+", "*", "/", "%", "**", "and", "OR", "&&", "||", "not", "!", "in", "not in",
        "like", "is null", "IS NOT NULL", "exists", "json_contains", "array_contains_all", "array_length", "json_contains_any",
        "['a']", "[0]", "text_match", "'unterminated",
    ]

    @Test(arguments: seeds)
    func randomTokens(seed: UInt64) {
        print("filter fuzz (tokens): seed \(seed)")
        var rng = SeededGenerator(seed: seed)
        var plans = 0
        for _ in 0..<Self.inputsPerSeed {
            let n = Int.random(in: 1...14, using: &rng)
            let text = (0..<n).map { _ in Self.vocabulary.randomElement(using: &rng)! }.joined(separator: Bool.random(using: &rng) ? " " : "")
            check(text, seed: seed, plans: &plans)
        }
        print("filter fuzz (tokens): seed \(seed): \(plans) plans")
        #expect(plans > 0)
    }

    @Test func mutatedValidExpressions() {
        var rng = SeededGenerator(seed: 99)
        var g = FilterGenerator(seed: 99)
        var plans = 0
        for _ in 0..<1500 {
            var scalars = Array(g.expression().0.unicodeScalars)
            for _ in 0..<Int.random(in: 1...3, using: &rng) where !scalars.isEmpty {
                let i = Int.random(in: 0..<scalars.count, using: &rng)
                switch Int.random(in: 0...2, using: &rng) {
                case 0: scalars.remove(at: i)
                case 1: scalars.insert(scalars[Int.random(in: 0..<scalars.count, using: &rng)], at: i)
                default: scalars.swapAt(i, Int.random(in: 0..<scalars.count, using: &rng))
                }
            }
            var text = ""
            text.unicodeScalars.append(contentsOf: scalars)
            check(text, seed: 99, plans: &plans)
        }
        #expect(plans > 0)
    }
}
