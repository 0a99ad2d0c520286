import Testing
import OspreyCore
@testable import OspreyIndex

/// A copy of an index image at a fixed, 64-byte aligned address for as long as the object
/// lives — what a file mapping gives the loaders.
final class PinnedRegion: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(_ bytes: [UInt8]) {
        count = bytes.count
        pointer = .allocate(byteCount: Swift.max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { pointer.copyMemory(from: b, byteCount: $0.count) } }
    }

    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }

    func contains(_ p: UnsafeRawPointer) -> Bool { p >= UnsafeRawPointer(pointer) && p < UnsafeRawPointer(pointer) + count }

    deinit { pointer.deallocate() }
}

/// Index images loaded from a region at a fixed address (a mapped file) are searched in place:
/// same answers as the built index, no copy of the large arrays, memory accounted as mapped
/// or heap by where the region lives; short or damaged regions are errors, never traps.
@Suite struct IndexImageTests {
    static let seed: UInt64 = 41

    func built(_ indexType: String, metric: Metric) throws -> (any VectorIndex, SmallDataset) {
        let data = SmallDataset(count: 1_500, queries: 12, dim: 24, metric: metric, k: 10, seed: Self.seed)
        let index = try IndexFactory.make(indexType: indexType, metricType: metric.rawValue, params: indexType == "HNSW" ? ["M": "8", "efConstruction": "64"] : [:],
                                          type: .floatVector, dim: data.dim)
        try index.add(try data.source())
        try index.remove([RowID(3), RowID(700)])
        return (index, data)
    }

    /// The start of the large array each loader should use in place.
    func largeArray(_ index: any VectorIndexRead) -> UnsafeRawPointer? {
        if let flat = index as? FlatIndex { return UnsafeRawPointer(flat.state.withLock { $0.storage.vectors.pointer }) }
        if let hnsw = index as? HNSWIndex { return hnsw.state.withLock { $0.graph.map { UnsafeRawPointer($0.level0.pointer) } } }
        return nil
    }

    @Test(arguments: [("FLAT", Metric.l2), ("FLAT", .ip), ("HNSW", .l2), ("HNSW", .cosine)])
    func pinnedImagesAreSearchedInPlace(indexType: String, metric: Metric) throws {
        let (index, data) = try built(indexType, metric: metric)
        let image = index.serialized()
        let p = SearchParameters(k: 10, ef: 48)
        let expected = try index.search(floats: data.queries, parameters: p)
        let fromArray = try IndexFactory.load(image)
        #expect(fromArray.mappedBytes == 0)
        #expect(fromArray.memoryBytes == index.memoryBytes, "an array image is copied out, as when built")
        for mapped in [true, false] {
            let region = PinnedRegion(image)
            let loaded = try IndexFactory.load(IndexFile.parse(IndexImage(region: region.buffer, mapped: mapped, owner: region)))
            #expect(loaded.count == index.count)
            let got = try loaded.search(floats: data.queries, parameters: p)
            #expect(got.map { $0.map(\.row) } == expected.map { $0.map(\.row) }, "\(indexType) \(metric) mapped \(mapped)")
            #expect(got.map { $0.map(\.distance) } == expected.map { $0.map(\.distance) })
            #expect(!got.joined().contains { $0.row.index == 3 || $0.row.index == 700 }, "removed rows stay removed")
            let array = try #require(largeArray(loaded))
            #expect(region.contains(array), "the vectors / level-0 blocks point into the image")
            if mapped {
                #expect(loaded.mappedBytes == image.count)
                #expect(loaded.memoryBytes < image.count / 4, "only small tables (norms, bitmap) are on the heap")
            } else {
                #expect(loaded.mappedBytes == 0)
                #expect(loaded.memoryBytes >= image.count, "a heap region is counted whole")
            }
            #expect(loaded.serialized() == image, "a loaded image saves to the same bytes")
        }
    }

    @Test func ivfImagesLoadFromARegionByCopying() throws {
        let data = SmallDataset(count: 2_000, queries: 8, dim: 16, metric: .l2, k: 10, seed: Self.seed)
        for indexType in ["IVF_FLAT", "IVF_SQ8"] {
            let index = try IndexFactory.make(indexType: indexType, metricType: "L2", params: ["nlist": "16"], type: .floatVector, dim: 16)
            try index.train(try data.source())
            try index.add(try data.source())
            let image = index.serialized()
            let region = PinnedRegion(image)
            let loaded = try IndexFactory.load(IndexFile.parse(IndexImage(region: region.buffer, mapped: true, owner: region)))
            let p = SearchParameters(k: 10, nprobe: 4)
            #expect(try loaded.search(floats: data.queries, parameters: p) == index.search(floats: data.queries, parameters: p))
            #expect(loaded.mappedBytes == 0 && loaded.memoryBytes == index.memoryBytes, "IVF lists are copied out")
        }
    }

    @Test func shortAndDamagedRegionsAreErrors() throws {
        for indexType in ["FLAT", "HNSW"] {
            let (index, _) = try built(indexType, metric: .l2)
            let image = index.serialized()
            for cut in [0, 8, 63, 64, 65, image.count / 2, image.count - 1] {
                let region = PinnedRegion(Array(image[0..<cut]))
                #expect(throws: IndexError.self, "\(indexType) cut at \(cut)") {
                    try IndexFactory.load(IndexFile.parse(IndexImage(region: region.buffer, mapped: true, owner: region)))
                }
            }
            for at in stride(from: 0, to: image.count, by: 997) {
                var bad = image
                bad[at] ^= 0x5A
                let region = PinnedRegion(bad)
                #expect(throws: IndexError.self, "\(indexType) byte \(at) flipped") {
                    try IndexFactory.load(IndexFile.parse(IndexImage(region: region.buffer, mapped: true, owner: region)))
                }
            }
        }
    }

    @Test func imageOutlivesItsOwnerReference() throws {
        // The loaded index keeps the region alive after every other reference is gone.
        let (index, data) = try built("HNSW", metric: .l2)
        let p = SearchParameters(k: 5)
        let expected = try index.search(floats: data.queries, parameters: p)
        let loaded: any VectorIndex = try {
            let region = PinnedRegion(index.serialized())
            return try IndexFactory.load(IndexFile.parse(IndexImage(region: region.buffer, mapped: true, owner: region)))
        }()
        #expect(rows(try loaded.search(floats: data.queries, parameters: p)) == rows(expected))
    }
}
