import Foundation
import Testing
@testable import H5Batch

/// Every case of data/cases.json (made by scripts/make_reference.py with h5py + numpy in
/// float64, PyTorch semantics) through the library, in both modes and at batch sizes that
/// divide neither the row count nor the chunk sizes.
@Suite("Reference outputs")
struct ReferenceCaseTests {
    static let runs: [(mode: String, batchRows: Int, workers: Int)] = [
        ("minibatch", 7, 2), ("minibatch", 333, 2), ("minibatch", 8192, 1), ("full", 0, 2), ("full", 0, 1),
    ]

    @Test("matches the h5py + numpy reference", arguments: ReferenceCase.all)
    func matchesReference(_ testCase: ReferenceCase) throws {
        let folder = TemporaryFolder()
        let (expected, expectedShape) = try readDataset(Repo.data + "/references.h5", "/" + testCase.name)
        for run in Self.runs {
            let output = folder.file("\(run.mode)-\(run.batchRows)-\(run.workers).h5")
            let json = testCase.pipelineJSON(output: output, mode: run.mode, batchRows: max(1, run.batchRows), workers: run.workers)
            let config = try PipelineFile.parse(json, format: .json, path: "case.json", baseFolder: Repo.data)
            let report = try PipelineRunner(config: config).run()
            let (actual, shape) = try readDataset(output, "/result")
            let label = "\(testCase.name) \(run.mode) batch \(run.batchRows) workers \(run.workers)"
            #expect(shape == expectedShape, "\(label): shape")
            #expect(report.rows == expectedShape.dropLast().reduce(1, *), "\(label): rows")
            let hasLinear = testCase.stagesJSON.contains("\"linear\"")
            let problem = mismatch(actual, expected, rowWidth: hasLinear ? expectedShape.last : nil)
            #expect(problem == nil, "\(label): \(problem ?? "")")
        }
    }

    @Test("output.dtype float16 and float64: the stored values are the float32 results, rounded for float16",
          arguments: ["float16", "float64"], ["minibatch", "full"])
    func outputTypes(_ dtype: String, _ mode: String) throws {
        let folder = TemporaryFolder()
        let cases = ReferenceCase.all.filter {
            ["sigmoid/", "gelu/", "softmax/special_linear", "linear_silu/", "mlp_gelu_softmax/normal_chunked", "mlp/normal_gzip"]
                .contains(where: $0.name.hasPrefix)
        }
        #expect(cases.count == 6)
        for testCase in cases {
            let (expected, expectedShape) = try readDataset(Repo.data + "/references.h5", "/" + testCase.name)
            let output = folder.file("\(dtype).h5")
            let json = testCase.pipelineJSON(output: output, mode: mode, batchRows: 333, workers: 2, dtype: dtype)
            let config = try PipelineFile.parse(json, format: .json, path: "case.json", baseFolder: Repo.data)
            _ = try PipelineRunner(config: config, options: .init(force: true)).run()
            let file = try HDF5File.open(output)
            let dataset = try file.dataset("/result")
            #expect(dataset.elementType.description == dtype)
            let actual = try dataset.readAll()
            let label = "\(testCase.name) \(dtype) \(mode)"
            #expect(dataset.shape == expectedShape, "\(label)")
            let hasLinear = testCase.stagesJSON.contains("\"linear\"")
            let problem = dtype == "float16"
                ? mismatch(actual, expected.map { Float(Float16($0)) }, rtol: 2e-3, atol: 1e-5, rowWidth: hasLinear ? expectedShape.last : nil)
                : mismatch(actual, expected, rowWidth: hasLinear ? expectedShape.last : nil)
            #expect(problem == nil, "\(label): \(problem ?? "")")
        }
    }

    @Test("the cases cover every stage, input type, rank and layout")
    func coverage() {
        let names = ReferenceCase.all.map(\.name)
        // Every stage a pipeline file can name (PipelineFile.stageNames).
        for stage in PipelineFile.stageNames {
            #expect(ReferenceCase.all.contains { $0.stagesJSON.contains("\"\(stage)\"") }, "no case uses \(stage)")
        }
        for type in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                     "float16", "float32", "float64", "int16be", "uint32be", "float32be", "float64be"] {
            #expect(names.contains("mlp/types/\(type)"), "no case for \(type)")
        }
        for input in ["rank1", "rank3", "normal_contiguous", "normal_chunked", "normal_gzip"] {
            #expect(names.contains("mlp/\(input)"), "no case for \(input)")
        }
    }

    @Test("both modes and any worker count give the same numbers on the sample data")
    func modesAgree() throws {
        let folder = TemporaryFolder()
        var outputs: [[Float]] = []
        for (mode, batch, workers) in [("full", 1, 2), ("minibatch", 1000, 1), ("minibatch", 1111, 2), ("minibatch", 4097, 3)] {
            var config = try PipelineFile.load(Repo.config + "/demo.yaml")
            config.output.file = folder.file("\(mode)-\(batch)-\(workers).h5")
            config.run.mode = PipelineConfig.Mode(rawValue: mode)!
            config.run.batchRows = batch
            config.run.workers = workers
            _ = try PipelineRunner(config: config).run()
            outputs.append(try readDataset(config.output.file!, "/features").values)
        }
        for other in outputs.dropFirst() {
            let problem = mismatch(other, outputs[0], rtol: 1e-5, atol: 1e-6)
            #expect(problem == nil, "\(problem ?? "")")
        }
    }
}
