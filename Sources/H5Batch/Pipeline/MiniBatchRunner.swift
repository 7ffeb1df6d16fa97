/// Mini-batch mode: every batch is decoded, run through the whole chain and encoded by one
/// worker, each product on that worker's thread alone (`GEMM`), while the I/O lane reads ahead and writes behind.
struct MiniBatchRunner {
    let reader: BatchReader
    let writer: BatchWriter
    let chain: StageChain
    let plan: BatchPlan
    /// Rows each batch buffer holds: the batch rows, rounded up to whole stored chunks.
    let capacityRows: Int
    let workers: Int
    /// Collects the input's digest batch by batch (`RowDigest`), when set.
    let digests: InputDigestLedger?
    /// With `--stats`: collects every stage's statistics, batch by batch.
    var statistics: StatisticsLedger? = nil
    let progress: ProgressSink?

    /// Rows a batch buffer must hold: the batch rows, limited to the rows rounded up to whole
    /// stored chunks (`chunkPadded`); but all of `chunkPadded` when one batch covers the
    /// dataset, since the writer's raw path then pads the last output chunk past the batch rows.
    static func capacityRows(rows: Int, batchRows: Int, chunkPadded: Int) -> Int {
        rows <= batchRows ? chunkPadded : min(batchRows, chunkPadded)
    }

    func run(control: StreamControl, report: inout RunReport) throws -> StreamOutcome {
        let chain = self.chain
        // Two more batches than workers: one being read and one being written while every
        // worker computes (more measured no faster on the MLP, and costs memory).
        let extraBatches = 2
        let states = (0..<workers).map { _ in WorkerState() }
        let storedBytes = Batch.storedBytes(batchRows: capacityRows, reader: reader, writer: writer, codecs: states[0].codecs)
        // Every buffer is allocated and touched now: the peak is then the bound, whatever the
        // run's timing, and the steady state allocates nothing.
        let batches = (0..<min(plan.count, workers + extraBatches)).map { _ in
            let input = FloatBuffer(capacity: capacityRows * chain.inputWidth)
            let batch = Batch(input: input, output: chain.runsInPlace ? input : FloatBuffer(capacity: capacityRows * chain.outputWidth))
            batch.input.prefault()
            if !chain.runsInPlace { batch.output.prefault() }
            batch.bytes.reserve(storedBytes)
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
        }, control: control, report: &report)
    }
}
