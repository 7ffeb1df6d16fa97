import Foundation
import Testing
@testable import H5Batch

@Suite("HDF5 layer")
struct HDF5Tests {
    @Test func rowSelectionCoversRangesInOrder() {
        // Rank 3 [4, 5, F]: rows 3..<17 = (0, 3..<5), (1..<3, all), (3, 0..<2).
        let blocks = RowSelection.blocks(rows: 3..<17, leading: [4, 5], rowWidth: 2)
        #expect(blocks == [Block(start: [0, 3, 0], count: [1, 2, 2]),
                           Block(start: [1, 0, 0], count: [2, 5, 2]),
                           Block(start: [3, 0, 0], count: [1, 2, 2])])
        #expect(RowSelection.blocks(rows: 6..<8, leading: [4, 5], rowWidth: 2) == [Block(start: [1, 1, 0], count: [1, 2, 2])])
        #expect(RowSelection.blocks(rows: 0..<1, leading: [], rowWidth: 9) == [Block(start: [0], count: [9])])
        // Every split of a rank-4 range selects exactly its rows.
        let leading = [3, 4, 5]
        for start in stride(from: 0, to: 60, by: 7) {
            for end in stride(from: start + 1, through: 60, by: 5) {
                let covered = RowSelection.blocks(rows: start..<end, leading: leading, rowWidth: 1).reduce(0) {
                    $0 + $1.count.reduce(1, *)
                }
                #expect(covered == end - start)
            }
        }
    }

    @Test("rows of a rank-3 dataset round-trip through any row ranges")
    func roundTripRank3() throws {
        let folder = TemporaryFolder()
        let file = try HDF5File.create(folder.file("r3.h5"))
        let shape = [6, 7, 3]
        let dataset = try file.createDataset("/a/b/c", type: .float64, shape: shape,
                                             layout: .init(chunks: [2, 3, 3], gzipLevel: 1, shuffle: true))
        let values = (0..<(6 * 7 * 3)).map { Float($0) }
        var start = 0
        for count in [5, 1, 13, 8, 15] {  // uneven ranges cutting through the leading dimensions
            try values.withUnsafeBufferPointer {
                try dataset.write(rows: start..<start + count, from: UnsafeBufferPointer(rebasing: $0[(start * 3)..<((start + count) * 3)]))
            }
            start += count
        }
        #expect(start == 42)
        try file.close()
        let reopened = try HDF5File.open(folder.file("r3.h5"))
        let back = try reopened.dataset("/a/b/c")
        #expect(back.shape == shape)
        #expect(back.elementType == ElementType(kind: .float, size: 8))
        #expect(back.chunkShape == [2, 3, 3])
        #expect(back.filters.map(\.description) == ["shuffle", "gzip(1)"])
        #expect(try back.readAll() == values)
        var middle = [Float](repeating: 0, count: 11 * 3)
        try middle.withUnsafeMutableBufferPointer { try back.read(rows: 9..<20, into: $0) }
        #expect(middle == Array(values[27..<60]))
    }

    @Test func float16OutputIsIEEEHalf() throws {
        let folder = TemporaryFolder()
        let file = try HDF5File.create(folder.file("h.h5"))
        let dataset = try file.createDataset("x", type: .float16, shape: [4], layout: .init())
        try [Float(1.5), -2, 65504, 0.0009765625].withUnsafeBufferPointer { try dataset.write(rows: 0..<1, from: $0) }
        try file.close()
        let (values, _) = try readDataset(folder.file("h.h5"), "x")
        #expect(values == [1.5, -2, 65504, 0.0009765625])
        #expect(try HDF5File.open(folder.file("h.h5")).dataset("x").elementType.description == "float16")
    }

    @Test func attributesRoundTrip() throws {
        let folder = TemporaryFolder()
        let file = try HDF5File.create(folder.file("a.h5"))
        let dataset = try file.createDataset("x", type: .float32, shape: [2, 2])
        try dataset.setAttribute("note", string: "héllo")
        try dataset.setAttribute("note", string: "replaced")
        try dataset.setAttribute("values", doubles: [1, 2.5])
        #expect(try dataset.stringAttribute("note") == "replaced")
        #expect(try dataset.stringAttribute("missing") == nil)
    }

    @Test("failures are classified from HDF5's error stack")
    func errorReasons() throws {
        let folder = TemporaryFolder()
        let text = folder.write("plain.txt", "not hdf5 at all\n")
        #expect(throws: HDF5Error.self) { try HDF5File.open(text) }
        do { _ = try HDF5File.open(text) } catch let error as HDF5Error { #expect(error.reason == .notHDF5) }
        do { _ = try HDF5File.open(folder.file("missing.h5")) } catch let error as HDF5Error { #expect(error.reason == .notFound) }

        // A truncated copy of a real file.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Repo.data + "/cases.h5"))
        let truncated = folder.file("truncated.h5")
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: truncated))
        do {
            let file = try HDF5File.open(truncated)
            _ = try file.datasetPaths().map { try file.dataset($0).readAll() }
            Issue.record("reading a truncated file succeeded")
        } catch let error as HDF5Error {
            #expect([.corrupt, .io, .filterFailed].contains(error.reason), "\(error)")
        }

        let file = try HDF5File.open(Repo.data + "/cases.h5")
        #expect(try !file.hasDataset("/nope"))
        #expect(try !file.hasDataset("/types"))  // a group
        do { _ = try file.dataset("/nope/deeper") } catch let error as HDF5Error {
            #expect(error.reason == .notFound)
            #expect(error.description == "cannot open dataset /nope/deeper in \(Repo.data)/cases.h5: no such dataset")
        }
    }

    @Test func chunkGeometry() {
        #expect(BatchPlan.chunkShape(rows: 100, leading: [1000], width: 8) == [100, 8])
        #expect(BatchPlan.chunkShape(rows: 5000, leading: [1000], width: 8) == [1000, 8])
        #expect(BatchPlan.chunkShape(rows: 100, leading: [10, 37], width: 8) == [2, 37, 8])
        #expect(BatchPlan.chunkShape(rows: 20, leading: [10, 37], width: 8) == [1, 20, 8])
        #expect(BatchPlan.chunkShape(rows: 20, leading: [], width: 8) == [8])
        let plan = BatchPlan(rows: 10, batchRows: 4)
        #expect(plan.count == 3 && plan.batch(2) == 8..<10)
        // 8192-row chunks of 256 float32 (8 MiB) for 8192-row batches: two chunks' worth.
        #expect(BatchPlan.chunkCacheBytes(batchRows: 8192, shape: [1 << 20, 256], chunks: [8192, 256], elementSize: 4) == 16 << 20)
    }
}
