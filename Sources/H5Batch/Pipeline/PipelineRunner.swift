import Foundation

/// Runs a pipeline: opens the input, loads the stages, writes the output atomically.
///
/// Everything touching HDF5 happens on one serial I/O lane (libhdf5's thread-safe build holds
/// one global lock, so concurrent calls would only queue on it); workers see only buffers.
/// The output is written to `OUTPUT.partial` and renamed into place once complete, so the
/// output's name never shows a half-written file. Checkpoints (`OUTPUT.checkpoint`) let a run
/// that was stopped, killed or cut off by a full disk be continued (`Options.resume`); a run
/// that fails with nothing worth keeping leaves nothing behind.
///
/// Every product runs on the worker that owns its batch (`GEMM`), so several runners in one
/// process each stay within their own workers.
public final class PipelineRunner {
    /// How a run behaves, beyond what its pipeline computes.
    public struct Options: Sendable {
        /// Replace an existing output file.
        public var force = false
        /// Read and write stored chunks directly where the layout allows (the fast path). Off,
        /// every batch goes through HDF5's hyperslab I/O and filters: for comparisons and tests.
        public var rawChunkIO = true
        /// Continue the partial output an earlier run left, from its last checkpoint, when it
        /// was written by the same pipeline from the same input; otherwise start afresh.
        public var resume = false
        /// Seconds between checkpoints; 0 saves one after every batch.
        public var checkpointInterval: Double = 30
        /// When set, a checkpoint after every this many rows instead of by time (for tests).
        public var checkpointRows: Int?
        /// When the output exists and was made from the same input values, pipeline, weights and
        /// h5batch version (its provenance), do nothing; when it is out of date, replace it.
        /// An existing output without h5batch provenance is replaced only with `force`.
        public var skipIfFresh = false
        /// Count every stage's output, per feature (`--stats`): `RunReport.statistics`, an
        /// `h5batch_stats` attribute on each output dataset and `OUTPUT.stats.json`.
        public var statistics = false
        /// Set to stop the run early, resumably (see `StopRequest`).
        public var stop: StopRequest?
        /// Told what the run does with leftover partial outputs and checkpoints.
        public var onEvent: (@Sendable (RunEvent) -> Void)?

        /// Options with these values; the rest keep their defaults.
        public init(force: Bool = false, rawChunkIO: Bool = true, resume: Bool = false,
                    checkpointInterval: Double = 30, stop: StopRequest? = nil,
                    onEvent: (@Sendable (RunEvent) -> Void)? = nil) {
            self.force = force
            self.rawChunkIO = rawChunkIO
            self.resume = resume
            self.checkpointInterval = checkpointInterval
            self.stop = stop
            self.onEvent = onEvent
        }
    }

    /// The pipeline this runner runs.
    public let config: PipelineConfig
    /// How it runs.
    public let options: Options
    private let lane = IOLane()

    /// A runner for `config`; nothing is opened until `run()`.
    public init(config: PipelineConfig, options: Options = Options()) {
        self.config = config
        self.options = options
    }

    /// Runs the pipeline to completion (or finds its output up to date: `Options.skipIfFresh`).
    /// Throws `H5BatchError`.
    public func run() throws -> RunReport {
        try lane.sync { try runOnLane() }
    }

    /// One dataset of a run: the whole run for a single dataset, one of `input.datasets`
    /// otherwise. `config` names this dataset and its output dataset.
    struct DatasetRun {
        let config: PipelineConfig
        let job: PreparedJob
        let chunkRows: Int
        /// This dataset's own identity: its provenance's resolved pipeline.
        let identity: JobIdentity
        let recipe: Provenance.Recipe
        var rows: Int { job.input.rowCount }
        var outputDataset: String { job.outputDataset }

        func expectation(identity: JobIdentity) -> PartialOutput.Expectation {
            job.outputExpectation(config.output, identity: identity, chunkRows: chunkRows)
        }
    }

    private func runOnLane() throws -> RunReport {
        let started = now()
        guard let inputFile = config.input?.file else {
            throw H5BatchError(.usage, "no input: set input.file in the pipeline file or pass --input FILE[:DATASET]")
        }
        guard let outputPath = config.output.file else {
            throw H5BatchError(.usage, "no output: set output.file in the pipeline file or pass --output FILE[:DATASET]")
        }
        // Claim the output first, so that a run overlapping another is told so (exit 75)
        // whatever else it would find; a missing folder is claimed once it exists.
        var lock = OutputTarget.folderExists(for: outputPath) ? try OutputLock.acquire(for: outputPath) : nil
        defer { lock?.release() }
        // --skip-if-fresh decides below whether an existing output may be replaced.
        try OutputTarget.check(outputPath, reads: [inputFile] + config.stages.compactMap(\.file),
                               force: options.force || options.skipIfFresh)
        let targets = try prepareDatasetRuns(inputFile: inputFile)
        let several = config.input?.datasets != nil
        // What a checkpoint names: the dataset's job, or every dataset's together.
        let identity = several ? JobIdentity(combining: targets.map(\.identity)) : targets[0].identity
        let workers = config.run.workers ?? SystemInfo.activeCores
        if let job = targets.first?.job, let shard = job.shard {
            options.onEvent?(.shard(shard, rows: job.input.rowCount, of: job.inputHandle.path, unit: job.shardUnit))
        }

        var report = RunReport()
        report.mode = config.run.mode
        report.batchRows = targets.map { config.run.mode == .full ? $0.rows : min($0.job.batchRows, $0.rows) }.max() ?? 0
        report.workers = workers
        report.input = several ? "\(inputFile): \(targets.count) datasets" : "\(targets[0].job.inputFile):\(targets[0].job.input.name)"
        report.output = several ? "\(outputPath): \(targets.count) datasets" : "\(outputPath):\(targets[0].outputDataset)"
        report.inputPath = Self.distinct(targets.map(\.job.reader.pathDescription))

        if options.skipIfFresh && FileManager.default.fileExists(atPath: outputPath) {
            if try isFresh(targets, outputPath: outputPath, workers: workers) {
                report.upToDate = true
                report.seconds = now() - started
                report.peakResidentBytes = SystemInfo.peakResidentBytes
                return report
            }
        }
        if config.run.mode == .full {
            for target in targets { try checkFullModeMemory(target, workers: workers) }
        }

        try OutputTarget.prepareFolder(for: outputPath)
        if lock == nil { lock = try OutputLock.acquire(for: outputPath) }
        let partial = PartialOutput(outputPath: outputPath)
        let (output, first) = try openPartial(partial, targets: targets, identity: identity, several: several)
        let rowsInAll = targets.reduce(0) { $0 + $1.rows }
        // Rows this process computes: a resumed run's are those after its checkpoint.
        let resumedRows = output.resumedFrom?.rowsDone ?? 0
        let rowsThisRun = targets[first...].reduce(0) { $0 + $1.rows } - resumedRows
        var thisRunBefore = 0
        // The checkpoint a failure leaves to resume from: the current dataset's latest, or the
        // one that closed the dataset before it.
        var current: Checkpointer?
        var closedBefore = output.resumedFrom
        // A resumed run's finished datasets were counted before it.
        if options.statistics, let earlier = output.resumedFrom?.completedStatistics { report.statistics = earlier }
        do {
            for index in first..<targets.count {
                let opened = index == first ? output : try partial.addDataset(to: output, expecting: targets[index].expectation(identity: identity))
                let done = targets[..<index].reduce(0) { $0 + $1.rows }
                current = nil
                let checkpointer = try runDataset(
                    targets[index], output: opened, identity: identity, partial: partial, workers: workers,
                    previous: closedBefore, datasets: several ? targets.count : nil,
                    completed: several ? targets[..<index].map(\.outputDataset) : nil, closesDataset: index < targets.count - 1,
                    progress: ProgressPlacement(rowsBefore: done, rowsInAll: rowsInAll, thisRunBefore: thisRunBefore,
                                                rowsThisRun: rowsThisRun),
                    report: &report, started: { current = $0 })
                thisRunBefore += targets[index].rows - (index == first ? resumedRows : 0)
                if let saved = checkpointer?.saved { closedBefore = saved }
                current = nil
            }
            // No last checkpoint: its syncs would cost short runs more than the run itself, and
            // a crash between the close and the rename (which a resumed run would detect by the
            // changed superblock, and start over) is a window of milliseconds.
            try translatingHDF5Errors(otherwise: .io) { try output.file.close() }
            try OutputTarget.commit(partial: partial.path, to: outputPath)
            try? DurableFile.remove(partial.recordPath)
            if let statistics = report.statistics {
                // Beside the output, once it is in place (its attributes hold the summary).
                try DurableFile.write(try StatisticsFile.json(output: outputPath, datasets: statistics.map { ($0.dataset, $0.statistics) }),
                                      to: StatisticsFile.path(forOutput: outputPath))
            } else if FileManager.default.fileExists(atPath: StatisticsFile.path(forOutput: outputPath)) {
                // An earlier output's statistics must not pass for this one's.
                try DurableFile.remove(StatisticsFile.path(forOutput: outputPath))
            }
        } catch let error as H5BatchError {
            output.file.abandon()
            let saved = current?.saved ?? closedBefore
            guard let saved, saved.rowsDone > 0 || !(saved.completedDatasets ?? []).isEmpty, error.isResumable else {
                partial.discard()
                throw error
            }
            if case .stopped = error.kind { throw error }
            throw H5BatchError(error.kind, "\(error.message); \(Self.savedText(saved, datasets: several ? targets.count : nil, percentage: false)) saved in \(partial.path): run again with --resume to continue")
        }
        report.seconds = now() - started
        report.peakResidentBytes = SystemInfo.peakResidentBytes
        report.peakThreads = max(report.peakThreads, SystemInfo.threadCount)  // also when no batch ran
        return report
    }

    /// The run's datasets: the one the pipeline names, or each of `input.datasets` (patterns
    /// expanded, in order) with its output dataset under the same path.
    private func prepareDatasetRuns(inputFile: String) throws -> [DatasetRun] {
        guard config.input?.datasets != nil else { return [try prepareDatasetRun(config)] }
        if config.run.shard != nil {
            throw H5BatchError(.usage, "--shard splits one dataset; run each of input.datasets on its own (input.dataset or --input FILE:DATASET) to shard it")
        }
        return try DatasetSelection.configs(config).map { single in
            do {
                return try prepareDatasetRun(single)
            } catch let error as H5BatchError {
                // Which of the datasets does not fit the pipeline.
                throw H5BatchError(error.kind, "\(single.input!.dataset!): \(error.message)")
            }
        }
    }

    private func prepareDatasetRun(_ config: PipelineConfig) throws -> DatasetRun {
        let job = try PreparedJob(config: config, rawChunkIO: options.rawChunkIO)
        let chunkRows = min(config.output.chunkRows ?? job.batchRows, max(job.input.rowCount, 1))
        let identity = try JobIdentity(config: config, batchRows: job.batchRows, chunkRows: chunkRows)
        let recipe = Provenance.Recipe(version: H5BatchVersion.string, config: identity.pipeline,
                                       source: "\(absolutePath(job.inputFile)):\(job.input.name)",
                                       weightsFingerprint: job.chain.parameterFingerprint)
        return DatasetRun(config: config, job: job, chunkRows: chunkRows, identity: identity, recipe: recipe)
    }

    /// `--skip-if-fresh`: whether every dataset of the existing output is up to date (said
    /// through `onEvent`); throws when it is not h5batch's to replace.
    private func isFresh(_ targets: [DatasetRun], outputPath: String, workers: Int) throws -> Bool {
        if config.input?.datasets != nil, let held = try? HDF5File.open(outputPath).datasetPaths() {
            // The list is part of what the file is: a dataset the pattern now takes, or one it no
            // longer takes, makes the file out of date (an h5batch output holds only its own).
            let wanted = targets.map(\.outputDataset)
            let missing = wanted.filter { !held.contains($0) }, extra = held.filter { !wanted.contains($0) }
            if !missing.isEmpty || !extra.isEmpty {
                let change = (missing.isEmpty ? [] : ["it lacks \(missing.joined(separator: ", "))"])
                    + (extra.isEmpty ? [] : ["it holds \(extra.joined(separator: ", ")), which input.datasets no longer names"])
                options.onEvent?(.outOfDate(path: outputPath, reason: change.joined(separator: "; ")))
                return false
            }
        }
        var reasons: [String] = []
        for target in targets {
            let job = target.job
            let freshness = try Freshness.check(
                output: outputPath, dataset: target.outputDataset, expected: target.recipe,
                sourceState: target.identity.inputState!, sourceShape: job.input.shape, shard: job.shard,
                onEvent: options.onEvent,
                digest: { try SourceDigester(reader: job.reader, batchRows: job.batchRows, workers: workers).digest() })
            let label = targets.count > 1 ? "\(target.outputDataset): " : ""
            switch freshness {
            case .upToDate(let reason):
                reasons.append(label + reason)
            case .stale(let reason):
                options.onEvent?(.outOfDate(path: outputPath, reason: label + reason))
                return false
            case .unknown(let reason) where !options.force:
                throw H5BatchError(.cannotCreate, "output \(outputPath) exists but h5batch cannot tell how it was made: \(label)\(reason); --skip-if-fresh replaces only outputs h5batch made (pass --force to replace it)")
            case .unknown:
                return false
            }
        }
        let reason = targets.count == 1 ? reasons[0] : "its \(targets.count) datasets were made from the same inputs, pipeline, weights and h5batch version"
        options.onEvent?(.upToDate(path: outputPath, reason: reason))
        return true
    }

    private func checkFullModeMemory(_ target: DatasetRun, workers: Int) throws {
        let job = target.job
        let inputChunkRows = job.reader.layout?.chunkRows ?? 1
        let ioBuffers = PipelinePlan.fullModeIOBufferBytes(workers: workers, batchRows: job.batchRows, chain: job.chain)
        let needed = FullDatasetRunner.estimatedPeakBytes(rows: target.rows.roundedUp(toMultipleOf: inputChunkRows), chain: job.chain, ioBufferBytes: ioBuffers)
        let limit = config.run.memoryLimit.bytes(physicalMemory: SystemInfo.availableMemory)
        if needed > limit {
            throw H5BatchError(.usage, PipelinePlan.fullModeRefusal(needed: needed, rows: target.rows, limit: limit, setting: config.run.memoryLimit))
        }
    }

    /// Opens the partial output: a new one holding the first dataset, or the one a checkpoint
    /// describes, continued at the dataset it names (every dataset before it must be there).
    private func openPartial(_ partial: PartialOutput, targets: [DatasetRun], identity: JobIdentity,
                             several: Bool) throws -> (PartialOutput.Opened, first: Int) {
        var first = 0
        // The record as the previous run left it (`partial.open` reads it again, to check it).
        let record = options.resume ? try? Checkpoint.read(partial.recordPath) : nil
        if several, let record, let index = targets.firstIndex(where: { $0.outputDataset == record.dataset }),
           record.completedDatasets ?? [] == targets[..<index].map(\.outputDataset) {
            first = index
        }
        var resume = options.resume
        if options.statistics, let record, record.statistics == nil {
            // Statistics must cover every row: a checkpoint without them cannot be continued.
            if FileManager.default.fileExists(atPath: partial.path) {
                options.onEvent?(.notResuming(path: partial.path, reason: "its run did not count statistics (--stats), so the rows before its checkpoint have none"))
            }
            resume = false
        }
        let output = try partial.open(resume: resume, expecting: targets[first].expectation(identity: identity),
                                      onEvent: resume || !options.resume ? options.onEvent : nil)
        guard first > 0 else { return (output, 0) }
        var problem: String? = output.resumedFrom == nil ? "" : nil
        if problem == nil {
            for target in targets[..<first] {
                let there = (try? output.file.hasDataset(target.outputDataset)) == true
                    && (try? output.file.dataset(target.outputDataset).stringAttribute(Checkpoint.runIDAttribute)) == output.runID
                if !there { problem = "it lacks \(target.outputDataset), which its checkpoint says is done"; break }
            }
        }
        guard let problem else { return (output, first) }
        // Not continued after all: start over from the first dataset.
        output.file.abandon()
        partial.discard()
        if !problem.isEmpty { options.onEvent?(.notResuming(path: partial.path, reason: problem)) }
        return (try partial.open(resume: false, expecting: targets[0].expectation(identity: identity), onEvent: nil), 0)
    }

    /// Runs one dataset into `output` (a checkpoint's dataset continues at its row) and writes
    /// its provenance; with `closesDataset`, ends with a checkpoint of the finished dataset,
    /// from which a resumed run goes on to the next. Returns the dataset's checkpointer.
    private func runDataset(_ target: DatasetRun, output: PartialOutput.Opened, identity: JobIdentity, partial: PartialOutput,
                           workers: Int, previous: Checkpoint?, datasets: Int?,
                           completed: [String]?, closesDataset: Bool, progress: ProgressPlacement,
                           report: inout RunReport, started: (Checkpointer?) -> Void) throws -> Checkpointer? {
        let job = target.job, rows = target.rows, batchRows = job.batchRows
        let inputChunkRows = job.reader.layout?.chunkRows ?? 1
        // A checkpoint's row is a chunk boundary of the output, not always a batch boundary:
        // the resumed run starts at the batch holding it (batches always start at multiples of
        // the batch rows, which keeps the sums BLAS forms the same) and writes from it.
        let resumeRow = output.resumedFrom?.rowsDone ?? 0
        let plan = BatchPlan(rows: rows, batchRows: batchRows, start: resumeRow == rows ? rows : resumeRow / batchRows * batchRows)
        var digestBefore: UInt64 = 0
        if let resumed = output.resumedFrom {
            guard resumed.inputDigest.row == plan.start, let value = resumed.inputDigest.value else {
                throw H5BatchError(.data, "cannot continue \(partial.path): its checkpoint's input digest covers the rows before \(resumed.inputDigest.row), not \(plan.start); run again without --resume")
            }
            digestBefore = value
        }
        let digests = InputDigestLedger(plan: plan, before: digestBefore)
        let statistics = options.statistics
            ? StatisticsLedger(chain: job.chain, start: plan.start, before: output.resumedFrom?.statistics) : nil
        let writer = BatchWriter(dataset: output.dataset, type: target.config.output.dtype, batchRows: batchRows,
                                 firstRow: resumeRow, allowRawChunks: options.rawChunkIO)
        report.outputPath = Self.distinct([report.outputPath, writer.pathDescription].filter { !$0.isEmpty })
        report.rows += rows - resumeRow
        if resumeRow > 0 { report.resumedFromRow = progress.rowsBefore + resumeRow }
        report.bytesIn += plan.remainingRows * job.input.featureCount * job.input.elementType.size
        report.bytesOut += (rows - resumeRow) * job.chain.outputWidth * target.config.output.dtype.size
        report.linearFlops += plan.remainingRows * job.chain.linearFlopsPerRow

        let checkpointer = output.ledger.map { ledger in
            Checkpointer(output: output, ledger: ledger, digests: digests, identity: identity, rows: rows,
                         completedDatasets: completed, statistics: statistics,
                         completedStatistics: statistics == nil || completed == nil ? nil : report.statistics ?? [],
                         recordPath: partial.recordPath,
                         interval: options.checkpointInterval, rowInterval: options.checkpointRows, onEvent: options.onEvent)
        }
        started(checkpointer)
        let outcome = try runBatches(job: job, reader: job.reader, writer: writer, plan: plan, workers: workers,
                                     inputChunkRows: inputChunkRows, checkpointer: checkpointer, digests: digests,
                                     statistics: statistics, placement: progress, report: &report)
        if outcome == .stopped {
            if let checkpointer, writer.completeRows > checkpointer.rowsSaved { try checkpointer.save(upTo: writer.completeRows) }
            throw stoppedError(saved: checkpointer?.saved ?? previous, datasets: datasets, partial: partial.path)
        }
        let provenance = Provenance(
            recipe: target.recipe,
            sourceFingerprint: SourceFingerprint(digest: digests.total, shape: job.input.shape, file: target.identity.inputState!),
            created: Provenance.timestamp())
        let counted = statistics?.total
        try translatingHDF5Errors(otherwise: .io) {
            try provenance.write(to: output.dataset)
            if let shard = job.shard { try output.dataset.setAttribute(ShardPlacement.attribute, string: shard.json) }
            if let counted {
                let file = (StatisticsFile.path(forOutput: config.output.file ?? "") as NSString).lastPathComponent
                try output.dataset.setAttribute(StatisticsFile.attributeName, string: try StatisticsFile.attribute(counted, file: file))
            }
        }
        if let counted { report.statistics = (report.statistics ?? []) + [DatasetStatistics(dataset: target.outputDataset, statistics: counted)] }
        if closesDataset, let checkpointer { try checkpointer.save(upTo: rows) }
        return checkpointer
    }

    /// The distinct values of `values` in their order, joined with ", ".
    private static func distinct(_ values: [String]) -> String {
        var seen = Set<String>()
        return values.flatMap { $0.components(separatedBy: ", ") }.filter { seen.insert($0).inserted }.joined(separator: ", ")
    }

    /// Runs the plan's batches in the configured mode, writing them with `writer`.
    /// Where one dataset's progress lies in a several-dataset run's.
    struct ProgressPlacement {
        /// Rows of the datasets before this one, and of all of them.
        let rowsBefore: Int
        let rowsInAll: Int
        /// Rows this process computed before this dataset, and computes in all (a resumed
        /// run's count from its checkpoint).
        let thisRunBefore: Int
        let rowsThisRun: Int
    }

    /// `placement` places this dataset's progress in the whole run's.
    private func runBatches(job: PreparedJob, reader: BatchReader, writer: BatchWriter, plan: BatchPlan,
                            workers: Int, inputChunkRows: Int, checkpointer: Checkpointer?,
                            digests: InputDigestLedger, statistics: StatisticsLedger?, placement: ProgressPlacement,
                            report: inout RunReport) throws -> StreamOutcome {
        guard plan.remainingRows > 0 else { return .completed }
        let rows = plan.rows
        // Buffers hold whole stored chunks, including an edge chunk's padding.
        let chunkPadded = max(rows.roundedUp(toMultipleOf: inputChunkRows), rows.roundedUp(toMultipleOf: writer.encoder?.layout?.chunkRows ?? 1))
        let stop = options.stop
        let control = StreamControl(shouldStop: { stop?.isRequested ?? false },
                                    written: { try checkpointer?.written(upTo: writer.completeRows) })
        let progress: ProgressSink? = options.onEvent.map { onEvent in
            guard placement.rowsInAll != rows else { return { @Sendable progress in onEvent(.progress(progress)) } }
            // One of several datasets: counted in the whole run's rows.
            let remaining = Double(plan.remainingRows), thisRun = Double(max(1, placement.rowsThisRun))
            let before = Double(placement.thisRunBefore), rowsBefore = placement.rowsBefore, rowsInAll = placement.rowsInAll
            let rowsThisRun = placement.rowsThisRun
            return { @Sendable progress in
                onEvent(.progress(RunProgress(phase: progress.phase, rowsDone: rowsBefore + progress.rowsDone, rowsTotal: rowsInAll,
                                              rowsThisRun: rowsThisRun, fraction: (before + progress.fraction * remaining) / thisRun)))
            }
        }
        return try translatingHDF5Errors(otherwise: .io) {
            switch config.run.mode {
            case .minibatch:
                var runner = MiniBatchRunner(reader: reader, writer: writer, chain: job.chain, plan: plan,
                                             capacityRows: MiniBatchRunner.capacityRows(rows: rows, batchRows: plan.batchRows, chunkPadded: chunkPadded),
                                             workers: workers,
                                             digests: digests, progress: progress)
                runner.statistics = statistics
                return try runner.run(control: control, report: &report)
            case .full:
                var runner = FullDatasetRunner(reader: reader, writer: writer, chain: job.chain, plan: plan,
                                               paddedRows: chunkPadded - plan.start, workers: workers,
                                               digests: digests, progress: progress)
                runner.statistics = statistics
                return try runner.run(control: control, report: &report)
            }
        }
    }

    /// `datasets`: the number of datasets of a several-dataset run.
    private func stoppedError(saved: Checkpoint?, datasets: Int?, partial: String) -> H5BatchError {
        let signal = options.stop?.signalNumber ?? SIGINT
        let by = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "signal \(signal)"
        guard let saved, saved.rowsDone > 0 || !(saved.completedDatasets ?? []).isEmpty else {
            return H5BatchError(.stopped(signal: signal), "stopped by \(by) before any rows were saved; nothing to resume")
        }
        return H5BatchError(.stopped(signal: signal), "stopped by \(by): \(Self.savedText(saved, datasets: datasets)) saved in \(partial); run again with --resume to continue")
    }

    /// What a checkpoint holds, for messages: `417,792 of 1,048,576 rows (40%) are`, or with
    /// several datasets `1 of 3 datasets and 20,000 of 50,000 rows of /val/x are`.
    private static func savedText(_ saved: Checkpoint, datasets: Int?, percentage: Bool = true) -> String {
        let rows = "\(formatCount(saved.rowsDone)) of \(formatCount(saved.rowsTotal)) rows"
        guard let datasets else { return percentage ? "\(rows) (\(percent(saved.rowsDone, of: saved.rowsTotal))) are" : "\(rows) are" }
        // A checkpoint at a dataset's last row closes it.
        let finished = (saved.completedDatasets?.count ?? 0) + (saved.rowsDone == saved.rowsTotal ? 1 : 0)
        let whole = "\(finished) of \(datasets) dataset\(datasets == 1 ? "" : "s")"
        return saved.rowsDone == saved.rowsTotal || saved.rowsDone == 0 ? "\(whole) are" : "\(whole) and \(rows) of \(saved.dataset) are"
    }
}

extension H5BatchError {
    /// Whether a partial output saved before this error is worth keeping: the run was stopped,
    /// or writing failed (a full disk); not when the input or the pipeline is at fault.
    var isResumable: Bool {
        switch kind {
        case .io, .stopped: return true
        default: return false
        }
    }
}
