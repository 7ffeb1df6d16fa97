import Foundation
import Testing
@testable import H5Batch

/// `SafeTensorsFile` on state dicts written by `safetensors.torch.save_file`
/// (scripts/make_onnx_fixtures.py), and linear stages reading them.
@Suite("safetensors weights")
struct SafeTensorsTests {
    static let folder = ONNXModelTests.folder

    /// The mlp stack (Linear(6, 16), ReLU, Linear(16, 4)) reading its state dict from `file`.
    static func mlp(_ file: String) -> PipelineConfig {
        PipelineConfig(stages: [.linear(file: file, weight: "0.weight", bias: "0.bias", layout: .torch), .relu,
                                .linear(file: file, weight: "2.weight", bias: "2.bias", layout: .torch)])
    }

    @Test("F32, F16, BF16 and F64 state dicts run the stack as PyTorch does with those weights",
          arguments: [("mlp.safetensors", "mlp"), ("mlp.f16.safetensors", "mlp_f16"), ("mlp.bf16.safetensors", "mlp_bf16"),
                      ("mlp.f64.safetensors", "mlp")])
    func runsLikePyTorch(_ fixture: (file: String, reference: String)) throws {
        try ONNXModelTests.expectMatches(Self.mlp(Self.folder + "/" + fixture.file), reference: fixture.reference, label: fixture.file)
    }

    @Test("layer_norm and batch_norm read their parameters from a state dict too (the norm stack)")
    func normalizationStages() throws {
        let text = """
        stages:
          - linear: { file: norm.safetensors, weight: 0.weight, bias: 0.bias }
          - layer_norm: { file: norm.safetensors, weight: 1.weight, bias: 1.bias }
          - relu
          - linear: { file: norm.safetensors, weight: 3.weight, bias: 3.bias }
          - batch_norm: { file: norm.safetensors, running_mean: 4.running_mean, running_var: 4.running_var, weight: 4.weight, bias: 4.bias }
          - relu
          - linear: { file: norm.safetensors, weight: 6.weight, bias: 6.bias }
        """
        let config = try PipelineFile.parse(text, format: .yaml, path: "p.yaml", baseFolder: Self.folder)
        try ONNXModelTests.expectMatches(config, reference: "norm", label: "norm.safetensors")
    }

    @Test("names, shapes and values as PyTorch saved them; the F32 file and the ONNX export hold the same weights")
    func tensors() throws {
        let file = try SafeTensorsFile(path: Self.folder + "/mlp.safetensors")
        #expect(Set(file.tensorNames) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        let weight = try file.tensor(named: "0.weight")
        #expect(weight.shape == [16, 6])
        let onnx = try ONNXWeights(path: Self.folder + "/mlp-ts17.onnx").tensor(named: "0.weight")
        #expect(weight.values == onnx.values && weight.shape == onnx.shape)
        let half = try SafeTensorsFile(path: Self.folder + "/mlp.f16.safetensors").tensor(named: "0.weight")
        #expect(half.values == weight.values.map { Float(Float16($0)) })
        let double = try SafeTensorsFile(path: Self.folder + "/mlp.f64.safetensors").tensor(named: "2.bias")
        #expect(double.values == (try file.tensor(named: "2.bias")).values)
    }

    @Test("a missing name is exit 65 and lists the tensors the file holds, the closest first")
    func missingName() throws {
        let file = try SafeTensorsFile(path: Self.folder + "/norm.safetensors")
        #expect(throws: H5BatchError(.data, "\(file.path) has no tensor 4.running_mea; it holds 13 tensors, closest first: "
                                     + "4.running_mean, 4.running_var, 4.weight, 0.weight, 1.weight, 3.weight, 4.bias, 6.weight, 0.bias, 1.bias, 3.bias, 6.bias, … (1 more)")) {
            try file.tensor(named: "4.running_mea")
        }
        #expect(throws: H5BatchError(.data, "tensor 4.num_batches_tracked in \(file.path) is I64; h5batch reads F32, F16, BF16 and F64 tensors")) {
            try file.tensor(named: "4.num_batches_tracked")
        }
    }

    @Test("a truncated or damaged file is exit 65 with one line saying what is wrong; a missing one exit 66")
    func damaged() throws {
        let folder = TemporaryFolder()
        let good = try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/mlp.safetensors"))
        func message(_ bytes: Data) -> String? {
            let path = folder.file("w.safetensors")
            try! bytes.write(to: URL(fileURLWithPath: path))
            do { _ = try SafeTensorsFile(path: path); return nil } catch let error as H5BatchError {
                return error.kind == .data ? error.message.replacingOccurrences(of: path, with: "F") : "kind \(error.kind)"
            } catch { return "\(error)" }
        }
        #expect(message(good.prefix(good.count - 10))?.hasPrefix("F is not a valid safetensors file: tensor ") == true)
        #expect(message(good.prefix(5)) == "F is not a valid safetensors file: 5 bytes, shorter than its 8-byte header length")
        #expect(message(good.prefix(40))?.contains("runs past the end of the file (40 bytes; truncated?)") == true)
        var header = good
        header[8] = UInt8(ascii: "#")  // the header's opening brace
        #expect(message(header) == "F is not a valid safetensors file: its header is not a JSON object")
        #expect(throws: H5BatchError(.notFound, "cannot read weights file /no/such.safetensors: no such file")) {
            try SafeTensorsFile(path: "/no/such.safetensors")
        }
    }

    @Test("a safetensors weights file in a pipeline file, and a missing name through a stage")
    func inPipelineFile() throws {
        let text = """
        stages:
          - linear: { file: mlp.safetensors, weight: 0.weight, bias: 0.bias }
          - relu
          - linear: { file: mlp.safetensors, weight: 2.weight, bias: 2.bias }
        """
        let config = try PipelineFile.parse(text, format: .yaml, path: "p.yaml", baseFolder: Self.folder)
        try ONNXModelTests.expectMatches(config, reference: "mlp", label: "pipeline file")
        var wrong = Self.mlp(Self.folder + "/mlp.safetensors")
        wrong.stages[2] = .linear(file: Self.folder + "/mlp.safetensors", weight: "2.weights", bias: nil, layout: .torch)
        #expect {
            try ONNXModelTests.run(wrong, mode: .minibatch, in: TemporaryFolder())
        } throws: { error in
            (error as? H5BatchError)?.message.hasPrefix("stage 3 (linear): \(Self.folder)/mlp.safetensors has no tensor 2.weights; it holds 4 tensors, closest first: 2.weight, ") == true
        }
    }
}
