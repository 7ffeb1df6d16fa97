import Foundation
import Testing
@testable import H5Batch

/// `--stats`: every stage's per-feature statistics, checked against an independent count over
/// the values each stage produced (the output of the pipeline cut after that stage).
@Suite("activation statistics (--stats)")
struct StatisticsTests {
    /// Weights for nn.Linear(32, 16) whose units 3, 7 and 12 are dead after a ReLU: zero
    /// weights and a negative bias make them negative for every row.
    static func makeWeights(_ path: String) throws {
        let file = try HDF5File.create(path)
        var weight = (0..<(16 * 32)).map { Float(sin(Double($0) * 0.71)) * 0.4 }
        var bias = (0..<16).map { Float(cos(Double($0))) * 0.1 }
        for dead in [3, 7, 12] {
            for column in 0..<32 { weight[dead * 32 + column] = 0 }
            bias[dead] = -1
        }
        let w = try file.createDataset("/fc.weight", type: .float32, shape: [16, 32])
        try weight.withUnsafeBufferPointer { try w.write(rows: 0..<16, from: $0) }
        let b = try file.createDataset("/fc.bias", type: .float32, shape: [16])
        try bias.withUnsafeBufferPointer { try b.write(rows: 0..<1, from: $0) }
        try file.close()
    }

    static let stages = [
        "{ linear: { file: WEIGHTS, weight: fc.weight, bias: fc.bias } }", "relu", "{ gelu: { approximate: tanh } }",
        "{ hardtanh: { min_val: 0.05, max_val: 0.5 } }", "softmax",
    ]

    func pipeline(_ folder: TemporaryFolder, input: String, stages: [String], output: String, name: String = "p.yaml") -> String {
        folder.write(name, """
        input:  { file: \(input), dataset: /x }
        output: { file: \(folder.file(output)), dataset: /y }
        run:    { batch_rows: 1000 }
        stages: [\(stages.map { $0.replacingOccurrences(of: "WEIGHTS", with: folder.file("w.h5")) }.joined(separator: ", "))]
        """)
    }

    /// Statistics counted the plain way, in double, from values read back.
    struct Expected {
        var zeros: [Int], negatives: [Int], nonFinite: [Int], minimum: [Float], maximum: [Float], mean: [Double], variance: [Double]
        init(_ values: [Float], width: Int) {
            let rows = values.count / width
            zeros = [Int](repeating: 0, count: width); negatives = zeros; nonFinite = zeros
            minimum = [Float](repeating: .infinity, count: width); maximum = [Float](repeating: -.infinity, count: width)
            mean = [Double](repeating: 0, count: width); variance = mean
            var finite = [[Double]](repeating: [], count: width)
            for row in 0..<rows {
                for f in 0..<width {
                    let v = values[row * width + f]
                    if v == 0 { zeros[f] += 1 }
                    if v < 0 { negatives[f] += 1 }
                    if !v.isFinite { nonFinite[f] += 1; continue }
                    minimum[f] = min(minimum[f], v); maximum[f] = max(maximum[f], v)
                    finite[f].append(Double(v))
                }
            }
            for f in 0..<width where !finite[f].isEmpty {
                mean[f] = finite[f].reduce(0, +) / Double(finite[f].count)
                variance[f] = finite[f].map { ($0 - mean[f]) * ($0 - mean[f]) }.reduce(0, +) / Double(finite[f].count)
            }
        }
    }

    func statisticsFile(_ output: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: output + ".stats.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["format"] as? String == "h5batch stats 1")
        let datasets = try #require(object["datasets"] as? [[String: Any]])
        return try #require(datasets.first?["stages"] as? [[String: Any]])
    }

    @Test("every stage's figures match a count over its own output, in both modes; worker count changes nothing",
          arguments: ["minibatch", "full"])
    func matchesIndependentCount(_ mode: String) throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        let made = try runBinary(["generate", input, "--dataset", "x", "--shape", "5000x32", "--chunk-rows", "500", "--seed", "3"])
        #expect(made.status == 0)
        try Self.makeWeights(folder.file("w.h5"))
        let full = pipeline(folder, input: input, stages: Self.stages, output: "out.h5")
        for workers in ["1", "2"] {
            let run = try runBinary(["run", full, "--stats", "--mode", mode, "--workers", workers, "--output", folder.file("out-\(workers).h5:/y")])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("stats: stage 2 (relu):"), "\(run.stdout)")
            #expect(run.stdout.contains("3 of 16 units dead (3, 7, 12)"), "\(run.stdout)")
        }
        let stages = try statisticsFile(folder.file("out-2.h5"))
        // Bit for bit the same with one worker or two: batches are merged in row order.
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("out-1.h5.stats.json"))).count > 0)
        let one = try statisticsFile(folder.file("out-1.h5"))
        #expect(NSArray(array: one).isEqual(to: stages), "1 and 2 workers differ")
        #expect(stages.count == Self.stages.count)

        for (index, stage) in stages.enumerated() {
            // The values this stage produced: the pipeline cut after it.
            let cut = pipeline(folder, input: input, stages: Array(Self.stages.prefix(index + 1)), output: "cut\(index).h5", name: "cut\(index).yaml")
            #expect(try runBinary(["run", cut, "--mode", mode]).status == 0)
            let (values, shape) = try readDataset(folder.file("cut\(index).h5"), "/y")
            let width = shape.last!
            let expected = Expected(values, width: width)
            let label = "stage \(index + 1) \(stage["stage"] ?? "")"
            #expect(stage["rows"] as? Int == 5000, "\(label)")
            #expect(stage["zeros"] as? [Int] == expected.zeros, "\(label)")
            #expect(stage["negatives"] as? [Int] == expected.negatives, "\(label)")
            #expect(stage["non_finite"] as? [Int] == expected.nonFinite, "\(label)")
            #expect((stage["min"] as? [Double])?.map(Float.init) == expected.minimum, "\(label)")
            #expect((stage["max"] as? [Double])?.map(Float.init) == expected.maximum, "\(label)")
            let mean = try #require(stage["mean"] as? [Double]), variance = try #require(stage["variance"] as? [Double])
            for f in 0..<width {
                #expect(abs(mean[f] - expected.mean[f]) <= 1e-6 * max(1, abs(expected.mean[f])), "\(label) mean[\(f)]")
                #expect(abs(variance[f] - expected.variance[f]) <= 1e-5 * max(1e-6, expected.variance[f]), "\(label) variance[\(f)]")
            }
            let zeros = expected.zeros.reduce(0, +)
            #expect(abs((stage["sparsity"] as? Double ?? -1) - Double(zeros) / Double(5000 * width)) < 1e-12, "\(label)")
            let dead = expected.zeros.indices.filter { expected.zeros[$0] == 5000 }
            #expect(stage["dead_units"] as? [Int] == dead, "\(label)")
        }
        // The relu's dead units are exactly the units built dead; the linear stage has none.
        #expect(stages[1]["dead_units"] as? [Int] == [3, 7, 12])
        #expect(stages[0]["dead_units"] as? [Int] == [])
        // The summary on the dataset.
        let attribute = try #require(try HDF5File.open(folder.file("out-2.h5")).dataset("/y").stringAttribute("h5batch_stats"))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(attribute.utf8)) as? [String: Any])
        #expect(summary["rows"] as? Int == 5000 && summary["file"] as? String == "out-2.h5.stats.json")
        #expect(((summary["stages"] as? [[String: Any]])?[1]["dead_units"]) as? [Int] == [3, 7, 12])
    }

    @Test("kill -9 and --resume --stats: the same figures as an uninterrupted run; a checkpoint without statistics is not continued")
    func resumed() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        #expect(try runBinary(["generate", input, "--dataset", "x", "--shape", "400000x32", "--chunk-rows", "1000", "--seed", "4"]).status == 0)
        try Self.makeWeights(folder.file("w.h5"))
        let file = pipeline(folder, input: input, stages: Self.stages, output: "out.h5")
        #expect(try runBinary(["run", file, "--stats", "--output", folder.file("reference.h5:/y")]).status == 0)
        let output = folder.file("out.h5")
        let run = try BackgroundRun(["run", file, "--stats", "--workers", "1", "--checkpoint-rows", "20000"])
        let saved = run.waitForCheckpoint(at: output, rows: 400_000)
        run.signal(SIGKILL)
        _ = run.finish()
        #expect(saved != nil, "the run ended before a checkpoint")
        let resumed = try runBinary(["run", file, "--stats", "--resume"])
        #expect(resumed.status == 0 && resumed.stderr.contains("resuming"), "\(resumed.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output + ".stats.json"))
                .replacingOccurrences(of: output, with: "OUT") == Data(contentsOf: URL(fileURLWithPath: folder.file("reference.h5.stats.json")))
                .replacingOccurrences(of: folder.file("reference.h5"), with: "OUT"))

        // A partial whose run did not count statistics: --stats starts over.
        try FileManager.default.removeItem(atPath: output)
        let plain = try BackgroundRun(["run", file, "--workers", "1", "--checkpoint-rows", "20000"])
        _ = plain.waitForCheckpoint(at: output, rows: 400_000)
        plain.signal(SIGKILL)
        _ = plain.finish()
        let again = try runBinary(["run", file, "--stats", "--resume"])
        #expect(again.status == 0 && again.stderr.contains("did not count statistics"), "\(again.stderr)")
        // Made again without --stats: the earlier statistics file goes with the earlier output.
        #expect(try runBinary(["run", file, "--force"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: output + ".stats.json"))
    }

    @Test("run.stats in the pipeline file, several datasets, and the JSON log's done record")
    func configAndLog() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try MultiDatasetTests.makeInput(input, rows: [3000, 1500, 2000])
        let file = folder.write("p.yaml", """
        input:  { file: \(input), datasets: "/*/x" }
        output: { file: \(folder.file("out.h5")) }
        run:    { stats: true, batch_rows: 512 }
        stages: [ relu ]
        """)
        let run = try runBinary(["run", file, "--log-format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let done = try #require(run.stderr.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        let stats = try #require(done["stats"] as? [[String: Any]])
        #expect(stats.map { $0["dataset"] as? String } == ["/test/x", "/train/x", "/val/x"])
        let data = try Data(contentsOf: URL(fileURLWithPath: folder.file("out.h5.stats.json")))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((object["datasets"] as? [[String: Any]])?.map { $0["rows"] as? Int } == [2000, 3000, 1500])
    }
}

private extension Data {
    func replacingOccurrences(of text: String, with replacement: String) -> String {
        String(decoding: self, as: UTF8.self).replacingOccurrences(of: text, with: replacement)
    }
}
