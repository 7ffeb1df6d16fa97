/// How a run splits its rows into batches, and the chunk geometry that goes with them.
public struct BatchPlan: Sendable, Equatable {
    /// The rows of the whole dataset, counted from row 0 (not from `start`).
    public let rows: Int
    /// Rows per batch; the last batch may be shorter.
    public let batchRows: Int
    /// The first row to process: 0, or where a resumed run continues (a batch boundary).
    public let start: Int

    /// Batches of `batchRows` (which must be positive) from `start` (within `0...rows`) to `rows`.
    public init(rows: Int, batchRows: Int, start: Int = 0) {
        precondition(batchRows > 0, "batch rows must be positive")
        precondition((0...max(rows, 0)).contains(start), "start must be within the rows")
        self.rows = rows
        self.batchRows = batchRows
        self.start = start
    }

    /// How many batches cover the rows from `start` on.
    public var count: Int { (rows - start).units(of: batchRows) }

    /// Rows this plan processes.
    public var remainingRows: Int { rows - start }

    /// The rows of batch `index`, counted from the batch at `start`; the last may be shorter.
    public func batch(_ index: Int) -> Range<Int> {
        let first = start + index * batchRows
        return first..<min(rows, first + batchRows)
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

    /// A chunk shape holding about `rows` rows of a dataset with leading dimensions `leading`:
    /// the innermost leading dimensions are covered whole first, like the row order.
    public static func chunkShape(rows: Int, leading: [Int], width: Int) -> [Int] {
        var chunk = [Int](repeating: 1, count: leading.count)
        var remaining = max(1, rows)
        for dim in leading.indices.reversed() {
            let extent = max(1, leading[dim])
            chunk[dim] = min(extent, remaining)
            guard chunk[dim] == extent else { break }
            remaining = max(1, remaining / extent)
        }
        return chunk + [max(1, width)]
    }

    /// Chunk-cache bytes for streaming `batchRows` rows at a time through a dataset of `shape`
    /// stored in `chunks`: every chunk one batch touches plus the slab it shares with the next,
    /// so no chunk is read (and inflated) twice. At least HDF5's default 1 MiB, at most 256 MiB.
    public static func chunkCacheBytes(batchRows: Int, shape: [Int], chunks: [Int], elementSize: Int) -> Int {
        guard shape.count >= 2, chunks.count == shape.count else { return 1 << 20 }
        let chunkBytes = chunks.reduce(elementSize, *)
        // Chunks across one slab (one chunk deep along the first dimension).
        var chunksPerSlab = 1
        for dim in 1..<shape.count { chunksPerSlab *= shape[dim].units(of: max(1, chunks[dim])) }
        // An empty inner dimension (a dataset with no rows yet) still sizes a cache.
        let innerRows = max(1, shape.dropFirst().dropLast().reduce(1, *))
        let firstDimPerBatch = batchRows.units(of: innerRows)
        let slabs = firstDimPerBatch.units(of: max(1, chunks[0])) + 1
        let bytes = slabs * chunksPerSlab * chunkBytes
        return min(256 << 20, max(1 << 20, bytes))
    }
}
