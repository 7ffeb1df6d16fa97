import Foundation
import Testing
@testable import H5Batch

/// The stacks of data/onnx (scripts/make_onnx_fixtures.py), exported by PyTorch's TorchScript
/// exporter at opsets 13 and 17 and its `torch.export` exporter at 18 and 20, run by h5batch
/// in both modes and compared with PyTorch's own outputs.
@Suite("ONNX models against PyTorch")
struct ONNXModelTests {
    static let folder = Repo.data + "/onnx"
    static let stacks = ["mlp", "activations", "gelu", "matmul", "norm"]
    static let exports = ["ts13", "ts17", "dy18", "dy20"]
    static let models: [(file: String, reference: String)] =
        stacks.flatMap { stack in exports.map { ("\(stack)-\($0).onnx", stack) } }
        + [("mlp-f16.onnx", "mlp_f16"), ("mlp-bf16.onnx", "mlp_bf16"), ("mlp-f64.onnx", "mlp"),
           ("mlp-typed.onnx", "mlp"), ("mlp-f16-typed.onnx", "mlp_f16"), ("mlp-bf16-typed.onnx", "mlp_bf16"),
           ("mlp-external.onnx", "mlp"),
           ("gemm-attributes.onnx", "gemm_attributes"), ("clip-attributes.onnx", "clip_attributes"),
           ("layernorm-by-hand.onnx", "layernorm_by_hand")]

    /// Runs `config` over data/onnx/references.h5:/input in `mode` and returns the output.
    static func run(_ config: PipelineConfig, mode: PipelineConfig.Mode, in folder: TemporaryFolder) throws -> (values: [Float], shape: [Int]) {
        var config = config
        let output = folder.file("\(mode.rawValue).h5")
        config.input = .init(file: Self.folder + "/references.h5", dataset: "/input")
        config.output = .init(file: output, dataset: "/y")
        config.run.mode = mode
        config.run.batchRows = 5  // batches that divide neither the 37 rows nor the chunks
        config.run.workers = 2
        _ = try PipelineRunner(config: config, options: .init(force: true)).run()
        return try readDataset(output, "/y")
    }

    static func expectMatches(_ config: PipelineConfig, reference: String, label: String) throws {
        let folder = TemporaryFolder()
        let (expected, expectedShape) = try readDataset(Self.folder + "/references.h5", "/" + reference)
        for mode in PipelineConfig.Mode.allCases {
            let (actual, shape) = try run(config, mode: mode, in: folder)
            #expect(shape == expectedShape, "\(label) \(mode): shape")
            let problem = mismatch(actual, expected, rowWidth: expectedShape.last)
            #expect(problem == nil, "\(label) \(mode): \(problem ?? "")")
        }
    }

    @Test("every stack from both exporters at opsets 13, 17, 18 and 20, and every initializer encoding, matches PyTorch",
          arguments: models)
    func matchesPyTorch(_ model: (file: String, reference: String)) throws {
        let config = try PipelineFile.load(Self.folder + "/" + model.file)
        try Self.expectMatches(config, reference: model.reference, label: model.file)
    }

    @Test("a model becomes exactly the stages a hand-written pipeline has")
    func stagesOfAnMLP() throws {
        let config = try PipelineFile.load(Self.folder + "/mlp-ts17.onnx")
        let file = Self.folder + "/mlp-ts17.onnx"
        #expect(config.name == "mlp-ts17")
        #expect(config.stages == [.linear(file: file, weight: "0.weight", bias: "0.bias", layout: .torch), .relu,
                                  .linear(file: file, weight: "2.weight", bias: "2.bias", layout: .torch)])
    }

    @Test("Gemm's alpha, beta, transB=0 and broadcast biases become derived tensors; Clip's bounds come from inputs or attributes")
    func gemmAttributes() throws {
        let file = Self.folder + "/gemm-attributes.onnx"
        #expect(try PipelineFile.load(file).stages == [
            .linear(file: file, weight: "b1×0.5@[6, 5]", bias: "c1×2.0@[5]", layout: .keras), .hardtanh(minVal: Double(Float(-0.7)), maxVal: Double(Float(0.9))),
            .linear(file: file, weight: "b2", bias: "c2@[3]", layout: .torch), .softmax,
        ])
        let weights = try ONNXWeights(path: file)
        let bias = try weights.tensor(named: "c2@[3]")
        #expect(bias.shape == [3] && bias.values == [0.25, 0.25, 0.25])
        let attributes = Self.folder + "/clip-attributes.onnx"
        #expect(try PipelineFile.load(attributes).stages.map(\.name) == ["linear", "leaky_relu", "hardtanh", "softmax"])
    }

    @Test("the forms exporters write for GELU, SiLU, Softplus, ReLU6 and PReLU are recognised, at every opset")
    func recognisedForms() throws {
        for export in Self.exports {
            let file = Self.folder + "/gelu-\(export).onnx"
            let names = try PipelineFile.load(file).stages.map(\.name)
            #expect(names == ["linear", "gelu", "linear", "gelu", "linear", "silu", "linear", "hardtanh"], "\(export)")
            let stages = try PipelineFile.load(file).stages
            #expect(stages[1] == .gelu(approximate: .none) && stages[3] == .gelu(approximate: .tanh), "\(export)")
            #expect(stages[7] == .hardtanh(minVal: 0, maxVal: 6), "\(export)")
            let activations = try PipelineFile.load(Self.folder + "/activations-\(export).onnx").stages
            #expect(activations.contains(.softplus(beta: 1, threshold: 20)), "\(export)")
            #expect(activations.filter { $0.name == "prelu" }.count == 2, "\(export)")
        }
    }

    @Test("LayerNorm (LayerNormalization, or its opset-13 decomposition) and BatchNorm become layer_norm and batch_norm")
    func normalization() throws {
        for export in ["ts13", "ts17"] {
            let file = Self.folder + "/norm-\(export).onnx"
            let stages = try PipelineFile.load(file).stages
            #expect(stages.map(\.name) == ["linear", "layer_norm", "relu", "linear", "batch_norm", "relu", "linear"], "\(export)")
            #expect(stages[1] == .layerNorm(file: file, weight: "1.weight", bias: "1.bias", eps: Double(Float(1e-5))), "\(export)")
            #expect(stages[4] == .batchNorm(file: file, runningMean: "4.running_mean", runningVar: "4.running_var",
                                            weight: "4.weight", bias: "4.bias", eps: Double(Float(1e-5))), "\(export)")
        }
        // The torch.export exporter folds the eval BatchNorm into the Gemm before it.
        for export in ["dy18", "dy20"] {
            let stages = try PipelineFile.load(Self.folder + "/norm-\(export).onnx").stages
            #expect(stages.map(\.name) == ["linear", "layer_norm", "relu", "linear", "relu", "linear"], "\(export)")
        }
    }

    @Test("an onnx: stage expands to the model's stages among the pipeline's own")
    func onnxStageInPipelineFile() throws {
        let text = """
        stages:
          - relu
          - onnx: { file: mlp-dy18.onnx }
          - softmax
        """
        let config = try PipelineFile.parse(text, format: .yaml, path: "p.yaml", baseFolder: Self.folder)
        #expect(config.stages.map(\.name) == ["relu", "linear", "relu", "linear", "softmax"])
        try Self.expectMatches(config, reference: "relu_mlp_softmax", label: "relu, onnx, softmax")
    }

    @Test("an onnx: stage's errors name the pipeline file's line")
    func onnxStageErrors() throws {
        let missing = "stages:\n  - onnx: { file: nothing.onnx }\n"
        #expect(throws: H5BatchError(.notFound, "p.yaml:2: stages[0].onnx: cannot read model file \(Self.folder)/nothing.onnx: no such file")) {
            try PipelineFile.parse(missing, format: .yaml, path: "p.yaml", baseFolder: Self.folder)
        }
        let noFile = "stages:\n  - onnx: { path: mlp-ts17.onnx }\n"
        #expect(throws: H5BatchError(.usage, "p.yaml:2: stages[0].onnx: unknown key 'path' (known: file)")) {
            try PipelineFile.parse(noFile, format: .yaml, path: "p.yaml", baseFolder: Self.folder)
        }
    }
}

/// Graphs h5batch cannot run, and damaged files: exit 65, one line naming the node and why.
@Suite("ONNX models h5batch refuses")
struct ONNXRefusalTests {
    static func error(loading name: String) -> H5BatchError? {
        do {
            _ = try PipelineFile.load(ONNXModelTests.folder + "/" + name)
            return nil
        } catch let error as H5BatchError {
            return error
        } catch {
            return H5BatchError(.io, "unexpected \(error)")
        }
    }

    @Test("a residual Add, a Conv, two inputs and a truncated file are exit 65 with the node and the reason",
          arguments: [("residual.onnx", "node /Add (Add): combines two computed values, onnx::Gemm_0 and /fc/Gemm_output_0 (a residual connection)"),
                      ("conv.onnx", "node /0/Conv (Conv): op type Conv is not supported"),
                      ("two-inputs.onnx", "the graph has 2 inputs (onnx::Gemm_0, onnx::Gemm_1); h5batch feeds a model one dataset"),
                      ("truncated.onnx", "is not a valid ONNX model (damaged or truncated")])
    func refused(_ fixture: (file: String, message: String)) throws {
        let error = try #require(Self.error(loading: fixture.file))
        #expect(error.kind == .data, "\(error)")
        #expect(error.message.contains(fixture.message), "\(error.message)")
        #expect(!error.message.contains("\n"))
    }

    @Test("external data shorter than the model says is exit 65 when the weights load, and no output is left")
    func shortExternalData() throws {
        let folder = TemporaryFolder()
        var config = try PipelineFile.load(ONNXModelTests.folder + "/external-short.onnx")
        config.input = .init(file: ONNXModelTests.folder + "/references.h5", dataset: "/input")
        config.output = .init(file: folder.file("out.h5"))
        #expect {
            try PipelineRunner(config: config, options: .init(force: true)).run()
        } throws: { error in
            guard let error = error as? H5BatchError else { return false }
            return error.kind == .data && error.message.contains("2.weight in \(ONNXModelTests.folder)/external-short.onnx needs bytes ")
                && error.message.contains("of external-short.bin, which has ") && error.message.hasSuffix(" (truncated?)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test("rows whose width is not the model's are refused, naming the widths")
    func wrongWidth() throws {
        var config = try PipelineFile.load(ONNXModelTests.folder + "/mlp-ts17.onnx")
        config.input = .init(file: ONNXModelTests.folder + "/references.h5", dataset: "/mlp")  // rows of 4, not 6
        config.output = .init(file: TemporaryFolder().file("out.h5"))
        #expect {
            try PipelineRunner(config: config, options: .init(force: true)).run()
        } throws: { error in
            (error as? H5BatchError)?.message.contains("linear expects rows of 6 features but gets 4") == true
        }
    }

    @Test("models with bytes changed or cut off import, or fail with an H5BatchError; never a crash")
    func mutatedModels() throws {
        let folder = TemporaryFolder()
        var generator = SplitMix64(seed: 16)
        var outcomes = (loaded: 0, refused: 0)
        for name in ["mlp-ts13.onnx", "gelu-ts13.onnx", "norm-ts13.onnx", "activations-dy18.onnx", "gemm-attributes.onnx"] {
            let original = try Data(contentsOf: URL(fileURLWithPath: ONNXModelTests.folder + "/" + name))
            for round in 0..<60 {
                var bytes = original
                if round % 4 == 3 {
                    bytes = bytes.prefix(Int(generator.next() % UInt64(bytes.count)))
                } else {
                    for _ in 0...(round % 3) {
                        let offset = Int(generator.next() % UInt64(bytes.count))
                        bytes[offset] = UInt8(truncatingIfNeeded: generator.next())
                    }
                }
                let path = folder.file("m.onnx")
                try bytes.write(to: URL(fileURLWithPath: path))
                do {
                    _ = try StageLoader().load(try PipelineFile.load(path).stages)
                    outcomes.loaded += 1
                } catch is H5BatchError {
                    outcomes.refused += 1
                }
            }
        }
        #expect(outcomes.refused > 0 && outcomes.loaded + outcomes.refused == 300, "\(outcomes)")
    }

    @Test("a damaged file (bytes flipped in its header) is exit 65, never a crash")
    func damagedBytes() throws {
        let folder = TemporaryFolder()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: ONNXModelTests.folder + "/mlp-ts17.onnx"))
        for offset in stride(from: 0, to: 64, by: 3) { bytes[offset] ^= 0xA5 }
        let path = folder.file("damaged.onnx")
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect { try PipelineFile.load(path) } throws: { ($0 as? H5BatchError)?.kind == .data }
    }
}

