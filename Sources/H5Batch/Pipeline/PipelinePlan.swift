import Foundation

/// What a pipeline will do, worked out without running it and without creating anything: the
/// input, the shapes and work through every stage, the output, the batch rows and workers, the
/// I/O path of each side, the memory either mode needs, and what the output's target would say.
/// `h5batch check` prints it; `h5batch bench` uses it to fail early.
///
/// The decisions are the runner's own: the input's path is `BatchReader`'s, the output's is
/// `BatchWriter.encoder(for:…)`, the full-mode estimate is `FullDatasetRunner.estimatedPeakBytes`
/// with the inputs `PipelineRunner` gives it, and the output is checked with `OutputTarget.check`.
public struct PipelinePlan: Sendable, Codable {
    /// The input dataset and how it will be read.
    public struct Input: Sendable, Codable, Equatable {
        /// The input file, as the pipeline and `--input` resolve it.
        public let file: String
        /// The dataset's path in the file, e.g. `/features`.
        public let dataset: String
        /// The dataset's shape (for a shard's run, the shard's window of it).
        public let shape: [Int]
        /// Stored type, numpy-style (`float32`, `int16`, `uint32-be`, …).
        public let dtype: String
        /// `contiguous`, `compact`, `virtual` or `chunks AxB`.
        public let storage: String
        /// The chunk dimensions, or nil when the dataset is not chunked.
        public let chunks: [Int]?
        /// `shuffle`, `gzip(4)`, …; empty without filters.
        public let filters: [String]
        /// Rows: the product of the leading dimensions.
        public let rows: Int
        /// Values per row: the last dimension.
        public let width: Int
        /// Logical bytes: rows × width × stored element size.
        public let bytes: Int
        /// "raw chunks" (h5batch reads the stored chunks and decodes them on the workers) or
        /// "hyperslab" (libhdf5 reads, decodes and converts).
        public let path: String
        /// Rows per stored chunk on the raw path; batches cover whole chunks.
        public let chunkRows: Int?
        /// The shard's place in the input, for a shard's run (`shape` and `rows` are the shard's).
        public let shard: ShardPlacement?
    }

    /// One stage of the chain.
    public struct Stage: Sendable, Codable, Equatable {
        /// From 1, as error messages count them.
        public let index: Int
        /// The pipeline-file name, e.g. `linear`.
        public let name: String
        /// One line with its parameters, e.g. `linear(32 → 64)`.
        public let description: String
        /// The row width the stage receives.
        public let inputWidth: Int
        /// The row width it produces.
        public let outputWidth: Int
        /// The tensor's shape after this stage.
        public let outputShape: [Int]
        /// FLOPs per row (`Stage.flopsPerRow`).
        public let flopsPerRow: Int
        /// FLOPs over all the rows.
        public let flops: Int
        /// Bytes its weights and bias take in memory.
        public let parameterBytes: Int
    }

    /// The output dataset as the run would create it.
    public struct Output: Sendable, Codable, Equatable {
        /// nil when neither the pipeline nor `--output` names one (the run refuses).
        public let file: String?
        /// The dataset's path in the output file.
        public let dataset: String
        /// The input's leading dimensions and the chain's output width.
        public let shape: [Int]
        /// The stored type: `float16`, `float32` or `float64`.
        public let dtype: String
        /// nil for an output with no rows, which is contiguous.
        public let chunks: [Int]?
        /// Rows per output chunk: `output.chunk_rows`, or the batch rows, at most the row count.
        public let chunkRows: Int
        /// `shuffle` and `gzip(N)` as configured; empty without filters and for an output with no rows.
        public let filters: [String]
        /// Logical bytes: rows × output width × stored element size.
        public let bytes: Int
        /// "raw chunks" (the workers encode whole chunks, stored with `H5Dwrite_chunk`) or
        /// "hyperslab" (libhdf5 converts, filters and writes).
        public let path: String
    }

    /// How the rows are split and who computes them.
    public struct Execution: Sendable, Codable, Equatable {
        /// `minibatch` or `full`.
        public let mode: PipelineConfig.Mode
        /// `run.batch_rows` (or `--batch-rows`) as given.
        public let batchRowsSetting: Int
        /// The batch rows the run uses: rounded to whole input chunks on the raw path.
        public let batchRows: Int
        /// How many batches cover the rows.
        public let batches: Int
        /// `auto` or the configured count.
        public let workersSetting: String
        /// The compute workers the run uses (`auto` resolved to the active cores).
        public let workers: Int
        /// The cores this process may use; workers beyond them only share the cores.
        public let cores: Int
        /// The GEMM library and kernels the linear stages run on (one thread per product).
        public let gemm: GEMMKernels
        /// The level of the vector kernels: `avx512`, `avx2` or `sse2` (`VectorKernels.isa`).
        public let vectorKernels: String
    }

    /// Mini-batch mode's peak: the buffers `MiniBatchRunner` allocates and touches up front,
    /// what the workers and the writer grow to, and the runtime.
    public struct MiniBatchMemory: Sendable, Codable, Equatable {
        /// `Batch` objects: `workers + 2`, or fewer when there are fewer batches.
        public let batches: Int
        /// Rows each batch buffer holds.
        public let capacityRows: Int
        /// Per batch: input floats, output floats (0 when the chain runs in place), stored chunks.
        public let inputBufferBytes: Int
        /// Output floats per batch, in bytes; 0 when the chain runs in place.
        public let outputBufferBytes: Int
        /// Stored-chunk bytes per batch: the input's chunks as read or the output's as
        /// encoded, whichever is more.
        public let storedChunkBytes: Int
        /// Per worker: the chain's scratch tiles and the codec's scratch buffers.
        public let workspaceBytes: Int
        /// The compute workers, each with its own workspace.
        public let workers: Int
        /// The writer's carry (hyperslab path only).
        public let carryBytes: Int
        /// libhdf5's chunk cache for the input (hyperslab path over chunked input only).
        public let chunkCacheBytes: Int
        /// Bytes the stages' weights and biases take.
        public let parameterBytes: Int
        /// `FullDatasetRunner.runtimeOverheadBytes`: runtime, libraries, HDF5.
        public let runtimeBytes: Int
        /// The estimated peak: the batches, the workspaces and every other term added up.
        public let totalBytes: Int
    }

    /// Full mode's peak as `PipelineRunner` estimates it before running, and the limit it
    /// compares it with.
    public struct FullMemory: Sendable, Codable, Equatable {
        /// Rows the tensors hold: all rows, rounded up to whole input chunks.
        public let rows: Int
        /// Batch rows of full mode's streaming read and write passes.
        public let batchRows: Int
        /// The largest pair of adjacent tensors (or the input tensor alone).
        public let tensorBytes: Int
        /// Bytes the stages' weights and biases take.
        public let parameterBytes: Int
        /// Stored-chunk buffers of the `workers + 1` I/O batches.
        public let ioBufferBytes: Int
        /// `FullDatasetRunner.runtimeOverheadBytes`: runtime, libraries, HDF5.
        public let runtimeBytes: Int
        /// The estimated peak, the figure `run` compares with `limitBytes`.
        public let totalBytes: Int
        /// `run.memory_limit` as given, and in bytes on this machine.
        public let limitSetting: String
        /// `run.memory_limit` in bytes on this machine.
        public let limitBytes: Int
        /// True when a full-mode run would be refused (exit 64).
        public let overLimit: Bool
    }

    /// The estimated peak memory of both modes, whichever one the pipeline uses.
    public struct Memory: Sendable, Codable, Equatable {
        /// Mini-batch mode's estimate.
        public let minibatch: MiniBatchMemory
        /// Full mode's estimate, and the limit it is checked against.
        public let full: FullMemory
    }

    /// What the run would find at the output path, seen without taking the lock or creating
    /// anything.
    public struct OutputState: Sendable, Codable, Equatable {
        /// The output file's path.
        public let path: String
        /// Something exists at the path (a file, or a folder).
        public let exists: Bool
        /// What is at the path is a folder, which the run refuses.
        public let isDirectory: Bool
        /// `--force` was given.
        public let force: Bool
        /// The output's folder (`.` for a bare file name).
        public let folder: String
        /// The folder exists; otherwise the run creates it.
        public let folderExists: Bool
        /// `none` (no lock file), `free` (a lock file left by a run that ended: the next run
        /// takes it over), `held` (another run is writing the output), or `unknown`
        /// (`/proc/locks` cannot be read).
        public let lock: String
        /// `process 4242`, when the lock is held.
        public let lockHolder: String?
        /// `OUTPUT.partial` and `OUTPUT.checkpoint` are there: an interrupted run's output,
        /// which a run replaces (or continues with `--resume`).
        public let partialExists: Bool
        /// `OUTPUT.checkpoint` is there (see `partialExists`).
        public let checkpointExists: Bool
    }

    /// Why the run would not start: the error it would stop with.
    public struct Refusal: Sendable, Codable, Equatable {
        /// The exit code the run would end with: 64, 73 or 75.
        public let exitCode: Int32
        /// The error line the run would print, without its `error: ` prefix.
        public let message: String
    }

    /// The input dataset and how it will be read.
    public let input: Input
    /// The stages, in order.
    public let stageList: [Stage]
    /// FLOPs per row of the whole chain, of its linear stages (2·in·out each), and over all rows.
    public let flopsPerRow: Int
    /// FLOPs per row of the linear stages alone (2·in·out each).
    public let linearFlopsPerRow: Int
    /// FLOPs of the whole chain over all the rows.
    public let flops: Int
    /// Bytes every stage's weights and biases take in memory.
    public let parameterBytes: Int
    /// The output dataset as the run would create it.
    public let output: Output
    /// The batch rows, the batch count and the workers.
    public let run: Execution
    /// The estimated peak memory of each mode.
    public let memory: Memory
    /// nil when there is no output file to look at.
    public let target: OutputState?
    /// The first reason, in the order `run` checks them, that the run would not start; nil when
    /// it would.
    public let refusal: Refusal?
    /// True when there is no `refusal`: the run would start.
    public let wouldRun: Bool
    /// The datasets the run would process (`input.datasets`); the plan describes the first.
    public var datasetCount = 1

    enum CodingKeys: String, CodingKey {
        case input, stageList = "stages", flopsPerRow, linearFlopsPerRow, flops, parameterBytes, output, run,
             memory, target, refusal, wouldRun, datasetCount
    }

    /// Opens the input and the weights of `config` and checks every stage; works out the rest as
    /// `run` would with `force` (`--force`) and `rawChunkIO` (`PipelineRunner.Options`). Throws
    /// the `H5BatchError` `run` would for a pipeline, input or weights it cannot use; a run that
    /// would be refused for its output or its memory is described in `refusal` instead. Creates
    /// nothing and takes no lock.
    public static func make(_ config: PipelineConfig, force: Bool = false, rawChunkIO: Bool = true) throws -> PipelinePlan {
        guard config.input != nil else {
            throw H5BatchError(.usage, "no input: set input.file in the pipeline file or pass --input FILE[:DATASET]")
        }
        return try IOLane().sync {
            try translatingHDF5Errors(otherwise: .data) {
                // Several datasets: each must fit the pipeline (as run checks); the first is planned.
                let configs = try DatasetSelection.configs(config)
                var jobs: [PreparedJob] = []
                for single in configs {
                    do {
                        jobs.append(try PreparedJob(config: single, rawChunkIO: rawChunkIO))
                    } catch let error as H5BatchError where config.input?.datasets != nil {
                        throw H5BatchError(error.kind, "\(single.input!.dataset!): \(error.message)")
                    }
                }
                var plan = try PipelinePlan(job: jobs[0], config: configs[0], force: force, rawChunkIO: rawChunkIO)
                plan.datasetCount = configs.count
                return plan
            }
        }
    }

    /// The batch rows a run uses: `run.batch_rows` rounded to the nearest whole number of input
    /// chunks, at least one, when the raw path applies (`inputChunkRows` > 1); in full mode
    /// raised to at least one chunk first. Never more than the `rows` rounded up to whole
    /// chunks: a larger batch would be the same single batch, with buffers sized for rows that
    /// do not exist.
    public static func resolvedBatchRows(_ batchRows: Int, mode: PipelineConfig.Mode, inputChunkRows: Int, rows: Int) -> Int {
        let wholeDataset = max(rows, 1).roundedUp(toMultipleOf: inputChunkRows)
        let requested = min(mode == .full ? max(batchRows, inputChunkRows) : batchRows, wholeDataset)
        return max(1, Int((Double(requested) / Double(inputChunkRows)).rounded())) * inputChunkRows
    }

    /// The I/O allowance of full mode's estimate: its `workers + 1` batches carry only stored
    /// chunk bytes (the tensors hold the rows), at most the wider side's floats.
    public static func fullModeIOBufferBytes(workers: Int, batchRows: Int, chain: StageChain) -> Int {
        (workers + 1) * batchRows * max(chain.inputWidth, chain.outputWidth) * 4
    }

    /// The message a full-mode run over its memory limit stops with.
    static func fullModeRefusal(needed: Int, rows: Int, limit: Int, setting: MemoryLimit) -> String {
        "full-dataset mode needs about \(formatBytes(needed)) for \(formatCount(rows)) rows, over the memory limit of \(formatBytes(limit)) (run.memory_limit \(setting)); use --mode minibatch to stream it in bounded memory"
    }

    private init(job: PreparedJob, config: PipelineConfig, force: Bool, rawChunkIO: Bool) throws {
        let dataset = job.input
        let chain = job.chain
        let rows = dataset.rowCount
        let reader = job.reader
        let inputChunkRows = reader.layout?.chunkRows ?? 1
        input = Input(file: job.inputFile, dataset: dataset.name, shape: dataset.shape, dtype: dataset.elementType.description,
                      storage: dataset.storageDescription, chunks: dataset.chunkShape, filters: dataset.filters.map(\.description),
                      rows: rows, width: dataset.featureCount,
                      bytes: rows * dataset.featureCount * dataset.elementType.size,
                      path: reader.pathDescription, chunkRows: reader.layout?.chunkRows, shard: job.shard)

        var stageList: [Stage] = []
        for (index, stage) in chain.stages.enumerated() {
            let (inWidth, outWidth) = (chain.widths[index], chain.widths[index + 1])
            let perRow = stage.flopsPerRow(inputWidth: inWidth)
            stageList.append(Stage(index: index + 1, name: stage.name, description: stage.description,
                                   inputWidth: inWidth, outputWidth: outWidth,
                                   outputShape: dataset.leadingShape + [outWidth], flopsPerRow: perRow,
                                   flops: perRow * rows, parameterBytes: Self.parameterBytes(stage)))
        }
        self.stageList = stageList
        flopsPerRow = chain.flopsPerRow
        linearFlopsPerRow = chain.linearFlopsPerRow
        flops = chain.flopsPerRow * rows
        parameterBytes = chain.parameterBytes

        // Batches and workers, as PipelineRunner chooses them.
        let mode = config.run.mode
        let workers = config.run.workers ?? SystemInfo.activeCores
        let batchRows = job.batchRows
        let outputChunkRows = min(config.output.chunkRows ?? batchRows, max(rows, 1))
        run = Execution(mode: mode, batchRowsSetting: config.run.batchRows, batchRows: batchRows,
                        batches: BatchPlan(rows: rows, batchRows: batchRows).count,
                        workersSetting: config.run.workers.map(String.init) ?? "auto", workers: workers,
                        cores: SystemInfo.activeCores, gemm: GEMM.kernels, vectorKernels: VectorKernels.isa)

        // The output as PreparedJob.createOutput makes it, and the writer BatchWriter would be.
        let out = config.output
        let outputShape = dataset.leadingShape + [chain.outputWidth]
        let outputChunks = rows > 0 ? BatchPlan.chunkShape(rows: outputChunkRows, leading: dataset.leadingShape, width: chain.outputWidth) : nil
        let gzipLevel = rows > 0 && out.compression == .gzip ? out.level : nil
        let shuffle = rows > 0 && out.shuffle
        let candidate = rawChunkIO
            ? BatchWriter.layoutOfNewOutput(shape: outputShape, chunks: outputChunks, type: out.dtype, shuffle: shuffle, gzipLevel: gzipLevel)
            : nil
        let encoder = BatchWriter.encoder(for: candidate, type: out.dtype, rows: rows, width: chain.outputWidth, batchRows: batchRows)
        output = Output(file: out.file, dataset: job.outputDataset, shape: outputShape, dtype: out.dtype.rawValue,
                        chunks: outputChunks, chunkRows: outputChunkRows,
                        filters: (shuffle ? ["shuffle"] : []) + (gzipLevel.map { ["gzip(\($0))"] } ?? []),
                        bytes: rows * chain.outputWidth * out.dtype.size, path: BatchWriter.pathDescription(encoder))

        let deflate = Deflate()
        let minibatch = Self.miniBatchMemory(
            job: job, reader: reader, encoder: encoder, rows: rows, batchRows: mode == .minibatch ? batchRows
                : Self.resolvedBatchRows(config.run.batchRows, mode: .minibatch, inputChunkRows: inputChunkRows, rows: rows),
            workers: workers, cacheBatchRows: config.run.batchRows, outputChunks: outputChunks, outputType: out.dtype,
            deflate: deflate)
        let fullBatchRows = mode == .full ? batchRows : Self.resolvedBatchRows(config.run.batchRows, mode: .full, inputChunkRows: inputChunkRows, rows: rows)
        let paddedRows = rows.roundedUp(toMultipleOf: inputChunkRows)
        let ioBytes = Self.fullModeIOBufferBytes(workers: workers, batchRows: fullBatchRows, chain: chain)
        let needed = FullDatasetRunner.estimatedPeakBytes(rows: paddedRows, chain: chain, ioBufferBytes: ioBytes)
        let runtime = FullDatasetRunner.runtimeOverheadBytes(chain)
        let limit = config.run.memoryLimit.bytes(physicalMemory: SystemInfo.availableMemory)
        let full = FullMemory(rows: paddedRows, batchRows: fullBatchRows,
                              tensorBytes: needed - chain.parameterBytes - ioBytes - runtime,
                              parameterBytes: chain.parameterBytes, ioBufferBytes: ioBytes, runtimeBytes: runtime,
                              totalBytes: needed, limitSetting: "\(config.run.memoryLimit)", limitBytes: limit,
                              overLimit: needed > limit)
        memory = Memory(minibatch: minibatch, full: full)

        // What the run would stop with, in the order it checks.
        var refusal: H5BatchError?
        if let path = out.file {
            let probe = OutputProbe(path)
            target = probe.target(force: force)
            refusal = probe.lockRefusal()
            if refusal == nil {
                do {
                    try OutputTarget.check(path, reads: [job.inputFile] + config.stages.compactMap(\.file), force: force)
                } catch let error as H5BatchError {
                    refusal = error
                }
            }
            if refusal == nil, mode == .full, full.overLimit {
                refusal = H5BatchError(.usage, Self.fullModeRefusal(needed: needed, rows: rows, limit: limit, setting: config.run.memoryLimit))
            }
            if refusal == nil { refusal = probe.folderRefusal() }
        } else {
            target = nil
            refusal = H5BatchError(.usage, "no output: set output.file in the pipeline file or pass --output FILE[:DATASET]")
        }
        self.refusal = refusal.map { Refusal(exitCode: $0.exitCode, message: $0.message) }
        wouldRun = refusal == nil
    }

    /// Mini-batch mode's buffers, sized as `PipelineRunner.runBatches` and `MiniBatchRunner` size
    /// them, plus what the workers and the writer grow to while running.
    private static func miniBatchMemory(job: PreparedJob, reader: BatchReader, encoder: ChunkEncoder?, rows: Int,
                                        batchRows: Int, workers: Int, cacheBatchRows: Int, outputChunks: [Int]?,
                                        outputType: StorageType, deflate: Deflate) -> MiniBatchMemory {
        let chain = job.chain
        let runtime = FullDatasetRunner.runtimeOverheadBytes(chain)
        let count = BatchPlan(rows: rows, batchRows: batchRows).count
        guard count > 0 else {
            // No rows: the runner allocates no batch at all.
            return MiniBatchMemory(batches: 0, capacityRows: 0, inputBufferBytes: 0, outputBufferBytes: 0, storedChunkBytes: 0,
                                   workspaceBytes: 0, workers: workers, carryBytes: 0, chunkCacheBytes: 0,
                                   parameterBytes: chain.parameterBytes, runtimeBytes: runtime,
                                   totalBytes: chain.parameterBytes + runtime)
        }
        let inputLayout = reader.layout
        let outputLayout = encoder?.layout
        let chunkPadded = max(rows.roundedUp(toMultipleOf: inputLayout?.chunkRows ?? 1), rows.roundedUp(toMultipleOf: outputLayout?.chunkRows ?? 1))
        let capacity = MiniBatchRunner.capacityRows(rows: rows, batchRows: batchRows, chunkPadded: chunkPadded)
        let batches = min(count, workers + 2)
        let inputBytes = capacity * chain.inputWidth * 4
        let outputBytes = chain.runsInPlace ? 0 : capacity * chain.outputWidth * 4

        // Batch.storedBytes: the input's chunks as read, or the output's as encoded, whichever is more.
        func chunks(_ chunkRows: Int) -> Int { capacity.units(of: chunkRows) }
        let read = inputLayout.map { $0.isUnfiltered && reader.storesFloat32 ? 0 : $0.chunkBytes * chunks($0.chunkRows) } ?? 0
        let write = encoder.map { encoder -> Int in
            guard let layout = encoder.layout else { return capacity * encoder.rowWidth * 2 }  // float16 rows
            if layout.isUnfiltered && encoder.type == .float32 { return 0 }
            let bound = layout.deflateIndex == nil ? layout.chunkBytes : deflate.bound(layout.chunkBytes, level: layout.deflateLevel)
            return bound * chunks(layout.chunkRows)
        } ?? 0
        let stored = max(read, write)

        // Per worker: the chain's two alternating scratch tiles (every linear step but the last
        // writes one), and the decoder's and encoder's scratch (ChunkDecoder, ChunkEncoder).
        let tile = min(chain.tileRows, capacity)
        var scratchTiles = [0, 0]
        var linearSteps: [Linear] = []
        for step in chain.steps { if case .linear(let linear, _) = step { linearSteps.append(linear) } }
        for (offset, linear) in linearSteps.dropLast().enumerated() {
            let index = (offset + 1) % 2
            scratchTiles[index] = max(scratchTiles[index], tile * linear.outFeatures * 4)
        }
        var scratchA = 0, scratchB = 0
        if let layout = inputLayout, read > 0 {
            if layout.deflateIndex != nil && layout.shuffleIndex != nil { scratchA = layout.chunkBytes }
            if !reader.storesFloat32 { scratchB = layout.chunkBytes }
        }
        if let layout = outputLayout, let encoder {
            if layout.shuffleIndex != nil && layout.deflateIndex != nil { scratchA = max(scratchA, layout.chunkBytes) }
            if encoder.type != .float32 { scratchB = max(scratchB, layout.chunkBytes) }
        }
        let workspace = scratchTiles[0] + scratchTiles[1] + scratchA + scratchB

        let grid = outputChunks.flatMap { ChunkGrid(shape: job.input.leadingShape + [chain.outputWidth], chunks: $0) }
        let carry = BatchWriter.carryBytes(grid: grid, encoder: encoder, width: chain.outputWidth, type: outputType)
        // On the hyperslab path libhdf5 caches the input's chunks (PreparedJob sizes the cache
        // from run.batch_rows), up to the dataset's own size.
        var cache = 0
        if inputLayout == nil, let chunkShape = job.input.chunkShape {
            let size = BatchPlan.chunkCacheBytes(batchRows: cacheBatchRows, shape: job.input.shape, chunks: chunkShape,
                                                 elementSize: job.input.elementType.size)
            cache = min(size, rows * job.input.featureCount * job.input.elementType.size)
        }
        let total = batches * (inputBytes + outputBytes + stored) + workers * workspace + carry + cache
            + chain.parameterBytes + runtime
        return MiniBatchMemory(batches: batches, capacityRows: capacity, inputBufferBytes: inputBytes,
                               outputBufferBytes: outputBytes, storedChunkBytes: stored, workspaceBytes: workspace,
                               workers: workers, carryBytes: carry, chunkCacheBytes: cache,
                               parameterBytes: chain.parameterBytes, runtimeBytes: runtime, totalBytes: total)
    }

    private static func parameterBytes(_ stage: any H5Batch.Stage) -> Int { stage.parameterBytes }

    /// The run's error when it would not start (`exitCode` back to its kind).
    public var error: H5BatchError? {
        refusal.map { refusal in
            let kind: H5BatchError.Kind
            switch refusal.exitCode {
            case 64: kind = .usage
            case 65: kind = .data
            case 66: kind = .notFound
            case 73: kind = .cannotCreate
            case 69: kind = .unavailable
            case 75: kind = .busy
            default: kind = .io
            }
            return H5BatchError(kind, refusal.message)
        }
    }

    // MARK: - Summaries (h5batch bench)

    /// The input file.
    public var inputFile: String { input.file }
    /// The input dataset's path in its file.
    public var inputDataset: String { input.dataset }
    /// The input dataset's shape.
    public var inputShape: [Int] { input.shape }
    /// The input's stored type, numpy-style (`float32`, `uint16-be`, …).
    public var inputType: String { input.dtype }
    /// Input rows: the product of the leading dimensions.
    public var rows: Int { input.rows }
    /// Logical input bytes (rows × features × stored element size).
    public var inputBytes: Int { input.bytes }
    /// `widths[0]` is the input width; `widths[i + 1]` the width after stage `i`.
    public var widths: [Int] { [input.width] + stageList.map(\.outputWidth) }
    /// Each stage's one-line description, in order.
    public var stageDescriptions: [String] { stageList.map(\.description) }
    /// "raw chunks" or "hyperslab".
    public var inputPath: String { input.path }

    /// The stage chain in one line, e.g. `linear(256 → 1024) → relu → linear(1024 → 256)`.
    public var stages: String {
        stageDescriptions.isEmpty ? "(no stages: a copy)" : stageDescriptions.joined(separator: " → ")
    }

    /// One line: `FILE:DATASET [SHAPE DTYPE] → stages`.
    public var description: String {
        "\(inputFile):\(inputDataset) [\(inputShape.map(String.init).joined(separator: "x")) \(inputType)] → \(stages)"
    }
}

/// Looks at an output path the way `PipelineRunner` will, touching nothing: no lock is taken,
/// no file or folder is created.
private struct OutputProbe {
    let path: String
    let folder: String
    let folderExists: Bool
    var files: RunFiles { RunFiles(output: path) }

    init(_ path: String) {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        self.folder = folder.isEmpty ? "." : folder
        folderExists = OutputTarget.folderExists(for: path)
    }

    func target(force: Bool) -> PipelinePlan.OutputState {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let (lock, holder) = lockState()
        return PipelinePlan.OutputState(path: path, exists: exists, isDirectory: exists && isDirectory.boolValue, force: force,
                                   folder: folder, folderExists: folderExists, lock: lock, lockHolder: holder,
                                   partialExists: FileManager.default.fileExists(atPath: files.partial),
                                   checkpointExists: FileManager.default.fileExists(atPath: files.checkpoint))
    }

    /// `OutputLock.acquire`'s verdict when the folder exists (the run claims the output first):
    /// a lock file it cannot open, or a lock another process holds.
    func lockRefusal() -> H5BatchError? {
        guard folderExists else { return nil }
        let exists = FileManager.default.fileExists(atPath: files.lock)
        if access(exists ? files.lock : folder, W_OK) != 0 {
            return H5BatchError(.cannotCreate, "cannot create the lock file \(files.lock): \(String(cString: strerror(errno)))")
        }
        let (state, holder) = lockState()
        guard state == "held" else { return nil }
        return H5BatchError(.busy, "output \(path) is being written by another h5batch run (\(holder ?? "another process")); try again once it has finished")
    }

    /// `OutputTarget.prepareFolder`'s verdict: a folder that cannot be created, or one that is
    /// not writable.
    func folderRefusal() -> H5BatchError? {
        if folderExists {
            return FileManager.default.isWritableFile(atPath: folder)
                ? nil : H5BatchError(.cannotCreate, "cannot write the output \(path): folder \(folder) is not writable")
        }
        // The nearest folder that exists must be a writable folder for the rest to be made.
        var ancestor = folder
        while !FileManager.default.fileExists(atPath: ancestor) {
            let parent = (ancestor as NSString).deletingLastPathComponent
            if parent.isEmpty { ancestor = "."; break }
            if parent == ancestor { break }
            ancestor = parent
        }
        var isDirectory: ObjCBool = false
        let usable = FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory) && isDirectory.boolValue
            && FileManager.default.isWritableFile(atPath: ancestor)
        return usable ? nil : H5BatchError(.cannotCreate, "cannot create the output folder \(folder)")
    }

    /// Whether a process holds the lock file's `flock`, read from `/proc/locks` (which lists
    /// every lock with its file's device and inode) rather than by trying to take it; the
    /// holder as the lock file names it.
    func lockState() -> (state: String, holder: String?) {
        var info = stat()
        guard stat(files.lock, &info) == 0 else { return ("none", nil) }
        guard let locks = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return ("unknown", nil) }
        let device = UInt64(info.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        let key = String(format: "%02llx:%02llx:%llu", major, minor, UInt64(info.st_ino))
        // "1: FLOCK  ADVISORY  WRITE 4242 fe:00:16222904 0 EOF"; waiters read "1: -> FLOCK …".
        let held = locks.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count >= 6 && fields[1] == "FLOCK" && fields[5] == key
        }
        guard held else { return ("free", nil) }
        let text = (try? String(contentsOfFile: files.lock, encoding: .utf8)) ?? ""
        if let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 { return ("held", "process \(pid)") }
        return ("held", "another process")
    }
}
