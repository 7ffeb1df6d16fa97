import Foundation

/// One dataset of a run, opened and resolved: the input (or a shard's window of it) and its
/// reader, the batch rows, the loaded stages, and the output dataset it makes, with its chunk
/// rows and layout. `RunPlan` holds one per dataset; `DatasetRun` runs it.
struct PreparedJob {
    /// This dataset's pipeline: `input.dataset` and `output.dataset` name it and its output.
    let config: PipelineConfig
    let inputFile: String
    let inputHandle: HDF5File
    /// The rows the run processes: the input dataset, or a shard's window of it.
    let input: Dataset
    let reader: BatchReader
    /// The run's batch rows: `run.batch_rows` resolved over the whole input
    /// (`BatchPlan.resolvedBatchRows`), so that a shard forms the batches a whole run would.
    let batchRows: Int
    /// libhdf5's chunk cache for the input, sized for `run.batch_rows`; nil when not chunked.
    let chunkCacheBytes: Int?
    /// Where the shard is in the input, when the run is one, and the first-dimension indices
    /// shards are made of.
    let shard: ShardPlacement?
    let shardUnit: Int
    let chain: StageChain
    let outputDataset: String
    /// Rows per output chunk: `output.chunk_rows`, or the batch rows, at most the rows.
    let outputChunkRows: Int
    /// Whether the run may read and write stored chunks itself (`PipelineRunner.Options`).
    let rawChunkIO: Bool
    /// What this dataset's output is made from: its resolved pipeline (with the batch and
    /// chunk rows), the input file and every weights file, each with its `FileState`.
    let identity: JobIdentity

    /// Opens what `config` names; `config.input` must be set. `rawChunkIO`: as
    /// `PipelineRunner.Options`.
    init(config: PipelineConfig, rawChunkIO: Bool) throws {
        self.config = config
        let inputConfig = config.input!
        inputFile = inputConfig.file
        inputHandle = try translatingHDF5Errors(otherwise: .data) { try HDF5File.open(inputConfig.file) }
        let name = try Self.datasetName(inputConfig, in: inputHandle)
        let configuredBatchRows = config.run.batchRows
        let handle = inputHandle
        var cacheBytes: Int?
        let whole = try translatingHDF5Errors(otherwise: .data) {
            let probe = try handle.dataset(name)
            guard let chunks = probe.chunkShape else { return probe }
            let cache = BatchPlan.chunkCacheBytes(batchRows: configuredBatchRows, shape: probe.shape, chunks: chunks,
                                                  elementSize: probe.elementType.size)
            cacheBytes = cache
            return try handle.dataset(name, chunkCacheBytes: cache)
        }
        chunkCacheBytes = cacheBytes
        if let missing = whole.filters.first(where: { !$0.isAvailable }) {
            if let failure = CodecFilters.registrationFailures[missing.id] {
                throw H5BatchError(.unavailable, "cannot read dataset \(name) in \(inputFile): it is stored with \(missing), and \(failure)")
            }
            throw H5BatchError(.unavailable, "cannot read dataset \(name) in \(inputFile): it is stored with \(missing), "
                + "a filter h5batch cannot decode and this machine's libhdf5 cannot apply (its plugin is not installed, or not on HDF5_PLUGIN_PATH); "
                + "h5batch decodes \(Codecs.nameList) itself (with or without shuffle), and reads fletcher32, szip, nbit, "
                + "scaleoffset and any filter whose HDF5 plugin is installed")
        }
        guard whole.elementType.isNumeric else {
            throw H5BatchError(.data, "dataset \(name) in \(inputFile) holds \(whole.elementType) values; h5batch reads integer and floating-point data")
        }
        guard whole.rank >= 1 else {
            throw H5BatchError(.data, "dataset \(name) in \(inputFile) is a scalar; h5batch needs at least one dimension")
        }
        guard whole.rowWidth > 0 else {
            throw H5BatchError(.data, "dataset \(name) in \(inputFile) has shape \(shapeText(whole.shape)): rows have no values")
        }
        if whole.layout == .virtual {
            try translatingHDF5Errors(otherwise: .data) { try whole.checkVirtualSources() }
        }
        let wholeReader = BatchReader(dataset: whole, allowRawChunks: rawChunkIO)
        let chunkRows = wholeReader.layout?.chunkRows ?? 1
        let batchRows = BatchPlan.resolvedBatchRows(config.run.batchRows, mode: config.run.mode,
                                                    inputChunkRows: chunkRows, rows: whole.rowCount)
        if let shard = config.run.shard, shard.count > 1 || whole.rank >= 2 {
            guard whole.rank >= 2 else {
                throw H5BatchError(.usage, "--shard splits the first dimension, and dataset \(name) in \(inputFile) has shape \(shapeText(whole.shape)): one row; run it without --shard")
            }
            let window = ShardWindow(shard: shard, shape: whole.shape, chunkShape: whole.chunkShape, batchRows: batchRows,
                                     inputChunkRows: chunkRows)
            input = whole.window(firstIndices: window.range)
            self.shard = window.placement
            shardUnit = window.unit
            self.batchRows = window.batchRows
            reader = BatchReader(dataset: input, allowRawChunks: rawChunkIO)
        } else {
            input = whole
            shard = nil
            shardUnit = 0
            self.batchRows = batchRows
            reader = wholeReader
        }
        let stages = try StageLoader().load(config.stages)
        chain = try StageChain(stages, inputWidth: input.rowWidth)
        outputDataset = config.output.dataset ?? name
        outputChunkRows = min(config.output.chunkRows ?? self.batchRows, max(input.rowCount, 1))
        self.rawChunkIO = rawChunkIO
        identity = try JobIdentity(config: config, batchRows: self.batchRows, chunkRows: outputChunkRows)
    }

    /// What the output's provenance says it was made with (`Freshness` compares it).
    var recipe: Provenance.Recipe {
        Provenance.Recipe(version: H5BatchVersion.string, config: identity.pipeline,
                          source: "\(absolutePath(inputFile)):\(input.name)", weightsFingerprint: chain.parameterFingerprint)
    }

    /// The rows the run processes.
    var rows: Int { input.rowCount }

    /// Rows per stored input chunk on the raw path; 1 otherwise.
    var inputChunkRows: Int { reader.layout?.chunkRows ?? 1 }

    /// The batch rows a run in `mode` would use: this run's in its own mode; for the other
    /// mode (which `check` describes too), `run.batch_rows` resolved for it over these rows.
    func batchRows(in mode: PipelineConfig.Mode) -> Int {
        mode == config.run.mode ? batchRows
            : BatchPlan.resolvedBatchRows(config.run.batchRows, mode: mode, inputChunkRows: inputChunkRows, rows: rows)
    }

    /// libhdf5's chunk cache over the input while the run reads hyperslabs of it, at most the
    /// dataset's own size; 0 on the raw path, which bypasses it.
    var chunkCacheBytesInUse: Int {
        guard reader.layout == nil, let chunkCacheBytes else { return 0 }
        return min(chunkCacheBytes, rows * input.rowWidth * input.elementType.size)
    }

    /// The configured dataset, or the file's only dataset when none is named.
    private static func datasetName(_ input: PipelineConfig.Input, in file: HDF5File) throws -> String {
        if let name = input.dataset { return name }
        // input.datasets outside a run (h5batch check): the first of them.
        if let patterns = input.datasets { return try DatasetSelection.resolve(patterns, in: input.file)[0] }
        let all = try translatingHDF5Errors(otherwise: .data) { try file.datasetPaths() }
        guard all.count == 1 else {
            let listing = all.isEmpty ? "it has none" : "it has \(all.count): \(all.prefix(8).joined(separator: ", "))"
            throw H5BatchError(.usage, "input.dataset: not given and \(input.file) does not hold exactly one dataset (\(listing))")
        }
        return all[0]
    }

    // MARK: - The output dataset

    /// The output's shape: the input's leading dimensions and the chain's output width.
    var outputShape: [Int] { input.leadingShape + [chain.outputWidth] }

    /// How the output dataset is stored: chunks of `outputChunkRows` rows with h5batch's filters
    /// (shuffle, then one codec), or contiguous when there are no rows.
    var outputLayout: HDF5File.DatasetLayout {
        guard rows > 0 else { return HDF5File.DatasetLayout() }
        return HDF5File.DatasetLayout(
            chunks: BatchPlan.chunkShape(rows: outputChunkRows, leading: input.leadingShape, width: chain.outputWidth),
            compression: config.output.chunkCompression)
    }

    /// The encoder the run's `BatchWriter` will use on the output `createOutput` makes, worked
    /// out before the output exists.
    var newOutputEncoder: ChunkEncoder? {
        let layout = outputLayout
        let raw = rawChunkIO
            ? BatchWriter.layoutOfNewOutput(shape: outputShape, chunks: layout.chunks, type: config.output.dtype,
                                            compression: layout.compression)
            : nil
        return BatchWriter.encoder(for: raw, type: config.output.dtype, rows: rows, width: chain.outputWidth, batchRows: batchRows)
    }

    /// The bytes the writer carries between batches on the output `createOutput` makes.
    var outputCarryBytes: Int {
        let grid = outputLayout.chunks.flatMap { ChunkGrid(shape: outputShape, chunks: $0) }
        return BatchWriter.carryBytes(grid: grid, encoder: newOutputEncoder, width: chain.outputWidth, type: config.output.dtype)
    }

    /// What the output dataset of this job is, and how to make or open it.
    func outputExpectation(identity: JobIdentity) -> PartialOutput.Expectation {
        PartialOutput.Expectation(
            identity: identity, dataset: outputDataset, shape: outputShape, chunks: outputLayout.chunks, rows: rows,
            create: { file in try self.createOutput(in: file) },
            open: { file in try self.openOutput(in: file) })
    }

    /// Creates the output dataset (`outputShape`, `outputLayout`; see `openOutput` for its
    /// chunk cache).
    func createOutput(in file: HDF5File) throws -> Dataset {
        let layout = outputLayout
        let dataset = try file.createDataset(outputDataset, type: config.output.dtype, shape: outputShape, layout: layout)
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
