import Foundation
import Testing
@testable import H5Batch

/// `BatchStream` on its own: batches are read, handed to workers and written in row order,
/// whatever order the workers finish in; the first failure stops the stream once the workers
/// are done with their batches; a stop request ends it after the batches already read.
@Suite("BatchStream: row order, failures, stop requests")
struct BatchStreamTests {
    /// Values per row.
    static let width = 2

    /// The value of input column `column` of row `row`.
    static func input(_ row: Int, _ column: Int) -> Float { Float(row * 10 + column) }
    /// What `work` makes of it.
    static func output(_ row: Int, _ column: Int) -> Float { input(row, column) * 2 + 1 }

    /// Counts `work` calls running now, begun and ended (workers run them concurrently).
    final class WorkCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var running = 0, begun = 0, ended = 0

        func begin() {
            lock.lock(); defer { lock.unlock() }
            running += 1
            begun += 1
        }

        func end() {
            lock.lock(); defer { lock.unlock() }
            running -= 1
            ended += 1
        }

        var snapshot: (running: Int, begun: Int, ended: Int) {
            lock.lock(); defer { lock.unlock() }
            return (running, begun, ended)
        }
    }

    /// A batch as the write closure saw it.
    struct Written: Equatable {
        let index: Int
        let rows: Range<Int>
        let values: [Float]
    }

    /// A stream of `rows` rows in batches of `batchRows`, with `workers` workers and `buffers`
    /// batch objects (fewer than the batches, so they are reused).
    static func stream(rows: Int, batchRows: Int, workers: Int = 3, buffers: Int = 5) -> BatchStream {
        let plan = BatchPlan(rows: rows, batchRows: batchRows)
        let batches = (0..<buffers).map { _ in
            Batch(input: FloatBuffer(capacity: batchRows * width), output: FloatBuffer(capacity: batchRows * width))
        }
        return BatchStream(plan: plan, pool: WorkerPool(count: workers), states: (0..<workers).map { _ in WorkerState() },
                           batches: batches)
    }

    /// Fills the batch's input rows.
    static func read(_ batch: Batch) {
        let values = batch.input.prefix(batch.rows.count * width)
        for (offset, row) in batch.rows.enumerated() {
            for column in 0..<width { values[offset * width + column] = input(row, column) }
        }
    }

    /// Computes the batch's output from its input (on a worker).
    static func compute(_ batch: Batch) {
        let count = batch.rows.count * width
        let source = batch.input.prefix(count), target = batch.output.prefix(count)
        for index in 0..<count { target[index] = source[index] * 2 + 1 }
    }

    /// What a correct write of the batch with these rows sees.
    static func expected(_ index: Int, _ rows: Range<Int>) -> Written {
        Written(index: index, rows: rows, values: rows.flatMap { row in (0..<width).map { output(row, $0) } })
    }

    static func record(_ batch: Batch) -> Written {
        Written(index: batch.index, rows: batch.rows, values: Array(batch.output.prefix(batch.rows.count * width)))
    }

    @Test("batches are written in row order with their own rows, whatever order the workers finish in", arguments: 0..<4)
    func rowOrder(round: Int) throws {
        let stream = Self.stream(rows: 100, batchRows: 7)  // 15 batches, the last of 2 rows
        let counter = WorkCounter()
        var written: [Written] = []
        let result = try stream.run(read: Self.read, work: { batch, _ in
            counter.begin()
            // Every third batch takes longest, the others a random few milliseconds: later
            // batches often finish first.
            usleep(UInt32(batch.index % 3 == 0 ? 4000 : Int.random(in: 0...3000)))
            Self.compute(batch)
            batch.computeSeconds = 0.5
            counter.end()
        }, write: { batch in
            written.append(Self.record(batch))
        })
        #expect(result.outcome == .completed)
        let plan = stream.plan
        #expect(written.map(\.index) == Array(0..<plan.count))
        #expect(written.last?.rows == 98..<100)
        for (index, batch) in written.enumerated() {
            #expect(batch == Self.expected(index, plan.batch(index)), "batch \(index)")
        }
        // Each worker's phase time is added once per batch.
        #expect(result.phases.compute == 0.5 * Double(plan.count))
        #expect(counter.snapshot.begun == plan.count)
    }

    @Test("a batch a worker fails stops the stream: the batches before it are written, no later one, and the error is thrown once the workers are done")
    func workerFailure() throws {
        let stream = Self.stream(rows: 120, batchRows: 10)
        let counter = WorkCounter()
        let failure = H5BatchError(.data, "batch 3 holds bad rows")
        var written: [Written] = []
        var reads: [Int] = []
        do {
            try stream.run(read: { batch in
                reads.append(batch.index)
                Self.read(batch)
            }, work: { batch, _ in
                counter.begin()
                if batch.index == 3 {
                    batch.failure = failure
                } else {
                    // The other batches are still being computed when batch 3 fails.
                    usleep(15_000)
                    Self.compute(batch)
                }
                counter.end()
            }, write: { batch in
                written.append(Self.record(batch))
            })
            Issue.record("the stream did not throw")
        } catch let error as H5BatchError {
            #expect(error == failure)
        }
        // Drained: every batch handed to a worker came back before the error was thrown.
        let state = counter.snapshot
        #expect(state.running == 0)
        #expect(state.begun == state.ended)
        // Every batch before the failed one is written (a resumable failure's checkpoint then
        // covers them), none after it.
        #expect(written.map(\.index) == [0, 1, 2], "\(written.map(\.index))")
        for batch in written { #expect(batch == Self.expected(batch.index, stream.plan.batch(batch.index))) }
        #expect(reads.count < stream.plan.count, "the stream read on after the failure")
    }

    @Test("a read that throws stops the stream: nothing more is read, in-flight batches finish, the error propagates")
    func readFailure() throws {
        let stream = Self.stream(rows: 120, batchRows: 10)
        let counter = WorkCounter()
        let failure = H5BatchError(.io, "cannot read rows 40..<50")
        var written: [Int] = []
        var reads: [Int] = []
        do {
            try stream.run(read: { batch in
                reads.append(batch.index)
                if batch.index == 4 { throw failure }
                Self.read(batch)
            }, work: { batch, _ in
                counter.begin()
                usleep(10_000)
                Self.compute(batch)
                counter.end()
            }, write: { batch in
                written.append(batch.index)
            })
            Issue.record("the stream did not throw")
        } catch let error as H5BatchError {
            #expect(error == failure)
        }
        #expect(reads == [0, 1, 2, 3, 4])
        let state = counter.snapshot
        #expect(state.running == 0)
        #expect(state.begun == state.ended)
        #expect(written == Array(0..<written.count))
        #expect(written.allSatisfy { $0 < 4 })
    }

    @Test("a write that throws stops the stream after the workers are done; the batches after it are not written")
    func writeFailure() throws {
        let stream = Self.stream(rows: 120, batchRows: 10)
        let counter = WorkCounter()
        let failure = H5BatchError(.io, "disk full")
        var attempted: [Int] = []
        do {
            try stream.run(read: Self.read, work: { batch, _ in
                counter.begin()
                usleep(5_000)
                Self.compute(batch)
                counter.end()
            }, write: { batch in
                attempted.append(batch.index)
                if batch.index == 2 { throw failure }
            })
            Issue.record("the stream did not throw")
        } catch let error as H5BatchError {
            #expect(error == failure)
        }
        #expect(attempted == [0, 1, 2])
        #expect(counter.snapshot.running == 0)
        #expect(counter.snapshot.begun == counter.snapshot.ended)
    }

    @Test("a stop request ends the stream as stopped, after writing exactly the batches already read")
    func stop() throws {
        let stream = Self.stream(rows: 100, batchRows: 7)
        let request = StopRequest()
        var reads: [Int] = []
        var written: [Written] = []
        var told = 0
        let outcome = try stream.run(read: { batch in
            reads.append(batch.index)
            Self.read(batch)
            // Asked for while batch 4 is read: the stream reads nothing after it.
            if batch.index == 4 { request.request(signal: SIGINT) }
        }, work: { batch, _ in
            usleep(UInt32.random(in: 0...2000))
            Self.compute(batch)
        }, write: { batch in
            written.append(Self.record(batch))
        }, control: StreamControl(shouldStop: { request.isRequested }, written: { told += 1 })).outcome
        #expect(outcome == .stopped)
        #expect(reads == [0, 1, 2, 3, 4])
        #expect(written.map(\.index) == [0, 1, 2, 3, 4])
        for batch in written { #expect(batch == Self.expected(batch.index, stream.plan.batch(batch.index))) }
        #expect(told == 5)
    }

    @Test("a stop requested before the first read ends the stream as stopped with nothing read or written")
    func stopBeforeStart() throws {
        let stream = Self.stream(rows: 100, batchRows: 7)
        var reads = 0, writes = 0
        let outcome = try stream.run(read: { _ in reads += 1 }, work: { _, _ in }, write: { _ in writes += 1 },
                                     control: StreamControl(shouldStop: { true })).outcome
        #expect(outcome == .stopped)
        #expect(reads == 0 && writes == 0)
    }

    @Test("a stop requested after the last read changes nothing: the stream completes")
    func stopAfterLastRead() throws {
        let stream = Self.stream(rows: 20, batchRows: 7, buffers: 3)  // 3 batches, all read up front
        let request = StopRequest()
        var written: [Int] = []
        let outcome = try stream.run(read: { batch in
            Self.read(batch)
            if batch.index == 2 { request.request(signal: 0) }
        }, work: { batch, _ in Self.compute(batch) }, write: { batch in written.append(batch.index) },
        control: StreamControl(shouldStop: { request.isRequested })).outcome
        #expect(outcome == .completed)
        #expect(written == [0, 1, 2])
    }
}
