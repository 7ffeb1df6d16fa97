import Foundation
import Testing
@testable import H5Batch

/// The built `h5batch` binary, run as a user would: output, exit codes, stderr.
@Suite("h5batch binary", .serialized, .tags(.endToEnd))
struct EndToEndTests {
    let data = Repo.data

    /// A pipeline file in `folder` with absolute paths, from YAML stage lines.
    func pipeline(_ folder: TemporaryFolder, input: String? = nil, dataset: String = "/features",
                  output: String? = nil, run: String = "{}", stages: String = "[relu]") -> String {
        folder.write("p.yaml", """
        input: { file: \(input ?? data + "/sample.h5"), dataset: \(dataset) }
        output: { file: \(output ?? folder.file("out.h5")) }
        run: \(run)
        stages: \(stages)
        """)
    }

    /// Expects exit `status`, exactly one `error:` line on stderr containing `fragment`, nothing
    /// from HDF5, and no output or partial file left in `folder`.
    func expectFailure(_ arguments: [String], status: Int32, mentions fragment: String, folder: TemporaryFolder,
                       shellPrefix: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = folder.contents
        let result = try runBinary(arguments, shellPrefix: shellPrefix)
        #expect(result.status == status, "exit \(result.status), stderr: \(result.stderr)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("error: "), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(fragment), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("HDF5-DIAG"), sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)", sourceLocation: sourceLocation)
        #expect(folder.contents == before, "left behind: \(Set(folder.contents).subtracting(before))", sourceLocation: sourceLocation)
    }

    @Test("the binary exists (build it first: make test builds it)")
    func binaryIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: Repo.binary), "no binary at \(Repo.binary)")
    }

    @Test func demoRunsAndMatchesTheReference() throws {
        let folder = TemporaryFolder()
        let output = folder.file("demo.h5")
        let result = try runBinary(["run", Repo.config + "/demo.yaml", "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let summary = result.stdout.trimmingCharacters(in: .newlines)
        #expect(summary.range(of: #"^done: 10,000 rows in [0-9.]+ s, [0-9,]+ rows/s, [0-9.]+ MB/s, peak memory [0-9.]+ MiB \(minibatch, batch 2,000 rows, [0-9]+ workers?, [0-9]+ threads\)$"#,
                              options: .regularExpression) != nil, "summary: \(summary)")
        #expect(folder.contents == ["demo.h5"])
        let (actual, shape) = try readDataset(output, "/features")
        let (expected, _) = try readDataset(data + "/references.h5", "/demo/features")
        #expect(shape == [10000, 16])
        #expect(mismatch(actual, expected, rowWidth: 16) == nil)
        let dataset = try HDF5File.open(output).dataset("/features")
        #expect(dataset.filters.map(\.description) == ["shuffle", "gzip(4)"])
        #expect(dataset.chunkShape == [2000, 16])

        // Again without --force: refused, and the first output is untouched.
        try expectFailure(["run", Repo.config + "/demo.yaml", "--output", output], status: 73,
                          mentions: "already exists (pass --force", folder: folder)
        let forced = try runBinary(["run", Repo.config + "/demo.yaml", "--output", output + ":/copy", "--force", "--mode", "full"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try readDataset(output, "/copy").values.count == 160_000)
    }

    @Test("every example pipeline in config/ runs", arguments: ["demo.yaml", "examples/activations.yaml",
                                                                 "examples/linear-keras.yaml", "examples/rank3-full.json",
                                                                 "examples/several-datasets.yaml", "examples/normalization.yaml"])
    func examplePipelinesRun(_ name: String) throws {
        let folder = TemporaryFolder()
        let output = folder.file("out.h5")
        let result = try runBinary(["run", Repo.config + "/" + name, "--output", output])
        #expect(result.status == 0, "\(name): \(result.stderr)")
        #expect(result.stdout.hasPrefix("done: "))
        #expect(FileManager.default.fileExists(atPath: output))
    }

    @Test func commandLinePathsAreRelativeToTheWorkingDirectory() throws {
        let folder = TemporaryFolder()
        let yaml = pipeline(folder, output: "unused.h5")
        let result = try runBinary(["run", yaml, "--input", "data/cases.h5:/normal_gzip", "--output", folder.file("x.h5"),
                                    "--batch-rows", "77", "--workers", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try readDataset(folder.file("x.h5"), "/normal_gzip").shape == [1000, 32])
        _ = yaml
    }

    @Test("exit 64: usage and pipeline-file errors")
    func usageErrors() throws {
        let folder = TemporaryFolder()
        let cases: [(String, String)] = [
            ("stages: [relu]\nrun: { batch_rowz: 1 }", "p.yaml:2: run: unknown key 'batch_rowz'"),
            ("stages:\n  - swish", "p.yaml:2: stages[0]: unknown stage 'swish'"),
            ("stages:\n  - relu\n  - elu: { alpha: [1] }", "p.yaml:3: stages[1].elu.alpha: expected a finite number"),
            ("stages: [relu\nrun: {}", "p.yaml:2: malformed YAML"),
        ]
        for (text, fragment) in cases {
            let file = folder.write("p.yaml", "input: { file: \(data)/sample.h5 }\noutput: { file: \(folder.file("o.h5")) }\n" + text)
            _ = file
            // The two header lines shift every line number by two.
            let shifted = fragment.replacingOccurrences(of: #"p\.yaml:(\d+)"#, with: "p.yaml:$1", options: .regularExpression)
            let line = Int(shifted.split(separator: ":")[1])! + 2
            let expected = folder.file("p.yaml") + ":\(line):" + shifted.split(separator: ":", maxSplits: 2)[2]
            try expectFailure(["run", folder.file("p.yaml")], status: 64, mentions: expected, folder: folder)
        }
        let json = folder.write("p.json", "{\"stages\": [\"relu\"],\n \"run\": {\"mode\": \"fast\"}}")
        try expectFailure(["run", json], status: 64, mentions: "p.json:2: run.mode: expected one of minibatch, full", folder: folder)
        try? FileManager.default.removeItem(atPath: json)
        try FileManager.default.removeItem(atPath: folder.file("p.yaml"))

        let yaml = pipeline(folder)
        try expectFailure(["run", yaml, "--output", data + "/sample.h5", "--force"], status: 64,
                          mentions: "is \(data)/sample.h5, which this run reads", folder: folder)
        let weights = pipeline(folder, stages: "[{linear: {file: \(data)/weights.h5, weight: fc1.weight}}]")
        try expectFailure(["run", weights, "--output", data + "/../data/weights.h5", "--force"], status: 64,
                          mentions: "which this run reads", folder: folder)
        try expectFailure(["run", yaml, "--batch-rows", "0"], status: 64, mentions: "--batch-rows must be at least 1", folder: folder)
        try expectFailure(["run", yaml, "--mode", "fast"], status: 64, mentions: "fast", folder: folder)
        try expectFailure(["run", yaml, "--bogus"], status: 64, mentions: "--bogus", folder: folder)
        try expectFailure(["frobnicate"], status: 64, mentions: "frobnicate", folder: folder)
        let full = pipeline(folder, run: "{ mode: full, memory_limit: 1MiB }")
        try expectFailure(["run", full], status: 64,
                          mentions: "full-dataset mode needs about", folder: folder)
        let message = try runBinary(["run", full]).stderr
        #expect(message.contains("over the memory limit of 1.0 MiB") && message.contains("--mode minibatch"))
        // The same pipeline streams fine.
        let streamed = try runBinary(["run", full, "--mode", "minibatch"])
        #expect(streamed.status == 0, "\(streamed.stderr)")
    }

    @Test("exit 65: data h5batch cannot use")
    func dataErrors() throws {
        let folder = TemporaryFolder()
        let text = folder.write("text.h5", "this is not HDF5\n")
        try expectFailure(["run", pipeline(folder, input: text)], status: 65, mentions: "not an HDF5 file", folder: folder)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: data + "/sample.h5"))
        let truncated = folder.file("truncated.h5")
        try bytes.prefix(4000).write(to: URL(fileURLWithPath: truncated))
        try expectFailure(["run", pipeline(folder, input: truncated)], status: 65, mentions: truncated, folder: folder)
        try FileManager.default.removeItem(atPath: truncated)
        try FileManager.default.removeItem(atPath: text)
        try expectFailure(["run", pipeline(folder, input: data + "/cases.h5", dataset: "/strings")], status: 65,
                          mentions: "holds string values", folder: folder)
        try expectFailure(["run", pipeline(folder, stages: "[{linear: {file: \(data)/weights.h5, weight: fc2.weight}}]")],
                          status: 65, mentions: "stage 1 (linear): linear expects rows of 64 features but gets 32", folder: folder)
        try expectFailure(["run", pipeline(folder, stages: "[{prelu: {file: \(data)/weights.h5, weight: prelu.weight}}]")],
                          status: 65, mentions: "prelu has 64 weights but rows have 32 features", folder: folder)
        try expectFailure(["run", pipeline(folder, stages: "[{linear: {file: \(data)/weights.h5, weight: fc1.weight, bias: fc2.bias}}]")],
                          status: 65, mentions: "bias fc2.bias", folder: folder)
    }

    @Test("exit 66: files and datasets that do not exist")
    func missingInputs() throws {
        let folder = TemporaryFolder()
        try expectFailure(["run", folder.file("nope.yaml")], status: 66, mentions: "nope.yaml does not exist", folder: folder)
        try expectFailure(["run", pipeline(folder, input: folder.file("missing.h5"))], status: 66,
                          mentions: "missing.h5: no such file", folder: folder)
        try expectFailure(["run", pipeline(folder, dataset: "/nothing")], status: 66,
                          mentions: "cannot open dataset /nothing in \(data)/sample.h5: no such dataset", folder: folder)
        try expectFailure(["run", pipeline(folder, stages: "[{linear: {file: \(folder.file("w.h5")), weight: w}}]")],
                          status: 66, mentions: "stage 1 (linear): cannot open", folder: folder)
        try expectFailure(["run", pipeline(folder, stages: "[relu, {prelu: {file: \(data)/weights.h5, weight: nope}}]")],
                          status: 66, mentions: "stage 2 (prelu): cannot open dataset nope", folder: folder)
        try expectFailure(["run", pipeline(folder), "--input", folder.file("gone.h5")], status: 66, mentions: "gone.h5", folder: folder)
    }

    @Test("exit 73: output that cannot be created")
    func cannotCreate() throws {
        let folder = TemporaryFolder()
        let blocker = folder.write("blocker", "a file where a folder should be")
        try expectFailure(["run", pipeline(folder, output: blocker + "/out.h5")], status: 73,
                          mentions: "blocker", folder: folder)
        let existing = folder.write("exists.h5", "x")
        try expectFailure(["run", pipeline(folder, output: existing)], status: 73, mentions: "already exists", folder: folder)
        try expectFailure(["generate", existing, "--dataset", "x", "--shape", "4x4"], status: 73, mentions: "already exists", folder: folder)
    }

    @Test("exit 74: an I/O error while writing (a file-size limit)",
          .disabled(if: underThreadSanitizer, "ThreadSanitizer's runtime crashes under a file-size limit"))
    func ioError() throws {
        let folder = TemporaryFolder()
        let yaml = pipeline(folder, run: "{ batch_rows: 1000 }")
        // 10,000 x 32 float32 is 1.28 MB; bash's ulimit -f counts 1 KiB blocks.
        try expectFailure(["run", yaml], status: 74, mentions: "out.h5.partial", folder: folder, shellPrefix: "ulimit -f 200")
    }

    /// Peak memory from a run summary, in MiB.
    func peakMiB(_ summary: String) -> Double? {
        guard let range = summary.range(of: #"peak memory [0-9.]+ MiB"#, options: .regularExpression) else { return nil }
        return Double(summary[range].split(separator: " ")[2])
    }

    @Test("mini-batch peak memory does not grow with the dataset")
    func memoryStaysFlat() throws {
        let folder = TemporaryFolder()
        var peaks: [Double] = []
        for rows in [16_384, 65_536] {  // 20 MiB and 80 MiB of float32
            let input = folder.file("in-\(rows).h5")
            let made = try runBinary(["generate", input, "--dataset", "x", "--shape", "\(rows)x320", "--chunk-rows", "1024"])
            #expect(made.status == 0, "\(made.stderr)")
            let yaml = pipeline(folder, input: input, dataset: "x", output: folder.file("out-\(rows).h5"),
                                run: "{ batch_rows: 1024, workers: 2 }")
            let result = try runBinary(["run", yaml])
            #expect(result.status == 0, "\(result.stderr)")
            peaks.append(try #require(peakMiB(result.stdout), "\(result.stdout)"))
        }
        // Four times the data, well under 10% more memory (holding the data would add 60 MiB).
        #expect(peaks[1] <= peaks[0] * 1.1, "peak \(peaks[0]) MiB for 20 MiB, \(peaks[1]) MiB for 80 MiB")
    }

    @Test("exit 75: another run writing the same output; a dead holder's lock never blocks")
    func overlappingRuns() throws {
        let folder = TemporaryFolder()
        let output = folder.file("out.h5")
        let yaml = pipeline(folder, output: output)

        // A run of this process holds the output: the refused run names it.
        do {
            let lock = try OutputLock.acquire(for: output)
            defer { lock.release() }
            let started = Date()
            try expectFailure(["run", yaml, "--force"], status: 75,
                              mentions: "output \(output) is being written by another h5batch run (process \(getpid()))",
                              folder: folder)
            #expect(Date().timeIntervalSince(started) < 10, "a busy output must be refused at once")
        }
        #expect(!FileManager.default.fileExists(atPath: output + ".lock"))

        // Another process holds the lock file; once it is killed, its leftover file does not
        // block the next run. One process (bash that becomes sleep), so that killing it really
        // releases the lock.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/bash")
        holder.arguments = ["-c", "exec 9>>'\(output).lock'; flock -x 9; exec sleep 30"]
        try HDF5File.withDescriptorsSettled { try holder.run() }
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: output + ".lock") { usleep(50_000) }
        usleep(200_000)
        try expectFailure(["run", yaml], status: 75, mentions: "(another process)", folder: folder)
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        #expect(FileManager.default.fileExists(atPath: output + ".lock"), "the killed holder leaves its file behind")
        let result = try runBinary(["run", yaml])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(folder.contents.contains("out.h5") && !folder.contents.contains("out.h5.lock"))
    }

    @Test func inspectListsDatasets() throws {
        let result = try runBinary(["inspect", data + "/cases.h5"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("/normal_gzip  "))
        #expect(result.stdout.range(of: #"/normal_gzip +1000x32 +float32 +chunks 100x32 +shuffle, gzip\(4\)"#, options: .regularExpression) != nil)
        #expect(result.stdout.range(of: #"/types/uint32be +200x32 +uint32-be"#, options: .regularExpression) != nil)
        let folder = TemporaryFolder()
        try expectFailure(["inspect", folder.write("t.txt", "x")], status: 65, mentions: "not an HDF5 file", folder: folder)
    }

    @Test("generate streams normal data, the same for a seed whatever the chunking")
    func generate() throws {
        let folder = TemporaryFolder()
        let a = try runBinary(["generate", folder.file("a.h5"), "--dataset", "/g/x", "--shape", "3000x24", "--seed", "7",
                               "--chunk-rows", "128", "--compression", "gzip:1", "--shuffle"])
        #expect(a.status == 0, "\(a.stderr)")
        let b = try runBinary(["generate", folder.file("b.h5"), "--dataset", "x", "--shape", "3000x24", "--seed", "7", "--dtype", "float64"])
        #expect(b.status == 0, "\(b.stderr)")
        let (va, shape) = try readDataset(folder.file("a.h5"), "/g/x")
        let (vb, _) = try readDataset(folder.file("b.h5"), "x")
        #expect(shape == [3000, 24])
        #expect(va == vb)
        let mean = va.reduce(0, +) / Float(va.count)
        let variance = va.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(va.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05, "mean \(mean) variance \(variance)")
        try expectFailure(["generate", folder.file("c.h5"), "--dataset", "x", "--shape", "10xz"], status: 64,
                          mentions: "--shape", folder: folder)
    }
}
