import Foundation
import Testing
@testable import H5Batch

/// `RunPlan`: the decisions `run` makes and `check` describes, made once. In process, without
/// the binary: what it resolves, that `PipelinePlan` reports exactly that, and that its
/// refusals and estimates are the ones the runner and the writer act on.
@Suite("RunPlan: one plan for run and check")
struct RunPlanTests {
    let data = Repo.data

    /// A pipeline of one ReLU over `dataset` of data/cases.h5 (from its file, as a user writes it).
    func config(_ dataset: String, output: String? = nil, batchRows: Int = 150, workers: Int? = 3) -> PipelineConfig {
        var config = try! PipelineFile.parse("input: {file: \(data)/cases.h5, dataset: \(dataset)}\nstages: [relu]",
                                             format: .yaml, path: data + "/p.yaml", baseFolder: data)
        config.output.file = output
        config.run.batchRows = batchRows
        config.run.workers = workers
        return config
    }

    @Test("batch rows are rounded to whole input chunks on the raw path only; chunk rows follow them, at most the rows")
    func batchAndChunkRows() throws {
        // /normal_gzip: 1,000 rows in 100-row chunks; 150 rounds to 2 chunks.
        let raw = try RunPlan(config: config("/normal_gzip"), rawChunkIO: true)
        #expect(raw.jobs.count == 1)
        #expect(raw.jobs[0].batchRows == 200 && raw.jobs[0].outputChunkRows == 200)
        let hyperslab = try RunPlan(config: config("/normal_gzip"), rawChunkIO: false)
        #expect(hyperslab.jobs[0].batchRows == 150 && hyperslab.jobs[0].outputChunkRows == 150)

        var wide = config("/normal_gzip", batchRows: 100_000)
        wide.output.chunkRows = 5000
        let whole = try RunPlan(config: wide, rawChunkIO: true)
        #expect(whole.jobs[0].batchRows == 1000, "never more than the rows in whole chunks")
        #expect(whole.jobs[0].outputChunkRows == 1000, "output chunks hold at most the rows")
        // Full mode reads at least one chunk per batch; check describes it beside mini-batch.
        #expect(try RunPlan(config: config("/normal_gzip", batchRows: 30), rawChunkIO: true).jobs[0].batchRows(in: .full) == 100)
    }

    @Test("workers: run.workers, or one per active core")
    func workers() throws {
        #expect(try RunPlan(config: config("/normal_chunked", workers: 3), rawChunkIO: true).workers == 3)
        #expect(try RunPlan(config: config("/normal_chunked", workers: nil), rawChunkIO: true).workers == SystemInfo.activeCores)
    }

    @Test("check's plan reports the decisions the run plan made")
    func checkDescribesThePlan() throws {
        let folder = TemporaryFolder()
        for (dataset, batchRows) in [("/normal_gzip", 150), ("/rank3", 100), ("/normal_contiguous", 256)] {
            var config = config(dataset, output: folder.file("out.h5"), batchRows: batchRows)
            config.output.chunkRows = 70
            config.output.compression = .gzip
            let run = try RunPlan(config: config, rawChunkIO: true)
            let job = run.jobs[0]
            let check = try PipelinePlan.make(config)
            #expect(check.run.batchRows == job.batchRows, "\(dataset)")
            #expect(check.run.workers == run.workers)
            #expect(check.output.chunkRows == job.outputChunkRows && check.output.chunks == job.outputLayout.chunks, "\(dataset)")
            #expect(check.output.path == BatchWriter.pathDescription(job.newOutputEncoder), "\(dataset)")
            #expect(check.memory.minibatch == run.miniBatchMemory(job) && check.memory.full == run.fullModeMemory(job))
        }
        #expect(folder.contents.isEmpty)
    }

    @Test("the output's planned encoder is the one the writer of the created output uses")
    func plannedEncoderIsTheWriters() throws {
        let folder = TemporaryFolder()
        let file = try HDF5File.create(folder.file("outputs.h5"))
        var made = 0
        // Batches that cover whole output chunks or not, float16's hyperslab encoder, one batch.
        for (dataset, batchRows, chunkRows, dtype) in [("/normal_chunked", 256, 128, StorageType.float32),
                                                       ("/normal_chunked", 256, 100, .float32),
                                                       ("/normal_contiguous", 300, 70, .float16),
                                                       ("/normal_gzip", 100_000, 64, .float64),
                                                       ("/rank3", 100, 74, .float32)] {
            for compression in [PipelineConfig.Compression.none, .gzip] {
                made += 1
                var config = config(dataset, batchRows: batchRows)
                config.output.dataset = "/o\(made)"
                config.output.chunkRows = chunkRows
                config.output.dtype = dtype
                config.output.compression = compression
                config.output.shuffle = compression == .gzip
                let job = try PreparedJob(config: config, rawChunkIO: true)
                let writer = BatchWriter(dataset: try job.createOutput(in: file), type: dtype, batchRows: job.batchRows)
                let planned = job.newOutputEncoder
                let label = "\(dataset) batch \(batchRows) chunks \(chunkRows) \(dtype) \(compression)"
                #expect(planned?.layout == writer.encoder?.layout, "\(label)")
                #expect(planned?.type == writer.encoder?.type && (planned == nil) == (writer.encoder == nil), "\(label)")
                #expect(planned?.scratchBytes.a == writer.encoder?.scratchBytes.a && planned?.scratchBytes.b == writer.encoder?.scratchBytes.b)
            }
        }
    }

    @Test("full mode over the memory limit: the run stops with the refusal check reports, and creates nothing")
    func memoryRefusal() throws {
        let folder = TemporaryFolder()
        var config = config("/normal_chunked", output: folder.file("out.h5"))
        config.run.memoryLimit = .bytes(1 << 20)
        #expect(try RunPlan(config: config, rawChunkIO: true).memoryRefusal == nil, "mini-batch mode has no limit")

        config.run.mode = .full
        let plan = try RunPlan(config: config, rawChunkIO: true)
        let refusal = try #require(plan.memoryRefusal)
        #expect(refusal.exitCode == 64 && refusal.message.hasPrefix("full-dataset mode needs about "))
        #expect(refusal.message.contains("for 1,000 rows, over the memory limit of 1.0 MiB (run.memory_limit 1.0 MiB)"))
        let memory = plan.fullModeMemory(plan.jobs[0])
        // 1,000 rows of 32 floats (the chain runs in place), in 128-row chunks: 1,024 rows.
        #expect(memory.rows == 1024 && memory.tensorBytes == 1024 * 32 * 4 && memory.overLimit)
        #expect(try PipelinePlan.make(config).error == refusal)
        #expect(throws: refusal) { try PipelineRunner(config: config).run() }
        #expect(folder.contents.isEmpty, "left behind: \(folder.contents)")
    }

    @Test("input.datasets with a shard: refused when planned, by check as by run")
    func severalDatasetsAreNotSharded() throws {
        var config = config("/types/float32")
        config.input = .init(file: data + "/cases.h5", datasets: ["/types/float32", "/types/int16"])
        #expect(try RunPlan(config: config, rawChunkIO: true).jobs.map(\.outputDataset) == ["/types/float32", "/types/int16"])
        config.run.shard = try Shard(index: 0, count: 2)
        let refusal = H5BatchError(.usage, "--shard splits one dataset; run each of input.datasets on its own (input.dataset or --input FILE:DATASET) to shard it")
        #expect(throws: refusal) { try RunPlan(config: config, rawChunkIO: true) }
        #expect(throws: refusal) { try PipelinePlan.make(config) }
    }

    @Test("no input or no output: the messages run and check share")
    func missingFiles() throws {
        var noInput = config("/normal_chunked")
        noInput.input = nil
        #expect(throws: H5BatchError(.usage, "no input: set input.file in the pipeline file or pass --input FILE[:DATASET]")) {
            try PipelinePlan.make(noInput)
        }
        let plan = try PipelinePlan.make(config("/normal_chunked", output: nil))
        #expect(plan.error == RunPlan.noOutput && plan.target == nil)
        #expect(throws: RunPlan.noOutput) { try PipelineRunner(config: config("/normal_chunked", output: nil)).run() }
    }

    @Test("a held lock: check's verdict is the error the run's claim throws")
    func heldLock() throws {
        let folder = TemporaryFolder()
        let output = folder.file("out.h5")
        #expect(OutputLock.refusal(for: output) == nil && OutputTarget.state(of: output, force: false).lock == "none")
        let lock = try OutputLock.acquire(for: output)
        defer { lock.release() }
        let refusal = try #require(OutputLock.refusal(for: output))
        #expect(refusal.exitCode == 75 && refusal.message.contains("(process \(getpid()))"))
        #expect(throws: refusal) { try OutputLock.acquire(for: output) }
        let state = OutputTarget.state(of: output, force: false)
        #expect(state.lock == "held" && state.lockHolder == "process \(getpid())")
        lock.release()
        #expect(OutputTarget.state(of: output, force: false).lock == "none")
    }
}

/// A shard's window: whole units of batches, input chunks and first-dimension indices.
@Suite("ShardWindow")
struct ShardWindowTests {
    @Test("1,000 rows in 128-row chunks, batches of 256: units of 256 rows, the first shard one unit more")
    func rowsInUnits() throws {
        let windows = try (0..<3).map {
            ShardWindow(shard: try Shard(index: $0, count: 3), shape: [1000, 32], chunkShape: [128, 32], batchRows: 256,
                        inputChunkRows: 128)
        }
        #expect(windows.map(\.range) == [0..<512, 512..<768, 768..<1000])
        #expect(windows.allSatisfy { $0.unit == 256 && $0.batchRows == 256 })
        #expect(windows.map(\.placement.start) == [0, 512, 768] && windows.allSatisfy { $0.placement.extent == 1000 })
    }

    @Test("rank 3: a unit is whole first-dimension indices; a shard beyond the units is empty and one batch")
    func rankThree() throws {
        // 10 × 37 rows in chunks of 3 indices, batches of 148 rows (4 indices): a unit is
        // lcm(148, 3·37) = 444 rows = 12 indices, more than the 10 there are.
        let first = ShardWindow(shard: try Shard(index: 0, count: 2), shape: [10, 37, 32], chunkShape: [3, 10, 32],
                                batchRows: 148, inputChunkRows: 1)
        let second = ShardWindow(shard: try Shard(index: 1, count: 2), shape: [10, 37, 32], chunkShape: [3, 10, 32],
                                 batchRows: 148, inputChunkRows: 1)
        #expect(first.unit == 12 && first.range == 0..<10 && first.batchRows == 148)
        #expect(second.range.isEmpty && second.batchRows == 1)
    }

    @Test("a last shard smaller than a batch is one batch of its rows in whole chunks")
    func shortLastShard() throws {
        // 1,000 rows, batches of 384 (3 chunks of 128): units of 384; the last shard has 232 rows.
        let last = ShardWindow(shard: try Shard(index: 2, count: 3), shape: [1000, 32], chunkShape: [128, 32], batchRows: 384,
                               inputChunkRows: 128)
        #expect(last.range == 768..<1000 && last.batchRows == 256)
    }

    @Test("least common multiple, and Int.max when it overflows")
    func leastCommonMultiple() {
        #expect(ShardWindow.leastCommonMultiple(148, 111) == 444)
        #expect(ShardWindow.leastCommonMultiple(256, 128) == 256)
        #expect(ShardWindow.leastCommonMultiple(1 << 40, (1 << 40) + 1) == Int.max, "coprime: the product, 2^80, does not fit")
    }
}
