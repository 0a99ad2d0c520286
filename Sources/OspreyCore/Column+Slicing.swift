extension ColumnData {
    /// The rows at `indices`, in that order.
    public func gathering(_ indices: [Int]) -> ColumnData {
        func g<T>(_ a: [T]) -> [T] { indices.map { a[$0] } }
        func gv<T>(_ a: [T], _ per: Int) -> [T] {
            var out: [T] = []
            out.reserveCapacity(indices.count * per)
            for i in indices { out.append(contentsOf: a[i * per ..< (i + 1) * per]) }
            return out
        }
        switch self {
        case .bool(let a): return .bool(g(a))
        case .int8(let a): return .int8(g(a))
        case .int16(let a): return .int16(g(a))
        case .int32(let a): return .int32(g(a))
        case .int64(let a): return .int64(g(a))
        case .float(let a): return .float(g(a))
        case .double(let a): return .double(g(a))
        case .string(let a): return .string(g(a))
        case .json(let a): return .json(g(a))
        case .array(let a): return .array(g(a))
        case .sparseFloatVector(let a): return .sparseFloatVector(g(a))
        case .floatVector(let d, let a): return .floatVector(dim: d, gv(a, d))
        case .float16Vector(let d, let a): return .float16Vector(dim: d, gv(a, d))
        case .bfloat16Vector(let d, let a): return .bfloat16Vector(dim: d, gv(a, d))
        case .int8Vector(let d, let a): return .int8Vector(dim: d, gv(a, d))
        case .binaryVector(let d, let a): return .binaryVector(dim: d, gv(a, (d + 7) / 8))
        }
    }
}

extension ColumnBatch {
    /// The rows at `indices`, in that order.
    public func gathering(_ indices: [Int]) -> ColumnBatch {
        var out = ColumnBatch(rowCount: indices.count)
        for (name, c) in columns {
            out[name] = Column(c.data.gathering(indices), validity: c.validity.map { v in indices.map { v[$0] } })
        }
        return out
    }
}
