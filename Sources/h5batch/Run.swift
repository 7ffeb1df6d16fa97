import ArgumentParser
import Foundation
import H5Batch

extension H5BatchCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a pipeline file on its input and write the output.",
            discussion: "Paths given on the command line are relative to the working directory; paths inside the pipeline file are relative to the file's folder."
        )

        @OptionGroup var pipeline: PipelineArguments

        @Option(help: ArgumentHelp("Output file, and optionally its dataset.", valueName: "file[:dataset]"))
        var output: String?

        @Option(help: "Execution mode: minibatch (streaming, bounded memory) or full (whole dataset in memory).")
        var mode: PipelineConfig.Mode?

        @Option(help: "Rows per batch (rounded to whole stored chunks when h5batch decodes them); full mode reads and writes in batches of this size too.")
        var batchRows: Int?

        @Option(help: ArgumentHelp("Compute workers (default: one per active core).", valueName: "n|auto"))
        var workers: String?

        @Flag(help: "Replace the output file if it exists.")
        var force = false

        @Flag(help: "Continue the partial output an interrupted run of this pipeline left (OUTPUT.partial), from its last checkpoint; without one, start from the first row.")
        var resume = false

        @Option(help: ArgumentHelp("Seconds between checkpoints (default 30); 0 saves one after every batch.", valueName: "seconds"))
        var checkpointInterval: Double?

        @Option(help: .hidden)
        var reportJSON: String?

        func validate() throws {
            if let batchRows, batchRows < 1 { throw ValidationError("--batch-rows must be at least 1") }
            if let workers, workers != "auto", !(1...1024).contains(Int(workers) ?? 0) {
                throw ValidationError("--workers must be auto or an integer from 1 to 1024")
            }
            if let checkpointInterval, !(checkpointInterval >= 0 && checkpointInterval <= 1e9) {
                throw ValidationError("--checkpoint-interval must be a number of seconds, 0 or more")
            }
        }

        func run() throws {
            var config = try pipeline.load()
            if let output {
                let target = FileAndDataset(output)
                config.output.file = target.file
                if let dataset = target.dataset { config.output.dataset = dataset }
            }
            if let mode { config.run.mode = mode }
            if let batchRows { config.run.batchRows = batchRows }
            if let workers { config.run.workers = workers == "auto" ? nil : Int(workers) }
            let stop = StopRequest()
            let signals = SignalHandling.stopOnInterrupt(stop)
            defer { signals.forEach { $0.cancel() } }
            let options = PipelineRunner.Options(
                force: force, resume: resume, checkpointInterval: checkpointInterval ?? 30, stop: stop,
                onEvent: { event in
                    if case .checkpointSaved = event { return }
                    printError("note: \(event.message)")
                })
            let report = try PipelineRunner(config: config, options: options).run()
            if let reportJSON {
                // For `h5batch bench`, which runs each measurement in a child process.
                try JSONEncoder().encode(report).write(to: URL(fileURLWithPath: reportJSON))
            }
            print(report.summary)
        }
    }
}
