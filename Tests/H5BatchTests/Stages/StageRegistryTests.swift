import Foundation
import Testing
@testable import H5Batch

@Suite("The stage registry")
struct StageRegistryTests {
    @Test("each stage is registered once, under the name its stage reports")
    func namesAreUniqueAndAgree() throws {
        let names = StageRegistry.names
        #expect(Set(names).count == names.count)
        #expect(PipelineFile.stageNames == names)
        // The stages that cannot be written without a weights file.
        let entries = ["linear": "{linear: {file: w.h5, weight: w}}",
                       "batch_norm": "{batch_norm: {file: w.h5, running_mean: m, running_var: v}}"]
        for name in names {
            let config = try PipelineFile.parse("stages: [\(entries[name] ?? name)]",
                                                format: .yaml, path: "p.yaml", baseFolder: "/base").stages[0]
            #expect(config.name == name)
            if entries[name] == nil { #expect(try config.spec.makeStage(WeightFiles()).name == name) }
        }
    }

    @Test("a stage's resolved JSON reads back as the same stage")
    func resolvedJSONRoundTrips() throws {
        let stages: [StageConfig] = [
            .linear(file: "/w/w.h5", weight: "fc1.weight", bias: nil, layout: .keras),
            .linear(file: "/w/w.h5", weight: "fc1.weight", bias: "fc1.bias", layout: .torch),
            .relu, .leakyReLU(negativeSlope: 0.2), .prelu(.value(0.5)), .prelu(.file("/w/w.h5", dataset: "p")),
            .elu(alpha: 0.5), .sigmoid, .tanh, .silu, .gelu(approximate: .tanh), .softplus(beta: 2, threshold: 5),
            .hardtanh(minVal: -2, maxVal: 0.5), .softmax,
            .layerNorm(), .layerNorm(file: "/w/w.h5", weight: "ln.weight", bias: nil, eps: 0.1),
            .batchNorm(file: "/w/w.h5", runningMean: "m", runningVar: "v"),
            .batchNorm(file: "/w/w.h5", runningMean: "m", runningVar: "v", weight: "w", bias: "b", eps: 1e-3),
        ]
        let json = PipelineConfig(stages: stages).resolvedJSON(batchRows: 10, chunkRows: 10)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let stagesJSON = try JSONSerialization.data(withJSONObject: ["stages": object["stages"]!])
        let parsed = try PipelineFile.parse(String(decoding: stagesJSON, as: UTF8.self), format: .json, path: "p.json", baseFolder: "/")
        #expect(parsed.stages == stages)
        #expect(stages.compactMap(\.file) == Array(repeating: "/w/w.h5", count: 6))
        #expect(StageConfig.relu != .sigmoid && StageConfig.elu(alpha: 1) != .elu(alpha: 0.5))
    }
}

@Suite("Weight sources")
struct WeightSourceTests {
    @Test("an HDF5 file's tensors: names, shape and values; a missing name is exit 66 as before")
    func hdf5Weights() throws {
        let source = try openWeightSource(Repo.data + "/weights.h5")
        #expect(source.path == Repo.data + "/weights.h5")
        #expect(source.tensorNames.contains("/fc1.weight") && source.tensorNames.contains("/prelu1.weight"))
        let (shape, values) = try source.tensor(named: "fc1.weight")
        #expect(shape == [64, 32] && values.count == 64 * 32)
        #expect(try source.tensor(named: "prelu1.weight").values == [0.3])
        #expect {
            _ = try source.tensor(named: "fc9.weight")
        } throws: { error in
            let error = error as? H5BatchError
            return error?.exitCode == 66 && error?.message.contains("fc9.weight") == true
        }
    }

    @Test("a missing weights file is exit 66")
    func missingFile() {
        #expect {
            _ = try openWeightSource("/nonexistent/weights.h5")
        } throws: { ($0 as? H5BatchError)?.exitCode == 66 }
    }
}
