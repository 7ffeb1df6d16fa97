import Foundation
import Testing
@testable import H5Batch

/// Bad data through the built binary (issue 4, item 6): truncated and damaged inputs and
/// weights, weights of the wrong shape or type, string inputs, empty datasets, non-finite
/// weights. Every failure must be exactly one `error:` line with the right exit code, nothing
/// from HDF5, and nothing left in the output folder (no output, `.partial`, `.lock` or
/// checkpoint file).
@Suite("bad data through the binary", .serialized, .tags(.endToEnd))
struct BadDataTests {
    let data = Repo.data

    /// A work folder with an empty `out/` folder for the run's output.
    final class Workspace {
        let folder = TemporaryFolder()
        var out: String { folder.file("out") }
        var output: String { out + "/o.h5" }
        init() { try! FileManager.default.createDirectory(atPath: folder.file("out"), withIntermediateDirectories: true) }
        func file(_ name: String) -> String { folder.file(name) }
        var outContents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: out).sorted()) ?? ["<no out folder>"] }
    }

    /// Writes `p.yaml` for one run into `work` and returns its path.
    func pipeline(_ work: Workspace, input: String, dataset: String, run: String = "{}", stages: String = "[relu]") -> String {
        work.folder.write("p.yaml", """
        input: { file: \(input), dataset: \(dataset) }
        output: { file: \(work.output) }
        run: \(run)
        stages: \(stages)
        """)
    }

    /// Runs `h5batch run` on a pipeline and expects a failure with `status` whose one stderr
    /// line is `error: ` followed by `message` (exactly, or containing it when `exact` is false),
    /// with nothing from HDF5 and nothing left in `out/`. Returns the error line.
    @discardableResult
    func expectFailure(_ work: Workspace, input: String, dataset: String, run: String = "{}", stages: String = "[relu]",
                       status: Int32 = 65, message: String, exact: Bool = true,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let yaml = pipeline(work, input: input, dataset: dataset, run: run, stages: stages)
        let result = try runBinary(["run", yaml])
        let line = result.stderr.trimmingCharacters(in: .newlines)
        #expect(result.status == status, "exit \(result.status), stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasSuffix("\n"), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        if exact {
            #expect(line == "error: " + message, sourceLocation: sourceLocation)
        } else {
            #expect(line.hasPrefix("error: ") && line.contains(message), "stderr: \(line)", sourceLocation: sourceLocation)
        }
        #expect(!result.stderr.contains("HDF5-DIAG") && !result.stderr.contains("#000"), sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)", sourceLocation: sourceLocation)
        #expect(work.outContents.isEmpty, "left in the output folder: \(work.outContents)", sourceLocation: sourceLocation)
        #expect(work.folder.contents.filter { $0 != "out" && $0 != "p.yaml" && !$0.hasSuffix(".h5") }.isEmpty,
                "left beside the inputs: \(work.folder.contents)", sourceLocation: sourceLocation)
        return line
    }

    /// A copy of `source` cut to its first `bytes` bytes.
    func truncatedCopy(_ source: String, to bytes: Int, in work: Workspace, name: String) throws -> String {
        let target = work.file(name)
        let contents = try Data(contentsOf: URL(fileURLWithPath: source))
        try contents.prefix(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Flips the bits of the byte at `offset` of `path` (XOR 0x5A).
    func flipByte(_ path: String, at offset: Int) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let byte = try #require(try handle.read(upToCount: 1)).first!
        try handle.seek(toOffset: UInt64(offset))
        handle.write(Data([byte ^ 0x5A]))
    }

    /// Where the stored chunk starting at `origin` of `dataset` in `file` lies in the file.
    func chunkLocation(_ file: String, _ dataset: String, _ origin: [Int]) throws -> (address: Int, size: Int) {
        try #require(try HDF5File.open(file).dataset(dataset).storedChunkLocation(at: origin))
    }

    func fileSize(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).intValue
    }

    /// Writes a float32 dataset with the library (for layouts `generate` does not make).
    func writeDataset(_ path: String, _ name: String, shape: [Int], chunks: [Int]? = nil, gzip: Int? = nil) throws {
        let file = try HDF5File.create(path)
        let dataset = try file.createDataset(name, type: .float32, shape: shape,
                                             layout: .init(chunks: chunks, gzipLevel: gzip))
        let rows = shape.dropLast().reduce(1, *)
        if !shape.isEmpty && rows > 0 && shape.last! > 0 {
            let values = (0..<(rows * shape.last!)).map { Float(sin(Double($0))) }
            try values.withUnsafeBufferPointer { try dataset.write(rows: 0..<rows, from: $0) }
        }
        try file.close()
    }

    func generate(_ arguments: [String]) throws {
        let result = try runBinary(["generate"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
    }

    // MARK: - Truncated files

    @Test("a truncated input, cut inside the superblock, the metadata or a chunk's data: exit 65")
    func truncatedInput() throws {
        let work = Workspace()
        let sample = data + "/sample.h5"
        let size = try fileSize(sample)
        let firstChunk = try chunkLocation(sample, "/features", [0, 0])
        let lastChunk = try chunkLocation(sample, "/features", [9000, 0])
        let cuts: [(name: String, bytes: Int)] = [
            ("signature", 8), ("superblock", 40), ("metadata", 1000), ("before-data", firstChunk.address - 16),
            ("chunk-0", firstChunk.address + firstChunk.size / 2), ("last-chunk", lastChunk.address + lastChunk.size - 1),
        ]
        for (name, bytes) in cuts {
            let cut = try truncatedCopy(sample, to: bytes, in: work, name: "cut-\(name).h5")
            let expected = bytes >= 96
                ? "cannot open \(cut): the file is truncated: it has \(formatCount(bytes)) of its \(formatCount(size)) bytes"
                : "cannot open \(cut): the file is damaged"
            try expectFailure(work, input: cut, dataset: "/features", message: expected, exact: bytes >= 96)
            // inspect says the same.
            let inspect = try runBinary(["inspect", cut])
            #expect(inspect.status == 65 && inspect.stderr.hasPrefix("error: cannot open \(cut): the file is"), "\(inspect.stderr)")
        }
    }

    @Test("a truncated weights file: exit 65 naming the stage and the file")
    func truncatedWeights() throws {
        let work = Workspace()
        let weights = data + "/weights.h5"
        let size = try fileSize(weights)
        for bytes in [40, 2000, size / 2, size - 1] {
            let cut = try truncatedCopy(weights, to: bytes, in: work, name: "w-\(bytes).h5")
            let stages = "[relu, {linear: {file: \(cut), weight: fc1.weight, bias: fc1.bias}}]"
            let expected = bytes >= 96
                ? "stage 2 (linear): cannot open \(cut): the file is truncated: it has \(formatCount(bytes)) of its \(formatCount(size)) bytes"
                : "stage 2 (linear): cannot open \(cut): the file is damaged"
            try expectFailure(work, input: data + "/sample.h5", dataset: "/features", stages: stages,
                              message: expected, exact: bytes >= 96)
        }
    }

    // MARK: - Weights of the wrong shape or type

    @Test("weights of the wrong shape: exit 65 naming the dataset and the file")
    func wrongShapeWeights() throws {
        let work = Workspace()
        let weights = data + "/weights.h5", cases = data + "/cases.h5", sample = data + "/sample.h5"
        let empty = work.file("empty-weight.h5")
        try writeDataset(empty, "w", shape: [0, 32])
        let cases_: [(stages: String, message: String)] = [
            ("[{linear: {file: \(weights), weight: fc2.weight}}]",
             "stage 1 (linear): linear expects rows of 64 features but gets 32 (weight fc2.weight in \(weights) is [16, 64], torch layout)"),
            ("[{linear: {file: \(weights), weight: fc1.weight, layout: keras}}]",
             "stage 1 (linear): linear expects rows of 64 features but gets 32 (weight fc1.weight in \(weights) is [64, 32], keras layout)"),
            ("[{linear: {file: \(cases), weight: rank3}}]",
             "stage 1 (linear): weight rank3 in \(cases) has shape [10, 37, 32]; linear needs a 2-D matrix"),
            ("[{linear: {file: \(weights), weight: fc1.bias}}]",
             "stage 1 (linear): weight fc1.bias in \(weights) has shape [64]; linear needs a 2-D matrix"),
            ("[{linear: {file: \(empty), weight: w}}]",
             "stage 1 (linear): weight w in \(empty) has shape [0, 32]; linear needs a 2-D matrix with no empty dimension"),
            ("[{linear: {file: \(weights), weight: fc1.weight, bias: fc2.bias}}]",
             "stage 1 (linear): bias fc2.bias in \(weights) has shape [16]; expected [64] for weight [64, 32] in torch layout"),
            ("[{prelu: {file: \(weights), weight: fc1.weight}}]",
             "stage 1 (prelu): weight fc1.weight in \(weights) has shape [64, 32]; prelu needs 1 value or one per feature"),
            ("[{prelu: {file: \(weights), weight: prelu.weight}}]",
             "stage 1 (prelu): prelu has 64 weights but rows have 32 features (need 1 or 32; weight prelu.weight in \(weights))"),
            ("[{linear: {file: \(weights), weight: fc1.weight}}, {linear: {file: \(weights), weight: fc1.weight}}]",
             "stage 2 (linear): linear expects rows of 32 features but gets 64 (weight fc1.weight in \(weights) is [64, 32], torch layout)"),
        ]
        for (stages, message) in cases_ {
            try expectFailure(work, input: sample, dataset: "/features", stages: stages, message: message)
        }
    }

    @Test("weights that are not numbers: exit 65")
    func nonNumericWeights() throws {
        let work = Workspace()
        let cases = data + "/cases.h5", weights = data + "/weights.h5", sample = data + "/sample.h5"
        try expectFailure(work, input: sample, dataset: "/features", stages: "[{linear: {file: \(cases), weight: strings}}]",
                          message: "stage 1 (linear): weight strings in \(cases) holds string values, not numbers")
        try expectFailure(work, input: sample, dataset: "/features", stages: "[{prelu: {file: \(cases), weight: compound}}]",
                          message: "stage 1 (prelu): weight compound in \(cases) holds compound values, not numbers")
        try expectFailure(work, input: sample, dataset: "/features",
                          stages: "[relu, {linear: {file: \(weights), weight: fc1.weight}}, {linear: {file: \(cases), weight: /compound}}]",
                          message: "stage 3 (linear): weight /compound in \(cases) holds compound values, not numbers")
        // Weights that are not in an HDF5 file at all.
        let text = work.folder.write("weights.txt.h5", "fc1.weight = [[0.1, 0.2]]\n")
        try expectFailure(work, input: sample, dataset: "/features", stages: "[{linear: {file: \(text), weight: fc1.weight}}]",
                          message: "stage 1 (linear): cannot open \(text): not an HDF5 file")
    }

    // MARK: - Damaged chunks

    @Test("a flipped byte inside a gzip chunk of the weights: exit 65 naming the rows of the chunk")
    func flippedWeightsChunk() throws {
        let work = Workspace()
        let weights = work.file("w.h5")
        try generate([weights, "--dataset", "w", "--shape", "64x32", "--chunk-rows", "16", "--compression", "gzip"])
        let chunk = try chunkLocation(weights, "w", [16, 0])
        try flipByte(weights, at: chunk.address + chunk.size / 2)
        for mode in ["minibatch", "full"] {
            try expectFailure(work, input: data + "/sample.h5", dataset: "/features", run: "{ mode: \(mode) }",
                              stages: "[{linear: {file: \(weights), weight: w}}]",
                              message: "stage 1 (linear): cannot read the stored chunk holding rows 16..<32 of w in \(weights): it is corrupt (inflate() failed)")
        }
        try expectFailure(work, input: data + "/sample.h5", dataset: "/features",
                          stages: "[relu, {prelu: {file: \(weights), weight: w}}]",
                          message: "stage 2 (prelu): cannot read the stored chunk holding rows 16..<32 of w in \(weights): it is corrupt (inflate() failed)")
        // A 1-D (bias) dataset: its chunks hold elements.
        let bias = work.file("b.h5")
        try writeDataset(bias, "b", shape: [64], chunks: [16], gzip: 4)
        let biasChunk = try chunkLocation(bias, "b", [48])
        try flipByte(bias, at: biasChunk.address + biasChunk.size / 2)
        try expectFailure(work, input: data + "/sample.h5", dataset: "/features",
                          stages: "[{linear: {file: \(data)/weights.h5, weight: fc1.weight, bias: fc1.bias}}, {prelu: {file: \(bias), weight: b}}]",
                          message: "stage 2 (prelu): cannot read the stored chunk holding elements 48..<64 of b in \(bias): it is corrupt (inflate() failed)")
    }

    @Test("a flipped byte inside a gzip chunk of the input, raw-chunk path: exit 65 naming the rows, both modes")
    func flippedInputChunkRaw() throws {
        let work = Workspace()
        let input = work.file("in.h5")
        try generate([input, "--dataset", "x", "--shape", "1000x32", "--chunk-rows", "100", "--compression", "gzip", "--shuffle"])
        let chunk = try chunkLocation(input, "x", [300, 0])
        try flipByte(input, at: chunk.address + chunk.size / 2)
        for run in ["{ mode: minibatch, batch_rows: 250 }", "{ mode: minibatch, workers: 1 }", "{ mode: full }"] {
            try expectFailure(work, input: input, dataset: "/x", run: run,
                              stages: "[{linear: {file: \(data)/weights.h5, weight: fc1.weight}}, relu]",
                              message: "the stored chunk holding rows 300..<400 of /x in \(input) is corrupt: its deflate stream does not decode to 12800 bytes")
        }
    }

    @Test("a flipped byte inside a gzip chunk of the input, HDF5's path: exit 65 naming the rows, both modes")
    func flippedInputChunkHyperslab() throws {
        let work = Workspace()
        // Chunks that split the rows keep h5batch from decoding them itself: libhdf5 inflates.
        let split = work.file("split.h5")
        try writeDataset(split, "x", shape: [1000, 32], chunks: [100, 16], gzip: 4)
        let chunk = try chunkLocation(split, "x", [300, 16])
        try flipByte(split, at: chunk.address + chunk.size / 2)
        let rank3 = work.file("rank3.h5")
        try writeDataset(rank3, "x", shape: [10, 100, 32], chunks: [3, 30, 32], gzip: 4)
        let chunk3 = try chunkLocation(rank3, "x", [3, 30, 0])
        try flipByte(rank3, at: chunk3.address + chunk3.size / 2)
        for mode in ["minibatch", "full"] {
            try expectFailure(work, input: split, dataset: "/x", run: "{ mode: \(mode), batch_rows: 250 }",
                              message: "cannot read the stored chunk holding rows 300..<400, columns 16..<32 of /x in \(split): it is corrupt (inflate() failed)")
            try expectFailure(work, input: rank3, dataset: "/x", run: "{ mode: \(mode), batch_rows: 250 }",
                              message: "cannot read the stored chunk holding [3..<6, 30..<60, 0..<32] (rows 330..<360, 430..<460, 530..<560) of /x in \(rank3): it is corrupt (inflate() failed)")
        }
    }

    @Test("damaged metadata (B-tree, symbol table, heap signatures): exit 65, the file is damaged")
    func damagedMetadata() throws {
        let work = Workspace()
        let original = work.file("original.h5")
        try generate([original, "--dataset", "x", "--shape", "200x8", "--chunk-rows", "50", "--compression", "gzip"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: original))
        for signature in ["TREE", "SNOD", "HEAP"] {
            let at = try #require(bytes.range(of: Data(signature.utf8)), "no \(signature) in the file").lowerBound
            let damaged = work.file("damaged-\(signature).h5")
            try bytes.write(to: URL(fileURLWithPath: damaged))
            try flipByte(damaged, at: at)
            let line = try expectFailure(work, input: damaged, dataset: "/x", message: "\(damaged): the file is damaged", exact: false)
            #expect(line.contains("cannot"), "\(line)")
        }
        // A symbol table entry whose name offset points outside the group's name heap: libhdf5's
        // lookup fails with "object not found" among its frames, which read as exit 66.
        let snod = try #require(bytes.range(of: Data("SNOD".utf8))).lowerBound
        let badName = work.file("damaged-name.h5")
        try bytes.write(to: URL(fileURLWithPath: badName))
        try flipByte(badName, at: snod + 8 + 7)  // the first entry's name offset, top byte
        try expectFailure(work, input: badName, dataset: "/x",
                          message: "cannot look up /x in \(badName): the file is damaged (unable to offset into local heap data block)")
        // A damaged dimension in the dataset's header: libhdf5 opens it as 386,547,056,840 rows
        // of fill values (a run that would never end) unless h5batch checks it.
        var dataspace = Data()
        for value: UInt64 in [200, 8, 200, 8] { withUnsafeBytes(of: value.littleEndian) { dataspace.append(contentsOf: $0) } }
        let at = try #require(bytes.range(of: dataspace), "no dataspace message in the file").lowerBound
        let damaged = work.file("damaged-shape.h5")
        try bytes.write(to: URL(fileURLWithPath: damaged))
        try flipByte(damaged, at: at + 4)
        try expectFailure(work, input: damaged, dataset: "/x", message: "cannot read the description of /x in \(damaged): "
                          + "the file is damaged: the dataset's shape [386547056840, 8] exceeds its maximum shape [200, 8]")
        // A damaged chunk dimension (the layout message stores 50, 8 and the element size 4 as
        // 32-bit numbers): libhdf5 opened it and h5batch crashed inside H5Dread.
        var layout = Data()
        for value: UInt32 in [50, 8, 4] { withUnsafeBytes(of: value.littleEndian) { layout.append(contentsOf: $0) } }
        let chunkAt = try #require(bytes.range(of: layout), "no layout message in the file").lowerBound
        let badChunks = work.file("damaged-chunks.h5")
        try bytes.write(to: URL(fileURLWithPath: badChunks))
        try flipByte(badChunks, at: chunkAt + 6)
        for mode in ["minibatch", "full"] {
            try expectFailure(work, input: badChunks, dataset: "/x", run: "{ mode: \(mode) }",
                              message: "cannot read the description of /x in \(badChunks): "
                              + "the file is damaged: chunks of [50, 5898248] do not fit the dataset's maximum shape [200, 8]")
        }
        // A damaged size in the datatype message (IEEE float32: class and flags 11 20 1f 00, then
        // the size, 4): libhdf5 copies each chunk out past the end of its buffer, which read
        // garbage (94 bytes) or crashed the process (251 bytes).
        let datatype = Data([0x11, 0x20, 0x1f, 0x00, 0x04, 0x00, 0x00, 0x00])
        let typeAt = try #require(bytes.range(of: datatype), "no datatype message in the file").lowerBound
        let badType = work.file("damaged-type.h5")
        try bytes.write(to: URL(fileURLWithPath: badType))
        try flipByte(badType, at: typeAt + 4)  // 4 ^ 0x5A = 94 bytes
        try expectFailure(work, input: badType, dataset: "/x", message: "cannot read the description of /x in \(badType): "
                          + "it stores 94-byte numbers, wider than the 16 bytes h5batch reads (is the file damaged?)")
    }

    @Test("a damaged chunk address in the chunk index: exit 65, on both read paths")
    func damagedChunkIndex() throws {
        let work = Workspace()
        // Raw-chunk path: h5batch looks the chunk up itself (a Swift integer trap before).
        let raw = work.file("raw.h5")
        try generate([raw, "--dataset", "x", "--shape", "200x8", "--chunk-rows", "50", "--compression", "gzip"])
        // HDF5's path: chunks that split the rows.
        let split = work.file("split.h5")
        try writeDataset(split, "x", shape: [200, 8], chunks: [50, 4], gzip: 4)
        for (file, origin) in [(raw, [50, 0]), (split, [50, 4])] {
            let address = try chunkLocation(file, "x", origin).address
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            var pattern = Data()
            withUnsafeBytes(of: UInt64(address).littleEndian) { pattern.append(contentsOf: $0) }
            let at = try #require(bytes.range(of: pattern), "the chunk index does not hold \(address)").lowerBound
            try flipByte(file, at: at + 7)  // the address's top byte: far past the end of the file
        }
        for mode in ["minibatch", "full"] {
            try expectFailure(work, input: raw, dataset: "/x", run: "{ mode: \(mode) }",
                              message: "cannot look up the chunk at [50, 0] of /x in \(raw): the file is damaged: its chunk index places the chunk at bytes",
                              exact: false)
            try expectFailure(work, input: split, dataset: "/x", run: "{ mode: \(mode) }",
                              message: "cannot read the stored chunk holding rows 50..<100, columns 4..<8 of /x in \(split): the file is damaged: it refers to bytes",
                              exact: false)
        }
    }

    // MARK: - Inputs h5batch cannot read

    @Test("inputs of non-numeric type, no dimensions or no values: exit 65")
    func unusableInputs() throws {
        let work = Workspace()
        let cases = data + "/cases.h5"
        try expectFailure(work, input: cases, dataset: "/strings",
                          message: "dataset /strings in \(cases) holds string values; h5batch reads integer and floating-point data")
        try expectFailure(work, input: cases, dataset: "/compound",
                          message: "dataset /compound in \(cases) holds compound values; h5batch reads integer and floating-point data")
        let odd = work.file("odd.h5")
        try writeDataset(odd, "scalar", shape: [])
        let file = try HDF5File.open(odd, writable: true)
        _ = try file.createDataset("nowidth", type: .float32, shape: [10, 0])
        try file.close()
        try expectFailure(work, input: odd, dataset: "/scalar",
                          message: "dataset /scalar in \(odd) is a scalar; h5batch needs at least one dimension")
        try expectFailure(work, input: odd, dataset: "/nowidth",
                          message: "dataset /nowidth in \(odd) has shape [10, 0]: rows have no values")
    }

    @Test("an input with zero rows runs and writes an empty output, in both modes")
    func emptyInput() throws {
        let work = Workspace()
        let empty = work.file("empty.h5")
        try generate([empty, "--dataset", "x", "--shape", "0x32"])
        let rank3 = work.file("empty3.h5")
        try writeDataset(rank3, "x", shape: [4, 0, 32])
        let mlp = """
        [{linear: {file: \(data)/weights.h5, weight: fc1.weight, bias: fc1.bias}}, relu,
         {prelu: {file: \(data)/weights.h5, weight: prelu.weight}}, leaky_relu,
         {linear: {file: \(data)/weights.h5, weight: fc2.weight, bias: fc2.bias}}, elu]
        """
        for (input, expectedShape) in [(empty, [0, 16]), (rank3, [4, 0, 16])] {
            for run in ["{ mode: minibatch }", "{ mode: full }", "{ mode: minibatch, batch_rows: 7, workers: 1 }"] {
                let yaml = pipeline(work, input: input, dataset: "/x", run: run, stages: mlp)
                let result = try runBinary(["run", yaml])
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stderr.isEmpty, "\(result.stderr)")
                #expect(result.stdout.hasPrefix("done: 0 rows in "), "\(result.stdout)")
                #expect(work.outContents == ["o.h5"], "\(work.outContents)")
                let (values, shape) = try readDataset(work.output, "/x")
                #expect(shape == expectedShape && values.isEmpty, "\(shape)")
                try FileManager.default.removeItem(atPath: work.output)
            }
        }
    }

    // MARK: - Non-finite weights

    @Test("NaN and infinite weights propagate as in PyTorch, through the binary")
    func nonFiniteWeights() throws {
        let work = Workspace()
        for name in ["linear_naninf_leaky_elu/naninf_input", "prelu_nan_weight/naninf_input", "prelu_nan_single/special"] {
            let testCase = try #require(ReferenceCase.all.first { $0.name == name })
            for mode in ["minibatch", "full"] {
                let json = work.folder.write("case.json", testCase.pipelineJSON(output: work.output, mode: mode, batchRows: 7, workers: 2))
                // Relative weight paths in the manifest resolve against data/.
                let text = try String(contentsOfFile: json, encoding: .utf8)
                    .replacingOccurrences(of: "\"weights.h5\"", with: "\"\(data)/weights.h5\"")
                    .replacingOccurrences(of: "\"\(testCase.inputsFile)\"", with: "\"\(data)/\(testCase.inputsFile)\"")
                try text.write(toFile: json, atomically: true, encoding: .utf8)
                let result = try runBinary(["run", json])
                #expect(result.status == 0, "\(name) \(mode): \(result.stderr)")
                let (actual, shape) = try readDataset(work.output, "/result")
                let (expected, expectedShape) = try readDataset(data + "/references.h5", "/" + name)
                #expect(shape == expectedShape)
                #expect(expected.contains { $0.isNaN } && expected.contains { $0.isInfinite } || name.hasPrefix("prelu"))
                let problem = mismatch(actual, expected, rowWidth: shape.last)
                #expect(problem == nil, "\(name) \(mode): \(problem ?? "")")
                try FileManager.default.removeItem(atPath: work.output)
            }
        }
    }

    @Test("a filter libhdf5 cannot apply here (Blosc2): run and check exit 69, name the filter, never say corrupt; inspect marks it")
    func unavailableFilter() throws {
        // scripts/make_filter_fixtures.py
        _ = try expectUnavailableFilter(Workspace(), input: data + "/filter-blosc2.h5", dataset: "/x", filter: "blosc2 (32026)")
    }

    /// Runs `dataset` of `input`, stored with `filter` (its name and id as messages give them),
    /// in both modes and through check: each exits 69 with the one-line message that names the
    /// filter and the codecs h5batch reads, never says "corrupt" and leaves nothing behind; and
    /// inspect marks the filter. Returns inspect's output.
    func expectUnavailableFilter(_ work: Workspace, input: String, dataset: String, filter: String) throws -> String {
        let message = "cannot read dataset \(dataset) in \(input): it is stored with \(filter), a filter h5batch cannot decode and "
            + "this machine's libhdf5 cannot apply (its plugin is not installed, or not on HDF5_PLUGIN_PATH); h5batch decodes "
            + "gzip, lzf, zstd, lz4, bitshuffle and blosc itself (with or without shuffle), and reads fletcher32, szip, nbit, "
            + "scaleoffset and any filter whose HDF5 plugin is installed"
        for mode in ["minibatch", "full"] {
            let line = try expectFailure(work, input: input, dataset: dataset, run: "{ mode: \(mode) }", status: 69, message: message)
            #expect(!line.contains("corrupt"))
        }
        let check = try runBinary(["check", pipeline(work, input: input, dataset: dataset)])
        #expect(check.status == 69 && check.stderr == "error: " + message + "\n", "\(check.status): \(check.stderr)")
        #expect(work.outContents.isEmpty)
        let inspect = try runBinary(["inspect", input])
        #expect(inspect.status == 0 && inspect.stdout.contains("\(filter) (not available here)"), "\(inspect.stdout)")
        return inspect.stdout
    }
}
