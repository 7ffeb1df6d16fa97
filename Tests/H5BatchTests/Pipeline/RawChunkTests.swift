import Foundation
import Testing
@testable import H5Batch

/// The raw-chunk path (h5batch inflating, unshuffling, converting and deflating stored chunks
/// itself) against HDF5's own hyperslab path and the references.
@Suite("Raw chunk I/O")
struct RawChunkTests {
    func run(_ yaml: String, in folder: TemporaryFolder, raw: Bool) throws -> RunReport {
        let config = try PipelineFile.parse(yaml, format: .yaml, path: "p.yaml", baseFolder: Repo.data)
        return try PipelineRunner(config: config, options: .init(rawChunkIO: raw)).run()
    }

    @Test("every stored type and filter decodes to exactly what HDF5's conversion gives",
          arguments: ["/normal_gzip", "/normal_chunked", "/types/float16", "/types/float32be", "/types/float64be",
                      "/types/int8", "/types/int16be", "/types/uint32be", "/types/int64", "/types/uint64", "/special"])
    func decodeMatchesHDF5(_ dataset: String) throws {
        let folder = TemporaryFolder()
        var outputs: [[Float]] = []
        for raw in [true, false] {
            let output = folder.file("\(raw).h5")
            let report = try run("""
            input: { file: cases.h5, dataset: \(dataset) }
            output: { file: \(output), dataset: /y }
            run: { batch_rows: 50 }
            stages: [relu]
            """, in: folder, raw: raw)
            #expect(report.inputPath == (raw ? "raw chunks" : "hyperslab"))
            outputs.append(try readDataset(output, "/y").values)
        }
        #expect(outputs[0].elementsEqual(outputs[1]) { $0 == $1 || ($0.isNaN && $1.isNaN) })
    }

    @Test("float16, float32 and float64 outputs with shuffle and gzip, written as raw chunks",
          arguments: ["float16", "float32", "float64"])
    func encodedOutputs(_ dtype: String) throws {
        let folder = TemporaryFolder()
        var outputs: [[Float]] = []
        for raw in [true, false] {
            let output = folder.file("\(raw).h5")
            let report = try run("""
            input: { file: sample.h5, dataset: /features }
            output: { file: \(output), dtype: \(dtype), compression: gzip, level: 3, shuffle: true }
            run: { batch_rows: 3000 }
            stages:
              - linear: { file: weights.h5, weight: fc1.weight, bias: fc1.bias }
              - relu
              - prelu: { file: weights.h5, weight: prelu.weight }
              - leaky_relu: { negative_slope: 0.01 }
              - linear: { file: weights.h5, weight: fc2.weight, bias: fc2.bias }
              - elu
            """, in: folder, raw: raw)
            #expect(report.outputPath == (raw ? "raw chunks" : "hyperslab"))
            let dataset = try HDF5File.open(output).dataset("/features")
            #expect(dataset.elementType.description == dtype)
            #expect(dataset.filters.map(\.description) == ["shuffle", "gzip(3)"])
            // The last chunk (rows 9000..<10000 of 3000-row chunks) is an edge chunk.
            #expect(dataset.chunkShape == [3000, 16])
            outputs.append(try readDataset(output, "/features").values)
        }
        // The two runs may batch rows differently, and sgemm's sums can then differ in the last
        // bit; a wrong conversion (HDF5's float16 carry bug halves
        // a value) is far outside these bounds.
        let bound: Float = dtype == "float16" ? 1e-3 : 1e-6
        let problem = mismatch(outputs[0], outputs[1], rtol: bound, atol: bound / 10, rowWidth: 16)
        #expect(problem == nil, "raw chunks and HDF5 differ: \(problem ?? "")")
        let (expected, _) = try readDataset(Repo.data + "/references.h5", "/demo/features")
        let tolerance: Float = dtype == "float16" ? 1e-3 : 1e-4
        #expect(mismatch(outputs[0], expected, rtol: tolerance, atol: tolerance / 10, rowWidth: 16) == nil)
    }

    @Test("chunks never written read as HDF5's fill value")
    func sparseChunks() throws {
        let folder = TemporaryFolder()
        var outputs: [[Float]] = []
        for raw in [true, false] {
            let output = folder.file("\(raw).h5")
            let report = try run("input: { file: cases.h5, dataset: /sparse }\noutput: { file: \(output) }\nrun: { batch_rows: 30 }\nstages: [relu]",
                                 in: folder, raw: raw)
            #expect(report.inputPath == (raw ? "raw chunks" : "hyperslab"))
            outputs.append(try readDataset(output, "/sparse").values)
        }
        #expect(outputs[0] == outputs[1])
        let expected = (0..<400).map { index -> Float in
            switch index / 40 {
            case 0: return max(0, Float(index) - 20)
            case 5: return Float(index - 200)
            default: return 7.5
            }
        }
        #expect(outputs[0] == expected)
    }

    @Test("batches align to the input's chunks; the output's chunks follow the batches")
    func alignment() throws {
        let folder = TemporaryFolder()
        let report = try run("""
        input: { file: cases.h5, dataset: /normal_chunked }
        output: { file: \(folder.file("o.h5")) }
        run: { batch_rows: 300 }
        stages: [relu]
        """, in: folder, raw: true)
        #expect(report.batchRows == 256)  // 300 rounded to whole 128-row chunks
        #expect(try HDF5File.open(folder.file("o.h5")).dataset("/normal_chunked").chunkShape == [256, 32])
        #expect(report.outputPath == "raw chunks")
        // An explicit chunk size that batches cannot cover whole goes through HDF5.
        let other = try run("""
        input: { file: cases.h5, dataset: /normal_chunked }
        output: { file: \(folder.file("p.h5")), chunk_rows: 100 }
        run: { batch_rows: 300 }
        stages: [relu]
        """, in: folder, raw: true)
        #expect(other.outputPath == "hyperslab")
    }

    @Test("a flipped byte inside a compressed chunk is a data error naming its rows")
    func corruptChunk() throws {
        let folder = TemporaryFolder()
        let copy = folder.file("damaged.h5")
        try FileManager.default.copyItem(atPath: Repo.data + "/cases.h5", toPath: copy)
        let location = try #require(try HDF5File.open(copy).dataset("/normal_gzip").storedChunkLocation(at: [300, 0]))
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: copy))
        try handle.seek(toOffset: UInt64(location.address + location.size / 2))
        let byte = try handle.read(upToCount: 1)!
        try handle.seek(toOffset: UInt64(location.address + location.size / 2))
        handle.write(Data([byte[0] ^ 0x5A]))
        try handle.close()
        for mode in ["minibatch", "full"] {
            do {
                _ = try run("""
                input: { file: \(copy), dataset: /normal_gzip }
                output: { file: \(folder.file("o.h5")) }
                run: { mode: \(mode) }
                stages: [relu]
                """, in: folder, raw: true)
                Issue.record("a damaged chunk decoded without error in \(mode) mode")
            } catch let error as H5BatchError {
                #expect(error.kind == .data)
                #expect(error.message.contains("rows 300..<400 of /normal_gzip in \(copy) is corrupt"), "\(error.message)")
            }
            #expect(!FileManager.default.fileExists(atPath: folder.file("o.h5")))
            #expect(!FileManager.default.fileExists(atPath: folder.file("o.h5.partial")))
        }
    }

    @Test func shuffleRoundTrips() {
        for size in [1, 2, 4, 8] {
            let count = 37
            let bytes = (0..<(count * size)).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
            var shuffled = [UInt8](repeating: 0, count: bytes.count)
            var back = [UInt8](repeating: 0, count: bytes.count)
            bytes.withUnsafeBytes { source in
                shuffled.withUnsafeMutableBytes { ByteShuffle.shuffle(source.baseAddress!, into: $0.baseAddress!, count: count, size: size) }
            }
            shuffled.withUnsafeBytes { source in
                back.withUnsafeMutableBytes { ByteShuffle.unshuffle(source.baseAddress!, into: $0.baseAddress!, count: count, size: size) }
            }
            #expect(back == bytes)
            if size > 1 { #expect(shuffled[1] == bytes[size]) }  // byte 0 of element 1
        }
    }
}
