import Foundation

/// The file a run writes, `OUTPUT.partial`, and its checkpoint record, `OUTPUT.checkpoint`:
/// created afresh, or reopened to continue where an earlier run's last checkpoint left it.
struct PartialOutput {
    let outputPath: String
    var path: String { RunFiles(output: outputPath).partial }
    var recordPath: String { RunFiles(output: outputPath).checkpoint }

    /// What the run's output dataset must be.
    struct Expectation {
        let identity: JobIdentity
        let dataset: String
        let shape: [Int]
        let chunks: [Int]?
        let rows: Int
        /// Creates the dataset in a new file; opens it in an existing one.
        let create: (HDF5File) throws -> Dataset
        let open: (HDF5File) throws -> Dataset
    }

    /// An open partial output.
    struct Opened {
        let file: HDF5File
        let dataset: Dataset
        let runID: String
        /// nil when the dataset's chunks do not map onto row ranges: then no checkpoints.
        let ledger: ChunkLedger?
        /// The checkpoint the run continues from, if it resumes.
        let resumedFrom: Checkpoint?
    }

    /// Continues the partial output when `resume` is set and it can be continued; otherwise
    /// replaces whatever is there with a new one. Says what it did through `onEvent`.
    func open(resume: Bool, expecting expected: Expectation, onEvent: (@Sendable (RunEvent) -> Void)?) throws -> Opened {
        let leftover = FileManager.default.fileExists(atPath: path)
        let record: Checkpoint?
        let recordProblem: String?
        do {
            record = try Checkpoint.read(recordPath)
            recordProblem = nil
        } catch let error as H5BatchError {
            record = nil
            recordProblem = error.message
        }
        if resume {
            guard leftover else {
                onEvent?(.notResuming(path: path, reason: "there is no such file"))
                return try create(expected)
            }
            switch reopen(record: record, recordProblem: recordProblem, expected) {
            case .success(let opened):
                onEvent?(.resuming(path: path, fromRow: opened.resumedFrom!.rowsDone, rowsTotal: expected.rows))
                return opened
            case .failure(let reason):
                onEvent?(.notResuming(path: path, reason: reason.text))
            }
        } else if leftover {
            onEvent?(.replacingPartial(path: path, rowsSaved: record?.rowsDone, rowsTotal: record?.rowsTotal ?? expected.rows))
        }
        return try create(expected)
    }

    /// Creates the next dataset of a several-dataset run in the open partial file, marked with
    /// the file's run ID.
    func addDataset(to output: Opened, expecting expected: Expectation) throws -> Opened {
        let dataset = try translatingHDF5Errors(otherwise: .cannotCreate) {
            let dataset = try expected.create(output.file)
            try dataset.setAttribute(Checkpoint.runIDAttribute, string: output.runID)
            return dataset
        }
        let ledger = expected.chunks.flatMap { ChunkGrid(shape: expected.shape, chunks: $0) }.map(ChunkLedger.init)
        return Opened(file: output.file, dataset: dataset, runID: output.runID, ledger: ledger, resumedFrom: nil)
    }

    /// Removes the partial file and its record.
    func discard() {
        unlink(path)
        unlink(recordPath)
    }

    private func create(_ expected: Expectation) throws -> Opened {
        // The old record must go first: it describes the old file, not the new one.
        try DurableFile.remove(recordPath)
        let file: HDF5File
        do {
            file = try translatingHDF5Errors(otherwise: .cannotCreate) {
                try HDF5File.create(path, postponingMetadataWrites: true)
            }
        } catch {
            discard()
            throw error
        }
        let runID = UUID().uuidString
        let dataset: Dataset
        do {
            dataset = try translatingHDF5Errors(otherwise: .cannotCreate) {
                let dataset = try expected.create(file)
                try dataset.setAttribute(Checkpoint.runIDAttribute, string: runID)
                return dataset
            }
        } catch {
            file.abandon()
            discard()
            throw error
        }
        let ledger = expected.chunks.flatMap { ChunkGrid(shape: expected.shape, chunks: $0) }.map(ChunkLedger.init)
        return Opened(file: file, dataset: dataset, runID: runID, ledger: ledger, resumedFrom: nil)
    }

    private struct NotResumable: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    /// Opens the partial output if its checkpoint belongs to this job and the file holds
    /// exactly what the checkpoint recorded.
    private func reopen(record: Checkpoint?, recordProblem: String?, _ expected: Expectation) -> Result<Opened, NotResumable> {
        guard let record else {
            return .failure(NotResumable(recordProblem ?? "it has no checkpoint (its run stopped before saving one)"))
        }
        if let difference = expected.identity.difference(from: record.job) {
            return .failure(NotResumable(difference))
        }
        guard record.rowsTotal == expected.rows, record.dataset == expected.dataset,
              (0...expected.rows).contains(record.rowsDone) else {
            return .failure(NotResumable("its checkpoint describes another output (\(record.dataset), \(formatCount(record.rowsTotal)) rows)"))
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            return .failure(NotResumable("cannot read it: \(String(cString: strerror(errno)))"))
        }
        guard Int(info.st_size) >= record.fileBytes else {
            return .failure(NotResumable("it is shorter than at its last checkpoint (\(formatCount(Int(info.st_size))) of \(formatCount(record.fileBytes)) bytes)"))
        }
        let end = Superblock.endOfAllocation(ofFileAt: path)
        guard end == record.endOfAllocation else {
            // A flush after the checkpoint reached the file (a crash while saving the next one).
            return .failure(NotResumable("its metadata changed after its last checkpoint (a crash while saving the next one)"))
        }
        // Whatever lies past the checkpoint's end was written after it: drop it.
        guard truncate(path, off_t(record.fileBytes)) == 0 else {
            return .failure(NotResumable("cannot cut it back to its last checkpoint: \(String(cString: strerror(errno)))"))
        }
        let file: HDF5File
        do {
            file = try HDF5File.open(path, writable: true, postponingMetadataWrites: true)
        } catch {
            return .failure(NotResumable("HDF5 cannot open it (\(error))"))
        }
        do {
            let dataset = try expected.open(file)
            guard try dataset.stringAttribute(Checkpoint.runIDAttribute) == record.runID else {
                throw NotResumable("it was not written by the run its checkpoint describes")
            }
            guard dataset.shape == expected.shape, dataset.chunkShape == expected.chunks,
                  let chunks = expected.chunks, let grid = ChunkGrid(shape: expected.shape, chunks: chunks) else {
                throw NotResumable("its dataset \(expected.dataset) has another shape or chunking")
            }
            var ledger = ChunkLedger(grid: grid)
            let summary = try ledger.summary(upTo: record.rowsDone, in: dataset)
            let stored = try dataset.storedChunkCount()
            guard summary == record.chunks, stored == summary.chunks else {
                throw NotResumable("it does not hold the chunks its checkpoint recorded (\(stored) stored, \(record.chunks.chunks) recorded)")
            }
            return .success(Opened(file: file, dataset: dataset, runID: record.runID, ledger: ledger, resumedFrom: record))
        } catch let reason as NotResumable {
            file.abandon()
            return .failure(reason)
        } catch {
            file.abandon()
            return .failure(NotResumable("it is damaged (\(error))"))
        }
    }
}
