import Foundation

/// The decisions of one run, made once from its pipeline: which datasets it processes (each a
/// `PreparedJob`: input opened, batch and chunk rows resolved, shard cut, stages loaded), how
/// many workers compute, what memory either mode needs, and whether the memory limit refuses it.
///
/// `PipelineRunner` runs it and `PipelinePlan` (`h5batch check`) describes it, so the two cannot
/// disagree. Every figure comes from the code that acts on it: the memory estimates from
/// `MiniBatchRunner` and `FullDatasetRunner`, next to their allocations; the output's layout
/// from `PreparedJob`, which creates it. Built on the lane that will use the open files.
struct RunPlan {
    /// The pipeline, with every override applied.
    let config: PipelineConfig
    /// One per dataset: the one the pipeline names, or each of `input.datasets` (patterns
    /// expanded, in order), with its output dataset under the same path.
    let jobs: [PreparedJob]
    /// The compute workers: `run.workers`, or one per active core.
    let workers: Int
    /// `run.memory_limit` in bytes on this machine, read once.
    let memoryLimitBytes: Int

    /// Opens every dataset the pipeline names and resolves what the run does with it. Throws the
    /// `H5BatchError` for a pipeline, input or weights the run cannot use (for one of
    /// `input.datasets`, naming it).
    init(config: PipelineConfig, rawChunkIO: Bool) throws {
        self.config = config
        _ = try Self.inputFile(of: config)
        workers = config.run.workers ?? SystemInfo.activeCores
        memoryLimitBytes = config.run.memoryLimit.bytes(physicalMemory: SystemInfo.availableMemory)
        jobs = try translatingHDF5Errors(otherwise: .data) {
            guard config.input?.datasets != nil else { return [try PreparedJob(config: config, rawChunkIO: rawChunkIO)] }
            if config.run.shard != nil {
                throw H5BatchError(.usage, "--shard splits one dataset; run each of input.datasets on its own (input.dataset or --input FILE:DATASET) to shard it")
            }
            return try DatasetSelection.configs(config).map { single in
                do {
                    return try PreparedJob(config: single, rawChunkIO: rawChunkIO)
                } catch let error as H5BatchError {
                    // Which of the datasets does not fit the pipeline.
                    throw H5BatchError(error.kind, "\(single.input!.dataset!): \(error.message)")
                }
            }
        }
    }

    // MARK: - What the run needs before it opens anything

    /// The input file, or the error a pipeline without one stops with.
    static func inputFile(of config: PipelineConfig) throws -> String {
        guard let file = config.input?.file else {
            throw H5BatchError(.usage, "no input: set input.file in the pipeline file or pass --input FILE[:DATASET]")
        }
        return file
    }

    /// The error a pipeline without an output file stops with.
    static let noOutput = H5BatchError(.usage, "no output: set output.file in the pipeline file or pass --output FILE[:DATASET]")

    /// The output file, or `noOutput`.
    static func outputFile(of config: PipelineConfig) throws -> String {
        guard let file = config.output.file else { throw noOutput }
        return file
    }

    /// The files the run reads, which its output must not be and whose state a checkpoint
    /// records (`JobIdentity`): the input, then every file each stage reads (an ONNX model's
    /// external data too).
    static func filesRead(by config: PipelineConfig) -> [String] {
        [config.input?.file].compactMap { $0 } + config.stages.compactMap(\.file).flatMap(filesRead(byWeightsAt:))
    }

    // MARK: - Decisions

    /// True for `input.datasets`: one output file holding several datasets.
    var coversSeveralDatasets: Bool { config.input?.datasets != nil }

    var mode: PipelineConfig.Mode { config.run.mode }

    /// What a checkpoint names: the dataset's job, or every dataset's together.
    var identity: JobIdentity {
        coversSeveralDatasets ? JobIdentity(combining: jobs.map(\.identity)) : jobs[0].identity
    }

    /// The batch rows a report names: the rows in full mode, else the batch rows, at most the
    /// rows; the largest over the datasets.
    var reportedBatchRows: Int {
        jobs.map { mode == .full ? $0.rows : min($0.batchRows, $0.rows) }.max() ?? 0
    }

    /// Mini-batch mode's peak memory for `job`, as `MiniBatchRunner` allocates it.
    func miniBatchMemory(_ job: PreparedJob) -> PipelinePlan.MiniBatchMemory {
        MiniBatchRunner.estimatedMemory(rows: job.rows, batchRows: job.batchRows(in: .minibatch), workers: workers,
                                        chain: job.chain, reader: job.reader, encoder: job.newOutputEncoder,
                                        carryBytes: job.outputCarryBytes, chunkCacheBytes: job.chunkCacheBytesInUse)
    }

    /// Full mode's peak memory for `job`, as `FullDatasetRunner` allocates it, and the limit.
    func fullModeMemory(_ job: PreparedJob) -> PipelinePlan.FullMemory {
        let rows = job.rows.roundedUp(toMultipleOf: job.inputChunkRows)
        let batchRows = job.batchRows(in: .full)
        let estimate = FullDatasetRunner.estimatedMemory(rows: rows, batchRows: batchRows, workers: workers, chain: job.chain)
        return PipelinePlan.FullMemory(rows: rows, batchRows: batchRows, tensorBytes: estimate.tensorBytes,
                                       parameterBytes: estimate.parameterBytes, ioBufferBytes: estimate.ioBufferBytes,
                                       runtimeBytes: estimate.runtimeBytes, totalBytes: estimate.totalBytes,
                                       limitSetting: "\(config.run.memoryLimit)", limitBytes: memoryLimitBytes,
                                       overLimit: estimate.totalBytes > memoryLimitBytes)
    }

    /// The error a full-mode run of `job` stops with when its estimate is over the memory limit.
    func fullModeRefusal(_ job: PreparedJob) -> H5BatchError? {
        let memory = fullModeMemory(job)
        guard memory.overLimit else { return nil }
        return H5BatchError(.usage, "full-dataset mode needs about \(formatBytes(memory.totalBytes)) for \(formatCount(job.rows)) rows, over the memory limit of \(formatBytes(memory.limitBytes)) (run.memory_limit \(config.run.memoryLimit)); use --mode minibatch to stream it in bounded memory")
    }

    /// Why this run's mode would not fit in memory: in full mode, the first dataset over the
    /// limit; nil otherwise.
    var memoryRefusal: H5BatchError? {
        guard mode == .full else { return nil }
        return jobs.lazy.compactMap { fullModeRefusal($0) }.first
    }
}
