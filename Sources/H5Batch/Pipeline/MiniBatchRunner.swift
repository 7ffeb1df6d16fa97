/// Mini-batch mode: every batch is decoded, run through the whole chain and encoded by one
/// worker, each product on that worker's thread alone (`GEMM`), while the I/O lane reads ahead and writes behind.
struct MiniBatchRunner {
    let reader: BatchReader
    let writer: BatchWriter
    let chain: StageChain
    let plan: BatchPlan
    let workers: Int
    /// Collects the input's digest batch by batch (`RowDigest`), when set.
    let digests: InputDigestLedger?
    /// With `--stats`: collects every stage's statistics, batch by batch.
    var statistics: StatisticsLedger? = nil
    let progress: ProgressSink?

    /// Two more batches than workers: one being read and one being written while every worker
    /// computes (more measured no faster on the MLP, and costs memory).
    static let extraBatches = 2

    /// Rows a batch buffer must hold: the batch rows, limited to the rows rounded up to whole
    /// stored chunks of either side; but all of those when one batch covers the dataset, since
    /// the writer's raw path then pads the last output chunk past the batch rows.
    static func capacityRows(rows: Int, batchRows: Int, inputChunkRows: Int, outputChunkRows: Int) -> Int {
        let chunkPadded = max(rows.roundedUp(toMultipleOf: inputChunkRows), rows.roundedUp(toMultipleOf: outputChunkRows))
        return rows <= batchRows ? chunkPadded : min(batchRows, chunkPadded)
    }

    /// The batches `run` allocates and touches up front, sized in one place for it and for
    /// `estimatedMemory`.
    struct Buffers {
        /// `Batch` objects: `workers + extraBatches`, or fewer when there are fewer batches.
        let count: Int
        /// Rows each batch holds (`capacityRows`).
        let capacityRows: Int
        /// Floats of a batch's input buffer, and of its output buffer (0 when the chain runs in
        /// place and the output is the input).
        let inputFloats: Int
        let outputFloats: Int
        /// Stored-chunk bytes of a batch (`Batch.storedBytes`).
        let storedBytes: Int

        /// The buffers for `batches` batches of `batchRows` out of `rows`, through `chain`, read
        /// by `reader` and written through `encoder` (the writer's).
        init(rows: Int, batchRows: Int, batches: Int, workers: Int, chain: StageChain, reader: BatchReader,
             encoder: ChunkEncoder?, deflate: Deflate) {
            count = min(batches, workers + extraBatches)
            capacityRows = MiniBatchRunner.capacityRows(rows: rows, batchRows: batchRows, inputChunkRows: reader.layout?.chunkRows ?? 1,
                                                        outputChunkRows: encoder?.layout?.chunkRows ?? 1)
            inputFloats = capacityRows * chain.inputWidth
            outputFloats = chain.runsInPlace ? 0 : capacityRows * chain.outputWidth
            storedBytes = Batch.storedBytes(batchRows: capacityRows, reader: reader, encoder: encoder, deflate: deflate)
        }
    }

    func run(control: StreamControl) throws -> StreamResult {
        let chain = self.chain
        let states = (0..<workers).map { _ in WorkerState() }
        let buffers = Buffers(rows: plan.rows, batchRows: plan.batchRows, batches: plan.count, workers: workers, chain: chain,
                              reader: reader, encoder: writer.encoder, deflate: states[0].deflate)
        // Every buffer is allocated and touched now: the peak is then the bound, whatever the
        // run's timing, and the steady state allocates nothing.
        let batches = (0..<buffers.count).map { _ in
            let input = FloatBuffer(capacity: buffers.inputFloats)
            let batch = Batch(input: input, output: chain.runsInPlace ? input : FloatBuffer(capacity: buffers.outputFloats))
            batch.input.prefault()
            if !chain.runsInPlace { batch.output.prefault() }
            batch.bytes.reserve(buffers.storedBytes)
            batch.bytes.prefault()
            if statistics != nil { batch.statistics = StatisticsCollector(chain: chain) }
            return batch
        }
        let stream = BatchStream(plan: plan, pool: WorkerPool(count: workers), states: states, batches: batches)
        let decoder = reader.decoder
        let encoder = writer.encoder
        let hashesInput = digests != nil, rowOffset = reader.dataset.rowOffset
        let (rows, first) = (plan.rows, plan.start)
        return try stream.run(read: reader.read, work: { batch, state in
            var start = now()
            if let decoder {
                batch.failure = decoder.decode(batch, with: state)
                if batch.failure != nil { return }
            }
            if hashesInput { batch.hashInput(width: chain.inputWidth, rowOffset: rowOffset) }
            batch.decodeSeconds = now() - start
            start = now()
            batch.statistics?.statistics.reset()
            chain.run(batch.input, rows: batch.rows.count, into: batch.output, workspace: &state.workspace,
                      statistics: batch.statistics)
            batch.computeSeconds = now() - start
            if let encoder {
                start = now()
                encoder.encode(batch, with: state)
                batch.encodeSeconds = now() - start
            }
        }, write: { batch in
            try writer.write(batch)
            digests?.append(batch.inputDigest)
            if let collector = batch.statistics { statistics?.append(collector.statistics, end: batch.rows.upperBound) }
            let done = batch.rows.upperBound
            progress?(RunProgress(phase: .streaming, rowsDone: done, rowsTotal: rows, rowsThisRun: rows - first,
                                  fraction: Double(done - first) / Double(max(1, rows - first))))
        }, control: control)
    }

    // MARK: - Memory

    /// This mode's peak for `rows` rows in batches of `batchRows`: the batches `run` allocates
    /// and touches up front, what each worker's `WorkerState` grows to, the writer's carry,
    /// libhdf5's chunk cache over the input, the parameters and the runtime. `encoder` is the
    /// writer's (`PreparedJob.newOutputEncoder`).
    static func estimatedMemory(rows: Int, batchRows: Int, workers: Int, chain: StageChain, reader: BatchReader,
                                encoder: ChunkEncoder?, carryBytes: Int, chunkCacheBytes: Int) -> PipelinePlan.MiniBatchMemory {
        let runtime = FullDatasetRunner.runtimeOverheadBytes(chain)
        let count = BatchPlan(rows: rows, batchRows: batchRows).count
        guard count > 0 else {
            // No rows: the runner allocates no batch at all.
            return PipelinePlan.MiniBatchMemory(batches: 0, capacityRows: 0, inputBufferBytes: 0, outputBufferBytes: 0,
                                                storedChunkBytes: 0, workspaceBytes: 0, workers: workers, carryBytes: 0,
                                                chunkCacheBytes: 0, parameterBytes: chain.parameterBytes, runtimeBytes: runtime,
                                                totalBytes: chain.parameterBytes + runtime)
        }
        let buffers = Buffers(rows: rows, batchRows: batchRows, batches: count, workers: workers, chain: chain, reader: reader,
                              encoder: encoder, deflate: Deflate())
        let (batches, capacity, stored) = (buffers.count, buffers.capacityRows, buffers.storedBytes)
        let inputBytes = buffers.inputFloats * 4, outputBytes = buffers.outputFloats * 4
        let workspace = WorkerState.estimatedBytes(chain: chain, rows: capacity, decoder: reader.decoder, encoder: encoder)
        let total = batches * (inputBytes + outputBytes + stored) + workers * workspace + carryBytes + chunkCacheBytes
            + chain.parameterBytes + runtime
        return PipelinePlan.MiniBatchMemory(batches: batches, capacityRows: capacity, inputBufferBytes: inputBytes,
                                            outputBufferBytes: outputBytes, storedChunkBytes: stored, workspaceBytes: workspace,
                                            workers: workers, carryBytes: carryBytes, chunkCacheBytes: chunkCacheBytes,
                                            parameterBytes: chain.parameterBytes, runtimeBytes: runtime, totalBytes: total)
    }
}
