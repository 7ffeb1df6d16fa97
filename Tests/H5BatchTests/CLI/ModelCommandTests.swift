import Foundation
import Testing
@testable import H5Batch

/// `h5batch run`, `check` and `bench` with an `.onnx` model where the pipeline file goes,
/// through the built binary.
@Suite("h5batch with an ONNX model", .serialized, .tags(.endToEnd))
struct ModelCommandTests {
    let models = ONNXModelTests.folder
    var input: String { models + "/references.h5:/input" }

    @Test("run model.onnx writes PyTorch's output; check prints the stages the model became")
    func runAndCheck() throws {
        let folder = TemporaryFolder()
        let output = folder.file("out.h5")
        let run = try runBinary(["run", models + "/gelu-ts13.onnx", "--input", input, "--output", output + ":/y"])
        #expect(run.status == 0, "\(run.stderr)")
        let (values, _) = try readDataset(output, "/y")
        let (expected, _) = try readDataset(models + "/references.h5", "/gelu")
        #expect(mismatch(values, expected, rowWidth: 3) == nil)

        let check = try runBinary(["check", models + "/gelu-ts13.onnx", "--input", input, "--output", folder.file("o.h5")])
        #expect(check.status == 0, "\(check.stderr)")
        for stage in ["1 linear(6 → 12)", "2 gelu ", "4 gelu(approximate: tanh)", "6 silu", "8 hardtanh(min_val: 0.0, max_val: 6.0)"] {
            #expect(check.stdout.contains(stage), "\(stage) in \(check.stdout)")
        }
    }

    @Test("a model h5batch cannot run is exit 65, one error line naming the node, and no output")
    func refusedModel() throws {
        let folder = TemporaryFolder()
        let result = try runBinary(["run", models + "/conv.onnx", "--input", input, "--output", folder.file("out.h5")])
        #expect(result.status == 65)
        #expect(result.stderr == "error: \(models)/conv.onnx: node /0/Conv (Conv): op type Conv is not supported (h5batch imports Gemm, MatMul + Add, Relu, LeakyRelu, PRelu, Elu, Sigmoid, Tanh, Softplus, Softmax, Clip, Gelu, LayerNormalization, BatchNormalization and the forms exporters write for GELU, SiLU and LayerNorm)\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }
}
