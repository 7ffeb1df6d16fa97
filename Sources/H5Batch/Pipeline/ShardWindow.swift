/// A shard's part of the input: which first-dimension indices it covers, cut in units that
/// make every shard's batches the batches a single run over the whole input would form.
struct ShardWindow {
    /// The first-dimension indices of the input this shard processes.
    let range: Range<Int>
    /// First-dimension indices per unit: whole batches (whole chunks on the raw path) and whole
    /// first-dimension indices.
    let unit: Int
    /// The shard's batch rows: the whole run's, or fewer for a shard smaller than one batch.
    let batchRows: Int
    /// What the shard's output records of it (`h5batch_shard`).
    let placement: ShardPlacement

    /// The window of `shard` over an input of `shape` stored in `chunkShape` (nil: not chunked),
    /// whose whole run uses `batchRows` (`BatchPlan.resolvedBatchRows` over the whole input)
    /// and reads `inputChunkRows` rows per stored chunk (1 off the raw path). `shape` has rank
    /// 2 or more.
    init(shard: Shard, shape: [Int], chunkShape: [Int]?, batchRows: Int, inputChunkRows: Int) {
        // A row of a rank-3 dataset is one index of its second dimension: a first-dimension
        // index holds `inner` rows.
        let inner = shape.dropFirst().dropLast().reduce(1, *)
        let chunkIndices = chunkShape?[0] ?? 1
        let unitRows = Self.leastCommonMultiple(batchRows, Self.leastCommonMultiple(chunkIndices * inner, max(inner, 1)))
        unit = unitRows / max(inner, 1)
        range = shard.firstDimensionRange(extent: shape[0], unit: unit)
        placement = ShardPlacement(shard: shard, range: range, extent: shape[0], batchRows: batchRows)
        // A shard smaller than a batch (the last, or an empty one) is one batch: the same rows
        // the whole run's last batch holds.
        let rows = range.count * inner
        self.batchRows = min(batchRows, max(inputChunkRows, rows.roundedUp(toMultipleOf: inputChunkRows)))
    }

    /// The least common multiple of two positive numbers; `Int.max` (one unit holding every
    /// row) when it does not fit.
    static func leastCommonMultiple(_ a: Int, _ b: Int) -> Int {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        guard x != 0 else { return 0 }
        let (product, overflow) = (a / x).multipliedReportingOverflow(by: b)
        return overflow ? Int.max : product
    }
}
