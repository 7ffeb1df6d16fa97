import Foundation
import Testing
@testable import H5Batch

@Suite("GEMM: kernels chosen by CPU features, one thread per product")
struct GEMMTests {
    @Test("the GEMM runs kernels as wide as the CPU's vectors")
    func widestKernels() {
        let kernels = GEMM.kernels
        #expect(kernels.library == "oneDNN" && !kernels.version.isEmpty)
        #expect(kernels.threadsPerCall == 1)
        // Only DNNL_MAX_CPU_ISA may lower them, and the test process does not set it.
        if ProcessInfo.processInfo.environment["DNNL_MAX_CPU_ISA"] == nil {
            #expect(!kernels.isNarrowerThanCPU, "\(kernels)")
            #expect(kernels.warning == nil)
        }
        #if arch(x86_64)
        // Every x86-64 CPU this project has run on has AVX2 at least.
        #expect(kernels.isa.hasPrefix("avx2") || kernels.isa.hasPrefix("avx512"), "\(kernels)")
        #endif
    }

    @Test("products match a double-precision reference, for both weight layouts and odd shapes")
    func productsMatchReference() {
        var generator = SystemRandomNumberGenerator()
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (257, 31, 65), (64, 256, 1024), (4, 0, 3)] {
            let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &generator) }
            let weight = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &generator) }  // [n, k]
            var expected = [Double](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { for p in 0..<k { expected[i * n + j] += Double(a[i * k + p]) * Double(weight[j * k + p]) } } }
            let keras = (0..<(k * n)).map { weight[($0 % n) * k + $0 / n] }  // the same weight, [k, n]
            for (layout, stored) in [(Linear.Layout.torch, weight), (.keras, keras)] {
                let linear = Linear(weight: stored, bias: nil, inFeatures: k, outFeatures: n, layout: layout)
                let y = Functional.linear(a, rows: m, linear)
                let worst = zip(y, expected).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worst <= 1e-5 * Double(k), "m \(m) k \(k) n \(n) \(layout): off by \(worst)")
            }
        }
    }

    @Test("a row's result does not depend on the height of the tile it is multiplied in, so neither on batch boundaries")
    func rowsIndependentOfTileHeight() {
        var generator = SystemRandomNumberGenerator()
        let (rows, k, n) = (300, 256, 1024)
        let x = (0..<(rows * k)).map { _ in Float.random(in: -1...1, using: &generator) }
        let weight = (0..<(n * k)).map { _ in Float.random(in: -0.1...0.1, using: &generator) }
        let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &generator) }
        let linear = Linear(weight: weight, bias: bias, inFeatures: k, outFeatures: n)
        let whole = Functional.linear(x, rows: rows, linear)
        var pieces: [Float] = []
        var start = 0
        for height in [1, 37, MatmulPrimitive.referenceRows, 6] {
            pieces += Functional.linear(Array(x[(start * k)..<((start + height) * k)]), rows: height, linear)
            start += height
        }
        #expect(start == rows)
        #expect(pieces == whole)
        // The bias is part of the product: row 0 of x = 0 is the bias itself.
        #expect(Functional.linear([Float](repeating: 0, count: k), rows: 1, linear) == bias)
    }

    @Test("the memory estimate counts the packed copy of the weights")
    func packedWeightsCounted() {
        let linear = Linear(weight: [Float](repeating: 0.5, count: 1024 * 256), bias: [Float](repeating: 0, count: 1024),
                            inFeatures: 256, outFeatures: 1024)
        // The weights as given, and at least as many bytes again in the kernels' layout.
        #expect(linear.parameterBytes >= 2 * 4 * 1024 * 256 + 4 * 1024)
        #expect(linear.parameterBytes <= 3 * 4 * 1024 * 256, "\(linear.parameterBytes)")
    }

    @Test("DNNL_MAX_CPU_ISA lowers the kernels: the results still match PyTorch, the log says which ran, run and check warn",
          arguments: ["AVX2", "SSE41"])
    func cappedKernels(_ cap: String) throws {
        let folder = TemporaryFolder()
        let output = folder.file("out.h5")
        let environment = ["DNNL_MAX_CPU_ISA": cap]
        let result = try runBinary(["run", Repo.config + "/demo.yaml", "--output", output, "--log-format", "json"],
                                   environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        let records = UnattendedTests.jsonRecords(result.stderr)
        let narrower = GEMM.kernels.cpuVectors != cap.lowercased() && GEMM.kernels.cpuVectors != "sse2"
        // The run itself warns, for the runs nobody watches.
        #expect(records.contains { $0["event"] as? String == "narrow_kernels" && $0["level"] as? String == "warning" } == narrower,
                "\(result.stderr)")
        let done = try #require(records.last)
        let gemm = try #require(done["gemm"] as? [String: Any], "\(done)")
        #expect(gemm["library"] as? String == "oneDNN")
        #expect(gemm["isa"] as? String == cap.lowercased(), "\(gemm)")
        #expect(UnattendedTests.number(gemm["threads_per_product"]) == 1)
        #expect(UnattendedTests.number(done["compute_threads"]) == UnattendedTests.number(done["workers"]), "\(done)")
        #expect(done["vector_kernels"] as? String == VectorKernels.isa, "\(done)")

        let (expected, _) = try readDataset(Repo.data + "/references.h5", "/demo/features")
        let (actual, _) = try readDataset(output, "/features")
        #expect(mismatch(actual, expected, rtol: 1e-4, atol: 1e-5, rowWidth: 16) == nil)

        let check = try runBinary(["check", Repo.config + "/demo.yaml", "--output", folder.file("x.h5")], environment: environment)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("GEMM: oneDNN"), "\(check.stdout)")
        #expect(check.stdout.contains("warning: the GEMM kernels are \(cap.lowercased()) but this CPU offers") == narrower,
                "\(check.stdout)")
    }
}
