import ArgumentParser
import Foundation
import H5Batch
import Logging

extension H5BatchCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a pipeline file on its input and write the output.",
            discussion: "Paths given on the command line are relative to the working directory; paths inside the pipeline file are relative to the file's folder."
        )

        @OptionGroup var pipeline: PipelineArguments

        @OptionGroup var settings: RunSettings

        @Flag(help: "Replace the output file if it exists.")
        var force = false

        @Flag(help: "Continue the partial output an interrupted run of this pipeline left (OUTPUT.partial), from its last checkpoint; without one, start from the first row.")
        var resume = false

        @Flag(help: "Count every stage's output per feature while the rows stream past (zeros, negatives, NaN/Inf, min, max, mean, variance; sparsity and dead units per stage): a summary here, an h5batch_stats attribute on the output dataset, OUTPUT.stats.json beside it. Also run.stats: true.")
        var stats = false

        @Flag(help: "Do nothing when the output exists and was made from the same input values, pipeline, weights and h5batch version (its provenance attributes say); make it again when any of them changed.")
        var skipIfFresh = false

        @Option(help: ArgumentHelp("Seconds between checkpoints (default 30); 0 saves one after every batch.", valueName: "seconds"))
        var checkpointInterval: Double?

        @Option(help: "Progress: auto (a live line on a terminal, a log line every --progress-interval seconds otherwise), on (the live line even when standard error is not a terminal), off.")
        var progress: ProgressMode = .auto

        @Option(help: ArgumentHelp("Seconds between progress log lines when there is no live line.", valueName: "seconds"))
        var progressInterval: Double = 10

        @Option(help: "Log lines on standard error: text, or json (one object per line: time, level, event, message and fields; the last is 'done' or 'error').")
        var logFormat: LogFormat = .text

        @Option(help: ArgumentHelp("Write the run's figures to this file in Prometheus text format (for node_exporter's textfile collector), atomically, on success and on failure.", valueName: "path"))
        var metricsFile: String?

        /// Checkpoints every so many rows instead of by time: for tests that need to know where
        /// checkpoints fall whatever the machine's speed.
        @Option(help: .hidden)
        var checkpointRows: Int?

        @Option(help: .hidden)
        var reportJSON: String?

        func validate() throws {
            if let checkpointInterval, !(checkpointInterval >= 0 && checkpointInterval <= 1e9) {
                throw ValidationError("--checkpoint-interval must be a number of seconds, 0 or more")
            }
            if !(progressInterval > 0 && progressInterval <= 1e9) {
                throw ValidationError("--progress-interval must be a number of seconds, more than 0")
            }
            if let checkpointRows, checkpointRows < 1 {
                throw ValidationError("--checkpoint-rows must be at least 1")
            }
        }

        func run() throws {
            let started = Date()
            let metrics = metricsFile.map {
                MetricsFile(path: $0, pipeline: (try? pipeline.load().name) ?? PipelineFile.defaultName(forFile: pipeline.pipeline))
            }
            do {
                if let metricsFile { try MetricsFile.checkWritable(metricsFile) }
                let report = try runPipeline()
                try metrics?.write(.init(exitStatus: 0, started: started, ended: Date(), report: report))
            } catch {
                let status = H5BatchCommand.exitStatus(for: error)
                // The run's own error matters more than a metrics file that cannot be written.
                try? metrics?.write(.init(exitStatus: status, started: started, ended: Date(), report: nil))
                throw error
            }
        }

        private func runPipeline() throws -> RunReport {
            var config = try pipeline.load()
            if let origin = try settings.apply(to: &config), let shard = config.run.shard {
                log.notice("shard \(shard.index) of \(shard.count) (\(origin)); output \(config.output.file ?? "-")",
                           metadata: ["event": "shard_source", "shard": .stringConvertible(shard.index),
                                      "shards": .stringConvertible(shard.count)])
            }
            // A run nobody watches should still say when its products run on narrow kernels.
            if config.stages.contains(where: { $0.name == "linear" }),
               let warning = GEMM.kernels.warning {
                log.warning("\(warning)", metadata: ["event": "narrow_kernels"])
            }
            let stop = StopRequest()
            let signals = SignalHandling.stopOnInterrupt(stop)
            defer { signals.forEach { $0.cancel() } }
            let reporter = ProgressReporter.make(progress, format: LogOutput.format, interval: progressInterval,
                                                 console: .standardError)
            defer { reporter?.finish() }
            var options = PipelineRunner.Options(
                force: force, resume: resume, checkpointInterval: checkpointInterval ?? 30, stop: stop,
                onEvent: { event in
                    switch event {
                    case .checkpointSaved:
                        return
                    case .progress(let progress):
                        reporter?.report(progress)
                    default:
                        log.notice("\(event.message)", metadata: ["event": .string(event.name)])
                    }
                })
            options.skipIfFresh = skipIfFresh
            options.statistics = stats || config.run.stats
            options.checkpointRows = checkpointRows
            let report = try PipelineRunner(config: config, options: options).run()
            reporter?.finish()
            if let reportJSON {
                // For `h5batch bench`, which runs each measurement in a child process.
                try JSONEncoder().encode(report).write(to: URL(fileURLWithPath: reportJSON))
            }
            switch LogOutput.format {
            case .text:
                if !report.upToDate { print(report.summary) }
                for dataset in report.statistics ?? [] {
                    let prefix = (report.statistics?.count ?? 0) > 1 ? "stats \(dataset.dataset): " : "stats: "
                    for line in dataset.statistics.summaryLines { print(prefix + line) }
                }
            case .json:
                log.info("\(report.upToDate ? "up to date" : report.summary)", metadata: report.doneMetadata)
            }
            return report
        }
    }
}

extension RunReport {
    /// The fields of the `done` log record.
    var doneMetadata: Logger.Metadata {
        var phases: Logger.Metadata = [:]
        for (name, seconds) in phaseSeconds { phases[name] = .stringConvertible((seconds * 1e4).rounded() / 1e4) }
        return [
            "event": "done",
            "rows": .stringConvertible(rows),
            "seconds": .stringConvertible((seconds * 1e4).rounded() / 1e4),
            "rows_per_s": .stringConvertible(rowsPerSecond.rounded()),
            "bytes_in": .stringConvertible(bytesIn),
            "bytes_out": .stringConvertible(bytesOut),
            "peak_rss_bytes": .stringConvertible(peakResidentBytes),
            "mode": .string(mode.rawValue),
            "batch_rows": .stringConvertible(batchRows),
            "workers": .stringConvertible(workers),
            "phase_seconds": .dictionary(phases),
            "input": .string(input),
            "output": .string(output),
            "input_path": .string(inputPath),
            "output_path": .string(outputPath),
            "resumed_from_row": .stringConvertible(resumedFromRow),
            "up_to_date": .stringConvertible(upToDate),
            "peak_threads": .stringConvertible(peakThreads),
            "gemm": .dictionary(["library": .string(gemm.library), "version": .string(gemm.version),
                                 "isa": .string(gemm.isa), "cpu_vectors": .string(gemm.cpuVectors),
                                 "threads_per_product": .stringConvertible(gemm.threadsPerCall)]),
            "compute_threads": .stringConvertible(workers * gemm.threadsPerCall),
            "vector_kernels": .string(vectorKernels),
        ].merging(statistics.map { ["stats": .array($0.flatMap { dataset in
            dataset.statistics.stages.map { stage -> Logger.MetadataValue in
                let dead = stage.features.deadUnits
                return .dictionary(["dataset": .string(dataset.dataset), "stage": .string(stage.stage),
                                    "index": .stringConvertible(stage.index),
                                    "sparsity": .stringConvertible((stage.features.sparsity * 1e6).rounded() / 1e6),
                                    "dead_units": .stringConvertible(dead.count)])
            }
        })] } ?? [:]) { first, _ in first }
    }
}

extension RunEvent {
    /// The `event` field of its log line.
    var name: String {
        switch self {
        case .replacingPartial: return "replacing_partial"
        case .notResuming: return "not_resuming"
        case .resuming: return "resuming"
        case .checkpointSaved: return "checkpoint"
        case .progress: return "progress"
        case .upToDate: return "up_to_date"
        case .comparingSourceValues: return "comparing_source"
        case .outOfDate: return "out_of_date"
        case .shard: return "shard"
        }
    }
}
