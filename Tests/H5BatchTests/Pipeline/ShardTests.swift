import Foundation
import Testing
@testable import H5Batch

@Suite("shards: --shard, the shard's rows and name, the environment")
struct ShardUnitTests {
    @Test("--shard I/N parses; anything else is a usage error")
    func parsing() throws {
        #expect(try Shard(parsing: "2/5") == Shard(index: 2, count: 5))
        #expect(try Shard(parsing: "0/1") == Shard(index: 0, count: 1))
        for bad in ["5/5", "-1/3", "1/0", "1", "1/2/3", "a/b", "", "/3", "1/"] {
            #expect(throws: H5BatchError.self, "\(bad)") { try Shard(parsing: bad) }
        }
    }

    @Test("shards tile the first dimension in whole units, as evenly as units allow")
    func ranges() throws {
        for extent in [0, 1, 7, 50, 97] {
            for unit in [1, 3, 8, 64] {
                for count in 1...9 {
                    let ranges = try (0..<count).map { try Shard(index: $0, count: count).firstDimensionRange(extent: extent, unit: unit) }
                    var next = 0
                    for range in ranges {
                        #expect(range.lowerBound == next, "extent \(extent) unit \(unit) count \(count): \(ranges)")
                        #expect(range.lowerBound % unit == 0 || range.lowerBound == extent)
                        #expect(range.upperBound % unit == 0 || range.upperBound == extent)
                        next = range.upperBound
                    }
                    #expect(next == extent)
                    let units = ranges.map { ($0.count + unit - 1) / unit }
                    #expect(units.max()! - units.min()! <= 1, "unbalanced: \(units)")
                }
            }
        }
    }

    @Test("the output of a shard: {shard} and {shards}, or -shard-I-of-N before the extension")
    func outputNames() throws {
        let shard = try Shard(index: 2, count: 4)
        #expect(shard.outputPath(for: "out/mlp.h5") == "out/mlp-shard-2-of-4.h5")
        #expect(shard.outputPath(for: "mlp.h5") == "mlp-shard-2-of-4.h5")
        #expect(shard.outputPath(for: "out/mlp") == "out/mlp-shard-2-of-4")
        #expect(shard.outputPath(for: "out/a.b.h5") == "out/a.b-shard-2-of-4.h5")
        #expect(shard.outputPath(for: "out/.h5") == "out/.h5-shard-2-of-4")  // a dot file has no extension
        #expect(shard.outputPath(for: "out/part-{shard}-of-{shards}.h5") == "out/part-2-of-4.h5")
        #expect(shard.outputPath(for: "out/{shard}/mlp.h5") == "out/2/mlp.h5")
    }

    @Test("--shard auto: each launcher's variables, the more specific first")
    func environment() throws {
        func detect(_ environment: [String: String]) throws -> Shard? { try ShardEnvironment.detect(environment)?.shard }
        #expect(try detect([:]) == nil)
        #expect(try detect(["PATH": "/bin"]) == nil)
        #expect(try detect(["OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "3"]) == Shard(index: 1, count: 3))
        #expect(try detect(["PMI_RANK": "4", "PMI_SIZE": "8"]) == Shard(index: 4, count: 8))
        #expect(try detect(["SLURM_PROCID": "2", "SLURM_NTASKS": "5"]) == Shard(index: 2, count: 5))
        #expect(try detect(["SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "1"])
                == Shard(index: 6, count: 8))
        #expect(try detect(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"]) == Shard(index: 3, count: 4))
        #expect(try detect(["JOB_COMPLETION_INDEX": "0", "H5BATCH_SHARDS": "2"]) == Shard(index: 0, count: 2))
        // mpirun inside a Slurm allocation: MPI's rank, not the batch step's.
        #expect(try detect(["OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"])
                == Shard(index: 2, count: 4))
        // A Slurm array task's step has SLURM_PROCID=0 of 1: the array index decides.
        #expect(try detect(["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "6", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"])
                == Shard(index: 5, count: 6))
        let source = try ShardEnvironment.detect(["PMI_RANK": "1", "PMI_SIZE": "2"])?.source
        #expect(source == "MPI (PMI) (PMI_RANK=1, PMI_SIZE=2)")

        for (bad, mentions) in [
            (["OMPI_COMM_WORLD_RANK": "1"], "OMPI_COMM_WORLD_SIZE"),
            (["JOB_COMPLETION_INDEX": "1"], "H5BATCH_SHARDS"),
            (["SLURM_ARRAY_TASK_ID": "1"], "SLURM_ARRAY_TASK_COUNT"),
            (["SLURM_PROCID": "x", "SLURM_NTASKS": "2"], "SLURM_PROCID=x"),
            (["PMI_RANK": "3", "PMI_SIZE": "3"], "shard 3 of 3"),
            (["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "1"], "below"),
        ] {
            do {
                _ = try ShardEnvironment.detect(bad)
                Issue.record("\(bad) was accepted")
            } catch let error as H5BatchError {
                #expect(error.kind == .usage)
                #expect(error.message.contains(mentions), "\(error.message)")
            }
        }
    }

    @Test("virtual dataset sources are named relative to the output's folder")
    func relativePaths() {
        #expect(relativePath("/a/b/c.h5", from: "/a/b") == "c.h5")
        #expect(relativePath("/a/b/s/c.h5", from: "/a/b") == "s/c.h5")
        #expect(relativePath("/a/x/c.h5", from: "/a/b") == "../x/c.h5")
        #expect(relativePath("/c.h5", from: "/a/b") == "../../c.h5")
    }
}

/// Runs `h5batch` and requires exit 0.
@discardableResult
private func succeed(_ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]) throws -> ProcessResult {
    let result = try runBinary(arguments, in: directory, environment: environment)
    #expect(result.status == 0, "h5batch \(arguments.joined(separator: " ")): \(result.stderr)")
    return result
}

/// The bits of every value, so that "equal" means bit for bit (NaN included).
func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

/// A pipeline over 32 features: the demo's MLP from data/weights.h5 (linear, relu, prelu,
/// leaky_relu, linear, elu).
func mlpPipeline(in folder: TemporaryFolder, input: String, output: String, batchRows: Int = 4096) -> String {
    folder.write("mlp.yaml", """
    input:  { file: \(input), dataset: /x }
    output: { file: \(output), dataset: /y }
    run:    { batch_rows: \(batchRows) }
    stages:
      - linear: { file: \(Repo.data)/weights.h5, weight: fc1.weight, bias: fc1.bias }
      - relu
      - prelu: { file: \(Repo.data)/weights.h5, weight: prelu.weight }
      - leaky_relu: { negative_slope: 0.01 }
      - linear: { file: \(Repo.data)/weights.h5, weight: fc2.weight, bias: fc2.bias, layout: torch }
      - elu: { alpha: 1.0 }
    """)
}

@Suite("shards through the binary: run --shard, merge into a virtual dataset or a copy", .tags(.endToEnd))
struct ShardRunTests {
    /// Runs `pipeline` whole and as `count` shards, merges the shards, and returns the single
    /// run's output and the merged file.
    private func runAndMerge(_ folder: TemporaryFolder, pipeline: String, count: Int, extra: [String] = [],
                             copy: Bool = false) throws -> (single: String, merged: String) {
        let single = folder.file("single.h5")
        try succeed(["run", pipeline, "--output", single + ":/y", "--force"] + extra)
        for index in 0..<count {
            let result = try succeed(["run", pipeline, "--shard", "\(index)/\(count)", "--force"] + extra)
            #expect(result.stderr.contains("shard \(index) of \(count)"))
        }
        let merged = folder.file(copy ? "copy.h5" : "merged.h5")
        let shards = (0..<count).map { folder.file("out-shard-\($0)-of-\(count).h5") }
        try succeed(["merge", "--output", merged, "--force"] + (copy ? ["--copy"] : []) + shards.reversed())
        return (single, merged)
    }

    @Test("3 shards merged equal a single run bit for bit: raw chunks, hyperslab batches, full mode, rank 3",
          arguments: [["--mode", "minibatch"], ["--mode", "minibatch", "--batch-rows", "3000"], ["--mode", "full"], ["rank3"]])
    func bitIdentical(_ variant: [String]) throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        let rank3 = variant == ["rank3"]
        try succeed(["generate", input, "--dataset", "x", "--shape", rank3 ? "40x500x32" : "20000x32", "--chunk-rows", rank3 ? "1000" : "1024", "--seed", "5"])
        let pipeline = mlpPipeline(in: folder, input: input, output: folder.file("out.h5"))
        let (single, merged) = try runAndMerge(folder, pipeline: pipeline, count: 3, extra: rank3 ? [] : variant)
        let expected = try readDataset(single, "/y"), actual = try readDataset(merged, "/y")
        #expect(actual.shape == expected.shape)
        #expect(bits(actual.values) == bits(expected.values))
        // Every shard got rows, and the shards are a virtual dataset's sources.
        let file = try HDF5File.open(merged)
        let dataset = try file.dataset("/y")
        #expect(dataset.layout == .virtual)
        #expect(try dataset.virtualSources().map(\.file) == (0..<3).map { "out-shard-\($0)-of-3.h5" })
        // The whole run's provenance: the shards' input digests add up to the single run's.
        let singleFile = try HDF5File.open(single)
        let singleDataset = try singleFile.dataset("/y")
        for attribute in ["h5batch_source_fingerprint", "h5batch_config", "h5batch_source", "h5batch_weights_fingerprint"] {
            #expect(try dataset.stringAttribute(attribute) == singleDataset.stringAttribute(attribute), "\(attribute)")
        }
    }

    @Test("the merged folder moves as a whole; --copy writes the rows, chunked and compressed like the shards")
    func relocatableAndCopy() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try succeed(["generate", input, "--dataset", "x", "--shape", "9000x32", "--chunk-rows", "1000", "--seed", "2"])
        let pipeline = folder.write("gz.yaml", """
        input:  { file: \(input), dataset: /x }
        output: { file: \(folder.file("out.h5")), dataset: /y, compression: gzip, level: 3, shuffle: true, chunk_rows: 500 }
        run:    { batch_rows: 2000 }
        stages: [ { leaky_relu: { negative_slope: 0.1 } } ]
        """)
        let (single, _) = try runAndMerge(folder, pipeline: pipeline, count: 4)
        let expected = bits(try readDataset(single, "/y").values)

        let moved = TemporaryFolder()
        let target = moved.file("results")
        try FileManager.default.copyItem(atPath: folder.path, toPath: target)
        try FileManager.default.removeItem(atPath: folder.path + "/out-shard-0-of-4.h5")  // the old place is gone
        #expect(bits(try readDataset(target + "/merged.h5", "/y").values) == expected)
        let dump = try runTool("/usr/bin/h5dump", ["-p", "-H", target + "/merged.h5"])
        #expect(dump.contains("FILE \"out-shard-3-of-4.h5\""), "\(dump.prefix(2000))")

        let copy = moved.file("copy.h5")
        let shards = (0..<4).map { target + "/out-shard-\($0)-of-4.h5" }
        let result = try succeed(["merge", "--copy", "--output", copy + ":/z"] + shards)
        #expect(result.stdout.contains("copied"))
        let file = try HDF5File.open(copy)
        let dataset = try file.dataset("/z")
        #expect(dataset.layout == .chunked([500, 32]))
        #expect(dataset.filters.map(\.description) == ["shuffle", "gzip(3)"])
        try FileManager.default.removeItem(atPath: target)
        #expect(bits(try dataset.readAll()) == expected)
    }

    @Test("merge refuses shards that do not fit: missing, twice, another run, another shape or type; an existing output")
    func refusals() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try succeed(["generate", input, "--dataset", "x", "--shape", "6000x8", "--chunk-rows", "1000", "--seed", "3"])
        func pipeline(_ name: String, slope: Double, output: String) -> String {
            folder.write(name, """
            input:  { file: \(input), dataset: /x }
            output: { file: \(folder.file(output)), dataset: /y }
            run:    { batch_rows: 1000 }
            stages: [ { leaky_relu: { negative_slope: \(slope) } } ]
            """)
        }
        let a = pipeline("a.yaml", slope: 0.1, output: "a.h5"), b = pipeline("b.yaml", slope: 0.2, output: "b.h5")
        for index in 0..<3 {
            try succeed(["run", a, "--shard", "\(index)/3"])
            try succeed(["run", b, "--shard", "\(index)/3"])
        }
        try succeed(["run", a, "--shard", "0/2", "--output", folder.file("two.h5")])
        try succeed(["generate", folder.file("wide.h5"), "--dataset", "y", "--shape", "10x9"])
        try succeed(["generate", folder.file("f64.h5"), "--dataset", "y", "--shape", "10x8", "--dtype", "float64"])
        try succeed(["generate", folder.file("f32.h5"), "--dataset", "y", "--shape", "10x8"])
        let shardA = (0..<3).map { folder.file("a-shard-\($0)-of-3.h5") }
        let shardB = (0..<3).map { folder.file("b-shard-\($0)-of-3.h5") }
        let out = folder.file("merged.h5")
        let cases: [([String], Int32, String)] = [
            ([shardA[0], shardA[2]], 64, "missing (shard 1)"),
            ([shardA[0], shardA[1], shardA[2], shardA[1]], 64, "named twice"),
            ([shardA[0], shardA[1], shardA[2], folder.file("two-shard-0-of-2.h5")], 64, "different runs"),
            ([shardA[0], shardB[1], shardA[2]], 65, "different pipelines"),
            ([shardA[0], shardA[1], shardA[2], folder.file("f32.h5")], 64, "not an h5batch shard"),
            ([folder.file("f32.h5"), folder.file("wide.h5")], 65, "does not fit"),
            ([folder.file("f32.h5"), folder.file("f64.h5")], 65, "stores float64"),
            ([shardA[0], folder.file("nothing.h5")], 66, "nothing.h5"),
        ]
        for (sources, status, mentions) in cases {
            let result = try runBinary(["merge", "--output", out] + sources)
            #expect(result.status == status, "\(sources): \(result.stderr)")
            #expect(result.stderr.contains(mentions), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        try succeed(["merge", "--output", out] + shardA)
        let again = try runBinary(["merge", "--output", out] + shardA)
        #expect(again.status == 73)
        #expect(!folder.contents.contains { $0.hasSuffix(".partial") })
    }

    @Test("a run over a virtual dataset whose source file is gone exits 66 instead of reading fill values")
    func missingVirtualSource() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try succeed(["generate", input, "--dataset", "x", "--shape", "3000x8", "--chunk-rows", "1000", "--seed", "4"])
        let pipeline = folder.write("p.yaml", """
        input:  { file: \(input), dataset: /x }
        output: { file: \(folder.file("out.h5")), dataset: /y }
        run:    { batch_rows: 1000 }
        stages: [ relu ]
        """)
        for index in 0..<3 { try succeed(["run", pipeline, "--shard", "\(index)/3"]) }
        let merged = folder.file("merged.h5")
        try succeed(["merge", "--output", merged] + (0..<3).map { folder.file("out-shard-\($0)-of-3.h5") })
        try succeed(["run", pipeline, "--input", merged + ":/y", "--output", folder.file("again.h5")])
        try FileManager.default.removeItem(atPath: folder.file("out-shard-1-of-3.h5"))
        let result = try runBinary(["run", pipeline, "--input", merged + ":/y", "--output", folder.file("again2.h5")])
        #expect(result.status == 66, "\(result.stderr)")
        #expect(result.stderr.contains("out-shard-1-of-3.h5"), "\(result.stderr)")
    }

    @Test("--shard auto takes the shard from the environment and says so; an empty shard still writes its part")
    func auto() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try succeed(["generate", input, "--dataset", "x", "--shape", "2000x8", "--chunk-rows", "1000", "--seed", "6"])
        let pipeline = folder.write("p.yaml", """
        input:  { file: \(input), dataset: /x }
        output: { file: "\(folder.file("part-{shard}-of-{shards}.h5"))", dataset: /y }
        run:    { batch_rows: 1000 }
        stages: [ relu ]
        """)
        for index in 0..<3 {
            let result = try succeed(["run", pipeline, "--shard", "auto"],
                                     environment: ["JOB_COMPLETION_INDEX": "\(index)", "H5BATCH_SHARDS": "3"])
            #expect(result.stderr.contains("from a Kubernetes indexed Job (JOB_COMPLETION_INDEX=\(index), H5BATCH_SHARDS=3)"), "\(result.stderr)")
        }
        // Two units of 1,000 rows for three shards: the last is empty.
        let empty = try readDataset(folder.file("part-2-of-3.h5"), "/y")
        #expect(empty.shape == [0, 8])
        let merged = folder.file("merged.h5")
        try succeed(["merge", "--output", merged] + (0..<3).map { folder.file("part-\($0)-of-3.h5") })
        try succeed(["run", pipeline, "--output", folder.file("single.h5")])
        #expect(bits(try readDataset(merged, "/y").values) == bits(try readDataset(folder.file("single.h5"), "/y").values))

        let missing = try runBinary(["run", pipeline, "--shard", "auto"], environment: ["JOB_COMPLETION_INDEX": "1"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("H5BATCH_SHARDS"))
    }
}

/// Runs a tool and returns its standard output (standard error appended on failure).
func runTool(_ path: String, _ arguments: [String], environment: [String: String] = [:], in directory: String? = nil) throws -> String {
    let result = try runProcess(path, arguments, environment: environment, in: directory)
    return result.status == 0 ? result.stdout : result.stdout + result.stderr + "\n(exit \(result.status))"
}

@Suite("shards: what a review found (names, reruns, symlinks, mixed runs, edge chunks, damage)")
struct ShardEdgeTests {
    @Test("{shards} without {shard} still gives every shard its own file")
    func shardsPlaceholderAlone() throws {
        let shard = try Shard(index: 1, count: 4)
        #expect(shard.outputPath(for: "out/n-of-{shards}.h5") == "out/n-of-4-shard-1-of-4.h5")
    }

    @Test("a Slurm array with H5BATCH_SHARDS: the index is the shard, also for one index resubmitted alone")
    func slurmResubmission() throws {
        let detected = try ShardEnvironment.detect(["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "1",
                                                    "SLURM_ARRAY_TASK_MIN": "5", "H5BATCH_SHARDS": "8"])
        #expect(detected?.shard == (try Shard(index: 5, count: 8)))
    }

    @Test("--skip-if-fresh over shards: a grown or touched input makes every shard again, and they still merge")
    func rerunsAfterInputChanges() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        func generate(_ rows: Int) throws {
            try succeed(["generate", input, "--dataset", "x", "--shape", "\(rows)x8", "--chunk-rows", "100", "--seed", "7", "--force"])
        }
        try generate(950)
        let pipeline = folder.write("p.yaml", """
        input:  { file: \(input), dataset: /x }
        output: { file: \(folder.file("out.h5")), dataset: /y }
        run:    { batch_rows: 100 }
        stages: [ { leaky_relu: { negative_slope: 0.3 } } ]
        """)
        let shards = (0..<2).map { folder.file("out-shard-\($0)-of-2.h5") }
        func runShards() throws -> [String] {
            try (0..<2).map { try succeed(["run", pipeline, "--shard", "\($0)/2", "--skip-if-fresh"]).stderr }
        }
        func mergeMatchesSingle() throws {
            try succeed(["merge", "--force", "--output", folder.file("merged.h5")] + shards)
            try succeed(["run", pipeline, "--output", folder.file("single.h5"), "--force"])
            #expect(bits(try readDataset(folder.file("merged.h5"), "/y").values) == bits(try readDataset(folder.file("single.h5"), "/y").values))
        }
        _ = try runShards()
        try mergeMatchesSingle()
        // Nothing changed: both skip.
        #expect(try runShards().allSatisfy { $0.contains("is up to date") })
        // More rows: shard 0 keeps its range but the whole changed; both are made again.
        try generate(990)
        #expect(try runShards().allSatisfy { $0.contains("is out of date") })
        try mergeMatchesSingle()
        // Touched only: values are the same, but the shards must share one state of the file.
        let later = Date().addingTimeInterval(5)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: input)
        let notes = try runShards()
        #expect(notes.allSatisfy { $0.contains("since this shard was made") }, "\(notes)")
        try mergeMatchesSingle()
        // A merged file with a missing source is not up to date.
        try FileManager.default.removeItem(atPath: shards[1])
        let merged = try succeed(["run", pipeline, "--output", folder.file("merged.h5"), "--skip-if-fresh", "--force"])
        #expect(merged.stderr.contains("is out of date"), "\(merged.stderr)")
    }

    @Test("shards made with different batch rows are not one run")
    func mixedBatchRows() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try succeed(["generate", input, "--dataset", "x", "--shape", "600x8", "--chunk-rows", "100", "--seed", "8"])
        let pipeline = folder.write("p.yaml", """
        input:  { file: \(input), dataset: /x }
        output: { file: \(folder.file("out.h5")), dataset: /y }
        stages: [ relu ]
        """)
        try succeed(["run", pipeline, "--shard", "0/2", "--batch-rows", "100"])
        try succeed(["run", pipeline, "--shard", "1/2", "--batch-rows", "300"])
        let result = try runBinary(["merge", "--output", folder.file("m.h5")] + (0..<2).map { folder.file("out-shard-\($0)-of-2.h5") })
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("batches of"), "\(result.stderr)")
    }

    @Test("merging into a folder reached through a symbolic link: the sources are found through the link and the real path")
    func symlinkedFolder() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try succeed(["generate", input, "--dataset", "x", "--shape", "500x8", "--chunk-rows", "100", "--seed", "9"])
        let pipeline = folder.write("p.yaml", """
        input:  { file: \(input), dataset: /x }
        output: { file: \(folder.file("shards/out.h5")), dataset: /y }
        run:    { batch_rows: 100 }
        stages: [ relu ]
        """)
        for index in 0..<2 { try succeed(["run", pipeline, "--shard", "\(index)/2"]) }
        try FileManager.default.createDirectory(atPath: folder.file("real/deep"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: folder.file("real/deep"))
        try succeed(["merge", "--output", folder.file("link/m.h5")] + (0..<2).map { folder.file("shards/out-shard-\($0)-of-2.h5") })
        try succeed(["run", pipeline, "--output", folder.file("single.h5")])
        let expected = bits(try readDataset(folder.file("single.h5"), "/y").values)
        #expect(bits(try readDataset(folder.file("link/m.h5"), "/y").values) == expected)
        #expect(bits(try readDataset(folder.file("real/deep/m.h5"), "/y").values) == expected)
    }

    @Test("one batch that is not a whole number of output chunks (the raw path pads the last chunk)")
    func singleBatchEdgeChunk() throws {
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        try succeed(["generate", input, "--dataset", "x", "--shape", "10000x8", "--chunk-rows", "1000", "--seed", "10"])
        let pipeline = folder.write("p.yaml", """
        input:  { file: \(input), dataset: /x }
        output: { file: \(folder.file("out.h5")), dataset: /y, chunk_rows: 2000, compression: gzip }
        run:    { batch_rows: 3000 }
        stages: [ elu ]
        """)
        for index in 0..<4 { try succeed(["run", pipeline, "--shard", "\(index)/4"]) }
        try succeed(["merge", "--output", folder.file("m.h5")] + (0..<4).map { folder.file("out-shard-\($0)-of-4.h5") })
        try succeed(["run", pipeline, "--output", folder.file("single.h5")])
        #expect(bits(try readDataset(folder.file("m.h5"), "/y").values) == bits(try readDataset(folder.file("single.h5"), "/y").values))
    }

    @Test("a damaged chunk in a shard's rows is named by its rows in the input, on both read paths")
    func damageThroughWindow() throws {
        let folder = TemporaryFolder()
        // Raw path: whole-row gzip chunks, decoded by the workers.
        let raw = folder.file("raw.h5")
        try succeed(["generate", raw, "--dataset", "x", "--shape", "1000x32", "--chunk-rows", "100", "--compression", "gzip", "--seed", "11"])
        // Hyperslab path: chunks that split the rows, inflated by libhdf5.
        let split = folder.file("split.h5")
        do {
            let file = try HDF5File.create(split)
            let dataset = try file.createDataset("x", type: .float32, shape: [1000, 32],
                                                 layout: .init(chunks: [100, 16], gzipLevel: 4))
            let values = (0..<32_000).map { Float($0 % 977) / 100 }
            try values.withUnsafeBufferPointer { try dataset.write(rows: 0..<1000, from: $0) }
            try file.close()
        }
        func flip(_ path: String, chunkAt origin: [Int]) throws {
            let location = try #require(try HDF5File.open(path).dataset("x").storedChunkLocation(at: origin))
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(location.address + location.size / 2))
            let byte = try #require(try handle.read(upToCount: 1)).first!
            try handle.seek(toOffset: UInt64(location.address + location.size / 2))
            handle.write(Data([byte ^ 0x5A]))
        }
        try flip(raw, chunkAt: [600, 0])
        try flip(split, chunkAt: [700, 16])
        for (input, message) in [(raw, "the stored chunk holding rows 600..<700 of /x in \(raw) is corrupt"),
                                 (split, "the stored chunk holding rows 700..<800, columns 16..<32 of /x in \(split)")] {
            let pipeline = folder.write("p.yaml", """
            input:  { file: \(input), dataset: /x }
            output: { file: \(folder.file("out.h5")), dataset: /y }
            run:    { batch_rows: 100 }
            stages: [ relu ]
            """)
            let result = try runBinary(["run", pipeline, "--shard", "1/2", "--force"])
            #expect(result.status == 65, "\(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: folder.file("out-shard-1-of-2.h5.partial")))
        }
    }
}
