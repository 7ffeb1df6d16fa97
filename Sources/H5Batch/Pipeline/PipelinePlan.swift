import Foundation

/// What a pipeline will do, worked out without running it and without creating anything: the
/// input, the shapes and work through every stage, the output, the batch rows and workers, the
/// I/O path of each side, the memory either mode needs, and what the output's target would say.
/// `h5batch check` prints it; `h5batch bench` uses it to fail early.
///
/// The decisions are the runner's own: both build one `RunPlan`, and this describes it. The
/// memory figures are `MiniBatchRunner`'s and `FullDatasetRunner`'s estimates of what they
/// allocate; what the output's path would say comes from `OutputTarget` and `OutputLock`.
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

    /// Full mode's peak as `FullDatasetRunner.estimatedMemory` gives it, and the limit a run
    /// compares it with before it starts.
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
    /// `run` would with `force` (`--force`) and `rawChunkIO` (`PipelineRunner.Options`): both
    /// build the same `RunPlan`. Throws the `H5BatchError` `run` would for a pipeline, input or
    /// weights it cannot use; a run that would be refused for its output or its memory is
    /// described in `refusal` instead. Creates nothing and takes no lock.
    public static func make(_ config: PipelineConfig, force: Bool = false, rawChunkIO: Bool = true) throws -> PipelinePlan {
        _ = try RunPlan.inputFile(of: config)
        return try IOLane().sync {
            // Several datasets: each must fit the pipeline (as run checks); the first is planned.
            let run = try RunPlan(config: config, rawChunkIO: rawChunkIO)
            return try PipelinePlan(run, force: force)
        }
    }

    private init(_ plan: RunPlan, force: Bool) throws {
        let job = plan.jobs[0]
        let config = plan.config
        let dataset = job.input
        let chain = job.chain
        let rows = job.rows
        let reader = job.reader
        input = Input(file: job.inputFile, dataset: dataset.name, shape: dataset.shape, dtype: dataset.elementType.description,
                      storage: dataset.storageDescription, chunks: dataset.chunkShape, filters: dataset.filters.map(\.description),
                      rows: rows, width: dataset.rowWidth,
                      bytes: rows * dataset.rowWidth * dataset.elementType.size,
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

        run = Execution(mode: plan.mode, batchRowsSetting: config.run.batchRows, batchRows: job.batchRows,
                        batches: BatchPlan(rows: rows, batchRows: job.batchRows).count,
                        workersSetting: config.run.workers.map(String.init) ?? "auto", workers: plan.workers,
                        cores: SystemInfo.activeCores, gemm: GEMM.kernels, vectorKernels: VectorKernels.isa)

        let out = job.config.output
        let layout = job.outputLayout
        output = Output(file: out.file, dataset: job.outputDataset, shape: job.outputShape, dtype: out.dtype.rawValue,
                        chunks: layout.chunks, chunkRows: job.outputChunkRows,
                        filters: (layout.shuffle ? ["shuffle"] : []) + (layout.gzipLevel.map { ["gzip(\($0))"] } ?? []),
                        bytes: rows * chain.outputWidth * out.dtype.size, path: BatchWriter.pathDescription(job.newOutputEncoder))

        memory = Memory(minibatch: plan.miniBatchMemory(job), full: plan.fullModeMemory(job))

        // What the run would stop with, in the order it checks.
        var refusal: H5BatchError?
        if let path = out.file {
            target = OutputTarget.state(of: path, force: force)
            refusal = OutputLock.refusal(for: path)
            if refusal == nil {
                do {
                    try OutputTarget.check(path, reads: RunPlan.filesRead(by: config), force: force)
                } catch let error as H5BatchError {
                    refusal = error
                }
            }
            if refusal == nil, plan.mode == .full { refusal = plan.fullModeRefusal(job) }
            if refusal == nil { refusal = OutputTarget.folderRefusal(for: path) }
        } else {
            target = nil
            refusal = RunPlan.noOutput
        }
        self.refusal = refusal.map { Refusal(exitCode: $0.exitCode, message: $0.message) }
        wouldRun = refusal == nil
        datasetCount = plan.jobs.count
    }

    private static func parameterBytes(_ stage: any H5Batch.Stage) -> Int { stage.parameterBytes }

    /// The run's error when it would not start (`exitCode` back to its kind).
    public var error: H5BatchError? {
        refusal.map { H5BatchError(H5BatchError.kind(forExitCode: $0.exitCode) ?? .io, $0.message) }
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
