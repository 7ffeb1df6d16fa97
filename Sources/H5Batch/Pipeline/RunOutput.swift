import Foundation

/// The run's output while it is written: `OUTPUT.partial`, new or continued from a checkpoint at
/// the dataset that checkpoint names, and how the run ends with it: committed into place, or
/// abandoned, keeping it to resume from when that is worth it.
///
/// It tracks the checkpoint a failure leaves: the running dataset's latest, or the one that
/// closed the dataset before it.
final class RunOutput {
    let path: String
    let partial: PartialOutput
    /// The open partial file, holding the first dataset this process writes.
    let opened: PartialOutput.Opened
    /// The index, in the plan's jobs, of the first dataset this process writes (a resumed
    /// several-dataset run skips those its checkpoint says are done).
    let first: Int
    private let plan: RunPlan
    private let options: PipelineRunner.Options
    /// The run's datasets, when there are several (for messages).
    private let datasetCount: Int?
    /// The dataset being written.
    private var running: DatasetRun?
    /// The checkpoint that closed the last finished dataset, or the one resumed from.
    private var closedBefore: Checkpoint?
    private let stop: StopRequest?

    /// Opens the partial output of `plan`'s run into `path`: a new one holding the first
    /// dataset, or, with `options.resume`, the one a checkpoint describes, continued at the
    /// dataset it names (every dataset before it must be there).
    init(_ path: String, plan: RunPlan, options: PipelineRunner.Options) throws {
        self.path = path
        self.plan = plan
        self.options = options
        partial = PartialOutput(outputPath: path)
        datasetCount = plan.coversSeveralDatasets ? plan.jobs.count : nil
        stop = options.stop
        (opened, first) = try Self.open(partial, jobs: plan.jobs, identity: plan.identity, several: plan.coversSeveralDatasets,
                                        options: options)
        closedBefore = opened.resumedFrom
    }

    /// The checkpoint this run continues from, if it resumes.
    var resumedFrom: Checkpoint? { opened.resumedFrom }

    /// Starts the plan's dataset `index` in its output dataset: the opened one for the first,
    /// a new one in the same file after it. With several datasets, `statisticsBefore` holds
    /// those counted over the datasets before it. From now on a failure keeps its latest
    /// checkpoint.
    func start(_ index: Int, statisticsBefore: [DatasetStatistics]?) throws -> DatasetRun {
        let identity = plan.identity, job = plan.jobs[index]
        let output = index == first ? opened : try partial.addDataset(to: opened, expecting: job.outputExpectation(identity: identity))
        let dataset = try DatasetRun(job, into: output, of: partial, identity: identity,
                                     finishedBefore: plan.coversSeveralDatasets
                                         ? (plan.jobs[..<index].map(\.outputDataset), statisticsBefore) : nil,
                                     options: options)
        running = dataset
        return dataset
    }

    /// `dataset` is finished: its last checkpoint (when one closed it) is the one a later
    /// failure goes back to.
    func end(_ dataset: DatasetRun) {
        if let saved = dataset.checkpointer?.saved { closedBefore = saved }
        running = nil
    }

    /// The checkpoint a failure now leaves to resume from.
    private var saved: Checkpoint? { running?.checkpointer?.saved ?? closedBefore }

    // MARK: - The end

    /// Closes the file and moves it into place, removes the checkpoint record, and writes
    /// `OUTPUT.stats.json` beside it (with `--stats`), or removes an earlier output's.
    func commit(statistics: [DatasetStatistics]?) throws {
        // No last checkpoint: its syncs would cost short runs more than the run itself, and
        // a crash between the close and the rename (which a resumed run would detect by the
        // changed superblock, and start over) is a window of milliseconds.
        try translatingHDF5Errors(otherwise: .io) { try opened.file.close() }
        try OutputTarget.commit(partial: partial.path, to: path)
        try? DurableFile.remove(partial.recordPath)
        let statisticsPath = RunFiles(output: path).statistics
        if let statistics {
            // Beside the output, once it is in place (its attributes hold the summary).
            try DurableFile.write(try StatisticsFile.json(output: path, datasets: statistics.map { ($0.dataset, $0.statistics) }),
                                  to: statisticsPath)
        } else if FileManager.default.fileExists(atPath: statisticsPath) {
            // An earlier output's statistics must not pass for this one's.
            try DurableFile.remove(statisticsPath)
        }
    }

    /// Abandons the partial file after `error` and says what is left: the partial file and its
    /// checkpoint are kept when a checkpoint holds rows and the error is a stop or an I/O error,
    /// and removed otherwise. Returns the error to throw.
    func fail(_ error: H5BatchError) -> H5BatchError {
        opened.file.abandon()
        guard let saved, Self.holdsRows(saved), error.isResumable else {
            partial.discard()
            return error
        }
        if case .stopped = error.kind { return error }
        return H5BatchError(error.kind, "\(error.message); \(savedText(saved, percentage: false)) saved in \(partial.path): run again with --resume to continue")
    }

    /// The error a run stopped by `options.stop` ends with (the stream wrote what it had read).
    func stoppedError() -> H5BatchError {
        let signal = stop?.signalNumber ?? SIGINT
        let by = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "signal \(signal)"
        guard let saved, Self.holdsRows(saved) else {
            return H5BatchError(.stopped(signal: signal), "stopped by \(by) before any rows were saved; nothing to resume")
        }
        return H5BatchError(.stopped(signal: signal), "stopped by \(by): \(savedText(saved)) saved in \(partial.path); run again with --resume to continue")
    }

    private static func holdsRows(_ saved: Checkpoint) -> Bool {
        saved.rowsDone > 0 || !(saved.completedDatasets ?? []).isEmpty
    }

    /// What a checkpoint holds, for messages: `417,792 of 1,048,576 rows (40%) are`, or with
    /// several datasets `1 of 3 datasets and 20,000 of 50,000 rows of /val/x are`.
    private func savedText(_ saved: Checkpoint, percentage: Bool = true) -> String {
        let rows = "\(formatCount(saved.rowsDone)) of \(formatCount(saved.rowsTotal)) rows"
        guard let datasets = datasetCount else {
            return percentage ? "\(rows) (\(percent(saved.rowsDone, of: saved.rowsTotal))) are" : "\(rows) are"
        }
        // A checkpoint at a dataset's last row closes it.
        let finished = (saved.completedDatasets?.count ?? 0) + (saved.rowsDone == saved.rowsTotal ? 1 : 0)
        let whole = "\(finished) of \(datasets) dataset\(datasets == 1 ? "" : "s")"
        return saved.rowsDone == saved.rowsTotal || saved.rowsDone == 0 ? "\(whole) are" : "\(whole) and \(rows) of \(saved.dataset) are"
    }

    // MARK: - Opening

    private static func open(_ partial: PartialOutput, jobs: [PreparedJob], identity: JobIdentity, several: Bool,
                             options: PipelineRunner.Options) throws -> (PartialOutput.Opened, first: Int) {
        var first = 0
        // The record as the previous run left it (`partial.open` reads it again, to check it).
        let record = options.resume ? try? Checkpoint.read(partial.recordPath) : nil
        if several, let record, let index = jobs.firstIndex(where: { $0.outputDataset == record.dataset }),
           record.completedDatasets ?? [] == jobs[..<index].map(\.outputDataset) {
            first = index
        }
        var resume = options.resume
        if options.statistics, let record, record.statistics == nil {
            // Statistics must cover every row: a checkpoint without them cannot be continued.
            if FileManager.default.fileExists(atPath: partial.path) {
                options.onEvent?(.notResuming(path: partial.path, reason: "its run did not count statistics (--stats), so the rows before its checkpoint have none"))
            }
            resume = false
        }
        if !options.statistics, let record, record.statistics != nil, jobs.contains(where: \.chain.foldsBatchNorm) {
            // Its rows were computed unfolded: continuing folded would end in neither run's bits.
            if FileManager.default.fileExists(atPath: partial.path) {
                options.onEvent?(.notResuming(path: partial.path, reason: "its run counted statistics (--stats), which keeps each batch_norm apart from the linear stage before it; "
                    + "this run folds them together, and its rows would differ from the saved ones in their last bits"))
            }
            resume = false
        }
        let output = try partial.open(resume: resume, expecting: jobs[first].outputExpectation(identity: identity),
                                      onEvent: resume || !options.resume ? options.onEvent : nil)
        guard first > 0 else { return (output, 0) }
        var problem: String? = output.resumedFrom == nil ? "" : nil
        if problem == nil {
            for job in jobs[..<first] {
                let there = (try? output.file.hasDataset(job.outputDataset)) == true
                    && (try? output.file.dataset(job.outputDataset).stringAttribute(Checkpoint.runIDAttribute)) == output.runID
                if !there { problem = "it lacks \(job.outputDataset), which its checkpoint says is done"; break }
            }
        }
        guard let problem else { return (output, first) }
        // Not continued after all: start over from the first dataset.
        output.file.abandon()
        partial.discard()
        if !problem.isEmpty { options.onEvent?(.notResuming(path: partial.path, reason: problem)) }
        return (try partial.open(resume: false, expecting: jobs[0].outputExpectation(identity: identity), onEvent: nil), 0)
    }
}

extension H5BatchError {
    /// Whether a partial output saved before this error is worth keeping: the run was stopped,
    /// or writing failed (a full disk); not when the input or the pipeline is at fault.
    var isResumable: Bool {
        switch kind {
        case .io, .stopped: return true
        default: return false
        }
    }
}
