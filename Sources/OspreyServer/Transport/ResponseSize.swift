import SwiftProtobuf

/// A rough size of a response's encoding, cheap to compute, so that ``MilvusRoutes`` can
/// encode large results (a query returning many rows with vectors) on the worker pool
/// instead of holding the event loop. Only the row data counts; it errs on the low side
/// for nested arrays, which only makes the route keep a few more encodings on the loop.
protocol ApproximatelySized {
    var approximateEncodedBytes: Int { get }
}

extension Milvus_QueryResults: ApproximatelySized {
    var approximateEncodedBytes: Int { fieldsData.reduce(0) { $0 + $1.approximateEncodedBytes } }
}

extension Milvus_SearchResults: ApproximatelySized {
    var approximateEncodedBytes: Int {
        let ids: Int
        switch results.ids.idField {
        case .intID(let longs)?: ids = longs.data.count * 8
        case .strID(let strings)?: ids = strings.data.reduce(0) { $0 + $1.utf8.count + 2 }
        case nil: ids = 0
        }
        return results.fieldsData.reduce(ids + results.scores.count * 4) { $0 + $1.approximateEncodedBytes }
    }
}

extension Schema_FieldData {
    var approximateEncodedBytes: Int {
        switch field {
        case .scalars(let scalars)?: scalars.approximateEncodedBytes + validData.count
        case .vectors(let vectors)?: vectors.approximateEncodedBytes + validData.count
        case .structArrays, nil: validData.count
        }
    }
}

extension Schema_ScalarField {
    var approximateEncodedBytes: Int {
        switch data {
        case .boolData(let a)?: a.data.count
        case .intData(let a)?: a.data.count * 5
        case .longData(let a)?: a.data.count * 10
        case .floatData(let a)?: a.data.count * 4
        case .doubleData(let a)?: a.data.count * 8
        case .stringData(let a)?: a.data.reduce(0) { $0 + $1.utf8.count + 2 }
        case .bytesData(let a)?: a.data.reduce(0) { $0 + $1.count + 2 }
        case .jsonData(let a)?: a.data.reduce(0) { $0 + $1.count + 2 }
        case .arrayData(let a)?: a.data.reduce(0) { $0 + $1.approximateEncodedBytes + 2 }
        case .timestamptzData(let a)?: a.data.count * 10
        default: 0
        }
    }
}

extension Schema_VectorField {
    var approximateEncodedBytes: Int {
        switch data {
        case .floatVector(let a)?: a.data.count * 4
        case .binaryVector(let d)?, .float16Vector(let d)?, .bfloat16Vector(let d)?, .int8Vector(let d)?: d.count
        case .sparseFloatVector(let a)?: a.contents.reduce(0) { $0 + $1.count + 2 }
        case .vectorArray, nil: 0
        }
    }
}
