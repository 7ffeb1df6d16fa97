import Foundation
import Testing
@testable import H5Batch

@Suite("Checkpoint records: round trip, damage")
struct CheckpointRecordTests {
    /// A record with every field set, none at a default.
    static func record(_ fixture: PartialFixture) throws -> Checkpoint {
        Checkpoint(runID: "6F1C2B0E-1111-4222-8333-944455556666", job: try fixture.identity([.relu, .elu(alpha: 0.5)]),
                   dataset: "/val/y", completedDatasets: ["/train/y"], rowsDone: 24, rowsTotal: 40,
                   fileBytes: 123_456, endOfAllocation: 120_000,
                   chunks: ChunkLedger.Summary(chunks: 3, digest: "9a3f00c1e2b4d5f6"),
                   // Beyond 2⁵³: kept exact as hex text.
                   inputDigest: .init(row: 24, digest: 0xFEDC_BA98_7654_3211), completedStatistics: nil,
                   saved: "2026-12-02T14:30:00Z")
    }

    @Test("a record written and read back has every field it was written with")
    func roundTrip() throws {
        let fixture = try PartialFixture()
        let record = try Self.record(fixture)
        let path = fixture.folder.file("out.h5.checkpoint")
        try record.write(to: path)
        let read = try #require(try Checkpoint.read(path))
        #expect(read == record)
        #expect(read.format == "h5batch checkpoint 2")
        #expect(read.runID == record.runID)
        #expect(read.job.sources.map(\.path) == [absolutePath(fixture.input)])
        #expect(read.job.sources.first?.state == (try FileState(path: fixture.input)))
        #expect(read.inputDigest.value == 0xFEDC_BA98_7654_3211)
        #expect(read.completedDatasets == ["/train/y"])
        // The keys are snake case, run ID included.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\"run_id\" : \"6F1C2B0E-1111-4222-8333-944455556666\""), "\(text)")
        #expect(text.contains("\"rows_done\" : 24"))
    }

    @Test("no record at the path reads as none, not as an error")
    func missing() throws {
        let folder = TemporaryFolder()
        #expect(try Checkpoint.read(folder.file("nothing.checkpoint")) == nil)
    }

    @Test("a truncated record is rejected as damaged data, wherever it was cut", arguments: [0, 1, 2, 3])
    func truncated(cut: Int) throws {
        let fixture = try PartialFixture()
        let path = fixture.folder.file("out.h5.checkpoint")
        try Self.record(fixture).write(to: path)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        // Empty, one byte, half, and all but its last three bytes.
        let length = [0, 1, whole.count / 2, whole.count - 3][cut]
        try whole.prefix(length).write(to: URL(fileURLWithPath: path))
        #expect(throws: H5BatchError(.data, "\(path) is not a checkpoint this version of h5batch writes")) {
            try Checkpoint.read(path)
        }
    }

    @Test("a record with a damaged byte, a missing field, a wrong type or another format is rejected")
    func damaged() throws {
        let fixture = try PartialFixture()
        let path = fixture.folder.file("out.h5.checkpoint")
        try Self.record(fixture).write(to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let damaged = [
            text.replacingOccurrences(of: "\"rows_done\" : 24,", with: "\"rows_done\" : 24;"),
            text.replacingOccurrences(of: "\"rows_done\" : 24,", with: ""),
            text.replacingOccurrences(of: "\"rows_done\" : 24,", with: "\"rows_done\" : \"24\","),
            text.replacingOccurrences(of: "h5batch checkpoint 2", with: "h5batch checkpoint 1"),
            "[]",
            String(repeating: "\u{0}", count: 64),
        ]
        for (index, variant) in damaged.enumerated() {
            #expect(variant != text || index >= 4, "variant \(index) did not change the record")
            try variant.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: H5BatchError(.data, "\(path) is not a checkpoint this version of h5batch writes"), "variant \(index)") {
                try Checkpoint.read(path)
            }
        }
    }
}

@Suite("Checkpointer: when it saves, and what its record says")
struct CheckpointerTests {
    @Test("a saved checkpoint records the partial file as flushed: rows, size, end of allocation, chunks, input digest")
    func save() throws {
        let fixture = try PartialFixture()
        let identity = try fixture.identity()
        let record: Checkpoint
        let runID: String
        do {
            let opened = try fixture.partial.open(resume: false, expecting: fixture.expectation(identity), onEvent: nil)
            try fixture.write(0..<24, to: opened)
            let checkpointer = fixture.checkpointer(opened, identity: identity, digests: fixture.digests(batches: 3))
            #expect(checkpointer.rowsSaved == 0)
            try checkpointer.save(upTo: 24)
            #expect(checkpointer.rowsSaved == 24)
            record = try #require(checkpointer.saved)
            runID = opened.runID
            #expect(record.fileBytes == (try opened.file.sizeOnDisk()))
            opened.file.abandon()
        }
        #expect(try Checkpoint.read(fixture.partial.recordPath) == record)
        #expect(record.runID == runID)
        #expect(record.job == identity)
        #expect(record.dataset == "/y")
        #expect(record.rowsDone == 24 && record.rowsTotal == 40)
        var info = stat()
        #expect(stat(fixture.partial.path, &info) == 0)
        #expect(record.fileBytes == Int(info.st_size))
        #expect(record.endOfAllocation == Superblock.endOfAllocation(ofFileAt: fixture.partial.path))
        #expect(record.chunks.chunks == 3)
        let digest = (0..<3).reduce(UInt64(0)) { $0 &+ PartialFixture.batchDigest($1) }
        #expect(record.inputDigest == .init(row: 24, digest: digest))
        #expect(record.statistics == nil)
        #expect(fixture.events.all == [.checkpointSaved(rowsDone: 24, rowsTotal: 40)])
    }

    @Test("with a row interval, a checkpoint is saved each time that many rows more are written, not before")
    func rowInterval() throws {
        let fixture = try PartialFixture()
        let identity = try fixture.identity()
        let opened = try fixture.partial.open(resume: false, expecting: fixture.expectation(identity), onEvent: nil)
        defer { opened.file.abandon() }
        let digests = fixture.digests(batches: 0)
        let checkpointer = fixture.checkpointer(opened, identity: identity, digests: digests, interval: 3600, rowInterval: 16)
        var saved: [Int] = []
        for batch in 0..<5 {
            let rows = (batch * 8)..<(batch * 8 + 8)
            try fixture.write(rows, to: opened)
            digests.append(PartialFixture.batchDigest(batch))
            try checkpointer.written(upTo: rows.upperBound)
            saved.append(try Checkpoint.read(fixture.partial.recordPath)?.rowsDone ?? 0)
        }
        #expect(saved == [0, 16, 16, 32, 32])
        #expect(fixture.events.all == [.checkpointSaved(rowsDone: 16, rowsTotal: 40), .checkpointSaved(rowsDone: 32, rowsTotal: 40)])
    }

    @Test("with an interval of 0, every write with progress saves a checkpoint, and one without progress does not")
    func everyWrite() throws {
        let fixture = try PartialFixture()
        let identity = try fixture.identity()
        let opened = try fixture.partial.open(resume: false, expecting: fixture.expectation(identity), onEvent: nil)
        defer { opened.file.abandon() }
        let digests = fixture.digests(batches: 0)
        let checkpointer = fixture.checkpointer(opened, identity: identity, digests: digests, interval: 0)
        try fixture.write(0..<8, to: opened)
        digests.append(PartialFixture.batchDigest(0))
        try checkpointer.written(upTo: 8)
        try checkpointer.written(upTo: 8)  // nothing new
        try fixture.write(8..<16, to: opened)
        digests.append(PartialFixture.batchDigest(1))
        try checkpointer.written(upTo: 16)
        #expect(fixture.events.all == [.checkpointSaved(rowsDone: 8, rowsTotal: 40), .checkpointSaved(rowsDone: 16, rowsTotal: 40)])
        #expect(try Checkpoint.read(fixture.partial.recordPath)?.chunks.chunks == 2)
    }

    @Test("a checkpoint at a chunk boundary inside a batch records the input digest of the batches before it")
    func insideBatch() throws {
        let fixture = try PartialFixture()
        let identity = try fixture.identity()
        let opened = try fixture.partial.open(resume: false, expecting: fixture.expectation(identity), onEvent: nil)
        defer { opened.file.abandon() }
        // Batches of 16 rows over chunks of 8: row 24 is inside batch 1.
        let digests = InputDigestLedger(plan: BatchPlan(rows: 40, batchRows: 16), before: 0)
        digests.append(0xA)
        digests.append(0xB)
        try fixture.write(0..<24, to: opened)
        let checkpointer = fixture.checkpointer(opened, identity: identity, digests: digests)
        try checkpointer.save(upTo: 24)
        let record = try #require(try Checkpoint.read(fixture.partial.recordPath))
        #expect(record.rowsDone == 24)
        #expect(record.inputDigest == .init(row: 16, digest: 0xA))
    }
}
