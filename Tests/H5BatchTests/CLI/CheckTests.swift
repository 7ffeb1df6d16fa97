import Foundation
import Testing
@testable import H5Batch

/// `h5batch check`, run through the built binary: the plan it prints, its JSON, its agreement
/// with what `run` then does, and its errors, which must be `run`'s.
@Suite("h5batch check", .serialized)
struct CheckTests {
    let data = Repo.data

    /// A pipeline file in `folder` with absolute paths, from YAML stage lines.
    func pipeline(_ folder: TemporaryFolder, input: String? = nil, dataset: String = "/features",
                  output: String? = nil, outputSettings: String = "", run: String = "{}",
                  stages: String = "[relu]") -> String {
        folder.write("p.yaml", """
        input: { file: \(input ?? data + "/sample.h5"), dataset: \(dataset) }
        output: { file: \(output ?? folder.file("out/out.h5"))\(outputSettings) }
        run: \(run)
        stages: \(stages)
        """)
    }

    func decodePlan(_ json: String) throws -> PipelinePlan {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(PipelinePlan.self, from: Data(json.utf8))
    }

    /// The lines of `text` from the one starting with `label` up to the next blank line.
    func section(_ label: String, in text: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix(label) }) else { return [] }
        return Array(lines[start...].prefix { !$0.isEmpty })
    }

    /// Expects `run` and `check` with the same arguments to fail alike: the same exit status and
    /// the same single `error:` line, with nothing left in `folder`. Returns check's stdout.
    @discardableResult
    func expectSameFailure(_ arguments: [String], status: Int32, mentions fragment: String, folder: TemporaryFolder,
                           planPrinted: Bool, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let before = folder.contents
        let check = try runBinary(["check"] + arguments)
        let run = try runBinary(["run"] + arguments)
        for (name, result) in [("check", check), ("run", run)] {
            #expect(result.status == status, "\(name): exit \(result.status), stderr: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.split(separator: "\n").count == 1, "\(name): \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.hasPrefix("error: ") && result.stderr.contains(fragment), "\(name): \(result.stderr)",
                    sourceLocation: sourceLocation)
        }
        #expect(check.stderr == run.stderr, "check: \(check.stderr)run: \(run.stderr)", sourceLocation: sourceLocation)
        #expect(check.stdout.isEmpty != planPrinted, "stdout: \(check.stdout)", sourceLocation: sourceLocation)
        #expect(folder.contents == before, "left behind: \(Set(folder.contents).subtracting(before))", sourceLocation: sourceLocation)
        return check.stdout
    }

    @Test func demoPlanInText() throws {
        let folder = TemporaryFolder()
        let output = folder.file("out/demo.h5")
        let result = try runBinary(["check", Repo.config + "/demo.yaml", "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        let text = result.stdout
        #expect(folder.contents.isEmpty, "check created \(folder.contents)")

        #expect(section("input", in: text).contains { $0.contains("10000x32 float32, 10,000 rows of 32") })
        #expect(section("input", in: text).contains { $0.contains("read path: raw chunks (1,000-row chunks") })
        #expect(section("output", in: text).first == "output      \(output):/features")
        #expect(section("output", in: text).contains { $0.contains("10000x16 float32") })
        #expect(section("output", in: text).contains { $0.contains("chunks 2000x16, shuffle, gzip(4)") })
        #expect(section("output", in: text).contains { $0.contains("write path: raw chunks") })
        #expect(section("run", in: text).contains { $0.contains("minibatch, batches of 2,000 rows, 5 batches") })

        // One line per stage: its number, description, output shape, FLOPs per row, FLOPs, parameters.
        let table = section("stage", in: text)
        let stages = table.filter { $0.first?.isNumber == true }.map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(stages.count == 6, "\(table)")
        let shapes = stages.map { line in line.first { $0.contains("x") && $0.allSatisfy { $0.isNumber || $0 == "x" } } ?? "" }
        #expect(shapes == ["10000x64", "10000x64", "10000x64", "10000x64", "10000x16", "10000x16"], "\(table)")
        #expect(stages.map { $0[1] } == ["linear(32", "relu", "prelu(64", "leaky_relu(negative_slope:", "linear(64", "elu(alpha:"])
        let number = { (text: String) in Int(text.replacingOccurrences(of: ",", with: "")) }
        // The linear line: 2·in·out summed over the linear stages, per row and over all rows.
        let linear = try #require(table.first { $0.hasPrefix("linear 2·in·out") })
        let linearFigures = linear.split(separator: " ").compactMap { number(String($0)) }
        #expect(linearFigures == [2 * 32 * 64 + 2 * 64 * 16, (2 * 32 * 64 + 2 * 64 * 16) * 10_000], "\(linear)")
        // The total is the sum of the stages' FLOPs per row.
        // After the shape: FLOPs per row, FLOPs, parameters.
        let figures = zip(stages, shapes).map { line, shape in line.drop { $0 != shape }.dropFirst().prefix(2).compactMap(number) }
        #expect(figures.map(\.count) == [Int](repeating: 2, count: 6), "\(table)")
        #expect(figures.allSatisfy { $0[1] == $0[0] * 10_000 }, "\(table)")
        let perRow = figures.map { $0[0] }
        let total = try #require(table.first { $0.hasPrefix("total") })
        #expect(total.split(separator: " ").compactMap { number(String($0)) }.first == perRow.reduce(0, +), "\(total) vs \(perRow)")

        // Both modes' memory, the output target and the verdict.
        let memory = section("memory", in: text)
        #expect(memory.contains { $0.range(of: #"^memory +minibatch +[0-9.]+ MiB \(this run\)$"#, options: .regularExpression) != nil }, "\(memory)")
        #expect(memory.contains { $0.range(of: #"^ +full +[0-9.]+ MiB$"#, options: .regularExpression) != nil }, "\(memory)")
        #expect(memory.contains { $0.contains("4 batches × ") && $0.contains("(2,000 rows: input 250.0 KiB, output 125.0 KiB") })
        #expect(memory.contains { $0.contains("within run.memory_limit 80% = ") })
        let target = section("target", in: text)
        #expect(target.contains { $0.contains("\(output) does not exist: a new file") }, "\(target)")
        #expect(target.contains { $0.contains("\(folder.path)/out will be created") }, "\(target)")
        #expect(text.hasSuffix("verdict     the run would start\n"), "\(text)")
    }

    @Test func jsonDecodesAndAgreesWithTheText() throws {
        let folder = TemporaryFolder()
        let arguments = ["check", Repo.config + "/demo.yaml", "--output", folder.file("demo.h5"), "--workers", "3"]
        let json = try runBinary(arguments + ["--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let plan = try decodePlan(json.stdout)
        let text = try runBinary(arguments).stdout
        #expect(folder.contents.isEmpty)

        #expect(plan.input.shape == [10000, 32] && plan.input.dtype == "float32" && plan.input.rows == 10000)
        #expect(plan.input.path == "raw chunks" && plan.input.chunkRows == 1000 && plan.input.chunks == [1000, 32])
        #expect(plan.stageList.map(\.name) == ["linear", "relu", "prelu", "leaky_relu", "linear", "elu"])
        #expect(plan.stageList.map(\.outputShape) == [[10000, 64], [10000, 64], [10000, 64], [10000, 64], [10000, 16], [10000, 16]])
        #expect(plan.stageList.map(\.index) == Array(1...6))
        let linear = plan.stageList.filter { $0.name == "linear" }
        #expect(plan.linearFlopsPerRow == linear.reduce(0) { $0 + 2 * $1.inputWidth * $1.outputWidth })
        #expect(plan.linearFlopsPerRow == 6144)
        #expect(plan.flopsPerRow == plan.stageList.reduce(0) { $0 + $1.flopsPerRow })
        #expect(plan.stageList.allSatisfy { $0.flops == $0.flopsPerRow * 10000 })
        #expect(plan.parameterBytes == plan.stageList.reduce(0) { $0 + $1.parameterBytes })
        // The parameters as stored, plus each linear stage's copy packed for its kernels.
        let packed = [(32, 64), (64, 16)].reduce(0) { total, shape in
            let stage = Linear(weight: [Float](repeating: 0, count: shape.0 * shape.1), bias: [Float](repeating: 0, count: shape.1),
                               inFeatures: shape.0, outFeatures: shape.1)
            return total + stage.parameterBytes - 4 * (shape.0 * shape.1 + shape.1)
        }
        #expect(packed >= 4 * (64 * 32 + 64 + 16 * 64 + 16))
        #expect(plan.parameterBytes == 4 * (64 * 32 + 64 + 64 + 16 * 64 + 16) + packed)

        #expect(plan.output == PipelinePlan.Output(file: folder.file("demo.h5"), dataset: "/features", shape: [10000, 16],
                                                   dtype: "float32", chunks: [2000, 16], chunkRows: 2000,
                                                   filters: ["shuffle", "gzip(4)"], bytes: 640_000, path: "raw chunks"))
        #expect(plan.run == PipelinePlan.Execution(mode: .minibatch, batchRowsSetting: 2000, batchRows: 2000, batches: 5,
                                                   workersSetting: "3", workers: 3, cores: SystemInfo.activeCores,
                                                   gemm: GEMM.kernels, vectorKernels: VectorKernels.isa))

        // Mini-batch: min(batches, workers + 2) batch buffers of input, output and stored chunks.
        let mini = plan.memory.minibatch
        #expect(mini.batches == 5 && mini.capacityRows == 2000 && mini.workers == 3)
        #expect(mini.inputBufferBytes == 2000 * 32 * 4 && mini.outputBufferBytes == 2000 * 16 * 4)
        #expect(mini.storedChunkBytes >= 2000 * 16 * 4, "gzip output: the deflate bound of one chunk")
        #expect(mini.totalBytes == mini.batches * (mini.inputBufferBytes + mini.outputBufferBytes + mini.storedChunkBytes)
                + mini.workers * mini.workspaceBytes + mini.carryBytes + mini.chunkCacheBytes + mini.parameterBytes
                + mini.runtimeBytes)
        // Full: FullDatasetRunner's estimate with the runner's inputs.
        let full = plan.memory.full
        #expect(full.rows == 10000 && full.batchRows == 2000)
        #expect(full.tensorBytes == 10000 * (32 + 64) * 4)
        #expect(full.ioBufferBytes == (3 + 1) * 2000 * 32 * 4)
        #expect(full.totalBytes == full.tensorBytes + full.parameterBytes + full.ioBufferBytes + full.runtimeBytes)
        // The demo has linear stages: the runtime plus oneDNN's first products.
        #expect(full.runtimeBytes == 56 << 20 && mini.runtimeBytes == 56 << 20)
        #expect(full.limitSetting == "80%" && !full.overLimit)

        #expect(plan.target == PipelinePlan.OutputState(path: folder.file("demo.h5"), exists: false, isDirectory: false, force: false,
                                                   folder: folder.path, folderExists: true, lock: "none", lockHolder: nil,
                                                   partialExists: false, checkpointExists: false))
        #expect(plan.wouldRun && plan.refusal == nil)

        // The text shows the same figures.
        #expect(text.contains("minibatch  \(formatBytes(mini.totalBytes)) (this run)"), "\(text)")
        #expect(text.contains("full       \(formatBytes(full.totalBytes))"), "\(text)")
        #expect(text.contains("3 workers × \(formatBytes(mini.workspaceBytes)) workspace"), "\(text)")
        #expect(text.contains(formatCount(plan.flops)))
    }

    /// Setups whose paths, batch rows and output chunks differ; check must predict what run does.
    static let agreementCases: [(name: String, dataset: String, output: String, run: String, extra: [String])] = [
        ("raw both ways", "/normal_chunked", "", "{ batch_rows: 300 }", []),
        ("batch rows rounded to chunks", "/normal_gzip", "", "{ batch_rows: 150 }", []),
        ("output chunks batches do not cover", "/normal_gzip", ", chunk_rows: 70, compression: gzip, shuffle: true", "{ batch_rows: 200 }", []),
        ("contiguous input, float16", "/normal_contiguous", ", dtype: float16", "{ batch_rows: 256 }", []),
        ("rank 3, chunks split rows", "/rank3", ", chunk_rows: 20", "{ batch_rows: 100 }", []),
        ("rank 3, whole inner rows", "/rank3", ", chunk_rows: 74", "{ batch_rows: 148 }", []),
        ("full mode", "/normal_gzip", ", dtype: float64", "{ mode: minibatch }", ["--mode", "full", "--batch-rows", "120"]),
        ("big-endian integers, one batch", "/types/int16be", "", "{ batch_rows: 100000 }", ["--workers", "1"]),
    ]

    @Test("check predicts what run does", arguments: agreementCases.indices)
    func checkAgreesWithRun(_ index: Int) throws {
        let setup = Self.agreementCases[index]
        let folder = TemporaryFolder()
        let output = folder.file("out.h5")
        let yaml = pipeline(folder, input: data + "/cases.h5", dataset: setup.dataset, output: output,
                            outputSettings: setup.output, run: setup.run, stages: "[relu, {elu: {alpha: 0.5}}]")
        let check = try runBinary(["check", yaml, "--json"] + setup.extra)
        #expect(check.status == 0, "\(setup.name): \(check.stderr)")
        let plan = try decodePlan(check.stdout)
        #expect(folder.contents == ["p.yaml"])

        let report = folder.file("report.json")
        let run = try runBinary(["run", yaml, "--report-json", report] + setup.extra)
        #expect(run.status == 0, "\(setup.name): \(run.stderr)")
        let measured = try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: report)))
        #expect(plan.input.path == measured.inputPath, "\(setup.name)")
        #expect(plan.output.path == measured.outputPath, "\(setup.name)")
        #expect(plan.run.mode == measured.mode)
        #expect(plan.run.workers == measured.workers)
        #expect((plan.run.mode == .full ? plan.input.rows : min(plan.run.batchRows, plan.input.rows)) == measured.batchRows, "\(setup.name)")
        #expect(plan.output.bytes == measured.bytesOut)
        let written = try HDF5File.open(output).dataset(plan.output.dataset)
        #expect(written.shape == plan.output.shape, "\(setup.name)")
        #expect(written.chunkShape == plan.output.chunks, "\(setup.name)")
        #expect(written.filters.map(\.description) == plan.output.filters, "\(setup.name)")
    }

    @Test func theCasesCoverBothPathsOnBothSides() throws {
        // The agreement cases above are only worth as much as the variety they cover.
        var seen = Set<String>()
        for setup in Self.agreementCases {
            let folder = TemporaryFolder()
            let yaml = pipeline(folder, input: data + "/cases.h5", dataset: setup.dataset, outputSettings: setup.output,
                                run: setup.run, stages: "[relu]")
            let plan = try decodePlan(try runBinary(["check", yaml, "--json"] + setup.extra).stdout)
            seen.insert("in " + plan.input.path)
            seen.insert("out " + plan.output.path)
            if plan.run.batchRows != plan.run.batchRowsSetting { seen.insert("rounded") }
        }
        #expect(seen == ["in raw chunks", "in hyperslab", "out raw chunks", "out hyperslab", "rounded"])
    }

    /// `check` works out the output's raw-chunk layout before the dataset exists; here every
    /// geometry it can take is created for real and `RawChunkLayout.of` asked what it finds.
    @Test("the layout planned for an output is the one its created dataset has")
    func plannedOutputLayoutMatchesTheCreatedDataset() throws {
        let folder = TemporaryFolder()
        let file = try HDF5File.create(folder.file("outputs.h5"))
        var made = 0, raw = 0
        for dataset in ["/normal_chunked", "/rank3", "/rank1", "/normal_contiguous"] {
            for stages in ["[relu]", "[{linear: {file: \(data)/weights.h5, weight: fc1.weight}}]"] {
                var config = try PipelineFile.parse("input: {file: \(data)/cases.h5, dataset: \(dataset)}\nstages: \(stages)",
                                                    format: .yaml, path: folder.file("p.yaml"), baseFolder: folder.path)
                guard dataset != "/rank3" || stages == "[relu]" else { continue }  // one rank-3 chain is enough
                for chunkRows in [1, 3, 10, 20, 37, 74, 111, 370, 1000, 5000] {
                    for (dtype, compression, shuffle) in [(StorageType.float32, PipelineConfig.Compression.none, false),
                                                          (.float16, .gzip, true), (.float64, .gzip, false), (.float32, .none, true)] {
                        made += 1
                        config.output.dataset = "/o\(made)"
                        config.output.dtype = dtype
                        config.output.compression = compression
                        config.output.level = 1 + made % 9
                        config.output.shuffle = shuffle
                        config.output.chunkRows = chunkRows
                        let job = try PreparedJob(config: config, rawChunkIO: true)
                        let created = try job.createOutput(in: file)
                        let leading = job.input.leadingShape
                        let planned = BatchWriter.layoutOfNewOutput(
                            shape: leading + [job.chain.outputWidth],
                            chunks: BatchPlan.chunkShape(rows: chunkRows, leading: leading, width: job.chain.outputWidth),
                            type: dtype, compression: config.output.chunkCompression)
                        let found = RawChunkLayout.of(created, decodable: true)
                        #expect(planned == found, "\(dataset) \(stages) chunk rows \(chunkRows) \(dtype) \(compression) shuffle \(shuffle)")
                        if found != nil { raw += 1 }
                    }
                }
            }
        }
        #expect(raw > 0 && raw < made, "both outcomes covered: \(raw) of \(made) raw")
    }

    @Test("bad weights: exit 65 and one error line, as run")
    func badWeightsShape() throws {
        let folder = TemporaryFolder()
        let yaml = pipeline(folder, stages: "[{linear: {file: \(data)/weights.h5, weight: fc2.weight}}]")
        try expectSameFailure([yaml], status: 65, mentions: "stage 1 (linear): linear expects rows of 64 features but gets 32",
                              folder: folder, planPrinted: false)
        let json = try runBinary(["check", yaml, "--json"])
        #expect(json.status == 65 && json.stdout.isEmpty && json.stderr.split(separator: "\n").count == 1)
    }

    @Test("a missing input: exit 66, as run")
    func missingInput() throws {
        let folder = TemporaryFolder()
        let yaml = pipeline(folder, input: folder.file("nope.h5"))
        try expectSameFailure([yaml], status: 66, mentions: "nope.h5", folder: folder, planPrinted: false)
        try expectSameFailure([yaml, "--input", data + "/sample.h5:/nope"], status: 66, mentions: "/nope",
                              folder: folder, planPrinted: false)
    }

    @Test("full mode over memory_limit: the plan says it would be refused, and check fails as run does")
    func fullModeOverTheMemoryLimit() throws {
        let folder = TemporaryFolder()
        let yaml = pipeline(folder, output: folder.file("out.h5"), run: "{ mode: full, memory_limit: 1MiB }")
        let text = try expectSameFailure([yaml], status: 64, mentions: "over the memory limit of 1.0 MiB (run.memory_limit 1.0 MiB)",
                                         folder: folder, planPrinted: true)
        #expect(text.contains("over run.memory_limit 1.0 MiB = 1.0 MiB: full mode would be refused (exit 64)"), "\(text)")
        #expect(text.contains("verdict     the run would stop (exit 64): full-dataset mode needs about"), "\(text)")
        let plan = try decodePlan(try runBinary(["check", yaml, "--json"]).stdout)
        #expect(plan.memory.full.overLimit && plan.memory.full.limitBytes == 1 << 20)
        #expect(plan.refusal?.exitCode == 64 && !plan.wouldRun)

        // In mini-batch mode the limit does not apply: the run would start, and the plan still
        // says what full mode would do.
        let mini = try runBinary(["check", yaml, "--mode", "minibatch"])
        #expect(mini.status == 0 && mini.stderr.isEmpty, "\(mini.stderr)")
        #expect(mini.stdout.contains("full mode would be refused (exit 64)"))
        #expect(mini.stdout.contains("minibatch  ") && mini.stdout.contains("(this run)"))
        #expect(folder.contents == ["p.yaml"])
    }

    @Test("the output target: an existing file, --force, a folder, a held lock, a leftover lock")
    func outputTarget() throws {
        let folder = TemporaryFolder()
        let output = folder.file("out.h5")
        let yaml = pipeline(folder, output: output)
        try "not yet".write(toFile: output, atomically: true, encoding: .utf8)
        let text = try expectSameFailure([yaml], status: 73, mentions: "already exists (pass --force to replace it)",
                                         folder: folder, planPrinted: true)
        #expect(text.contains("\(output) exists: the run would stop (exit 73); --force replaces it"), "\(text)")
        let forced = try runBinary(["check", yaml, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("\(output) exists: replaced once the new output is complete (--force)"))
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "not yet")
        try FileManager.default.removeItem(atPath: output)

        // Another run holds the lock: exit 75 naming it, and the lock is left alone.
        do {
            let lock = try OutputLock.acquire(for: output)
            defer { lock.release() }
            let before = try String(contentsOfFile: output + ".lock", encoding: .utf8)
            let held = try runBinary(["check", yaml])
            #expect(held.status == 75, "\(held.stderr)")
            #expect(held.stderr == "error: output \(output) is being written by another h5batch run (process \(getpid())); try again once it has finished\n")
            #expect(held.stdout.contains("held by process \(getpid())"), "\(held.stdout)")
            #expect(try String(contentsOfFile: output + ".lock", encoding: .utf8) == before)
            let json = try decodePlan(try runBinary(["check", yaml, "--json"]).stdout)
            #expect(json.target?.lock == "held" && json.target?.lockHolder == "process \(getpid())")
        }
        // A lock file nobody holds (a killed run's) does not stop the run.
        folder.write("out.h5.lock", "4242\n")
        let stale = try runBinary(["check", yaml])
        #expect(stale.status == 0, "\(stale.stderr)")
        #expect(stale.stdout.contains("\(output).lock left by a run that ended: the run takes it over"))
        try FileManager.default.removeItem(atPath: output + ".lock")

        // A leftover partial output is reported; a folder at the output path is exit 73.
        folder.write("out.h5.partial", "half")
        let partial = try runBinary(["check", yaml])
        #expect(partial.status == 0 && partial.stdout.contains("\(output).partial: a run replaces it"), "\(partial.stdout)")
        try FileManager.default.removeItem(atPath: output + ".partial")
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: false)
        try expectSameFailure([yaml, "--force"], status: 73, mentions: "is a directory", folder: folder, planPrinted: true)
        try FileManager.default.removeItem(atPath: output)

        // An output folder that cannot be created: exit 73 like run, and nothing made.
        let blocker = folder.write("blocker", "a file where a folder should be")
        try expectSameFailure([yaml, "--output", blocker + "/sub/out.h5"], status: 73,
                              mentions: "cannot create the output folder \(blocker)/sub", folder: folder, planPrinted: true)
        #expect(folder.contents == ["blocker", "p.yaml"])
    }

    @Test("no output file: the plan is printed and check fails as run does")
    func noOutput() throws {
        let folder = TemporaryFolder()
        let yaml = folder.write("p.yaml", "input: { file: \(data)/sample.h5 }\nstages: [relu]\n")
        let text = try expectSameFailure([yaml], status: 64, mentions: "no output: set output.file", folder: folder, planPrinted: true)
        #expect(text.contains("output      (none: set output.file or pass --output):/features"), "\(text)")
    }

    @Test("the run options change the plan as they change the run")
    func runOverrides() throws {
        let folder = TemporaryFolder()
        let yaml = pipeline(folder, run: "{ batch_rows: 4096, workers: 1 }")
        let plan = try decodePlan(try runBinary(["check", yaml, "--json", "--batch-rows", "2600", "--workers", "2",
                                                 "--mode", "full", "--output", folder.file("x.h5:/y")]).stdout)
        #expect(plan.run == PipelinePlan.Execution(mode: .full, batchRowsSetting: 2600, batchRows: 3000, batches: 4,
                                                   workersSetting: "2", workers: 2, cores: SystemInfo.activeCores,
                                                   gemm: GEMM.kernels, vectorKernels: VectorKernels.isa))
        #expect(plan.output.file == folder.file("x.h5") && plan.output.dataset == "/y")
        try expectSameFailure([yaml, "--batch-rows", "0"], status: 64, mentions: "--batch-rows must be at least 1",
                              folder: folder, planPrinted: false)
        try expectSameFailure([yaml, "--workers", "0"], status: 64, mentions: "--workers must be auto or an integer",
                              folder: folder, planPrinted: false)
        #expect(folder.contents == ["p.yaml"])
    }
}
