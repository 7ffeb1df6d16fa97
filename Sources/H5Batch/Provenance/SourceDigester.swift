/// Reads a whole input to compute its `RowDigest`, the way a run reads it (the same batches,
/// the decoding on the workers), without computing anything else: what `--skip-if-fresh` does
/// when the input's file changed and only its values can tell whether the output is stale.
struct SourceDigester {
    let reader: BatchReader
    let batchRows: Int
    let workers: Int

    func digest() throws -> UInt64 {
        let rows = reader.dataset.rowCount
        guard rows > 0 else { return 0 }
        let plan = BatchPlan(rows: rows, batchRows: batchRows)
        let width = reader.dataset.rowWidth, rowOffset = reader.dataset.rowOffset
        let chunkRows = reader.layout?.chunkRows ?? 1
        let capacityRows = min(batchRows, rows.roundedUp(toMultipleOf: chunkRows))
        let storedBytes = Batch.storedInputBytes(batchRows: capacityRows, reader: reader)
        let batches = (0..<min(plan.count, workers + 2)).map { _ in
            let input = FloatBuffer(capacity: capacityRows * width)
            let batch = Batch(input: input, output: input)
            batch.bytes.reserve(storedBytes)
            return batch
        }
        let ledger = InputDigestLedger(plan: plan, before: 0)
        let stream = BatchStream(plan: plan, pool: WorkerPool(count: workers),
                                 states: (0..<workers).map { _ in WorkerState() }, batches: batches)
        let decoder = reader.decoder
        _ = try translatingHDF5Errors(otherwise: .io) {
            try stream.run(read: reader.read, work: { batch, state in
                if let decoder {
                    batch.failure = decoder.decode(batch, with: state)
                    if batch.failure != nil { return }
                }
                batch.hashInput(width: width, rowOffset: rowOffset)
            }, write: { batch in ledger.append(batch.inputDigest) })
        }
        return ledger.total
    }
}
