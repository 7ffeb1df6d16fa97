import Foundation
import Testing
@testable import H5Batch

@Suite("the library API")
struct LibraryAPITests {
    /// The README's library example, as it is printed there (the test below checks they match).
    func readmeExample() throws -> (report: RunReport, folder: String, y: [Float]) {
        // BEGIN README EXAMPLE
        // A folder to work in, and an input (what `h5batch generate` writes): 10,000 × 32 normals.
        let folder = NSTemporaryDirectory() + "h5batch-example-\(getpid())"
        var input = SyntheticData.Options(shape: [10_000, 32])
        input.force = true
        try SyntheticData.generate(path: folder + "/in.h5", dataset: "/x", options: input)

        // Weights of nn.Linear(32, 8) as a PyTorch state_dict saved with h5py holds them: [out, in].
        let weights = try HDF5File.create(folder + "/weights.h5")
        let weight = try weights.createDataset("/fc.weight", type: .float32, shape: [8, 32])
        let values = (0..<256).map { Float($0 % 17) / 17 - 0.5 }
        try values.withUnsafeBufferPointer { try weight.write(rows: 0..<8, from: $0) }
        try weights.close()

        // A pipeline built in code (the same as a pipeline file): linear → gelu → softmax, stored
        // as float16, run in mini-batches of 4,096 rows.
        var config = PipelineConfig(
            input: .init(file: folder + "/in.h5", dataset: "/x"),
            output: .init(file: folder + "/out.h5", dataset: "/probabilities"),
            stages: [.linear(file: folder + "/weights.h5", weight: "/fc.weight", bias: nil, layout: .torch),
                     .gelu(approximate: .none), .softmax])
        config.output.dtype = .float16
        config.run.batchRows = 4096
        let report = try PipelineRunner(config: config, options: .init(force: true)).run()
        print(report.summary)                                  // the line `h5batch run` prints

        // The same stages on rows in memory, as stage objects or as functions.
        let x: [Float] = [-2, -0.5, 0,
                          1.5, .nan, 3]                        // 2 rows of 3 features
        let fc = Linear(weight: [0.1, 0.2, 0.3,
                                 -0.3, -0.2, -0.1],
                        bias: [0.5, -0.5], inFeatures: 3, outFeatures: 2)
        let chain = try StageChain([fc, GELU(), Softmax()], inputWidth: 3)
        let y = chain(x, rows: 2)                              // row 0 sums to 1; row 1 is NaN
        let s = Functional.silu(x)
        let h = Hardtanh(minVal: -1, maxVal: 2)(x, width: 3)   // stages are callable
        print(y, s, h)
        // END README EXAMPLE
        return (report, folder, y)
    }

    @Test("the README's library example is this test's code, and it runs")
    func readmeExampleRuns() throws {
        let readme = try String(contentsOfFile: Repo.root + "/README.md", encoding: .utf8)
        let marker = try #require(readme.range(of: "LibraryAPITests.swift)"))
        let block = readme[marker.upperBound...]
        let start = try #require(block.range(of: "\ndo {\n")), end = try #require(block.range(of: "\n} catch"))
        let documented = block[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let begin = try #require(source.range(of: "// BEGIN README EXAMPLE\n")), finish = try #require(source.range(of: "\n        // END README EXAMPLE"))
        let tested = source[begin.upperBound..<finish.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : String($0) }
        #expect(documented == tested, "README.md's example and LibraryAPITests.readmeExample differ")

        let (report, folder, y) = try readmeExample()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(report.rows == 10_000)
        let output = try HDF5File.open(folder + "/out.h5")
        let probabilities = try output.dataset("/probabilities")
        #expect(probabilities.elementType.description == "float16")
        #expect(probabilities.shape == [10_000, 8])
        let values = try probabilities.readAll()
        for row in stride(from: 0, to: values.count, by: 8 * 997) {
            let sum = values[row..<(row + 8)].reduce(0, +)
            #expect(abs(sum - 1) < 5e-3, "row \(row / 8) sums to \(sum)")
        }
        #expect(abs(y[0] + y[1] - 1) < 1e-6 && y[0] > 0 && y[1] > 0)
        #expect(y[2].isNaN && y[3].isNaN)
    }

    @Test("every public declaration of the library, enum cases included, has a doc comment")
    func everyPublicSymbolIsDocumented() throws {
        let sources = Repo.root + "/Sources/H5Batch"
        let files = try #require(FileManager.default.enumerator(atPath: sources)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }.sorted()
        #expect(files.count > 40)
        var undocumented: [String] = []
        var declarations = 0
        let declaration = /^\s*(@\w+(\([^)]*\))?\s+)*public\s/
        let publicEnum = /^\s*(@\w+\s+)*public\s+(indirect\s+)?enum\s/
        let enumCase = /^\s*case\s+[a-z]/
        for file in files {
            let lines = try String(contentsOfFile: sources + "/" + file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            // Brace depth, and the depths at which public enums opened: their cases are API too.
            var depth = 0
            var enums: [Int] = []
            for (index, line) in lines.enumerated() {
                if line.firstMatch(of: publicEnum) != nil { enums.append(depth) }
                let isCase = enums.last.map { depth == $0 + 1 } == true && line.firstMatch(of: enumCase) != nil
                if line.firstMatch(of: declaration) != nil || isCase {
                    declarations += 1
                    var above = index - 1
                    while above >= 0, lines[above].trimmingCharacters(in: .whitespaces).hasPrefix("@") { above -= 1 }
                    if above < 0 || !lines[above].trimmingCharacters(in: .whitespaces).hasPrefix("///") {
                        undocumented.append("\(file):\(index + 1): \(line.trimmingCharacters(in: .whitespaces))")
                    }
                }
                depth += line.filter { $0 == "{" }.count - line.filter { $0 == "}" }.count
                while let open = enums.last, depth <= open, line.contains("}") { enums.removeLast() }
            }
        }
        #expect(declarations > 500, "found only \(declarations) public declarations: is the pattern right?")
        #expect(undocumented.isEmpty, "public declarations without a doc comment:\n\(undocumented.joined(separator: "\n"))")
    }
}
