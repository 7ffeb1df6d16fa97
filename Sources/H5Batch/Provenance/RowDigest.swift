/// A digest of a dataset's values as a pipeline reads them (float32, row by row): the wrapping
/// sum, over rows, of XXH64 of the row's bytes seeded with the row's number.
///
/// A sum, so batches can be hashed on any worker in any order, and a resumed run adds its rows
/// to the sum its checkpoint saved; the seed makes each row's term depend on where the row is,
/// so moved or swapped rows change it too. Any change to a value changes it except with a
/// chance of about 2⁻⁶⁴.
enum RowDigest {
    /// The sum of the terms of `rows` rows of `width` values starting at `values`, the first
    /// being row `firstRow` of the dataset.
    static func sum(_ values: UnsafePointer<Float>, rows: Int, width: Int, firstRow: Int) -> UInt64 {
        let rowBytes = width * MemoryLayout<Float>.stride
        var sum: UInt64 = 0
        for row in 0..<rows {
            let bytes = UnsafeRawBufferPointer(start: values + row * width, count: rowBytes)
            sum = sum &+ XXHash64.hash(bytes, seed: UInt64(firstRow + row))
        }
        return sum
    }
}

/// The per-batch digests of a stream, collected in row order on the I/O lane, so that a
/// checkpoint can save the digest of exactly the batches before its row.
final class InputDigestLedger {
    let batchRows: Int
    /// The first row the run reads (a batch boundary).
    let start: Int
    /// The dataset's rows.
    let rows: Int
    /// `totals[k]`: the digest of rows before `start + k * batchRows`.
    private var totals: [UInt64]

    /// A ledger for the stream of `plan`, whose rows before its start sum to `before`.
    init(plan: BatchPlan, before: UInt64) {
        batchRows = plan.batchRows
        start = plan.start
        rows = plan.rows
        totals = [before]
    }

    /// Adds the next batch's digest (batches must come in order).
    func append(_ digest: UInt64) {
        totals.append(totals.last! &+ digest)
    }

    /// The digest of every row read so far.
    var total: UInt64 { totals.last! }

    /// For a checkpoint at `row`: the last batch boundary at or before it and the digest of the
    /// rows before that boundary (a resumed run starts reading there), or nil when those
    /// batches are not all recorded.
    func digest(before row: Int) -> (row: Int, digest: UInt64)? {
        let boundary = row == rows ? rows : row / batchRows * batchRows
        guard boundary >= start else { return nil }
        let batches = (boundary - start).units(of: batchRows)
        guard batches < totals.count else { return nil }
        return (boundary, totals[batches])
    }
}
