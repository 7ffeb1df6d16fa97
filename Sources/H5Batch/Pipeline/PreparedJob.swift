import Foundation

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
        if let missing = whole.filters.first(where: { !$0.isAvailable }) {
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
            batchRows = min(batchRows, max(chunkRows, input.rowCount.roundedUp(toMultipleOf: chunkRows)))
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
        // input.datasets outside a run (h5batch check): the first of them.
        if let patterns = input.datasets { return try DatasetSelection.resolve(patterns, in: input.file)[0] }
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
            layout.compression = config.chunkCompression
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
