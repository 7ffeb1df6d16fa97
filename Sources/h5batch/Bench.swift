import ArgumentParser
import Foundation
import H5Batch

extension H5BatchCommand {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure a pipeline over modes, batch sizes and worker counts, each run in a fresh process.",
            discussion: "Every run is a child `h5batch run` writing to a temporary file, so each has its own peak memory. Repetitions go round the whole set in turn, so machine noise hits every combination alike. Mini-batch sizes are rounded to whole stored chunks of the input, as `run` does."
        )

        @OptionGroup var pipeline: PipelineArguments

        @Option(help: ArgumentHelp("Modes to measure.", valueName: "full,minibatch"))
        var modes: String = "full,minibatch"

        @Option(help: ArgumentHelp("Mini-batch sizes to measure.", valueName: "n,n,…"))
        var batchRows: String = "1024,4096,16384,65536"

        @Option(help: ArgumentHelp("Worker counts to measure.", valueName: "n,n,…"))
        var workers: String = "1,2"

        @Option(help: "Runs per combination.")
        var `repeat`: Int = 3

        @Flag(help: "Also run every combination with --stats, right after its run without, to measure what counting costs; the HTML report adds each stage's sparsity.")
        var stats = false

        @Option(help: ArgumentHelp("Folder for report.json, report.csv and report.html.", valueName: "dir"))
        var report: String?

        func parsedModes() throws -> [PipelineConfig.Mode] {
            try modes.split(separator: ",").map {
                guard let mode = PipelineConfig.Mode(rawValue: $0.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--modes takes full and/or minibatch, not '\($0)'")
                }
                return mode
            }
        }

        func integers(_ text: String, _ option: String, max: Int = Int.max) throws -> [Int] {
            let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")) }
            guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= max }) else {
                throw ValidationError("\(option) takes a comma-separated list of integers from 1 to \(max)")
            }
            return values.map { $0! }
        }

        func validate() throws {
            _ = try parsedModes()
            _ = try integers(batchRows, "--batch-rows")
            _ = try integers(workers, "--workers", max: 1024)
            if `repeat` < 1 { throw ValidationError("--repeat must be at least 1") }
        }

        func run() throws {
            let plan = try PipelinePlan.make(try pipeline.load())
            var sweep = BenchSweep(modes: try parsedModes(), batchRows: try integers(batchRows, "--batch-rows"),
                                   workers: try integers(workers, "--workers", max: 1024), repeats: `repeat`)
            if stats { sweep.stats = [false, true] }
            var stageSparsity: [BenchReport.StageSparsity]?
            let scratch = NSTemporaryDirectory() + "h5batch-bench-\(getpid())"
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: scratch) }

            let created = ISO8601DateFormatter().string(from: Date())
            var runs: [BenchReport.Run] = []
            let schedule = sweep.schedule
            printError("bench: \(schedule.count) runs of \(plan.description)")
            let gemm = GEMM.kernels
            printError("bench: GEMM \(gemm.summary); the CPU offers \(gemm.cpuVectors); vector kernels \(VectorKernels.isa)")
            if let warning = gemm.warning { printError("warning: " + warning) }
            for (index, (combination, repetition)) in schedule.enumerated() {
                let result = try runChild(combination, scratch: scratch)
                var run = BenchSweep.run(result, repetition: repetition)
                run.stats = combination.stats ? true : nil
                if stageSparsity == nil, let counted = result.statistics?.first?.statistics {
                    stageSparsity = counted.stages.map {
                        BenchReport.StageSparsity(stage: $0.stage, sparsity: $0.features.sparsity,
                                                  deadUnits: $0.features.deadUnits.count, width: $0.features.width)
                    }
                }
                runs.append(run)
                printError(String(format: "  [%d/%d] %@ batch %@ workers %d%@: %.2f s, %.0f MB/s, peak %@",
                                  index + 1, schedule.count, run.mode, formatCount(run.batchRows), run.workers,
                                  combination.stats ? " +stats" : "",
                                  run.seconds, run.megabytesPerSecond, formatBytes(run.peakResidentBytes)))
            }
            var report = BenchReport(
                h5batchVersion: H5BatchVersion.string, created: created, pipeline: pipeline.pipeline,
                input: "\(plan.inputFile):\(plan.inputDataset)", rows: plan.rows, inputShape: plan.inputShape,
                inputBytes: plan.inputBytes, linearFlopsPerRow: plan.linearFlopsPerRow, stages: plan.stages,
                machine: BenchSweep.machine(), runs: runs,
                summaries: BenchSweep.summarize(runs, inputBytes: plan.inputBytes, linearFlopsPerRow: plan.linearFlopsPerRow))
            report.stageSparsity = stageSparsity
            print(BenchReportWriter.table(report), terminator: "")
            if let folder = self.report {
                let written = try BenchReportWriter.write(report, to: folder)
                print("wrote " + written.joined(separator: ", "))
            }
        }

        /// Runs one combination as a child `h5batch run` and reads back its report.
        private func runChild(_ combination: BenchSweep.Combination, scratch: String) throws -> RunReport {
            let output = scratch + "/out.h5"
            let reportFile = scratch + "/run.json"
            try? FileManager.default.removeItem(atPath: output)
            var arguments = ["run", pipeline.pipeline, "--output", output, "--force", "--report-json", reportFile,
                             "--mode", combination.mode.rawValue, "--workers", String(combination.workers)]
            if combination.mode == .minibatch { arguments += ["--batch-rows", String(combination.batchRows)] }
            if combination.stats { arguments.append("--stats") }
            if let input = pipeline.input { arguments += ["--input", input] }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = arguments
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try HDF5File.withDescriptorsSettled { try process.run() }
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            defer { try? FileManager.default.removeItem(atPath: output) }
            guard process.terminationStatus == 0 else {
                let line = message.split(separator: "\n").last.map(String.init) ?? "exit \(process.terminationStatus)"
                throw H5BatchError(.io, "bench run (\(combination.mode.rawValue), batch \(combination.batchRows), \(combination.workers) workers) failed: \(line)")
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: reportFile))
            return try JSONDecoder().decode(RunReport.self, from: data)
        }
    }
}
