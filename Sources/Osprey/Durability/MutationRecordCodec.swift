import OspreyCore
import OspreyStorage

// WAL payloads written by the engine (docs/storage.md §14). Each WAL record
// holds exactly one mutation; `batch` is as in ValueCodec.swift:
//
//   record   := u8(kind) zigzag(collectionID) u64(timestamp) body
//   kind 1 insert   body := varint(p) (string(partition name) zigzag(partition id))*p
//                           varint(rows) varint(partition index)*rows batch
//   kind 2 delete   body := u8(has partition) [string(partition)] varint(k) key*k
//   key      := u8(0) zigzag(int64) | u8(1) string

/// Encodes and decodes `MutationRecord`s as WAL payloads (grammar above).
///
/// Thread safety: stateless.
enum MutationRecordCodec {
    static func encode(_ record: MutationRecord) -> [UInt8] {
        var w: ByteWriter
        if case let .insert(_, _, _, _, _, batch) = record { w = ByteWriter(capacity: estimatedSize(batch)) } else { w = ByteWriter() }
        switch record {
        case let .insert(collectionID, partitions, partitionIDs, rowPartition, timestamp, batch):
            w.write(UInt8(1))
            w.writeSignedVarint(collectionID)
            w.write(timestamp.rawValue)
            w.writeVarint(UInt64(partitions.count))
            for (name, id) in zip(partitions, partitionIDs) { w.writeString(name); w.writeSignedVarint(id) }
            w.writeVarint(UInt64(rowPartition.count))
            for p in rowPartition { w.writeVarint(UInt64(UInt32(bitPattern: p))) }
            ValueCodec.write(batch, to: &w)
        case let .delete(collectionID, partition, keys, timestamp):
            w.write(UInt8(2))
            w.writeSignedVarint(collectionID)
            w.write(timestamp.rawValue)
            if let partition { w.write(UInt8(1)); w.writeString(partition) } else { w.write(UInt8(0)) }
            w.writeVarint(UInt64(keys.count))
            for k in keys {
                switch k {
                case .int(let i): w.write(UInt8(0)); w.writeSignedVarint(i)
                case .string(let s): w.write(UInt8(1)); w.writeString(s)
                }
            }
        }
        return w.bytes
    }

    static func decode(_ payload: UnsafeRawBufferPointer) throws -> MutationRecord {
        var r = ByteReader(payload)
        let kind = try r.readUInt8()
        let collectionID = try r.readSignedVarint()
        let ts = Timestamp(rawValue: try r.readUInt64())
        let record: MutationRecord
        switch kind {
        case 1:
            var names: [String] = [], ids: [Int64] = []
            for _ in 0..<(try ValueCodec.readCount(&r)) { names.append(try r.readString()); ids.append(try r.readSignedVarint()) }
            let rows = try ValueCodec.readCount(&r)
            var rowPartition = [Int32](repeating: 0, count: rows)
            for i in 0..<rows {
                let p = try r.readVarint()
                guard p < UInt64(names.count) else { throw RecordDecodingError("row \(i) names partition \(p) of \(names.count)") }
                rowPartition[i] = Int32(p)
            }
            let batch = try ValueCodec.readBatch(&r)
            guard batch.rowCount == rows else { throw RecordDecodingError("\(rows) row partitions for \(batch.rowCount) rows") }
            record = .insert(collectionID: collectionID, partitions: names, partitionIDs: ids, rowPartition: rowPartition,
                             timestamp: ts, batch: batch)
        case 2:
            let partition = try r.readUInt8() != 0 ? try r.readString() : nil
            var keys: [PrimaryKey] = []
            for _ in 0..<(try ValueCodec.readCount(&r)) {
                let tag = try r.readUInt8()
                switch tag {
                case 0: keys.append(.int(try r.readSignedVarint()))
                case 1: keys.append(.string(try r.readString()))
                default: throw RecordDecodingError("unknown primary key tag \(tag)")
                }
            }
            record = .delete(collectionID: collectionID, partition: partition, keys: keys, timestamp: ts)
        default:
            throw RecordDecodingError("unknown mutation kind \(kind)")
        }
        guard r.isAtEnd else { throw RecordDecodingError("\(r.remaining) bytes after a mutation record") }
        return record
    }

    /// A capacity hint for encoding a batch (fixed-width columns dominate).
    static func estimatedSize(_ batch: ColumnBatch) -> Int {
        var n = 64 + batch.rowCount * 2
        for c in batch.columns.values {
            switch c.data {
            case .floatVector(_, let v): n += v.count * 4
            case .float16Vector(_, let v), .bfloat16Vector(_, let v): n += v.count * 2
            case .int8Vector(_, let v): n += v.count
            case .binaryVector(_, let v): n += v.count
            default: n += c.count * 9
            }
        }
        return n
    }
}

/// The write-ahead log as the engine's mutation log: each mutation is one WAL record, and
/// its commit completes once it is as durable as the WAL's policy promises (by default
/// fsync'd; records submitted while a sync runs share the next one: group commit).
///
/// Thread safety: safe to call from several threads.
final class WALMutationLog: MutationLog {
    let wal: WriteAheadLog

    init(wal: WriteAheadLog) { self.wal = wal }

    func submit(_ record: MutationRecord) throws(OspreyError) -> MutationCommit {
        let bytes = MutationRecordCodec.encode(record)
        do { return MutationCommit(lsn: try wal.submit(bytes), directory: wal.directory) } catch {
            throw Durability.storageError(error, doing: "appending to the write-ahead log in \(wal.directory)")
        }
    }
}
