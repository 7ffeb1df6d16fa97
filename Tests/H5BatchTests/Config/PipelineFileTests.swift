import Foundation
import Testing
@testable import H5Batch

@Suite("Pipeline files")
struct PipelineFileTests {
    func parse(_ text: String, _ format: PipelineFile.Format = .yaml) throws -> PipelineConfig {
        try PipelineFile.parse(text, format: format, path: "p.yaml", baseFolder: "/base")
    }

    func usageMessage(_ text: String, _ format: PipelineFile.Format = .yaml) -> String? {
        do {
            _ = try parse(text, format)
            return nil
        } catch let error as H5BatchError {
            #expect(error.kind == .usage)
            return error.message
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func fullExampleAndDefaults() throws {
        let config = try parse("""
        input:  { file: ../data/sample.h5, dataset: /features }
        output: { file: /abs/out.h5, dtype: float64, chunk_rows: 100, compression: gzip, level: 6, shuffle: true }
        run:    { mode: full, batch_rows: 123, workers: 3, memory_limit: 4GiB }
        stages:
          - linear: { file: w.h5, weight: fc1.weight, bias: fc1.bias, layout: keras }
          - relu
          - prelu: { file: w.h5, weight: p }
          - prelu: { value: 0.5 }
          - prelu
          - leaky_relu
          - elu: { alpha: 0.5 }
        """)
        #expect(config.input == .init(file: "/base/../data/sample.h5", dataset: "/features"))
        #expect(config.output.file == "/abs/out.h5")
        #expect(config.output.dataset == nil)
        #expect(config.output.dtype == .float64 && config.output.chunkRows == 100 && config.output.level == 6)
        #expect(config.output.compression == .gzip && config.output.shuffle)
        #expect(config.run.mode == .full && config.run.batchRows == 123 && config.run.workers == 3)
        #expect(config.run.memoryLimit == .bytes(4 << 30))
        #expect(config.stages == [
            .linear(file: "/base/w.h5", weight: "fc1.weight", bias: "fc1.bias", layout: .keras), .relu,
            .prelu(.file("/base/w.h5", dataset: "p")), .prelu(.value(0.5)), .prelu(.value(0.25)),
            .leakyReLU(negativeSlope: 0.01), .elu(alpha: 0.5),
        ])
        let defaults = try parse("stages: [relu]")
        #expect(defaults.run == PipelineConfig.Run())
        #expect(defaults.run.batchRows == 8192 && defaults.run.mode == .minibatch && defaults.run.workers == nil)
        #expect(defaults.run.memoryLimit == .fractionOfPhysical(0.8))
        #expect(defaults.output.dtype == .float32 && defaults.output.compression == PipelineConfig.Compression.none)
    }

    @Test func jsonHasTheSameSchema() throws {
        let yaml = try parse("""
        input: {file: in.h5, dataset: /x}
        output: {file: out.h5}
        stages: [{linear: {file: w.h5, weight: w}}, relu, {leaky_relu: {negative_slope: 0.2}}]
        """)
        let json = try parse("""
        {
        \t"input": {"file": "in.h5", "dataset": "/x"},
        \t"output": {"file": "out.h5"},
        \t"stages": [{"linear": {"file": "w.h5", "weight": "w"}}, "relu", {"leaky_relu": {"negative_slope": 0.2}}]
        }
        """, .json)
        #expect(yaml == json)
    }

    @Test("every mistake is an error naming the line and key")
    func errors() {
        #expect(usageMessage("stages: [relu]\nrun: { batch_rowz: 5 }")
                == "p.yaml:2: run: unknown key 'batch_rowz' (known: mode, batch_rows, workers, memory_limit, stats)")
        #expect(usageMessage("stages:\n  - relu\n  - leaky_relu: { negative_slop: 0.1 }")
                == "p.yaml:3: stages[1].leaky_relu: unknown key 'negative_slop' (known: negative_slope)")
        #expect(usageMessage("stages:\n  - sigmoidal") == "p.yaml:2: stages[0]: unknown stage 'sigmoidal' (known: linear, relu, leaky_relu, prelu, elu, sigmoid, tanh, silu, gelu, softplus, hardtanh, softmax, layer_norm, batch_norm)")
        #expect(usageMessage("stages:\n  - gelu: { approximate: fast }") == "p.yaml:2: stages[0].gelu.approximate: expected one of none, tanh, got 'fast'")
        #expect(usageMessage("stages:\n  - hardtanh: { min_val: 1, max_val: 1 }") == "p.yaml:2: stages[0].hardtanh: min_val (1.0) must be below max_val (1.0), as in PyTorch")
        #expect(usageMessage("stages:\n  - softplus: { beta: 0 }") == "p.yaml:2: stages[0].softplus.beta: must not be 0 (softplus divides by it)")
        #expect(usageMessage("stages:\n  - softplus: { threshold: 1e300 }") == "p.yaml:2: stages[0].softplus.threshold: 1e+300 is beyond float32's range")
        #expect(usageMessage("stages:\n  - softmax: { dim: 0 }") == "p.yaml:2: stages[0].softmax.dim: h5batch applies softmax over the last dimension only (dim: -1)")
        #expect(usageMessage("stages:\n  - tanh: { x: 1 }") == "p.yaml:2: stages[0].tanh: unknown key 'x' (it takes no parameters)")
        #expect(usageMessage("stages: [relu]\nrun: { batch_rows: many }") == "p.yaml:2: run.batch_rows: expected an integer, got 'many'")
        #expect(usageMessage("stages: [relu]\nrun: { batch_rows: 0 }") == "p.yaml:2: run.batch_rows: 0 is out of range (at least 1)")
        #expect(usageMessage("stages: [relu]\nrun: { mode: fast }") == "p.yaml:2: run.mode: expected one of minibatch, full, got 'fast'")
        #expect(usageMessage("stages: [relu]\nrun: { memory_limit: lots }") == "p.yaml:2: run.memory_limit: 'lots' is not a size like 4GiB or a percentage like 80%")
        #expect(usageMessage("stages: [relu]\noutput: { level: 12 }") == "p.yaml:2: output.level: 12 is out of range (from 1 to 9)")
        #expect(usageMessage("stages: [relu]\noutput: { shuffle: maybe }") == "p.yaml:2: output.shuffle: expected true or false, got 'maybe'")
        #expect(usageMessage("stages:\n  - elu: { alpha: \"1\" }") == "p.yaml:2: stages[0].elu.alpha: expected a finite number, got a string")
        #expect(usageMessage("stages:\n  - linear: { file: w.h5 }") == "p.yaml:2: stages[0].linear.weight: missing (the weight dataset)")
        #expect(usageMessage("stages:\n  - prelu: { value: 1, file: w.h5 }") == "p.yaml:2: stages[0].prelu: give either value or file and weight, not both")
        #expect(usageMessage("stages:\n  - { relu: null, elu: null }")?.contains("one-key mapping") == true)
        #expect(usageMessage("input: { file: a.h5 }") == "p.yaml:1: stages: missing (a list of stages)")
        #expect(usageMessage("stages: [relu]\nstages: [elu]")?.contains("duplicate key 'stages'") == true)
        #expect(usageMessage("stages: [relu]\ninput: {file: [a, b]}") == "p.yaml:2: input.file: expected a string, got a list")
        #expect(usageMessage("stages:\n  - relu\n  bad: [")?.hasPrefix("p.yaml:3: malformed YAML") == true)
        #expect(usageMessage("") == "p.yaml: the pipeline file is empty")
        #expect(usageMessage("{\n\"stages\": [\"relu\"],\n\"run\": {\"workers\": 0}\n}", .json)
                == "p.yaml:3: run.workers: 0 is out of range (from 1 to 1024)")
        #expect(usageMessage("{\n\"stages\": [\"relu\"]\n\"run\": {}\n}", .json) == "p.yaml:3: malformed JSON: expected ',' or '}'")
        #expect(usageMessage("{\"stages\": [\"relu\"], \"stages\": []}", .json) == "p.yaml:1: duplicate key 'stages'")
        #expect(usageMessage("{\"stages\": [01]}", .json) == "p.yaml:1: malformed JSON: expected ',' or ']'")
        #expect(usageMessage(String(repeating: "[", count: 100), .json)?.contains("nested deeper") == true)
    }

    @Test func memoryLimits() {
        #expect(MemoryLimit(parsing: "60%") == .fractionOfPhysical(0.6))
        #expect(MemoryLimit(parsing: "4GiB") == .bytes(4 << 30))
        #expect(MemoryLimit(parsing: "1.5 GB") == .bytes(1_500_000_000))
        #expect(MemoryLimit(parsing: "512MiB") == .bytes(512 << 20))
        #expect(MemoryLimit(parsing: "1048576") == .bytes(1 << 20))
        #expect(MemoryLimit(parsing: "0%") == nil)
        #expect(MemoryLimit(parsing: "101%") == nil)
        #expect(MemoryLimit(parsing: "-1GiB") == nil)
        #expect(MemoryLimit(parsing: "GiB") == nil)
        #expect(MemoryLimit.fractionOfPhysical(0.5).bytes(physicalMemory: 1000) == 500)
    }

    @Test func loadResolvesPathsAgainstTheFilesFolder() throws {
        let config = try PipelineFile.load(Repo.config + "/demo.yaml")
        #expect(config.input?.file == Repo.config + "/../data/sample.h5")
        #expect(FileManager.default.fileExists(atPath: config.input!.file))
        #expect(throws: H5BatchError(.notFound, "pipeline file /no/such.yaml does not exist")) {
            try PipelineFile.load("/no/such.yaml")
        }
    }
}
