import Foundation
import Synchronization

/// Full-dataset mode: the whole tensor in memory, one pass per stage using every core.
///
/// Reading and writing stream chunk-aligned batches through the workers (decode and encode run
/// on every core), straight into and out of the one tensor. A linear stage is one pass over
/// the whole tensor: the workers take its batches in turn, each a product (bias included) on that
/// worker's thread alone with the following element-wise stages applied while the rows are in cache.
/// Other element-wise stages are split into row blocks over the workers. Each tensor is
/// released as soon as the next exists, so peak memory is the largest pair of adjacent tensors.
struct FullDatasetRunner {
    let reader: BatchReader
    let writer: BatchWriter
    let chain: StageChain
    /// Chunk-aligned batches for reading and writing; the tensors start at its first row.
    let plan: BatchPlan
    /// Rows every tensor holds: the plan's rows rounded up to whole stored chunks.
    let paddedRows: Int
    let workers: Int
    /// Collects the input's digest batch by batch (`RowDigest`), when set.
    let digests: InputDigestLedger?
    /// With `--stats`: collects every stage's statistics, batch by batch.
    var statistics: StatisticsLedger? = nil
    let progress: ProgressSink?

    /// What this mode needs at its peak, term by term.
    struct MemoryEstimate {
        /// The largest pair of adjacent tensors (or the input tensor alone).
        let tensorBytes: Int
        let parameterBytes: Int
        /// The stored-chunk buffers of the `workers + 1` I/O batches (`IOResources`).
        let ioBufferBytes: Int
        /// `runtimeOverheadBytes`.
        let runtimeBytes: Int
        var totalBytes: Int { tensorBytes + parameterBytes + ioBufferBytes + runtimeBytes }
    }

    /// The peak for tensors of `rows` rows (`paddedRows`) streamed in batches of `batchRows`:
    /// `run` holds at most one adjacent pair of tensors, and the I/O batches are allowed the
    /// wider side's floats, since they carry only stored chunks.
    static func estimatedMemory(rows: Int, batchRows: Int, workers: Int, chain: StageChain) -> MemoryEstimate {
        var tensors = rows * chain.inputWidth * 4
        for step in chain.steps {
            if case .linear(let linear, _) = step {
                tensors = max(tensors, rows * (linear.inFeatures + linear.outFeatures) * 4)
            }
        }
        return MemoryEstimate(tensorBytes: tensors, parameterBytes: chain.parameterBytes,
                              ioBufferBytes: (workers + IOResources.extraBatches) * batchRows * max(chain.inputWidth, chain.outputWidth) * 4,
                              runtimeBytes: runtimeOverheadBytes(chain))
    }

    /// What the process takes besides its tensors: runtime, libraries, HDF5's caches; and, for a
    /// chain with a linear stage, what oneDNN's first products add (its JIT-compiled kernels and
    /// the tables and buffers they touch: 4–7 MiB measured at the first call).
    static func runtimeOverheadBytes(_ chain: StageChain) -> Int {
        (48 << 20) + (chain.linearFlopsPerRow > 0 ? 8 << 20 : 0)
    }

    func run(control: StreamControl) throws -> StreamResult {
        let first = plan.start
        let rows = plan.remainingRows
        var result = StreamResult()
        let io = IOResources(plan: plan, reader: reader, writer: writer, workers: workers)
        var current = FloatBuffer(capacity: paddedRows * chain.inputWidth)
        let inputWidth = chain.inputWidth
        let paddedRows = self.paddedRows
        let digests = self.digests, hashesInput = digests != nil, rowOffset = reader.dataset.rowOffset
        // Each pass (read, one per step, write) counts as an equal share of the run.
        let passes = Double(chain.steps.count + 2)
        let totalRows = plan.rows, stepCount = chain.steps.count
        let progress = self.progress.map { sink in
            { @Sendable (phase: RunProgress.Phase, pass: Int, done: Int) in
                sink(RunProgress(phase: phase, rowsDone: first + done, rowsTotal: totalRows, rowsThisRun: rows,
                                 fraction: (Double(pass) + Double(done) / Double(max(1, rows))) / passes))
            }
        }
        do {
            // Scoped so that nothing but `current` holds the input tensor once it is read.
            let tensor = current
            let decoder = reader.decoder
            let read = try io.stream { stream in
                try stream.run(read: { batch in
                    let row = batch.rows.lowerBound - first
                    batch.input = FloatBuffer(viewing: tensor, offset: row * inputWidth,
                                              capacity: (paddedRows - row) * inputWidth)
                    try reader.read(batch)
                }, work: { batch, state in
                    let start = now()
                    batch.failure = decoder?.decode(batch, with: state)
                    if hashesInput && batch.failure == nil { batch.hashInput(width: inputWidth, rowOffset: rowOffset) }
                    batch.decodeSeconds = now() - start
                }, write: { batch in
                    digests?.append(batch.inputDigest)
                    progress?(.reading, 0, batch.rows.upperBound - first)
                }, control: StreamControl(shouldStop: control.shouldStop))
            }
            result.add(read)
            if read.outcome != .completed { return result }
        }

        // Each worker multiplies whole batches on its own thread (`GEMM`), like mini-batch mode:
        // a row's result then depends only on the batch it falls in, not on how many threads
        // split the product, so a resumed run (which starts on a batch boundary) computes the
        // same bits as an uninterrupted one, on any number of workers.
        let start = now()
        // The tensor a linear stage consumed, kept to hold a later tensor that fits: fresh
        // memory costs page faults (on this project's VMs about 1.4 s per GiB), reused memory
        // does not. It is dropped before any allocation, so the peak stays one adjacent pair.
        var spare: FloatBuffer?
        // With --stats, one collector per batch, merged in row order once every step has run.
        let batchRows = plan.batchRows
        let collectors = statistics == nil ? [] : (0..<rows.units(of: batchRows)).map { _ in StatisticsCollector(chain: chain) }
        for (index, step) in chain.steps(countingStatistics: statistics != nil).enumerated() {
            let firstStage = chain.firstStage[index]
            if control.shouldStop() { result.outcome = .stopped; return result }
            let stepProgress = progress.map { sink in
                { @Sendable (done: Int) in sink(.computing(step: index + 1, of: stepCount), index + 1, done) }
            }
            switch step {
            case .inPlace(let group):
                let tensor = current
                let completed = parallelBatches(rows, stop: control.shouldStop, progress: stepProgress) { batch in
                    let block = tensor.slice(batch.lowerBound * inputWidth, batch.count * inputWidth)
                    let collector = collectors.isEmpty ? nil : collectors[batch.lowerBound / batchRows]
                    for (offset, stage) in group.enumerated() {
                        stage.apply(block, width: inputWidth)
                        collector?.statistics.add(stage: firstStage + offset, UnsafePointer(block.baseAddress!), rows: batch.count)
                    }
                }
                if !completed { result.outcome = .stopped; return result }
            case .linear(let linear, let epilogue):
                let needed = paddedRows * linear.outFeatures
                let next: FloatBuffer
                if let reusable = spare, reusable.capacity >= needed {
                    next = reusable
                } else {
                    spare = nil  // freed before the allocation, so the peak stays one pair
                    next = FloatBuffer(capacity: needed)
                }
                let source = current
                let completed = parallelBatches(rows, stop: control.shouldStop, progress: stepProgress) { batch in
                    let count = batch.count
                    let output = next.slice(batch.lowerBound * linear.outFeatures, count * linear.outFeatures)
                    var workspace = Workspace()
                    linear.apply(UnsafeBufferPointer(source.slice(batch.lowerBound * linear.inFeatures, count * linear.inFeatures)),
                                 rows: count, into: output, workspace: &workspace)
                    let collector = collectors.isEmpty ? nil : collectors[batch.lowerBound / batchRows]
                    collector?.statistics.add(stage: firstStage, UnsafePointer(output.baseAddress!), rows: count)
                    for (offset, stage) in epilogue.enumerated() {
                        stage.apply(output, width: linear.outFeatures)
                        collector?.statistics.add(stage: firstStage + 1 + offset, UnsafePointer(output.baseAddress!), rows: count)
                    }
                }
                if !completed { result.outcome = .stopped; return result }
                spare = current
                current = next
            }
        }
        for (index, collector) in collectors.enumerated() {
            statistics?.append(collector.statistics, end: first + min(rows, (index + 1) * batchRows))
        }
        result.phases.compute += now() - start
        result.peakThreads = max(result.peakThreads, SystemInfo.threadCount)

        let computed = current
        let outputWidth = chain.outputWidth
        let encoder = writer.encoder
        let written = try io.stream { stream in
            try stream.run(read: { batch in
                let row = batch.rows.lowerBound - first
                batch.output = FloatBuffer(viewing: computed, offset: row * outputWidth,
                                           capacity: (paddedRows - row) * outputWidth)
            }, work: { batch, state in
                let start = now()
                encoder?.encode(batch, with: state)
                batch.encodeSeconds = now() - start
            }, write: { batch in
                try writer.write(batch)
                progress?(.writing, chain.steps.count + 1, batch.rows.upperBound - first)
            }, control: control)
        }
        result.add(written)
        return result
    }

    /// Runs `body` on the plan's batches (as row ranges of the tensors), spread over the
    /// workers; asks `stop` between batches and tells `progress` how many rows are done after
    /// each. Returns false if it stopped early.
    private func parallelBatches(_ rows: Int, stop: @Sendable () -> Bool, progress: (@Sendable (Int) -> Void)?,
                                 _ body: @Sendable (Range<Int>) -> Void) -> Bool {
        let batchRows = plan.batchRows
        let count = rows.units(of: batchRows)
        let workers = self.workers
        let stopped = Atomic<Bool>(false)
        let done = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: min(workers, count)) { worker in
            for index in stride(from: worker, to: count, by: workers) {
                if stopped.load(ordering: .relaxed) || stop() {
                    stopped.store(true, ordering: .relaxed)
                    return
                }
                let first = index * batchRows
                let batch = first..<min(rows, first + batchRows)
                body(batch)
                if let progress { progress(done.add(batch.count, ordering: .relaxed).newValue) }
            }
        }
        return !stopped.load(ordering: .relaxed)
    }
}

/// The batches and worker states full mode streams its reads and writes with, shared by both
/// passes: the write pass then reuses the read pass's buffers instead of adding fresh ones on
/// top of them (freed memory is not always returned to the system, so the peak would grow).
private struct IOResources {
    let plan: BatchPlan
    let pool: WorkerPool
    let states: [WorkerState]
    let batches: [Batch]

    /// One batch more than workers: the tensor already holds the rows, so the batches carry
    /// only stored chunk bytes, and fewer of them keep the peak near the tensors' size.
    static let extraBatches = 1

    init(plan: BatchPlan, reader: BatchReader, writer: BatchWriter, workers: Int) {
        self.plan = plan
        pool = WorkerPool(count: workers)
        states = (0..<workers).map { _ in WorkerState() }
        let placeholder = FloatBuffer(capacity: 0)
        batches = (0..<min(plan.count, workers + Self.extraBatches)).map { _ in Batch(input: placeholder, output: placeholder) }
        // Reserved once for the larger pass: stored input chunks, or encoded output ones.
        let bytes = Batch.storedBytes(batchRows: plan.batchRows, reader: reader, encoder: writer.encoder, codecs: states[0].codecs)
        for batch in batches { batch.bytes.reserve(bytes) }
    }

    func stream<Result>(_ body: (BatchStream) throws -> Result) throws -> Result {
        try body(BatchStream(plan: plan, pool: pool, states: states, batches: batches))
    }
}
