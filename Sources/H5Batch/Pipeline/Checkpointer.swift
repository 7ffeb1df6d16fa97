import Foundation

/// Saves checkpoints of a partial output while a run writes it, on the I/O lane.
///
/// A checkpoint flushes the file (the only time its metadata reaches the disk: it is opened
/// with `postponingMetadataWrites`), syncs it, and then replaces the checkpoint record. Between
/// checkpoints HDF5 only appends raw data past the flushed end, so after a crash at any point
/// the file still holds the last checkpoint's state, which the record describes.
final class Checkpointer {
    let file: HDF5File
    let dataset: Dataset
    let recordPath: String
    /// Seconds between checkpoints; 0 saves one after every batch.
    let interval: Double
    /// When set, checkpoints come after this many rows each instead, whatever the time.
    let rowInterval: Int?
    private var ledger: ChunkLedger
    private let digests: InputDigestLedger
    private let statistics: StatisticsLedger?
    private var template: Checkpoint
    private let onEvent: (@Sendable (RunEvent) -> Void)?
    /// The last checkpoint saved, by this run or the run it continues.
    private(set) var saved: Checkpoint?
    private var lastSave: Double

    /// Checkpoints of `output` (`rows` in all, the work `identity` names) into `recordPath`.
    /// `completedDatasets`: the output datasets of a several-dataset run finished before this one.
    init(output: PartialOutput.Opened, ledger: ChunkLedger, digests: InputDigestLedger, identity: JobIdentity,
         rows: Int, completedDatasets: [String]? = nil, statistics: StatisticsLedger? = nil,
         completedStatistics: [DatasetStatistics]? = nil, recordPath: String,
         interval: Double, rowInterval: Int? = nil, onEvent: (@Sendable (RunEvent) -> Void)?) {
        file = output.file
        dataset = output.dataset
        self.recordPath = recordPath
        self.interval = interval
        self.rowInterval = rowInterval
        self.ledger = ledger
        self.digests = digests
        self.statistics = statistics
        template = Checkpoint(runID: output.runID, job: identity, dataset: output.dataset.name,
                              completedDatasets: completedDatasets, rowsDone: 0, rowsTotal: rows, fileBytes: 0, endOfAllocation: 0,
                              chunks: ChunkLedger.Summary(), inputDigest: .init(row: 0, digest: 0),
                              completedStatistics: completedStatistics, saved: "")
        saved = output.resumedFrom
        self.onEvent = onEvent
        lastSave = now()
    }

    var rowsSaved: Int { saved?.rowsDone ?? 0 }

    /// Called after each write, in row order: saves a checkpoint once the interval has passed
    /// and there is progress to save.
    func written(upTo row: Int) throws {
        guard row > rowsSaved else { return }
        if let rowInterval {
            if row - rowsSaved >= rowInterval { try save(upTo: row) }
        } else if now() - lastSave >= interval {
            try save(upTo: row)
        }
    }

    /// Saves a checkpoint now: rows before `row` are written.
    func save(upTo row: Int) throws {
        // Every batch below the checkpoint's batch boundary is written, so it is hashed.
        guard let digest = digests.digest(before: row) else {
            preconditionFailure("checkpoint at row \(row) before the input digest reached its batch")
        }
        try translatingHDF5Errors(otherwise: .io) {
            // The raw data first, while the file's metadata still is the last checkpoint's: the
            // window in which a crash finds the metadata newer than the record (and the run must
            // start over) is then only the flush of a few kilobytes and the record's write.
            try DurableFile.sync(file.path)
            try file.flush()
            try DurableFile.sync(file.path)
            var record = template
            record.rowsDone = row
            record.fileBytes = try file.sizeOnDisk()
            guard let end = Superblock.endOfAllocation(ofFileAt: file.path) else {
                throw H5BatchError(.io, "cannot read the superblock of \(file.path) back")
            }
            record.endOfAllocation = end
            record.chunks = try ledger.summary(upTo: row, in: dataset)
            record.inputDigest = Checkpoint.InputDigest(row: digest.row, digest: digest.digest)
            if let statistics {
                guard let saved = statistics.statistics(before: digest.row) else {
                    preconditionFailure("checkpoint at row \(row) before the statistics reached its batch")
                }
                record.statistics = saved
            }
            record.saved = ISO8601DateFormatter().string(from: Date())
            try record.write(to: recordPath)
            saved = record
        }
        lastSave = now()
        onEvent?(.checkpointSaved(rowsDone: row, rowsTotal: template.rowsTotal))
    }
}
