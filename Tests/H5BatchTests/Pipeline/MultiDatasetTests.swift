import Foundation
import Testing
@testable import H5Batch

/// `input.datasets`: several datasets of one file through the same pipeline into one output
/// file under the same paths, each equal to a run of its own, resumable across datasets.
@Suite("several datasets per run (input.datasets)")
struct MultiDatasetTests {
    /// A file with /train/x, /val/x, /test/x (float32, 32 features, 1024-row chunks) and
    /// /meta/ids, which the patterns below must not take.
    static func makeInput(_ path: String, rows: [Int] = [30_000, 5_000, 7_000], seed: Int = 1) throws {
        let file = try HDF5File.create(path)
        for (split, count) in zip(["train", "val", "test"], rows) {
            let dataset = try file.createDataset("/\(split)/x", type: .float32, shape: [count, 32],
                                                 layout: .init(chunks: [1024, 32]))
            let values = (0..<(count * 32)).map { Float(sin(Double($0 &* (seed + 7) % 100_003) * 0.37)) * 3 }
            try values.withUnsafeBufferPointer { try dataset.write(rows: 0..<count, from: $0) }
        }
        let ids = try file.createDataset("/meta/ids", type: .int64, shape: [10, 1])
        try [Float](repeating: 1, count: 10).withUnsafeBufferPointer { try ids.write(rows: 0..<10, from: $0) }
        try file.close()
    }

    func pipeline(_ folder: TemporaryFolder, input: String, datasets: String, output: String = "out.h5",
                  group: String? = nil, run: String = "{ batch_rows: 2048 }") -> String {
        folder.write("p.yaml", """
        input:  { file: \(input), datasets: \(datasets) }
        output: { file: \(folder.file(output))\(group.map { ", dataset: \($0)" } ?? ""), compression: gzip, shuffle: true }
        run:    \(run)
        stages:
          - linear: { file: \(Repo.data)/weights.h5, weight: fc1.weight, bias: fc1.bias }
          - silu
          - linear: { file: \(Repo.data)/weights.h5, weight: fc2.weight, bias: fc2.bias, layout: torch }
          - softmax
        """)
    }

    /// Each dataset run on its own (`--input FILE:DATASET`), read back.
    func singleRuns(_ folder: TemporaryFolder, pipeline: String, input: String, names: [String],
                    extra: [String] = []) throws -> [String: [UInt32]] {
        var result: [String: [UInt32]] = [:]
        for name in names {
            let output = folder.file("single\(name.replacingOccurrences(of: "/", with: "_")).h5")
            let run = try runBinary(["run", pipeline, "--input", input + ":" + name, "--output", output + ":/y", "--force"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            result[name] = bits(try readDataset(output, "/y").values)
        }
        return result
    }

    @Test("a glob, a list, a group for the outputs, both modes: each dataset equals its own run",
          arguments: [("\"/*/x\"", nil as String?, "minibatch"), ("[/test/x, /train/x]", "/results", "minibatch"),
                      ("\"/*/x\"", nil, "full")])
    func matchesSingleRuns(_ datasets: String, _ group: String?, _ mode: String) throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try Self.makeInput(input)
        let file = pipeline(folder, input: input, datasets: datasets, group: group, run: "{ mode: \(mode), batch_rows: 2048 }")
        let run = try runBinary(["run", file])
        #expect(run.status == 0, "\(run.stderr)")
        let names = datasets.contains("*") ? ["/test/x", "/train/x", "/val/x"] : ["/test/x", "/train/x"]
        #expect(run.stdout.contains("done: \(formatCount(names.map { ["/train/x": 30_000, "/val/x": 5_000, "/test/x": 7_000][$0]! }.reduce(0, +))) rows"),
                "\(run.stdout)")
        let expected = try singleRuns(folder, pipeline: file, input: input, names: names)
        let output = try HDF5File.open(folder.file("out.h5"))
        #expect(try output.datasetPaths() == names.map { (group ?? "") + $0 }.sorted())
        for name in names {
            let dataset = try output.dataset((group ?? "") + name)
            #expect(bits(try dataset.readAll()) == expected[name], "\(name)")
            #expect(try dataset.stringAttribute("h5batch_source") == "\(input):\(name)")
        }
    }

    @Test("kill -9 in the second dataset, then --resume: every dataset bit for bit as an uninterrupted run")
    func resumeAcrossDatasets() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try Self.makeInput(input, rows: [150_000, 150_000, 60_000])
        let file = pipeline(folder, input: input, datasets: "[/train/x, /val/x, /test/x]", run: "{ batch_rows: 4096, workers: 1 }")
        let reference = folder.file("reference.h5")
        #expect(try runBinary(["run", file, "--output", reference]).status == 0)

        let output = folder.file("out.h5")
        let run = try BackgroundRun(["run", file, "--checkpoint-rows", "20000"])
        // Wait for a checkpoint inside /val/x, then kill.
        var record: [String: Any]?
        while run.process.isRunning {
            if let data = FileManager.default.contents(atPath: RunFiles(output: output).checkpoint),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               object["dataset"] as? String == "/val/x", (object["rows_done"] as? Int ?? 0) > 0 {
                record = object
                break
            }
            usleep(2_000)
        }
        run.signal(SIGKILL)
        _ = run.finish()
        let saved = try #require(record, "the run ended before a checkpoint in /val/x")
        #expect(saved["completed_datasets"] as? [String] == ["/train/x"])
        #expect(!FileManager.default.fileExists(atPath: output))

        let resumed = try runBinary(["run", file, "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming"), "\(resumed.stderr)")
        let done = try HDF5File.open(output), expected = try HDF5File.open(reference)
        for name in ["/train/x", "/val/x", "/test/x"] {
            #expect(bits(try done.dataset(name).readAll()) == bits(try expected.dataset(name).readAll()), "\(name)")
            // The input digest of a resumed dataset is still the whole dataset's.
            #expect(try done.dataset(name).stringAttribute("h5batch_source_fingerprint")
                    == expected.dataset(name).stringAttribute("h5batch_source_fingerprint"))
        }
        #expect(!FileManager.default.fileExists(atPath: RunFiles(output: output).checkpoint))
    }

    @Test("--skip-if-fresh: up to date when every dataset is; one changed dataset remakes the file")
    func freshness() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try Self.makeInput(input)
        let file = pipeline(folder, input: input, datasets: "\"/*/x\"")
        #expect(try runBinary(["run", file]).status == 0)
        let fresh = try runBinary(["run", file, "--skip-if-fresh"])
        #expect(fresh.status == 0 && fresh.stderr.contains("is up to date: its 3 datasets"), "\(fresh.stderr)")
        // New values in /val/x only: the other datasets' checks pass, this one's does not.
        do {
            let file = try HDF5File.open(input, writable: true)
            let values = [Float](repeating: 0.5, count: 32 * 10)
            try values.withUnsafeBufferPointer { try file.dataset("/val/x").write(rows: 100..<110, from: $0) }
            try file.close()
        }
        let stale = try runBinary(["run", file, "--skip-if-fresh"])
        #expect(stale.status == 0, "\(stale.stderr)")
        #expect(stale.stderr.contains("/val/x: the input's values changed"), "\(stale.stderr)")
        let expected = try singleRuns(folder, pipeline: file, input: input, names: ["/val/x"])
        #expect(bits(try readDataset(folder.file("out.h5"), "/val/x").values) == expected["/val/x"])
        // A dataset the pattern now takes, and one the list no longer names: out of date, remade.
        do {
            let file = try HDF5File.open(input, writable: true)
            let extra = try file.createDataset("/extra/x", type: .float32, shape: [10, 32])
            try [Float](repeating: 1, count: 320).withUnsafeBufferPointer { try extra.write(rows: 0..<10, from: $0) }
            try file.close()
        }
        let grown = try runBinary(["run", file, "--skip-if-fresh"])
        #expect(grown.status == 0 && grown.stderr.contains("it lacks /extra/x"), "\(grown.stderr)")
        #expect(try HDF5File.open(folder.file("out.h5")).datasetPaths().contains("/extra/x"))
        let fewer = pipeline(folder, input: input, datasets: "[/train/x, /val/x]")
        let shrunk = try runBinary(["run", fewer, "--skip-if-fresh"])
        #expect(shrunk.status == 0 && shrunk.stderr.contains("which input.datasets no longer names"), "\(shrunk.stderr)")
        #expect(try HDF5File.open(folder.file("out.h5")).datasetPaths() == ["/train/x", "/val/x"])
    }

    @Test("mistakes: a pattern or path that names nothing (66), dataset and datasets together or with --shard (64)")
    func mistakes() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try Self.makeInput(input)
        for (datasets, mentions) in [("\"/*/y\"", "no dataset in \(input) matches /*/y"), ("[/train/x, /nope]", "has no dataset /nope")] {
            let result = try runBinary(["run", pipeline(folder, input: input, datasets: datasets)])
            #expect(result.status == 66, "\(result.stderr)")
            #expect(result.stderr.contains(mentions), "\(result.stderr)")
        }
        let both = folder.write("both.yaml", "input: { file: \(input), dataset: /train/x, datasets: [/val/x] }\nstages: [relu]\n")
        let result = try runBinary(["run", both, "--output", folder.file("o.h5")])
        #expect(result.status == 64 && result.stderr.contains("give dataset or datasets, not both"), "\(result.stderr)")
        // A dataset the stages do not fit: run and check name it.
        do {
            let file = try HDF5File.open(input, writable: true)
            let narrow = try file.createDataset("/narrow/x", type: .float32, shape: [10, 16])
            try [Float](repeating: 1, count: 160).withUnsafeBufferPointer { try narrow.write(rows: 0..<10, from: $0) }
            try file.close()
        }
        let misfit = pipeline(folder, input: input, datasets: "\"/*/x\"")
        for command in ["run", "check"] {
            let result = try runBinary([command, misfit])
            #expect(result.status == 65, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("/narrow/x: stage 1 (linear): linear expects rows of 32 features but gets 16"), "\(result.stderr)")
        }
        let sharded = try runBinary(["run", pipeline(folder, input: input, datasets: "\"/*/x\""), "--shard", "0/2"])
        #expect(sharded.status == 64 && sharded.stderr.contains("--shard splits one dataset"), "\(sharded.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out-shard-0-of-2.h5.partial")))
    }
}
