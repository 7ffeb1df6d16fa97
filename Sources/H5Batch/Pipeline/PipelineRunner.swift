import Foundation

/// Runs a pipeline: opens the input, loads the stages, writes the output atomically.
///
/// Everything touching HDF5 happens on one serial I/O lane (libhdf5's thread-safe build holds
/// one global lock, so concurrent calls would only queue on it); workers see only buffers.
/// The output is written to `OUTPUT.partial` and renamed into place once complete, so the
/// output's name never shows a half-written file. Checkpoints (`OUTPUT.checkpoint`) let a run
/// that was stopped, killed or cut off by a full disk be continued (`Options.resume`); a run
/// that fails with nothing worth keeping leaves nothing behind.
///
/// Every product runs on the worker that owns its batch (`GEMM`), so several runners in one
/// process each stay within their own workers.
public final class PipelineRunner {
    /// How a run behaves, beyond what its pipeline computes.
    public struct Options: Sendable {
        /// Replace an existing output file.
        public var force = false
        /// Read and write stored chunks directly where the layout allows (the fast path). Off,
        /// every batch goes through HDF5's hyperslab I/O and filters: for comparisons and tests.
        public var rawChunkIO = true
        /// Continue the partial output an earlier run left, from its last checkpoint, when it
        /// was written by the same pipeline from the same input; otherwise start afresh.
        public var resume = false
        /// Seconds between checkpoints; 0 saves one after every batch.
        public var checkpointInterval: Double = 30
        /// When set, a checkpoint after every this many rows instead of by time (for tests).
        public var checkpointRows: Int?
        /// When the output exists and was made from the same input values, pipeline, weights and
        /// h5batch version (its provenance), do nothing; when it is out of date, replace it.
        /// An existing output without h5batch provenance is replaced only with `force`.
        public var skipIfFresh = false
        /// Count every stage's output, per feature (`--stats`): `RunReport.statistics`, an
        /// `h5batch_stats` attribute on each output dataset and `OUTPUT.stats.json`.
        public var statistics = false
        /// Set to stop the run early, resumably (see `StopRequest`).
        public var stop: StopRequest?
        /// Told what the run does with leftover partial outputs and checkpoints.
        public var onEvent: (@Sendable (RunEvent) -> Void)?

        /// Options with these values; the rest keep their defaults.
        public init(force: Bool = false, rawChunkIO: Bool = true, resume: Bool = false,
                    checkpointInterval: Double = 30, stop: StopRequest? = nil,
                    onEvent: (@Sendable (RunEvent) -> Void)? = nil) {
            self.force = force
            self.rawChunkIO = rawChunkIO
            self.resume = resume
            self.checkpointInterval = checkpointInterval
            self.stop = stop
            self.onEvent = onEvent
        }
    }

    /// The pipeline this runner runs.
    public let config: PipelineConfig
    /// How it runs.
    public let options: Options
    private let lane = IOLane()

    /// A runner for `config`; nothing is opened until `run()`.
    public init(config: PipelineConfig, options: Options = Options()) {
        self.config = config
        self.options = options
    }

    /// Runs the pipeline to completion (or finds its output up to date: `Options.skipIfFresh`).
    /// Throws `H5BatchError`.
    public func run() throws -> RunReport {
        try lane.sync { try runOnLane() }
    }

    /// The run, on the lane: claim the output, resolve the plan (`RunPlan`, which `check`
    /// describes), stop if the output is fresh or the memory too small, then write each
    /// dataset into the partial output (`RunOutput`, `DatasetRun`) and commit it.
    private func runOnLane() throws -> RunReport {
        let started = now()
        let inputFile = try RunPlan.inputFile(of: config), outputPath = try RunPlan.outputFile(of: config)
        // Claim the output first, so that a run overlapping another is told so (exit 75)
        // whatever else it would find; a missing folder is claimed once it exists.
        var lock = OutputTarget.folderExists(for: outputPath) ? try OutputLock.acquire(for: outputPath) : nil
        defer { lock?.release() }
        // --skip-if-fresh decides below whether an existing output may be replaced.
        try OutputTarget.check(outputPath, reads: RunPlan.filesRead(by: config), force: options.force || options.skipIfFresh)
        let plan = try RunPlan(config: config, rawChunkIO: options.rawChunkIO)
        if let job = plan.jobs.first, let shard = job.shard {
            options.onEvent?(.shard(shard, rows: job.rows, of: job.inputHandle.path, unit: job.shardUnit))
        }
        var report = RunReport(plan, inputFile: inputFile, outputPath: outputPath)
        if options.skipIfFresh, FileManager.default.fileExists(atPath: outputPath), try isFresh(plan, outputPath: outputPath) {
            report.upToDate = true
            return report.ended(started: started)
        }
        if let refusal = plan.memoryRefusal { throw refusal }

        try OutputTarget.prepareFolder(for: outputPath)
        if lock == nil { lock = try OutputLock.acquire(for: outputPath) }
        let output = try RunOutput(outputPath, plan: plan, options: options)
        // A resumed run's finished datasets were counted before it.
        if options.statistics, let earlier = output.resumedFrom?.completedStatistics { report.statistics = earlier }
        do {
            var placement = ProgressPlacement(plan, first: output.first, resumedRows: output.resumedFrom?.rowsDone ?? 0)
            for index in output.first..<plan.jobs.count {
                let dataset = try output.start(index, statisticsBefore: report.statistics)
                report.add(dataset, rowsBefore: placement.rowsBefore)
                let result = try dataset.run(mode: plan.mode, workers: plan.workers, placement: placement)
                report.add(result)
                if result.outcome == .stopped { throw output.stoppedError() }
                if let counted = try dataset.finish(closesDataset: index < plan.jobs.count - 1) {
                    report.statistics = (report.statistics ?? []) + [counted]
                }
                output.end(dataset)
                placement.advance(past: dataset)
            }
            try output.commit(statistics: report.statistics)
        } catch let error as H5BatchError {
            throw output.fail(error)
        }
        report.peakThreads = max(report.peakThreads, SystemInfo.threadCount)  // also when no batch ran
        return report.ended(started: started)
    }

    /// `--skip-if-fresh`: whether every dataset of the existing output is up to date (said
    /// through `onEvent`); throws when it is not h5batch's to replace.
    private func isFresh(_ plan: RunPlan, outputPath: String) throws -> Bool {
        let jobs = plan.jobs
        if plan.coversSeveralDatasets, let held = try? HDF5File.open(outputPath).datasetPaths() {
            // The list is part of what the file is: a dataset the pattern now takes, or one it no
            // longer takes, makes the file out of date (an h5batch output holds only its own).
            let wanted = jobs.map(\.outputDataset)
            let missing = wanted.filter { !held.contains($0) }, extra = held.filter { !wanted.contains($0) }
            if !missing.isEmpty || !extra.isEmpty {
                let change = (missing.isEmpty ? [] : ["it lacks \(missing.joined(separator: ", "))"])
                    + (extra.isEmpty ? [] : ["it holds \(extra.joined(separator: ", ")), which input.datasets no longer names"])
                options.onEvent?(.outOfDate(path: outputPath, reason: change.joined(separator: "; ")))
                return false
            }
        }
        var reasons: [String] = []
        for job in jobs {
            let freshness = try Freshness.check(
                output: outputPath, dataset: job.outputDataset, expected: job.recipe,
                sourceState: job.identity.inputState!, sourceShape: job.input.shape, shard: job.shard,
                onEvent: options.onEvent,
                digest: { try SourceDigester(reader: job.reader, batchRows: job.batchRows, workers: plan.workers).digest() })
            let label = jobs.count > 1 ? "\(job.outputDataset): " : ""
            switch freshness {
            case .upToDate(let reason):
                reasons.append(label + reason)
            case .stale(let reason):
                options.onEvent?(.outOfDate(path: outputPath, reason: label + reason))
                return false
            case .unknown(let reason) where !options.force:
                throw H5BatchError(.cannotCreate, "output \(outputPath) exists but h5batch cannot tell how it was made: \(label)\(reason); --skip-if-fresh replaces only outputs h5batch made (pass --force to replace it)")
            case .unknown:
                return false
            }
        }
        let reason = jobs.count == 1 ? reasons[0] : "its \(jobs.count) datasets were made from the same inputs, pipeline, weights and h5batch version"
        options.onEvent?(.upToDate(path: outputPath, reason: reason))
        return true
    }
}
