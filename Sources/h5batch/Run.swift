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

        @OptionGroup var settings: RunSettings

        @Flag(help: "Replace the output file if it exists.")
        var force = false

        @Flag(help: "Continue the partial output an interrupted run of this pipeline left (OUTPUT.partial), from its last checkpoint; without one, start from the first row.")
        var resume = false

        @Option(help: ArgumentHelp("Seconds between checkpoints (default 30); 0 saves one after every batch.", valueName: "seconds"))
        var checkpointInterval: Double?

        @Option(help: .hidden)
        var reportJSON: String?

        func validate() throws {
            if let checkpointInterval, !(checkpointInterval >= 0 && checkpointInterval <= 1e9) {
                throw ValidationError("--checkpoint-interval must be a number of seconds, 0 or more")
            }
        }

        func run() throws {
            var config = try pipeline.load()
            settings.apply(to: &config)
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
