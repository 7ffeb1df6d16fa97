import Foundation
import Testing
@testable import H5Batch

/// Files written by h5py + hdf5plugin (data/codecs.h5, scripts/make_codec_fixtures.py) read by
/// whole runs: every codec variant and element type decodes to h5py's read, on the raw-chunk path
/// (the workers) and on HDF5's hyperslab path (libhdf5 with h5batch's registered codecs), in
/// both modes; and every output codec round trips.
@Suite("Codecs in runs")
struct CodecRunTests {
    static let file = Repo.data + "/codecs.h5"
    static let variants = ["lzf", "lzf_shuffle", "zstd", "zstd_shuffle", "lz4", "lz4_shuffle", "bitshuffle_lz4", "bitshuffle_zstd",
                           "blosc_blosclz_shuffle", "blosc_lz4", "blosc_lz4hc_bitshuffle", "blosc_zlib_shuffle", "blosc_zstd_shuffle"]
    static let types = ["float32", "float16", "float64", "int16", "uint8", "float32be"]

    /// Runs `input` (a dataset of codecs.h5 or `inputFile`) through an identity stage into
    /// `output`; returns the report.
    @discardableResult
    func run(_ dataset: String, inputFile: String = CodecRunTests.file, into output: String, outputSettings: String = "",
             mode: String, batchRows: Int, raw: Bool) throws -> RunReport {
        let yaml = """
        input: { file: \(inputFile), dataset: \(dataset) }
        output: { file: \(output), dataset: /y\(outputSettings) }
        run: { mode: \(mode), batch_rows: \(batchRows) }
        stages: [{ leaky_relu: { negative_slope: 1.0 } }]
        """
        let config = try PipelineFile.parse(yaml, format: .yaml, path: "p.yaml", baseFolder: Repo.data)
        return try PipelineRunner(config: config, options: .init(force: true, rawChunkIO: raw)).run()
    }

    @Test("every element type of a codec variant decodes to h5py's read: raw chunks and hyperslab, both modes",
          arguments: variants)
    func decodesLikeH5py(_ variant: String) throws {
        let folder = TemporaryFolder()
        for type in Self.types {
            let (expected, _) = try readReference(type)
            for raw in [true, false] {
                for mode in ["minibatch", "full"] {
                    let output = folder.file("\(type)-\(raw)-\(mode).h5")
                    let report = try run("/\(variant)/\(type)", into: output, mode: mode, batchRows: 25, raw: raw)
                    #expect(report.inputPath == (raw ? "raw chunks" : "hyperslab"))
                    let (values, shape) = try readDataset(output, "/y")
                    #expect(shape == [60, 7])
                    #expect(values == expected, "\(variant)/\(type) raw \(raw) \(mode)")
                }
            }
        }
    }

    /// h5py's read of the values, stored without filters.
    func readReference(_ name: String) throws -> ([Float], [Int]) { try readDataset(Self.file, "/reference/" + name) }

    @Test("chunks that split rows go to libhdf5, which applies h5batch's registered codecs", arguments: variants)
    func splitChunks(_ variant: String) throws {
        let folder = TemporaryFolder()
        let (expected, _) = try readReference("float32")
        for mode in ["minibatch", "full"] {
            let output = folder.file("\(mode).h5")
            let report = try run("/split/\(variant)", into: output, mode: mode, batchRows: 20, raw: true)
            #expect(report.inputPath == "hyperslab")
            #expect(try readDataset(output, "/y").values == expected, "\(variant) \(mode)")
        }
    }

    @Test("Bitshuffle over several blocks, and LZF chunks stored unfiltered because they did not shrink")
    func blocksAndUnshrunkChunks() throws {
        let folder = TemporaryFolder()
        let unshrunk = try HDF5File.open(Self.file).dataset("/lzf/incompressible")
        var mask: UInt32 = 0
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        mask = try unshrunk.readStoredChunk(at: [0, 0], into: buffer)
        #expect(mask == 1, "the fixture's first chunk is stored without LZF")
        for (dataset, reference, rows) in [("/bitshuffle_lz4/float64_blocks", "float64_blocks", 200), ("/lzf/incompressible", "incompressible", 25)] {
            let (expected, _) = try readReference(reference)
            for raw in [true, false] {
                let output = folder.file("\(reference)-\(raw).h5")
                try run(dataset, into: output, mode: "minibatch", batchRows: rows, raw: raw)
                #expect(try readDataset(output, "/y").values == expected, "\(dataset) raw \(raw)")
            }
        }
    }

    /// Every output codec with the settings users give it, and the filters the file then records.
    static let outputs: [(settings: String, filters: [String])] = [
        ("compression: gzip, level: 2, shuffle: true", ["shuffle", "gzip(2)"]),
        ("compression: lzf", ["lzf"]),
        ("compression: lzf, shuffle: true", ["shuffle", "lzf"]),
        ("compression: zstd, level: 3, shuffle: true", ["shuffle", "zstd(3)"]),
        ("compression: zstd", ["zstd(3)"]),
        ("compression: lz4, shuffle: true", ["shuffle", "lz4"]),
        ("compression: bitshuffle", ["bitshuffle(lz4)"]),
        ("compression: bitshuffle, codec: zstd, level: 4", ["bitshuffle(zstd 4)"]),
        ("compression: blosc", ["blosc(lz4, level 5, no shuffle)"]),
        ("compression: blosc, codec: zstd, level: 7, shuffle: true", ["blosc(zstd, level 7, shuffle)"]),
        ("compression: blosc, codec: blosclz, shuffle: true", ["blosc(blosclz, level 5, shuffle)"]),
        ("compression: blosc, codec: lz4hc", ["blosc(lz4hc, level 5, no shuffle)"]),
        ("compression: blosc, codec: zlib, level: 1", ["blosc(zlib, level 1, no shuffle)"]),
    ]

    @Test("every output codec round trips: written by the workers or by libhdf5, read back by both, in both modes",
          arguments: outputs.indices)
    func outputRoundTrip(_ index: Int) throws {
        let (settings, filters) = Self.outputs[index]
        let folder = TemporaryFolder()
        for type in ["float32", "float16", "float64"] {
            let (expected, _) = try readReference("float32")
            let rounded = type == "float16" ? expected.map { Float(Float16($0)) } : expected
            for raw in [true, false] {
                for mode in ["minibatch", "full"] {
                    let output = folder.file("\(type)-\(raw)-\(mode).h5")
                    let report = try run("/reference/float32", into: output, outputSettings: ", chunk_rows: 20, dtype: \(type), \(settings)",
                                         mode: mode, batchRows: 20, raw: raw)
                    #expect(report.outputPath == (raw ? "raw chunks" : "hyperslab"))
                    let written = try HDF5File.open(output).dataset("/y")
                    #expect(written.filters.map(\.description) == filters, "\(settings)")
                    #expect(written.elementType.description == type)
                    // libhdf5 decodes it (the registered codec) ...
                    #expect(try readDataset(output, "/y").values == rounded, "\(settings) \(type) raw \(raw) \(mode)")
                    // ... and so do the workers, from the chunks as stored.
                    let again = folder.file("again.h5")
                    let back = try run("/y", inputFile: output, into: again, mode: "minibatch", batchRows: 20, raw: true)
                    #expect(back.inputPath == "raw chunks")
                    #expect(try readDataset(again, "/y").values == rounded, "\(settings) \(type) raw \(raw) \(mode), read back")
                }
            }
        }
    }

    @Test("output settings a codec does not take: a usage error naming the field")
    func badOutputSettings() {
        func message(_ output: String) -> String? {
            do {
                _ = try PipelineFile.parse("stages: [relu]\noutput: { \(output) }", format: .yaml, path: "p.yaml", baseFolder: Repo.data)
                return nil
            } catch { return (error as? H5BatchError)?.message }
        }
        #expect(message("compression: zstd, level: 30") == "p.yaml:2: output.level: 30 is out of range (from 1 to 22)")
        #expect(message("compression: lz4, level: 3") == "p.yaml:2: output.level: lz4 has no levels; leave level out")
        #expect(message("compression: blosc, codec: snappy") == "p.yaml:2: output.codec: blosc compresses with lz4, blosclz, lz4hc, zlib, zstd, not snappy")
        #expect(message("compression: bitshuffle, shuffle: true") == "p.yaml:2: output.shuffle: bitshuffle transposes bits itself; leave shuffle out")
        #expect(message("compression: zfp") == "p.yaml:2: output.compression: expected one of none, gzip, lzf, zstd, lz4, bitshuffle, blosc, got 'zfp'")
    }
}
