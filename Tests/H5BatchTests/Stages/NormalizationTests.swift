import Foundation
import Testing
@testable import H5Batch

/// layer_norm and batch_norm on small inputs worked out by hand (PyTorch's own outputs on larger
/// ones are ReferenceCaseTests' cases), their pipeline-file entries, and batch_norm folded into
/// the linear stage before it.
@Suite("Normalization stages")
struct NormalizationTests {
    @Test("layer_norm: mean 0 and variance 1 per row, then the affine; NaN or ∞ makes the row NaN")
    func layerNorm() {
        let x: [Float] = [1, 2, 3, 4,  5, 5, 5, 5,  1, .nan, 3, 4,  1, .infinity, 3, 4]
        let y = Functional.layerNorm(x, width: 4, eps: 0)
        // The biased variance of 1, 2, 3, 4 is 1.25; the kernel normalizes in double, then rounds.
        let normalized = [-1.5, -0.5, 0.5, 1.5].map { Float($0 / (1.25 as Double).squareRoot()) }
        #expect(Array(y.prefix(4)) == normalized)
        #expect(y[4..<8].allSatisfy { $0.isNaN })  // 0 / √0, as PyTorch with eps 0
        #expect(y[8...].allSatisfy { $0.isNaN })
        let constant = Functional.layerNorm([5, 5, 5, 5], width: 4, weight: [1, 2, 3, 4], bias: [0.5, 0, -1, 2])
        #expect(constant == [0.5, 0, -1, 2])  // variance 0 with eps: only the bias is left
        let affine = Functional.layerNorm([1, 2, 3, 4], width: 4, weight: [2, 2, 2, 2], bias: [1, 1, 1, 1], eps: 0)
        #expect(affine == normalized.map { $0 * 2 + 1 })
        // Far from 0: two passes in double lose nothing to cancellation.
        let far = Functional.layerNorm([1000.01, 999.99, 1000.01, 999.99], width: 4, eps: 0)
        #expect(far.allSatisfy { abs(abs($0) - 1) < 1e-3 })
    }

    @Test("batch_norm: (x − mean) / √(var + eps) · weight + bias per feature; NaN stays in its place")
    func batchNorm() {
        let y = Functional.batchNorm([1, 2, .nan, 4], width: 2, runningMean: [1, 0], runningVar: [4, 0.25],
                                     weight: [2, 1], bias: [0, 1], eps: 0)
        #expect(y[0] == 0 && y[1] == 5 && y[2].isNaN && y[3] == 9)
        #expect(Functional.batchNorm([3], width: 1, runningMean: [1], runningVar: [3], eps: 1) == [1])
    }

    @Test("the width must match the parameters: exit 65 naming the source")
    func widths() throws {
        let ln = LayerNorm(weight: [1, 2, 3], source: "weight ln.weight in w.h5")
        #expect(throws: H5BatchError(.data, "layer_norm has a weight of 3 values but rows have 4 features; weight ln.weight in w.h5")) {
            try ln.outputWidth(forInputWidth: 4)
        }
        let bn = BatchNorm(runningMean: [0, 0], runningVar: [1, 1])
        #expect(throws: H5BatchError(.data, "batch_norm has 2 features but rows have 3")) { try bn.outputWidth(forInputWidth: 3) }
        #expect(try bn.outputWidth(forInputWidth: 2) == 2 && bn.parameters.count == 2)
        #expect(bn.description == "batch_norm(2 features)" && ln.description == "layer_norm(weight: 3)")
        #expect(LayerNorm(eps: 0.1).description == "layer_norm(eps: 0.1)")
    }

    @Test("batch_norm after a linear stage is folded into it, within float32 rounding of the unfolded chain")
    func foldedIntoLinear() throws {
        for layout in [Linear.Layout.torch, .keras] {
            let weight: [Float] = (0..<12).map { Float($0 % 5) - 1.75 }
            let linear = Linear(weight: weight, bias: [0.5, -1, 2], inFeatures: 4, outFeatures: 3, layout: layout)
            let bn = BatchNorm(runningMean: [0.5, -0.25, 1], runningVar: [2, 0.5, 1.5], weight: [1.5, -0.5, 2], bias: [0.1, 0.2, -0.3])
            let chain = try StageChain([linear, bn, ReLU()], inputWidth: 4)
            guard case .linear(let fused, let epilogue) = chain.fusedSteps[0], case .linear(_, let written) = chain.steps[0] else {
                Issue.record("the chain has no linear step")
                return
            }
            #expect(epilogue.count == 1 && written.count == 2 && fused.weight != weight)
            // The written stages and the folded copy of the linear stage, each linear stage with
            // its weights packed for the kernels.
            #expect(chain.parameterBytes == linear.parameterBytes + 4 * (4 * 3) + fused.parameterBytes)
            #expect(fused.parameterBytes > 4 * (12 + 3))
            let x: [Float] = [1, -2, 3.5, 0.25,  -1, 0, 2, 8,  .nan, 1, 1, 1]
            let unfolded = ReLU()(bn(Functional.linear(x, rows: 3, linear), width: 3), width: 3)
            let y = chain(x, rows: 3)
            #expect(mismatch(y, unfolded, rtol: 1e-6, atol: 1e-6) == nil, "\(layout): \(y) vs \(unfolded)")
            #expect(y[6...].allSatisfy { $0.isNaN })
        }
        // Not finite scales stay in the epilogue: NaN and ∞ must not spread through the weights.
        let linear = Linear(weight: [1, 2], bias: nil, inFeatures: 1, outFeatures: 2)
        let chain = try StageChain([linear, BatchNorm(runningMean: [0, 0], runningVar: [-1, 1])], inputWidth: 1)
        guard case .linear(_, let epilogue) = chain.fusedSteps[0] else { return }
        #expect(epilogue.count == 1)
    }

    @Test("with --stats the linear stage before a batch_norm is counted unfolded, in both modes",
          arguments: ["minibatch", "full"])
    func statisticsSeeTheLinearOutput(_ mode: String) throws {
        let folder = TemporaryFolder()
        let weights = Repo.data + "/weights.h5"
        let fc1 = StageConfig.linear(file: weights, weight: "fc1.weight", bias: "fc1.bias", layout: .torch)
        func statistics(_ stages: [StageConfig]) throws -> ChainStatistics {
            var config = PipelineConfig(input: .init(file: Repo.data + "/cases.h5", dataset: "/norm_input"),
                                        output: .init(file: folder.file("\(stages.count).h5")), stages: stages)
            config.run.mode = PipelineConfig.Mode(rawValue: mode)!
            config.run.batchRows = 7
            var options = PipelineRunner.Options(force: true)
            options.statistics = true
            return try #require(try PipelineRunner(config: config, options: options).run().statistics?.first?.statistics)
        }
        let alone = try statistics([fc1])
        let followed = try statistics([fc1, .batchNorm(file: weights, runningMean: "bn64.running_mean", runningVar: "bn64.running_var")])
        #expect(followed.stages.count == 2 && followed.stages[0].features == alone.stages[0].features)
        #expect(followed.stages[1].features != alone.stages[0].features)
    }

    @Test("pipeline-file entries: defaults, and each mistake a usage error naming the key")
    func pipelineEntries() throws {
        func parse(_ stage: String) throws -> StageConfig {
            try PipelineFile.parse("stages: [\(stage)]", format: .yaml, path: "p.yaml", baseFolder: "/base").stages[0]
        }
        func message(_ stage: String) -> String? {
            do { _ = try parse(stage); return nil } catch { return (error as? H5BatchError)?.message }
        }
        #expect(try parse("layer_norm") == .layerNorm())
        #expect(try parse("{layer_norm: {file: w.h5, bias: ln.bias, eps: 0.001}}")
                == .layerNorm(file: "/base/w.h5", bias: "ln.bias", eps: 0.001))
        #expect(try parse("{batch_norm: {file: w.h5, running_mean: m, running_var: v, weight: w}}")
                == .batchNorm(file: "/base/w.h5", runningMean: "m", runningVar: "v", weight: "w"))
        #expect(message("{layer_norm: {file: w.h5}}") == "p.yaml:1: stages[0].layer_norm.weight: missing (file needs a weight or bias dataset)")
        #expect(message("{layer_norm: {weight: w}}") == "p.yaml:1: stages[0].layer_norm.file: missing (weight and bias need the file that holds them)")
        #expect(message("{layer_norm: {eps: -1}}") == "p.yaml:1: stages[0].layer_norm.eps: must not be negative")
        #expect(message("{layer_norm: {eps: 1e400}}") == "p.yaml:1: stages[0].layer_norm.eps: 1e400 is out of float range")
        #expect(message("{batch_norm: {file: w.h5, running_mean: m, running_var: v, eps: -1e999}}")
                == "p.yaml:1: stages[0].batch_norm.eps: -1e999 is out of float range")
        #expect(message("{layer_norm: {epsilon: 1}}") == "p.yaml:1: stages[0].layer_norm: unknown key 'epsilon' (known: file, weight, bias, eps)")
        #expect(message("{batch_norm: {file: w.h5, running_mean: m}}") == "p.yaml:1: stages[0].batch_norm.running_var: missing (the running variance dataset)")
    }

    @Test("weights with the wrong shape are exit 65 naming the dataset")
    func wrongShapes() throws {
        let weights = Repo.data + "/weights.h5"
        let cases: [(StageConfig, String)] = [
            (.layerNorm(file: weights, weight: "fc1.weight"), "weight fc1.weight in \(weights) has shape [64, 32]; layer_norm needs one value per feature"),
            (.layerNorm(file: weights, weight: "ln32.weight", bias: "ln64.bias"), "bias ln64.bias in \(weights) has 64 values but weight ln32.weight has 32"),
            (.batchNorm(file: weights, runningMean: "bn32.running_mean", runningVar: "bn64.running_var"),
             "running_var bn64.running_var in \(weights) has 64 values but running_mean bn32.running_mean has 32"),
        ]
        for (config, expected) in cases {
            #expect(throws: H5BatchError(.data, "stage 1 (\(config.name)): \(expected)")) { try StageLoader().load([config]) }
        }
        #expect { try StageLoader().load([.batchNorm(file: weights, runningMean: "nope", runningVar: "bn32.running_var")]) }
            throws: { ($0 as? H5BatchError)?.exitCode == 66 }
    }
}
