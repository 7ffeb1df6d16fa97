import ArgumentParser
import Foundation
import H5Batch

@main
struct H5BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "h5batch",
        abstract: "Stream tensors stored in HDF5 through linear and activation stages with PyTorch semantics.",
        version: H5BatchVersion.string,
        subcommands: [Run.self, Check.self, Merge.self, Inspect.self, Generate.self, Bench.self]
    )

    /// Parses and runs, printing every failure as one `error:` line with its sysexits code.
    static func main() {
        // A file-size limit (ulimit -f) should fail the write with EFBIG and exit 74 with a
        // message, not kill the process silently.
        signal(SIGXFSZ, SIG_IGN)
        HDF5Library.disableCleanupAtExit()
        LogOutput.bootstrap(LogFormat.requested(in: Array(CommandLine.arguments.dropFirst())))
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            fail(error)
        }
    }

    /// Prints `error` as one line (an `error` record in a JSON log) and exits with its code.
    static func fail(_ error: Error) -> Never {
        let code = exitStatus(for: error)
        if code == 0 { exit(withError: error) }  // --help, --version
        if error is ExitCode { Foundation.exit(code) }
        let message: String
        if let error = error as? H5BatchError {
            message = error.message
        } else {
            let text = self.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
            message = "\(text) (see 'h5batch help')"
        }
        log.error("\(message)", metadata: ["event": "error", "exit_code": .stringConvertible(Int(code))])
        Foundation.exit(code)
    }

    /// The exit status `error` ends the process with (sysexits codes; 128 + N for signals).
    static func exitStatus(for error: Error) -> Int32 {
        if let error = error as? H5BatchError { return error.exitCode }
        return exitCode(for: error).rawValue
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// The pipeline file and its `--input` override, shared by `run` and `bench`.
struct PipelineArguments: ParsableArguments {
    @Argument(help: "Pipeline file (.yaml, .yml or .json), or an ONNX model (.onnx) standing for a pipeline of its stages.")
    var pipeline: String

    @Option(help: ArgumentHelp("Input file, and optionally its dataset (default: the pipeline's).", valueName: "file[:dataset]"))
    var input: String?

    /// The pipeline file, with `--input` applied; without a dataset, the file's dataset stays.
    func load() throws -> PipelineConfig {
        var config = try PipelineFile.load(pipeline)
        if let input {
            let target = FileAndDataset(input)
            // A dataset on the command line replaces the file's dataset or datasets.
            config.input = PipelineConfig.Input(file: target.file, dataset: target.dataset ?? config.input?.dataset,
                                                datasets: target.dataset == nil ? config.input?.datasets : nil)
        }
        return config
    }
}

/// The overrides of `run` that change what a run does, shared by `run` and `check`: the output,
/// the mode, the batch rows and the workers.
struct RunSettings: ParsableArguments {
    @Option(help: ArgumentHelp("Output file, and optionally its dataset.", valueName: "file[:dataset]"))
    var output: String?

    @Option(help: "Execution mode: minibatch (streaming, bounded memory) or full (whole dataset in memory).")
    var mode: PipelineConfig.Mode?

    @Option(help: "Rows per batch (rounded to whole stored chunks when h5batch decodes them); full mode reads and writes in batches of this size too.")
    var batchRows: Int?

    @Option(help: ArgumentHelp("Compute workers (default: one per active core).", valueName: "n|auto"))
    var workers: String?

    @Option(help: ArgumentHelp("Run only shard I of N (counted from 0): a range of whole chunks and batches along the input's first dimension, written to the output with -shard-I-of-N before its extension ({shard} and {shards} in the name are replaced instead). auto takes I and N from Open MPI, PMI, a Slurm job array or tasks, or a Kubernetes indexed Job (with H5BATCH_SHARDS).", valueName: "I/N|auto"))
    var shard: String?

    func validate() throws {
        if let batchRows, !(1...PipelineConfig.maximumRows).contains(batchRows) {
            throw ValidationError("--batch-rows must be at least 1 and at most \(PipelineConfig.maximumRows), as run.batch_rows")
        }
        if let workers, workers != "auto", !(1...1024).contains(Int(workers) ?? 0) {
            throw ValidationError("--workers must be auto or an integer from 1 to 1024")
        }
        if let shard, shard != "auto" {
            do { _ = try Shard(parsing: shard) } catch let error as H5BatchError { throw ValidationError(error.message) }
        }
    }

    /// `config` with these overrides; `--output` without a dataset keeps the file's dataset.
    /// With `--shard`, the run's shard and the shard's output name; returns where the shard
    /// came from, for the log.
    @discardableResult
    func apply(to config: inout PipelineConfig) throws -> String? {
        if let output {
            let target = FileAndDataset(output)
            config.output.file = target.file
            if let dataset = target.dataset { config.output.dataset = dataset }
        }
        if let mode { config.run.mode = mode }
        if let batchRows { config.run.batchRows = batchRows }
        if let workers { config.run.workers = workers == "auto" ? nil : Int(workers) }
        guard let shard else { return nil }
        let resolved: Shard, origin: String
        if shard == "auto" {
            if let detected = try ShardEnvironment.detect() {
                (resolved, origin) = (detected.shard, "from \(detected.source)")
            } else {
                (resolved, origin) = (try Shard(index: 0, count: 1), "--shard auto found none of \(ShardEnvironment.variableNames); so the whole input")
            }
        } else {
            (resolved, origin) = (try Shard(parsing: shard), "from --shard \(shard)")
        }
        config.run.shard = resolved
        if let file = config.output.file { config.output.file = resolved.outputPath(for: file) }
        return origin
    }
}

/// `FILE[:DATASET]` from the command line.
struct FileAndDataset {
    var file: String
    var dataset: String?

    /// A path that exists as given is a file name even if it contains ':'; otherwise the text
    /// after the last ':' names the dataset.
    init(_ text: String) {
        if FileManager.default.fileExists(atPath: text) || !text.contains(":") {
            file = text
            dataset = nil
            return
        }
        let split = text.lastIndex(of: ":")!
        file = String(text[..<split])
        let name = String(text[text.index(after: split)...])
        dataset = name.isEmpty ? nil : name
    }
}

extension PipelineConfig.Mode: ExpressibleByArgument {}
