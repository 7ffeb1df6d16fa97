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
/// OpenBLAS's thread count is process-wide; a run sets it to one (every worker multiplies its own
/// batches): run one pipeline at a time per process.
public final class PipelineRunner {
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
        /// Set to stop the run early, resumably (see `StopRequest`).
        public var stop: StopRequest?
        /// Told what the run does with leftover partial outputs and checkpoints.
        public var onEvent: (@Sendable (RunEvent) -> Void)?

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

    public let config: PipelineConfig
    public let options: Options
    private let lane = DispatchQueue(label: "h5batch.io")

    public init(config: PipelineConfig, options: Options = Options()) {
        self.config = config
        self.options = options
    }

    /// Runs the pipeline to completion (or finds its output up to date: `Options.skipIfFresh`).
    /// Throws `H5BatchError`.
    public func run() throws -> RunReport {
        try lane.sync { try runOnLane() }
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
        let job = try PreparedJob(config: config, rawChunkIO: options.rawChunkIO)
        let workers = config.run.workers ?? SystemInfo.activeCores
        let rows = job.input.rowCount
        let reader = job.reader
        // Batches cover whole stored chunks when h5batch decodes them itself.
        let inputChunkRows = reader.layout?.chunkRows ?? 1
        let batchRows = job.batchRows
        if let shard = job.shard {
            options.onEvent?(.shard(shard, rows: rows, of: job.inputHandle.path, unit: job.shardUnit))
        }
        let outputChunkRows = min(config.output.chunkRows ?? batchRows, max(rows, 1))
        let identity = try JobIdentity(config: config, batchRows: batchRows, chunkRows: outputChunkRows)
        let recipe = Provenance.Recipe(version: H5BatchVersion.string, config: identity.pipeline,
                                       source: "\(absolutePath(job.inputFile)):\(job.input.name)",
                                       weightsFingerprint: job.chain.parameterFingerprint)

        var report = RunReport()
        report.mode = config.run.mode
        report.batchRows = config.run.mode == .full ? rows : min(batchRows, rows)
        report.workers = workers
        report.input = "\(job.inputFile):\(job.input.name)"
        report.output = "\(outputPath):\(job.outputDataset)"
        report.inputPath = reader.pathDescription

        if options.skipIfFresh && FileManager.default.fileExists(atPath: outputPath) {
            let freshness = try Freshness.check(
                output: outputPath, dataset: job.outputDataset, expected: recipe, sourceState: identity.inputState!,
                sourceShape: job.input.shape, shard: job.shard, onEvent: options.onEvent,
                digest: { try SourceDigester(reader: reader, batchRows: batchRows, workers: workers).digest() })
            switch freshness {
            case .upToDate(let reason):
                options.onEvent?(.upToDate(path: outputPath, reason: reason))
                report.upToDate = true
                report.seconds = now() - started
                report.peakResidentBytes = SystemInfo.peakResidentBytes
                return report
            case .stale(let reason):
                options.onEvent?(.outOfDate(path: outputPath, reason: reason))
            case .unknown(let reason) where !options.force:
                throw H5BatchError(.cannotCreate, "output \(outputPath) exists but h5batch cannot tell how it was made: \(reason); --skip-if-fresh replaces only outputs h5batch made (pass --force to replace it)")
            case .unknown:
                break
            }
        }

        if config.run.mode == .full {
            let ioBuffers = PipelinePlan.fullModeIOBufferBytes(workers: workers, batchRows: batchRows, chain: job.chain)
            let needed = FullDatasetRunner.estimatedPeakBytes(rows: roundUp(rows, inputChunkRows), chain: job.chain, ioBufferBytes: ioBuffers)
            let limit = config.run.memoryLimit.bytes(physicalMemory: SystemInfo.availableMemory)
            if needed > limit {
                throw H5BatchError(.usage, PipelinePlan.fullModeRefusal(needed: needed, rows: rows, limit: limit, setting: config.run.memoryLimit))
            }
        }

        try OutputTarget.prepareFolder(for: outputPath)
        if lock == nil { lock = try OutputLock.acquire(for: outputPath) }
        let partial = PartialOutput(outputPath: outputPath)
        let output = try partial.open(resume: options.resume,
                                      expecting: job.outputExpectation(config.output, identity: identity, chunkRows: outputChunkRows),
                                      onEvent: options.onEvent)

        // A checkpoint's row is a chunk boundary of the output, not always a batch boundary:
        // the resumed run starts at the batch holding it (batches always start at multiples of
        // the batch rows, which keeps the sums BLAS forms the same) and writes from it.
        let resumeRow = output.resumedFrom?.rowsDone ?? 0
        let plan = BatchPlan(rows: rows, batchRows: batchRows, start: resumeRow == rows ? rows : resumeRow / batchRows * batchRows)
        var digestBefore: UInt64 = 0
        if let resumed = output.resumedFrom {
            guard resumed.inputDigest.row == plan.start, let value = resumed.inputDigest.value else {
                output.file.abandon()
                throw H5BatchError(.data, "cannot continue \(partial.path): its checkpoint's input digest covers the rows before \(resumed.inputDigest.row), not \(plan.start); run again without --resume")
            }
            digestBefore = value
        }
        let digests = InputDigestLedger(plan: plan, before: digestBefore)
        let writer = BatchWriter(dataset: output.dataset, type: config.output.dtype, batchRows: batchRows,
                                 firstRow: resumeRow, allowRawChunks: options.rawChunkIO)
        report.outputPath = writer.pathDescription
        report.rows = rows - resumeRow
        report.resumedFromRow = resumeRow
        report.bytesIn = plan.remainingRows * job.input.featureCount * job.input.elementType.size
        report.bytesOut = report.rows * job.chain.outputWidth * config.output.dtype.size
        report.linearFlops = plan.remainingRows * job.chain.linearFlopsPerRow

        let checkpointer = output.ledger.map { ledger in
            Checkpointer(output: output, ledger: ledger, digests: digests, identity: identity, rows: rows,
                         recordPath: partial.recordPath,
                         interval: options.checkpointInterval, rowInterval: options.checkpointRows, onEvent: options.onEvent)
        }
        do {
            let outcome = try runBatches(job: job, reader: reader, writer: writer, plan: plan, workers: workers,
                                         inputChunkRows: inputChunkRows, checkpointer: checkpointer, digests: digests,
                                         report: &report)
            if outcome == .stopped {
                if let checkpointer, writer.completeRows > checkpointer.rowsSaved { try checkpointer.save(upTo: writer.completeRows) }
                throw stoppedError(saved: checkpointer?.saved, partial: partial.path)
            }
            let provenance = Provenance(
                recipe: recipe,
                sourceFingerprint: SourceFingerprint(digest: digests.total, shape: job.input.shape, file: identity.inputState!),
                created: Provenance.timestamp())
            try translatingHDF5Errors(otherwise: .io) {
                try provenance.write(to: output.dataset)
                if let shard = job.shard { try output.dataset.setAttribute(ShardPlacement.attribute, string: shard.json) }
            }
            // No last checkpoint: its syncs would cost short runs more than the run itself, and
            // a crash between the close and the rename (which a resumed run would detect by the
            // changed superblock, and start over) is a window of milliseconds.
            try translatingHDF5Errors(otherwise: .io) { try output.file.close() }
            try OutputTarget.commit(partial: partial.path, to: outputPath)
            try? DurableFile.remove(partial.recordPath)
        } catch let error as H5BatchError {
            output.file.abandon()
            guard let saved = checkpointer?.saved, saved.rowsDone > 0, error.isResumable else {
                partial.discard()
                throw error
            }
            if case .stopped = error.kind { throw error }
            throw H5BatchError(error.kind, "\(error.message); \(formatCount(saved.rowsDone)) of \(formatCount(rows)) rows are saved in \(partial.path): run again with --resume to continue")
        }
        report.seconds = now() - started
        report.peakResidentBytes = SystemInfo.peakResidentBytes
        report.peakThreads = max(report.peakThreads, SystemInfo.threadCount)  // also when no batch ran
        return report
    }

    /// Runs the plan's batches in the configured mode, writing them with `writer`.
    private func runBatches(job: PreparedJob, reader: BatchReader, writer: BatchWriter, plan: BatchPlan,
                            workers: Int, inputChunkRows: Int, checkpointer: Checkpointer?,
                            digests: InputDigestLedger, report: inout RunReport) throws -> StreamOutcome {
        guard plan.remainingRows > 0 else { return .completed }
        let rows = plan.rows
        // Buffers hold whole stored chunks, including an edge chunk's padding.
        let chunkPadded = max(roundUp(rows, inputChunkRows), roundUp(rows, writer.encoder?.layout?.chunkRows ?? 1))
        let stop = options.stop
        let control = StreamControl(shouldStop: { stop?.isRequested ?? false },
                                    written: { try checkpointer?.written(upTo: writer.completeRows) })
        let progress: ProgressSink? = options.onEvent.map { onEvent in { @Sendable progress in onEvent(.progress(progress)) } }
        return try translatingHDF5Errors(otherwise: .io) {
            switch config.run.mode {
            case .minibatch:
                return try MiniBatchRunner(reader: reader, writer: writer, chain: job.chain, plan: plan,
                                           capacityRows: MiniBatchRunner.capacityRows(rows: rows, batchRows: plan.batchRows, chunkPadded: chunkPadded),
                                           workers: workers,
                                           digests: digests, progress: progress)
                    .run(control: control, report: &report)
            case .full:
                return try FullDatasetRunner(reader: reader, writer: writer, chain: job.chain, plan: plan,
                                             paddedRows: chunkPadded - plan.start, workers: workers,
                                             digests: digests, progress: progress)
                    .run(control: control, report: &report)
            }
        }
    }

    private func stoppedError(saved: Checkpoint?, partial: String) -> H5BatchError {
        let signal = options.stop?.signalNumber ?? SIGINT
        let by = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "signal \(signal)"
        guard let saved, saved.rowsDone > 0 else {
            return H5BatchError(.stopped(signal: signal), "stopped by \(by) before any rows were saved; nothing to resume")
        }
        return H5BatchError(.stopped(signal: signal), "stopped by \(by): \(formatCount(saved.rowsDone)) of \(formatCount(saved.rowsTotal)) rows (\(percent(saved.rowsDone, of: saved.rowsTotal))) are saved in \(partial); run again with --resume to continue")
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

/// `value` rounded up to a multiple of `multiple`.
private func roundUp(_ value: Int, _ multiple: Int) -> Int {
    (value + multiple - 1) / multiple * multiple
}

/// The opened input, loaded stages and resolved names of one run.
struct PreparedJob {
    let inputFile: String
    let inputHandle: HDF5File
    /// The rows the run processes: the input dataset, or a shard's window of it.
    let input: Dataset
    let reader: BatchReader
    /// The run's batch rows: `run.batch_rows` resolved over the whole input
    /// (`PipelinePlan.resolvedBatchRows`), so that a shard forms the batches a whole run would.
    let batchRows: Int
    /// Where the shard is in the input, when the run is one, and the first-dimension indices
    /// shards are made of.
    let shard: ShardPlacement?
    let shardUnit: Int
    let chain: StageChain
    let outputDataset: String

    /// Opens what `config` names; `config.input` must be set. `rawChunkIO`: as
    /// `PipelineRunner.Options`.
    init(config: PipelineConfig, rawChunkIO: Bool) throws {
        let inputConfig = config.input!
        inputFile = inputConfig.file
        inputHandle = try translatingHDF5Errors(otherwise: .data) { try HDF5File.open(inputConfig.file) }
        let name = try Self.datasetName(inputConfig, in: inputHandle)
        let configuredBatchRows = config.run.batchRows
        let handle = inputHandle
        let whole = try translatingHDF5Errors(otherwise: .data) {
            let probe = try handle.dataset(name)
            guard let chunks = probe.chunkShape else { return probe }
            let cache = BatchPlan.chunkCacheBytes(batchRows: configuredBatchRows, shape: probe.shape, chunks: chunks,
                                                  elementSize: probe.elementType.size)
            return try handle.dataset(name, chunkCacheBytes: cache)
        }
        guard whole.elementType.isNumeric else {
            throw H5BatchError(.data, "dataset \(name) in \(inputFile) holds \(whole.elementType) values; h5batch reads integer and floating-point data")
        }
        guard whole.rank >= 1 else {
            throw H5BatchError(.data, "dataset \(name) in \(inputFile) is a scalar; h5batch needs at least one dimension")
        }
        guard whole.featureCount > 0 else {
            throw H5BatchError(.data, "dataset \(name) in \(inputFile) has shape \(shapeText(whole.shape)): rows have no values")
        }
        if whole.layout == .virtual {
            try translatingHDF5Errors(otherwise: .data) { try whole.checkVirtualSources() }
        }
        let wholeReader = BatchReader(dataset: whole, allowRawChunks: rawChunkIO)
        let chunkRows = wholeReader.layout?.chunkRows ?? 1
        var batchRows = PipelinePlan.resolvedBatchRows(config.run.batchRows, mode: config.run.mode,
                                                       inputChunkRows: chunkRows, rows: whole.rowCount)
        if let shard = config.run.shard, shard.count > 1 || whole.rank >= 2 {
            guard whole.rank >= 2 else {
                throw H5BatchError(.usage, "--shard splits the first dimension, and dataset \(name) in \(inputFile) has shape \(shapeText(whole.shape)): one row; run it without --shard")
            }
            // Units of whole batches (whole chunks on the raw path) and whole first-dimension
            // indices (a row of a rank-3 dataset is one index of its second dimension).
            let inner = whole.shape.dropFirst().dropLast().reduce(1, *)
            let chunkIndices = whole.chunkShape?[0] ?? 1
            let unitRows = Self.leastCommonMultiple(batchRows, Self.leastCommonMultiple(chunkIndices * inner, max(inner, 1)))
            shardUnit = unitRows / max(inner, 1)
            let range = shard.firstDimensionRange(extent: whole.shape[0], unit: shardUnit)
            input = whole.window(firstIndices: range)
            self.shard = ShardPlacement(shard: shard, range: range, extent: whole.shape[0], batchRows: batchRows)
            // A shard smaller than a batch (the last, or an empty one) is one batch: the same
            // rows the whole run's last batch holds.
            batchRows = min(batchRows, max(chunkRows, (input.rowCount + chunkRows - 1) / chunkRows * chunkRows))
            reader = BatchReader(dataset: input, allowRawChunks: rawChunkIO)
        } else {
            input = whole
            shard = nil
            shardUnit = 0
            reader = wholeReader
        }
        self.batchRows = batchRows
        let stages = try StageLoader().load(config.stages)
        chain = try StageChain(stages, inputWidth: input.featureCount)
        outputDataset = config.output.dataset ?? name
    }

    /// The least common multiple of two positive numbers; `Int.max` (one unit holding every
    /// row) when it does not fit.
    private static func leastCommonMultiple(_ a: Int, _ b: Int) -> Int {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        guard x != 0 else { return 0 }
        let (product, overflow) = (a / x).multipliedReportingOverflow(by: b)
        return overflow ? Int.max : product
    }

    /// The configured dataset, or the file's only dataset when none is named.
    private static func datasetName(_ input: PipelineConfig.Input, in file: HDF5File) throws -> String {
        if let name = input.dataset { return name }
        let all = try translatingHDF5Errors(otherwise: .data) { try file.datasetPaths() }
        guard all.count == 1 else {
            let listing = all.isEmpty ? "it has none" : "it has \(all.count): \(all.prefix(8).joined(separator: ", "))"
            throw H5BatchError(.usage, "input.dataset: not given and \(input.file) does not hold exactly one dataset (\(listing))")
        }
        return all[0]
    }

    /// What the output dataset of this job is, and how to make or open it.
    func outputExpectation(_ config: PipelineConfig.Output, identity: JobIdentity, chunkRows: Int) -> PartialOutput.Expectation {
        let rows = input.rowCount
        return PartialOutput.Expectation(
            identity: identity, dataset: outputDataset, shape: input.leadingShape + [chain.outputWidth],
            chunks: rows > 0 ? BatchPlan.chunkShape(rows: chunkRows, leading: input.leadingShape, width: chain.outputWidth) : nil,
            rows: rows,
            create: { file in try self.createOutput(in: file, config: config, chunkRows: chunkRows) },
            open: { file in try self.openOutput(in: file) })
    }

    /// Creates the output dataset: leading dimensions of the input, the chain's output width,
    /// chunks of `chunkRows` rows (see `openOutput` for its chunk cache).
    func createOutput(in file: HDF5File, config: PipelineConfig.Output, chunkRows: Int) throws -> Dataset {
        let shape = input.leadingShape + [chain.outputWidth]
        var layout = HDF5File.DatasetLayout()
        if input.rowCount > 0 {
            layout.chunks = BatchPlan.chunkShape(rows: chunkRows, leading: input.leadingShape, width: chain.outputWidth)
            layout.gzipLevel = config.compression == .gzip ? config.level : nil
            layout.shuffle = config.shuffle
        }
        let dataset = try file.createDataset(outputDataset, type: config.dtype, shape: shape, layout: layout)
        return layout.chunks == nil ? dataset : try openOutput(in: file)
    }

    /// Opens the output dataset of a file made by `createOutput`, without a chunk cache: the
    /// writer hands HDF5 whole chunks only, so HDF5 can filter and write each one as it comes,
    /// and a checkpoint's flush is left with nothing but metadata to write.
    func openOutput(in file: HDF5File) throws -> Dataset {
        let probe = try file.dataset(outputDataset)
        guard probe.chunkShape != nil else { return probe }
        return try file.dataset(outputDataset, chunkCacheBytes: 0)
    }
}
