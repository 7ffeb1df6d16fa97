import Foundation
import Testing
@testable import H5Batch

/// `--skip-if-fresh` with an ONNX model or a safetensors file as the weights: a run is skipped
/// while the file is unchanged and runs again when its contents change.
@Suite("Freshness of ONNX and safetensors weights")
struct ModelFreshnessTests {
    static func run(_ config: PipelineConfig) throws -> RunReport {
        var options = PipelineRunner.Options(force: true)
        options.skipIfFresh = true
        return try PipelineRunner(config: config, options: options).run()
    }

    static func config(_ stages: [StageConfig], output: String) -> PipelineConfig {
        var config = PipelineConfig(input: .init(file: ONNXModelTests.folder + "/references.h5", dataset: "/input"),
                                    output: .init(file: output, dataset: "/y"), stages: stages)
        config.run.workers = 2
        return config
    }

    /// Copies data/onnx/`name` over `path`, as a new file (another inode, another state).
    static func install(_ name: String, at path: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: ONNXModelTests.folder + "/" + name, toPath: path)
    }

    @Test("a model whose weights change (float16 now) makes the output stale; unchanged, the run is skipped")
    func onnxModel() throws {
        let folder = TemporaryFolder()
        let model = folder.file("model.onnx")
        try Self.install("mlp-ts17.onnx", at: model)
        let output = folder.file("out.h5")
        #expect(try !Self.run(Self.config(try PipelineFile.load(model).stages, output: output)).upToDate)
        #expect(try Self.run(Self.config(try PipelineFile.load(model).stages, output: output)).upToDate)
        try Self.install("mlp-f16.onnx", at: model)
        #expect(try !Self.run(Self.config(try PipelineFile.load(model).stages, output: output)).upToDate)
        let (values, _) = try readDataset(output, "/y")
        let (expected, _) = try readDataset(ONNXModelTests.folder + "/references.h5", "/mlp_f16")
        #expect(mismatch(values, expected, rowWidth: 4) == nil)
    }

    @Test("a safetensors file with other values makes the output stale")
    func safetensors() throws {
        let folder = TemporaryFolder()
        let weights = folder.file("w.safetensors")
        try Self.install("mlp.safetensors", at: weights)
        let output = folder.file("out.h5")
        let config = Self.config(SafeTensorsTests.mlp(weights).stages, output: output)
        #expect(try !Self.run(config).upToDate)
        #expect(try Self.run(config).upToDate)
        try Self.install("mlp.bf16.safetensors", at: weights)
        #expect(try !Self.run(config).upToDate)
    }
}
