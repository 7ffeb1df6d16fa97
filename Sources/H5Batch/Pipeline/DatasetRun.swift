import Foundation

/// One dataset's run into the partial output, and everything it owns while it runs: the output
/// dataset and its writer, the batches left to do (a checkpoint's dataset continues at its
/// row), the input-digest and statistics ledgers, and the checkpointer that saves them.
///
/// `run` streams the batches in the configured mode and returns where the time went; `finish`
/// writes the dataset's provenance. A failure leaves `checkpointer.saved` for the caller.
final class DatasetRun {
    let job: PreparedJob
    let output: PartialOutput.Opened
    /// The batches this process computes: from the batch holding the checkpoint's row.
    let plan: BatchPlan
    /// The first row this process writes: 0, or the checkpoint's row.
    let resumeRow: Int
    let writer: BatchWriter
    let digests: InputDigestLedger
    /// With `--stats`: every stage's statistics, merged in row order.
    let statistics: StatisticsLedger?
    /// nil when the output's chunks do not map onto row ranges: no checkpoints then.
    let checkpointer: Checkpointer?
    private let options: PipelineRunner.Options

    /// Starts `job` in `output`. `identity` is what the checkpoints name (the whole run's);
    /// `finishedBefore`, with several datasets, names the datasets done before this one and
    /// the statistics counted over them.
    init(_ job: PreparedJob, into output: PartialOutput.Opened, of partial: PartialOutput, identity: JobIdentity,
         finishedBefore: (datasets: [String], statistics: [DatasetStatistics]?)?, options: PipelineRunner.Options) throws {
        self.job = job
        self.output = output
        self.options = options
        let rows = job.rows, batchRows = job.batchRows
        // A checkpoint's row is a chunk boundary of the output, not always a batch boundary:
        // the resumed run starts at the batch holding it (batches always start at multiples of
        // the batch rows, which keeps the sums BLAS forms the same) and writes from it.
        resumeRow = output.resumedFrom?.rowsDone ?? 0
        plan = BatchPlan(rows: rows, batchRows: batchRows, start: resumeRow == rows ? rows : resumeRow / batchRows * batchRows)
        var digestBefore: UInt64 = 0
        if let resumed = output.resumedFrom {
            guard resumed.inputDigest.row == plan.start, let value = resumed.inputDigest.value else {
                throw H5BatchError(.data, "cannot continue \(partial.path): its checkpoint's input digest covers the rows before \(resumed.inputDigest.row), not \(plan.start); run again without --resume")
            }
            digestBefore = value
        }
        digests = InputDigestLedger(plan: plan, before: digestBefore)
        statistics = options.statistics
            ? StatisticsLedger(chain: job.chain, start: plan.start, before: output.resumedFrom?.statistics) : nil
        writer = BatchWriter(dataset: output.dataset, type: job.config.output.dtype, batchRows: batchRows,
                             firstRow: resumeRow, allowRawChunks: options.rawChunkIO)
        let (digests, statistics) = (self.digests, self.statistics)
        checkpointer = output.ledger.map { ledger in
            Checkpointer(output: output, ledger: ledger, digests: digests, identity: identity, rows: rows,
                         completedDatasets: finishedBefore?.datasets, statistics: statistics,
                         completedStatistics: statistics == nil ? nil : finishedBefore.map { $0.statistics ?? [] },
                         recordPath: partial.recordPath,
                         interval: options.checkpointInterval, rowInterval: options.checkpointRows, onEvent: options.onEvent)
        }
    }

    // MARK: - What it adds to the report

    /// Rows this process writes.
    var rowsWritten: Int { job.rows - resumeRow }
    /// Logical bytes this process reads: the plan's rows, from its first batch.
    var bytesIn: Int { plan.remainingRows * job.input.rowWidth * job.input.elementType.size }
    /// Logical bytes this process writes.
    var bytesOut: Int { rowsWritten * job.chain.outputWidth * job.config.output.dtype.size }
    /// Linear-stage FLOPs this process computes.
    var linearFlops: Int { plan.remainingRows * job.chain.linearFlopsPerRow }

    // MARK: - Running

    /// Runs the batches in `mode` on `workers`, with progress placed in the whole run's by
    /// `placement`. Stopped, it saves a last checkpoint of what is written.
    func run(mode: PipelineConfig.Mode, workers: Int, placement: ProgressPlacement) throws -> StreamResult {
        guard plan.remainingRows > 0 else { return StreamResult() }
        let (writer, checkpointer, stop) = (self.writer, self.checkpointer, options.stop)
        let control = StreamControl(shouldStop: { stop?.isRequested ?? false },
                                    written: { try checkpointer?.written(upTo: writer.completeRows) })
        let progress = options.onEvent.map { placement.sink($0, plan: plan) }
        let result = try translatingHDF5Errors(otherwise: .io) {
            switch mode {
            case .minibatch:
                var runner = MiniBatchRunner(reader: job.reader, writer: writer, chain: job.chain, plan: plan, workers: workers,
                                             digests: digests, progress: progress)
                runner.statistics = statistics
                return try runner.run(control: control)
            case .full:
                // Tensors hold whole stored chunks of either side, an edge chunk's padding included.
                let paddedRows = max(plan.rows.roundedUp(toMultipleOf: job.inputChunkRows),
                                     plan.rows.roundedUp(toMultipleOf: writer.encoder?.layout?.chunkRows ?? 1))
                var runner = FullDatasetRunner(reader: job.reader, writer: writer, chain: job.chain, plan: plan,
                                               paddedRows: paddedRows - plan.start, workers: workers,
                                               digests: digests, progress: progress)
                runner.statistics = statistics
                return try runner.run(control: control)
            }
        }
        if result.outcome == .stopped, let checkpointer, writer.completeRows > checkpointer.rowsSaved {
            try checkpointer.save(upTo: writer.completeRows)
        }
        return result
    }

    /// Writes the dataset's provenance (and, for a shard, its placement; with `--stats`, its
    /// statistics, which it returns); with `closesDataset`, ends with a checkpoint of the
    /// finished dataset, from which a resumed run goes on to the next.
    func finish(closesDataset: Bool) throws -> DatasetStatistics? {
        let provenance = Provenance(
            recipe: job.recipe,
            sourceFingerprint: SourceFingerprint(digest: digests.total, shape: job.input.shape, file: job.identity.inputState!),
            created: Provenance.timestamp())
        let counted = statistics?.total
        try translatingHDF5Errors(otherwise: .io) {
            try provenance.write(to: output.dataset)
            if let shard = job.shard { try output.dataset.setAttribute(ShardPlacement.attribute, string: shard.json) }
            if let counted {
                let file = (StatisticsFile.path(forOutput: job.config.output.file ?? "") as NSString).lastPathComponent
                try output.dataset.setAttribute(StatisticsFile.attributeName, string: try StatisticsFile.attribute(counted, file: file))
            }
        }
        if closesDataset, let checkpointer { try checkpointer.save(upTo: job.rows) }
        return counted.map { DatasetStatistics(dataset: job.outputDataset, statistics: $0) }
    }
}

/// Where one dataset's progress lies in a several-dataset run's.
struct ProgressPlacement {
    /// Rows of the datasets before this one, and of all of them.
    private(set) var rowsBefore: Int
    let rowsInAll: Int
    /// Rows this process computed before this dataset, and computes in all (a resumed
    /// run's count from its checkpoint).
    private(set) var thisRunBefore = 0
    let rowsThisRun: Int

    /// The place of `plan`'s dataset `first`, where this process starts, `resumedRows` of it
    /// done by an earlier run.
    init(_ plan: RunPlan, first: Int, resumedRows: Int) {
        let rows = plan.jobs.map(\.rows)
        rowsBefore = rows[..<first].reduce(0, +)
        rowsInAll = rows.reduce(0, +)
        rowsThisRun = rows[first...].reduce(0, +) - resumedRows
    }

    /// Moves on to the dataset after `dataset`.
    mutating func advance(past dataset: DatasetRun) {
        rowsBefore += dataset.job.rows
        thisRunBefore += dataset.rowsWritten
    }

    /// The sink a dataset's runner reports to: `onEvent`'s progress, counted in the whole
    /// run's rows when the dataset is one of several.
    func sink(_ onEvent: @escaping @Sendable (RunEvent) -> Void, plan: BatchPlan) -> ProgressSink {
        guard rowsInAll != plan.rows else { return { @Sendable progress in onEvent(.progress(progress)) } }
        let remaining = Double(plan.remainingRows), thisRun = Double(max(1, rowsThisRun))
        let before = Double(thisRunBefore), rowsBefore = self.rowsBefore, rowsInAll = self.rowsInAll
        let rowsThisRun = self.rowsThisRun
        return { @Sendable progress in
            onEvent(.progress(RunProgress(phase: progress.phase, rowsDone: rowsBefore + progress.rowsDone, rowsTotal: rowsInAll,
                                          rowsThisRun: rowsThisRun, fraction: (before + progress.fraction * remaining) / thisRun)))
        }
    }
}
