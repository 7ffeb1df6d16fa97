import Foundation
import Testing
@testable import H5Batch

/// Collects what a run reports, from any thread (progress left out).
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [RunEvent] = []

    var sink: @Sendable (RunEvent) -> Void {
        { [self] event in
            if case .progress = event { return }
            lock.lock(); defer { lock.unlock() }
            events.append(event)
        }
    }

    var all: [RunEvent] {
        lock.lock(); defer { lock.unlock() }
        return events
    }
}

/// A small input, the partial output of a run over it (40 rows of 3 values, chunks of 8 rows),
/// and the pieces of the run that make and checkpoint it.
final class PartialFixture {
    let folder = TemporaryFolder()
    let input: String
    let output: String
    let rows = 40, width = 3, chunkRows = 8
    let events = EventLog()

    init() throws {
        input = folder.file("in.h5")
        output = folder.file("out.h5")
        var options = SyntheticData.Options(shape: [40, 3])
        options.chunkRows = 8
        options.seed = 4
        try SyntheticData.generate(path: input, dataset: "/x", options: options)
    }

    var partial: PartialOutput { PartialOutput(outputPath: output) }

    /// The identity of a run of `stages` over the input (as `PipelineRunner` forms it).
    func identity(_ stages: [StageConfig] = [.relu]) throws -> JobIdentity {
        let config = PipelineConfig(input: .init(file: input, dataset: "/x"), output: .init(file: output, dataset: "/y"),
                                    stages: stages)
        return try JobIdentity(config: config, batchRows: chunkRows, chunkRows: chunkRows)
    }

    func expectation(_ identity: JobIdentity) -> PartialOutput.Expectation {
        let (shape, chunks) = ([rows, width], [chunkRows, width])
        return PartialOutput.Expectation(
            identity: identity, dataset: "/y", shape: shape, chunks: chunks, rows: rows,
            create: { file in try file.createDataset("/y", type: .float32, shape: shape, layout: .init(chunks: chunks)) },
            open: { file in try file.dataset("/y") })
    }

    static func value(_ row: Int, _ column: Int) -> Float { Float(row) + Float(column) / 4 }

    /// Rows `rows` (whole chunks) as `value` gives them.
    func values(_ rows: Range<Int>) -> [Float] { rows.flatMap { row in (0..<width).map { Self.value(row, $0) } } }

    /// Writes `rows` (whole chunks, as `BatchWriter` hands them to HDF5) into the open output.
    func write(_ rows: Range<Int>, to opened: PartialOutput.Opened) throws {
        try values(rows).withUnsafeBufferPointer { try opened.dataset.write(rows: rows, from: $0) }
    }

    /// The per-batch input digests a run of batches of `chunkRows` records.
    static func batchDigest(_ index: Int) -> UInt64 { 0x1000 + UInt64(index) }

    /// An input digest ledger with the first `batches` batches recorded.
    func digests(batches: Int) -> InputDigestLedger {
        let ledger = InputDigestLedger(plan: BatchPlan(rows: rows, batchRows: chunkRows), before: 0)
        for index in 0..<batches { ledger.append(Self.batchDigest(index)) }
        return ledger
    }

    func checkpointer(_ opened: PartialOutput.Opened, identity: JobIdentity, digests: InputDigestLedger,
                      interval: Double = 0, rowInterval: Int? = nil) -> Checkpointer {
        Checkpointer(output: opened, ledger: opened.ledger!, digests: digests, identity: identity, rows: rows,
                     recordPath: partial.recordPath, interval: interval, rowInterval: rowInterval, onEvent: events.sink)
    }

    /// A run of `identity` that wrote rows 0..<`done` (a chunk boundary), saved a checkpoint
    /// there, and stopped (abandoning the file, as `PipelineRunner` does). Every HDF5 object of
    /// it is released on return.
    func stoppedRun(_ identity: JobIdentity, done: Int = 16) throws -> (runID: String, saved: Checkpoint) {
        let opened = try partial.open(resume: false, expecting: expectation(identity), onEvent: nil)
        try write(0..<done, to: opened)
        let saver = self.checkpointer(opened, identity: identity, digests: digests(batches: done / chunkRows))
        try saver.save(upTo: done)
        opened.file.abandon()
        return (opened.runID, try #require(saver.saved))
    }

    /// Rows `rows` of the open output's dataset.
    func read(_ rows: Range<Int>, from opened: PartialOutput.Opened) throws -> [Float] {
        var values = [Float](repeating: .nan, count: rows.count * width)
        try values.withUnsafeMutableBufferPointer { try opened.dataset.read(rows: rows, into: $0) }
        return values
    }
}

@Suite("PartialOutput: creating, resuming and refusing partial outputs")
struct PartialOutputTests {
    @Test("a new partial output is created with a run ID on its dataset and a chunk ledger, resuming from nothing")
    func create() throws {
        let fixture = try PartialFixture()
        let opened = try fixture.partial.open(resume: false, expecting: fixture.expectation(try fixture.identity()),
                                              onEvent: fixture.events.sink)
        defer { opened.file.abandon() }
        #expect(opened.resumedFrom == nil)
        #expect(opened.dataset.shape == [40, 3])
        #expect(opened.dataset.chunkShape == [8, 3])
        #expect(try opened.dataset.stringAttribute(Checkpoint.runIDAttribute) == opened.runID)
        #expect(opened.ledger?.grid == ChunkGrid(shape: [40, 3], chunks: [8, 3]))
        #expect(opened.file.path == fixture.output + ".partial")
        #expect(FileManager.default.fileExists(atPath: fixture.output + ".partial"))
        #expect(fixture.events.all.isEmpty)  // nothing was there before
    }

    @Test("reopened with the same expectation, a checkpointed partial output is resumed: same run, its rows kept")
    func resume() throws {
        let fixture = try PartialFixture()
        let identity = try fixture.identity()
        let (runID, saved) = try fixture.stoppedRun(identity)
        let opened = try fixture.partial.open(resume: true, expecting: fixture.expectation(identity), onEvent: fixture.events.sink)
        defer { opened.file.abandon() }
        #expect(opened.resumedFrom == saved)
        #expect(opened.resumedFrom?.rowsDone == 16)
        #expect(opened.runID == runID)
        #expect(opened.ledger != nil)
        #expect(try fixture.read(0..<16, from: opened) == fixture.values(0..<16))
        #expect(fixture.events.all.last == .resuming(path: fixture.partial.path, fromRow: 16, rowsTotal: 40))
    }

    @Test("a partial output written by another pipeline is not resumed: it is replaced by a new one, its checkpoint removed")
    func otherPipeline() throws {
        let fixture = try PartialFixture()
        let (runID, _) = try fixture.stoppedRun(try fixture.identity([.relu]))
        let other = try fixture.identity([.elu(alpha: 1)])
        let opened = try fixture.partial.open(resume: true, expecting: fixture.expectation(other), onEvent: fixture.events.sink)
        defer { opened.file.abandon() }
        #expect(opened.resumedFrom == nil)
        #expect(opened.runID != runID)
        #expect(try opened.dataset.stringAttribute(Checkpoint.runIDAttribute) == opened.runID)
        #expect(!FileManager.default.fileExists(atPath: fixture.partial.recordPath))
        #expect(fixture.events.all.last == .notResuming(path: fixture.partial.path, reason: "it was written by a different pipeline"))
    }

    @Test("a partial output made from the input as it was before a change is not resumed")
    func changedInput() throws {
        let fixture = try PartialFixture()
        let (runID, _) = try fixture.stoppedRun(try fixture.identity())
        // The same pipeline, over an input whose file has changed since (touched).
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: fixture.input)
        let opened = try fixture.partial.open(resume: true, expecting: fixture.expectation(try fixture.identity()),
                                              onEvent: fixture.events.sink)
        defer { opened.file.abandon() }
        #expect(opened.resumedFrom == nil)
        #expect(opened.runID != runID)
        #expect(fixture.events.all.last == .notResuming(path: fixture.partial.path, reason: "\(absolutePath(fixture.input)) has changed since"))
    }

    @Test("without resume, a leftover partial output is replaced, and the caller is told how much it held")
    func replaced() throws {
        let fixture = try PartialFixture()
        let identity = try fixture.identity()
        let (runID, _) = try fixture.stoppedRun(identity)
        let opened = try fixture.partial.open(resume: false, expecting: fixture.expectation(identity), onEvent: fixture.events.sink)
        defer { opened.file.abandon() }
        #expect(opened.resumedFrom == nil)
        #expect(opened.runID != runID)
        #expect(!FileManager.default.fileExists(atPath: fixture.partial.recordPath))
        #expect(fixture.events.all.last == .replacingPartial(path: fixture.partial.path, rowsSaved: 16, rowsTotal: 40))
    }

    @Test("resume finds nothing to continue: no partial file, or one whose run saved no checkpoint")
    func nothingToResume() throws {
        let fixture = try PartialFixture()
        let expectation = fixture.expectation(try fixture.identity())
        let firstID: String
        do {
            let first = try fixture.partial.open(resume: true, expecting: expectation, onEvent: fixture.events.sink)
            #expect(first.resumedFrom == nil)
            #expect(fixture.events.all.last == .notResuming(path: fixture.partial.path, reason: "there is no such file"))
            // Rows written, but the run stopped before its first checkpoint.
            try fixture.write(0..<16, to: first)
            try first.file.flush()
            first.file.abandon()
            firstID = first.runID
        }
        let second = try fixture.partial.open(resume: true, expecting: expectation, onEvent: fixture.events.sink)
        defer { second.file.abandon() }
        #expect(second.resumedFrom == nil)
        #expect(second.runID != firstID)
        #expect(fixture.events.all.last == .notResuming(path: fixture.partial.path, reason: "it has no checkpoint (its run stopped before saving one)"))
    }

    @Test("a partial file cut shorter than its checkpoint recorded is not resumed")
    func truncatedFile() throws {
        let fixture = try PartialFixture()
        let identity = try fixture.identity()
        let (_, saved) = try fixture.stoppedRun(identity)
        #expect(truncate(fixture.partial.path, off_t(saved.fileBytes / 2)) == 0)
        let opened = try fixture.partial.open(resume: true, expecting: fixture.expectation(identity), onEvent: fixture.events.sink)
        defer { opened.file.abandon() }
        #expect(opened.resumedFrom == nil)
        guard case .notResuming(_, let reason)? = fixture.events.all.last else {
            Issue.record("not refused: \(fixture.events.all)")
            return
        }
        #expect(reason.hasPrefix("it is shorter than at its last checkpoint"), "\(reason)")
    }

    @Test("a checkpoint that records other chunks than the file holds is not resumed")
    func otherChunks() throws {
        let fixture = try PartialFixture()
        let identity = try fixture.identity()
        var (_, saved) = try fixture.stoppedRun(identity)
        saved.chunks.chunks += 1
        try saved.write(to: fixture.partial.recordPath)
        let opened = try fixture.partial.open(resume: true, expecting: fixture.expectation(identity), onEvent: fixture.events.sink)
        defer { opened.file.abandon() }
        #expect(opened.resumedFrom == nil)
        #expect(fixture.events.all.last == .notResuming(path: fixture.partial.path,
                                                        reason: "it does not hold the chunks its checkpoint recorded (2 stored, 3 recorded)"))
    }

    @Test("a damaged checkpoint record is not resumed from, and says why")
    func damagedRecord() throws {
        let fixture = try PartialFixture()
        let identity = try fixture.identity()
        _ = try fixture.stoppedRun(identity)
        try Data("{\"format\": \"h5batch checkpoint 2\", \"run_id\": ".utf8).write(to: URL(fileURLWithPath: fixture.partial.recordPath))
        let opened = try fixture.partial.open(resume: true, expecting: fixture.expectation(identity), onEvent: fixture.events.sink)
        defer { opened.file.abandon() }
        #expect(opened.resumedFrom == nil)
        #expect(fixture.events.all.last == .notResuming(path: fixture.partial.path,
                                                        reason: "\(fixture.partial.recordPath) is not a checkpoint this version of h5batch writes"))
    }
}
