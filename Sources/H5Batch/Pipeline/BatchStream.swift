import Foundation

/// Streams batches through the worker pool: read on the I/O lane, work on a worker, write on the
/// lane in row order.
///
/// The loop runs on the I/O lane and is the only code that touches HDF5. It reads ahead while a
/// batch is free, hands each read batch to an idle worker, and writes finished batches in row
/// order. A fixed set of `Batch` objects bounds what is alive (reading, computing, waiting to be
/// written), so memory follows the batch size, not the dataset size, and steady state allocates
/// nothing.
struct BatchStream {
    let plan: BatchPlan
    let pool: WorkerPool
    let states: [WorkerState]
    let batches: [Batch]

    private struct Completion: Sendable {
        let batch: Batch
        let worker: Int
    }

    /// `read` fills `batch.rows`' data, `work` runs on a worker (setting `batch.failure` on bad
    /// data), `write` stores the batch; the first error stops the stream once in-flight work is
    /// done. `control` is asked before every read whether to stop, and told after every write
    /// how far the output is complete. Returns how the stream ended and where its time went.
    @discardableResult
    func run(read: (Batch) throws -> Void, work: @escaping @Sendable (Batch, WorkerState) -> Void,
             write: (Batch) throws -> Void, control: StreamControl = StreamControl()) throws -> StreamResult {
        var result = StreamResult()
        let mailbox = Mailbox<Completion>()
        var free = batches.reversed() as [Batch]
        var idle = Array((0..<pool.count).reversed())
        var toCompute: [Batch] = []
        var finished: [Int: Batch] = [:]
        var nextRead = 0, nextWrite = 0, computing = 0
        let states = self.states

        // The earliest batch a worker failed on: the batches before it are still written (so a
        // resumable failure's checkpoint covers them), then its error is thrown.
        var failed: (index: Int, error: H5BatchError)?
        func absorb(_ completions: [Completion]) {
            for completion in completions {
                computing -= 1
                idle.append(completion.worker)
                let batch = completion.batch
                result.phases.decode += batch.decodeSeconds
                result.phases.compute += batch.computeSeconds
                result.phases.encode += batch.encodeSeconds
                if let failure = batch.failure {
                    if failed == nil || batch.index < failed!.index { failed = (batch.index, failure) }
                } else {
                    finished[batch.index] = batch
                }
            }
        }

        func dispatchIdle() {
            while !toCompute.isEmpty, let worker = idle.popLast() {
                let batch = toCompute.removeFirst()
                let state = states[worker]
                computing += 1
                pool.submit(to: worker) {
                    work(batch, state)
                    mailbox.post(Completion(batch: batch, worker: worker))
                }
            }
        }

        // Batches this stream will write: all of them, or once told to stop, those already read.
        var end = plan.count
        do {
            while nextWrite < end {
                // A worker that just finished gets its next batch before the lane writes or
                // reads anything: the cores are the scarce resource, the lane can catch up.
                absorb(mailbox.take(wait: false))
                dispatchIdle()
                while let batch = finished.removeValue(forKey: nextWrite) {
                    let start = now()
                    try write(batch)
                    result.phases.write += now() - start
                    if nextWrite % 16 == 0 { result.peakThreads = max(result.peakThreads, SystemInfo.threadCount) }
                    free.append(batch)
                    nextWrite += 1
                    try control.written()
                }
                if let failed, nextWrite >= failed.index { throw failed.error }
                if end == plan.count && nextRead < plan.count && control.shouldStop() {
                    // Stop reading; what is read already is computed and written.
                    end = nextRead
                    continue
                }
                if failed == nil, nextRead < end, let batch = free.popLast() {
                    batch.index = nextRead
                    batch.rows = plan.batch(nextRead)
                    batch.failure = nil
                    batch.decodeSeconds = 0
                    batch.computeSeconds = 0
                    batch.encodeSeconds = 0
                    let start = now()
                    try read(batch)
                    result.phases.read += now() - start
                    toCompute.append(batch)
                    nextRead += 1
                    dispatchIdle()
                    continue
                }
                if nextWrite < end && finished[nextWrite] == nil {
                    let start = now()
                    absorb(mailbox.take(wait: true))
                    result.phases.waiting += now() - start
                }
            }
        } catch {
            // Workers still hold batches: let them finish before the buffers go away.
            while computing > 0 {
                for completion in mailbox.take(wait: true) {
                    computing -= 1
                    _ = completion
                }
            }
            throw error
        }
        result.peakThreads = max(result.peakThreads, SystemInfo.threadCount)
        result.outcome = end == plan.count ? .completed : .stopped
        return result
    }
}

/// How a stream learns it should stop and reports its progress.
struct StreamControl {
    /// Asked before every read: true stops the stream after the batches already read.
    var shouldStop: @Sendable () -> Bool = { false }
    /// Told after every write (the writer knows how far the output is complete).
    var written: () throws -> Void = {}
}

/// How a stream or a run ended.
enum StreamOutcome: Equatable {
    case completed
    /// Stopped on request, after writing the batches it had read.
    case stopped
}

/// How a stream (or a mode's run of several) ended, and where its time went: the figures a
/// `RunReport` adds up.
struct StreamResult {
    var outcome = StreamOutcome.completed
    /// Seconds per phase: the workers' added up, the lane's as wall time.
    var phases = RunReport.Phases()
    /// Most threads seen in the process while it ran.
    var peakThreads = 0

    /// Adds `other`'s time to this one's; its outcome replaces this one's.
    mutating func add(_ other: StreamResult) {
        outcome = other.outcome
        phases.add(other.phases)
        peakThreads = max(peakThreads, other.peakThreads)
    }
}
