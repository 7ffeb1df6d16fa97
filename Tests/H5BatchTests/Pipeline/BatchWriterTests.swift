import Foundation
import Testing
@testable import H5Batch

/// `BatchWriter` on the hyperslab path: every chunk reaches HDF5 once, whole, so rows after a
/// batch's last chunk boundary are carried over to the next batch, and `completeRows` only ever
/// stands at a chunk boundary (or the end).
@Suite("BatchWriter: the hyperslab path's carry")
struct BatchWriterTests {
    /// An output dataset and the batches written to it.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let shape: [Int]
        let chunks: [Int]
        var type: StorageType = .float32
        var gzip: Int? = nil
        /// The writer's batch rows (decides the path with `allowRawChunks`).
        let batchRows: Int
        var allowRawChunks = true
        /// Rows of each batch, in order; they add up to the dataset's rows.
        let batches: [Int]
        /// Rows where a chunk starts, worked out by hand.
        let boundaries: [Int]
        var testDescription: String { name }

        var rows: Int { shape.dropLast().reduce(1, *) }
        var width: Int { shape.last! }
    }

    static let cases: [Case] = [
        Case(name: "chunks of 8 rows, batches of odd sizes", shape: [50, 3], chunks: [8, 3], batchRows: 7,
             batches: [5, 11, 3, 9, 7, 15], boundaries: Array(stride(from: 0, to: 50, by: 8))),
        Case(name: "float16 with shuffle and gzip, a batch inside one chunk", shape: [50, 3], chunks: [8, 3], type: .float16,
             gzip: 4, batchRows: 7, batches: [1, 2, 13, 8, 26], boundaries: Array(stride(from: 0, to: 50, by: 8))),
        Case(name: "rank 3: chunks of 4 rows that end early at each slab's edge", shape: [5, 10, 3], chunks: [1, 4, 3],
             batchRows: 7, batches: [3, 6, 9, 5, 12, 15],
             boundaries: (0..<5).flatMap { slab in [0, 4, 8].map { slab * 10 + $0 } }),
        Case(name: "raw chunk I/O disabled: batches of whole chunks", shape: [48, 4], chunks: [8, 4], batchRows: 16,
             allowRawChunks: false, batches: [16, 16, 16], boundaries: Array(stride(from: 0, to: 48, by: 8))),
    ]

    static func value(_ row: Int, _ column: Int) -> Float { Float(row * 8 + column) }  // exact in float16

    /// A batch holding `rows` of `width` values from `value`, encoded as a worker would.
    static func batch(_ rows: Range<Int>, width: Int, writer: BatchWriter,
                      value: (Int, Int) -> Float = BatchWriterTests.value) -> Batch {
        let capacity = max(1, rows.count * width)
        let batch = Batch(input: FloatBuffer(capacity: capacity), output: FloatBuffer(capacity: capacity))
        batch.rows = rows
        let output = batch.output.prefix(rows.count * width)
        for (offset, row) in rows.enumerated() {
            for column in 0..<width { output[offset * width + column] = value(row, column) }
        }
        writer.encoder?.encode(batch, with: WorkerState())
        return batch
    }

    static func create(_ path: String, _ testCase: Case) throws -> (HDF5File, Dataset) {
        let file = try HDF5File.create(path)
        let dataset = try file.createDataset("/y", type: testCase.type, shape: testCase.shape,
                                             layout: .init(chunks: testCase.chunks, gzipLevel: testCase.gzip, shuffle: testCase.gzip != nil))
        return (file, dataset)
    }

    @Test("batches of any size written in order store exactly their rows; completeRows stops at chunk boundaries until the last batch",
          arguments: BatchWriterTests.cases)
    func carry(_ testCase: Case) throws {
        let folder = TemporaryFolder()
        let path = folder.file("out.h5")
        #expect(testCase.batches.reduce(0, +) == testCase.rows)
        var complete: [Int] = []
        do {
            let (file, dataset) = try Self.create(path, testCase)
            let writer = BatchWriter(dataset: dataset, type: testCase.type, batchRows: testCase.batchRows,
                                     allowRawChunks: testCase.allowRawChunks)
            #expect(writer.pathDescription == "hyperslab")
            #expect(writer.encoder?.layout == nil)
            var first = 0
            for count in testCase.batches {
                try writer.write(Self.batch(first..<(first + count), width: testCase.width, writer: writer))
                first += count
                complete.append(writer.completeRows)
            }
            try file.close()
        }
        var ends: [Int] = []
        for count in testCase.batches { ends.append((ends.last ?? 0) + count) }
        let expected = ends.map { end in end == testCase.rows ? end : testCase.boundaries.last { $0 <= end }! }
        #expect(complete == expected)
        let stored = try readDataset(path, "/y")
        #expect(stored.shape == testCase.shape)
        let values = (0..<testCase.rows).flatMap { row in (0..<testCase.width).map { Self.value(row, $0) } }
        #expect(stored.values == values)
    }

    @Test("the same geometry with raw chunk I/O allowed and batches of whole chunks takes the raw path (the case above is the exception)")
    func rawPathWhenAllowed() throws {
        let folder = TemporaryFolder()
        var testCase = Self.cases[3]
        testCase.allowRawChunks = true
        let (file, dataset) = try Self.create(folder.file("out.h5"), testCase)
        defer { try? file.close() }
        #expect(BatchWriter(dataset: dataset, type: .float32, batchRows: 16).pathDescription == "raw chunks")
        #expect(BatchWriter(dataset: dataset, type: .float32, batchRows: 16, allowRawChunks: false).pathDescription == "hyperslab")
        #expect(BatchWriter(dataset: dataset, type: .float32, batchRows: 12).pathDescription == "hyperslab")
    }

    @Test("a resumed writer (firstRow at a chunk boundary) never rewrites rows before it, though its first batch starts earlier")
    func resumedFirstBatch() throws {
        let folder = TemporaryFolder()
        let path = folder.file("out.h5")
        let testCase = Case(name: "resume", shape: [40, 2], chunks: [8, 2], batchRows: 6, batches: [], boundaries: [])
        func later(_ row: Int, _ column: Int) -> Float { 1000 + Self.value(row, column) }
        var complete: [Int] = []
        do {
            let (file, dataset) = try Self.create(path, testCase)
            // The first run writes three batches: rows 0..<16 reach the file, 16..<18 are carried
            // (and lost, as when a run stops).
            let writer = BatchWriter(dataset: dataset, type: .float32, batchRows: 6)
            for start in stride(from: 0, to: 18, by: 6) { try writer.write(Self.batch(start..<(start + 6), width: 2, writer: writer)) }
            #expect(writer.completeRows == 16)
            // The resumed run starts at the batch holding row 16 (12..<18), with other values.
            let resumed = BatchWriter(dataset: dataset, type: .float32, batchRows: 6, firstRow: 16)
            #expect(resumed.completeRows == 16)
            for start in stride(from: 12, to: 40, by: 6) {
                try resumed.write(Self.batch(start..<min(40, start + 6), width: 2, writer: resumed, value: later))
                complete.append(resumed.completeRows)
            }
            try file.close()
        }
        #expect(complete == [16, 24, 24, 32, 40])
        let stored = try readDataset(path, "/y").values
        let expected = (0..<40).flatMap { row in (0..<2).map { row < 16 ? Self.value(row, $0) : later(row, $0) } }
        #expect(stored == expected)
    }
}
