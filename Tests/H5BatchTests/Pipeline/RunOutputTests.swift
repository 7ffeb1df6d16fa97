import Foundation
import Synchronization
import Testing
@testable import H5Batch

/// `RunOutput` and `DatasetRun` in process: a stop keeps the partial output at its last
/// checkpoint and says so, a resumed run continues it and reports where, and the result is
/// the uninterrupted run's.
@Suite("RunOutput: stop, keep, resume")
struct RunOutputTests {
    /// 400 rows of 6 values in 16-row chunks, and a pipeline over them in 16-row batches.
    final class Fixture {
        let folder = TemporaryFolder()
        let input: String
        let rows = 400

        init() throws {
            input = folder.file("in.h5")
            var options = SyntheticData.Options(shape: [400, 6])
            options.chunkRows = 16
            options.seed = 11
            try SyntheticData.generate(path: input, dataset: "/x", options: options)
        }

        func config(output: String) throws -> PipelineConfig {
            var config = try PipelineFile.parse("input: {file: \(input), dataset: /x}\noutput: {file: \(output)}\nstages: [relu, sigmoid]",
                                                format: .yaml, path: folder.file("p.yaml"), baseFolder: folder.path)
            config.run.batchRows = 16
            config.run.workers = 1
            return config
        }

        func options(resume: Bool = false, stop: StopRequest? = nil, onEvent: (@Sendable (RunEvent) -> Void)? = nil) -> PipelineRunner.Options {
            var options = PipelineRunner.Options(force: true, resume: resume, stop: stop, onEvent: onEvent)
            options.checkpointRows = 16
            return options
        }
    }

    @Test("a stop keeps the partial output at its checkpoint; --resume finishes it as an uninterrupted run would")
    func stopThenResume() throws {
        let fixture = try Fixture()
        let whole = fixture.folder.file("whole.h5"), resumed = fixture.folder.file("resumed.h5")
        let report = try PipelineRunner(config: try fixture.config(output: whole), options: fixture.options()).run()
        #expect(report.rows == fixture.rows && report.resumedFromRow == 0)

        // Asked to stop once 64 rows are written: the batches already read are still written.
        let stop = StopRequest()
        let stopping = fixture.options(stop: stop, onEvent: { event in
            if case .progress(let progress) = event, progress.rowsDone >= 64 { stop.request(signal: SIGTERM) }
        })
        var stopped: H5BatchError?
        do {
            _ = try PipelineRunner(config: try fixture.config(output: resumed), options: stopping).run()
        } catch let error as H5BatchError {
            stopped = error
        }
        let error = try #require(stopped)
        #expect(error.kind == .stopped(signal: SIGTERM))
        let files = RunFiles(output: resumed)
        let record = try #require(try Checkpoint.read(files.checkpoint))
        #expect(record.rowsDone >= 64 && record.rowsDone < fixture.rows && record.rowsDone % 16 == 0)
        #expect(error.message == "stopped by SIGTERM: \(formatCount(record.rowsDone)) of 400 rows (\(percent(record.rowsDone, of: 400))) are saved in \(files.partial); run again with --resume to continue")
        #expect(FileManager.default.fileExists(atPath: files.partial) && !FileManager.default.fileExists(atPath: resumed))

        let continued = try PipelineRunner(config: try fixture.config(output: resumed), options: fixture.options(resume: true)).run()
        #expect(continued.resumedFromRow == record.rowsDone)
        #expect(continued.rows == fixture.rows - record.rowsDone)
        #expect(!FileManager.default.fileExists(atPath: files.partial) && !FileManager.default.fileExists(atPath: files.checkpoint))
        #expect(try readDataset(resumed, "/x").values == (try readDataset(whole, "/x").values))
    }

    @Test("a stop before any row is saved leaves nothing")
    func stopBeforeAnyRow() throws {
        let fixture = try Fixture()
        let output = fixture.folder.file("out.h5")
        let stop = StopRequest()
        stop.request(signal: SIGINT)
        #expect(throws: H5BatchError(.stopped(signal: SIGINT), "stopped by SIGINT before any rows were saved; nothing to resume")) {
            try PipelineRunner(config: try fixture.config(output: output), options: fixture.options(stop: stop)).run()
        }
        #expect(fixture.folder.contents == ["in.h5"], "left behind: \(fixture.folder.contents)")
    }

    @Test("a checkpoint counted with --stats is not continued without it where a batch_norm folds: the rows would differ in their last bits")
    func foldedBatchNormNotResumedAcrossStats() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        var data = SyntheticData.Options(shape: [400, 32])
        data.chunkRows = 16
        data.seed = 5
        try SyntheticData.generate(path: input, dataset: "/x", options: data)
        let weights = Repo.data + "/weights.h5"
        func config(_ output: String) -> PipelineConfig {
            var config = PipelineConfig(input: .init(file: input, dataset: "/x"), output: .init(file: output),
                                        stages: [.linear(file: weights, weight: "fc1.weight", bias: "fc1.bias", layout: .torch),
                                                 .batchNorm(file: weights, runningMean: "bn64.running_mean", runningVar: "bn64.running_var",
                                                            weight: "bn64.weight", bias: "bn64.bias")])
            config.run.batchRows = 16
            config.run.workers = 1
            return config
        }
        func options(statistics: Bool, resume: Bool = false, stop: StopRequest? = nil,
                     onEvent: (@Sendable (RunEvent) -> Void)? = nil) -> PipelineRunner.Options {
            var options = PipelineRunner.Options(force: true, resume: resume, stop: stop, onEvent: onEvent)
            options.checkpointRows = 16
            options.statistics = statistics
            return options
        }
        let whole = folder.file("whole.h5"), resumed = folder.file("resumed.h5")
        _ = try PipelineRunner(config: config(whole), options: options(statistics: false)).run()

        let stop = StopRequest()
        #expect(throws: H5BatchError.self) {
            try PipelineRunner(config: config(resumed), options: options(statistics: true, stop: stop, onEvent: { event in
                if case .progress(let progress) = event, progress.rowsDone >= 64 { stop.request(signal: SIGTERM) }
            })).run()
        }
        #expect(try Checkpoint.read(RunFiles(output: resumed).checkpoint)?.statistics != nil)
        let reasons = Mutex<[String]>([])
        let continued = try PipelineRunner(config: config(resumed), options: options(statistics: false, resume: true, onEvent: { event in
            if case .notResuming(_, let reason) = event { reasons.withLock { $0.append(reason) } }
        })).run()
        #expect(continued.resumedFromRow == 0)
        #expect(reasons.withLock { $0 } == ["its run counted statistics (--stats), which keeps each batch_norm apart from the linear stage before it; "
            + "this run folds them together, and its rows would differ from the saved ones in their last bits"])
        #expect(try readDataset(resumed, "/x").values == (try readDataset(whole, "/x").values))
    }
}
