import Foundation

/// Runs a pipeline: opens the input, loads the stages, writes the output atomically.
///
/// Everything touching HDF5 happens on one serial I/O lane (libhdf5's thread-safe build holds
/// one global lock, so concurrent calls would only queue on it); workers see only buffers.
/// The output is written to `OUTPUT.partial` and renamed into place once complete, so the
/// output's name never shows a half-written file; on failure nothing is left behind.
///
/// OpenBLAS's thread count is process-wide and each mode sets it (one per worker in mini-batch
/// mode, all cores in full mode): run one pipeline at a time per process.
public final class PipelineRunner {
    public struct Options: Sendable {
        /// Replace an existing output file.
        public var force = false
        /// Read and write stored chunks directly where the layout allows (the fast path). Off,
        /// every batch goes through HDF5's hyperslab I/O and filters: for comparisons and tests.
        public var rawChunkIO = true
        public init(force: Bool = false, rawChunkIO: Bool = true) {
            self.force = force
            self.rawChunkIO = rawChunkIO
        }
    }

    public let config: PipelineConfig
    public let options: Options
    private let lane = DispatchQueue(label: "h5batch.io")

    public init(config: PipelineConfig, options: Options = Options()) {
        self.config = config
        self.options = options
    }

    /// Runs the pipeline to completion. Throws `H5BatchError`.
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
        try OutputTarget.check(outputPath, reads: [inputFile] + config.stages.compactMap(\.file), force: options.force)
        let job = try PreparedJob(config: config)
        let workers = config.run.workers ?? SystemInfo.activeCores
        let rows = job.input.rowCount
        let reader = BatchReader(dataset: job.input, allowRawChunks: options.rawChunkIO)
        // Batches cover whole stored chunks when h5batch decodes them itself.
        let inputChunkRows = reader.layout?.chunkRows ?? 1
        let requested = config.run.mode == .full ? max(config.run.batchRows, inputChunkRows) : config.run.batchRows
        let batchRows = max(1, Int((Double(requested) / Double(inputChunkRows)).rounded())) * inputChunkRows
        let outputChunkRows = min(config.output.chunkRows ?? batchRows, max(rows, 1))

        if config.run.mode == .full {
            // Full mode's batches are windows into its tensors: only stored chunk bytes are extra.
            let ioBuffers = (workers + 1) * batchRows * max(job.chain.inputWidth, job.chain.outputWidth) * 4
            let needed = FullDatasetRunner.estimatedPeakBytes(rows: roundUp(rows, inputChunkRows), chain: job.chain, ioBufferBytes: ioBuffers)
            let limit = config.run.memoryLimit.bytes(physicalMemory: SystemInfo.availableMemory)
            if needed > limit {
                throw H5BatchError(.usage, "full-dataset mode needs about \(formatBytes(needed)) for \(formatCount(rows)) rows, over the memory limit of \(formatBytes(limit)) (run.memory_limit \(config.run.memoryLimit)); use --mode minibatch to stream it in bounded memory")
            }
        }

        var report = RunReport()
        report.mode = config.run.mode
        report.batchRows = config.run.mode == .full ? rows : min(batchRows, rows)
        report.workers = workers
        report.rows = rows
        report.bytesIn = rows * job.input.featureCount * job.input.elementType.size
        report.bytesOut = rows * job.chain.outputWidth * config.output.dtype.size
        report.linearFlops = rows * job.chain.linearFlopsPerRow
        report.input = "\(job.inputFile):\(job.input.name)"
        report.output = "\(outputPath):\(job.outputDataset)"
        report.inputPath = reader.pathDescription

        try OutputTarget.prepareFolder(for: outputPath)
        if lock == nil { lock = try OutputLock.acquire(for: outputPath) }
        let partial = outputPath + ".partial"
        do {
            let file = try translatingHDF5Errors(otherwise: .cannotCreate) { try HDF5File.create(partial) }
            let output = try translatingHDF5Errors(otherwise: .cannotCreate) {
                try job.createOutput(in: file, config: config.output, chunkRows: outputChunkRows,
                                     cacheRows: batchRows)
            }
            let writer = BatchWriter(dataset: output, type: config.output.dtype, batchRows: batchRows,
                                     allowRawChunks: options.rawChunkIO)
            report.outputPath = writer.pathDescription
            // Buffers hold whole stored chunks, including an edge chunk's padding.
            let chunkPadded = max(roundUp(rows, inputChunkRows), roundUp(rows, writer.encoder?.layout?.chunkRows ?? 1))
            let plan = BatchPlan(rows: rows, batchRows: batchRows)
            try translatingHDF5Errors(otherwise: .io) {
                switch config.run.mode {
                case .minibatch:
                    try MiniBatchRunner(reader: reader, writer: writer, chain: job.chain, plan: plan,
                                        capacityRows: min(batchRows, chunkPadded), workers: workers)
                        .run(report: &report)
                case .full:
                    try FullDatasetRunner(reader: reader, writer: writer, chain: job.chain, plan: plan,
                                          paddedRows: chunkPadded, workers: workers)
                        .run(report: &report)
                }
                try file.close()
            }
            try OutputTarget.commit(partial: partial, to: outputPath)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        report.seconds = now() - started
        report.peakResidentBytes = SystemInfo.peakResidentBytes
        return report
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
    let input: Dataset
    let chain: StageChain
    let outputDataset: String

    /// Opens what `config` names; `config.input` must be set.
    init(config: PipelineConfig) throws {
        let inputConfig = config.input!
        inputFile = inputConfig.file
        inputHandle = try translatingHDF5Errors(otherwise: .data) { try HDF5File.open(inputConfig.file) }
        let name = try Self.datasetName(inputConfig, in: inputHandle)
        let batchRows = config.run.batchRows
        let handle = inputHandle
        input = try translatingHDF5Errors(otherwise: .data) {
            let probe = try handle.dataset(name)
            guard let chunks = probe.chunkShape else { return probe }
            let cache = BatchPlan.chunkCacheBytes(batchRows: batchRows, shape: probe.shape, chunks: chunks,
                                                  elementSize: probe.elementType.size)
            return try handle.dataset(name, chunkCacheBytes: cache)
        }
        guard input.elementType.isNumeric else {
            throw H5BatchError(.data, "dataset \(name) in \(inputFile) holds \(input.elementType) values; h5batch reads integer and floating-point data")
        }
        guard input.rank >= 1 else {
            throw H5BatchError(.data, "dataset \(name) in \(inputFile) is a scalar; h5batch needs at least one dimension")
        }
        guard input.featureCount > 0 else {
            throw H5BatchError(.data, "dataset \(name) in \(inputFile) has shape \(shapeText(input.shape)): rows have no values")
        }
        let stages = try StageLoader().load(config.stages)
        chain = try StageChain(stages, inputWidth: input.featureCount)
        outputDataset = config.output.dataset ?? name
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

    /// Creates the output dataset: leading dimensions of the input, the chain's output width,
    /// chunks of `chunkRows` rows; its chunk cache holds what a batch of `cacheRows` touches.
    func createOutput(in file: HDF5File, config: PipelineConfig.Output, chunkRows: Int, cacheRows: Int) throws -> Dataset {
        let shape = input.leadingShape + [chain.outputWidth]
        var layout = HDF5File.DatasetLayout()
        if input.rowCount > 0 {
            layout.chunks = BatchPlan.chunkShape(rows: chunkRows, leading: input.leadingShape, width: chain.outputWidth)
            layout.gzipLevel = config.compression == .gzip ? config.level : nil
            layout.shuffle = config.shuffle
        }
        let dataset = try file.createDataset(outputDataset, type: config.dtype, shape: shape, layout: layout)
        guard let chunks = layout.chunks else { return dataset }
        // Reopen with a chunk cache that holds the chunks a batch writes into (used when the
        // batch does not cover whole chunks and HDF5 assembles them).
        let cache = BatchPlan.chunkCacheBytes(batchRows: cacheRows, shape: shape, chunks: chunks, elementSize: config.dtype.size)
        return cache > 1 << 20 ? try file.dataset(outputDataset, chunkCacheBytes: cache) : dataset
    }
}
