import Foundation
import Testing
@testable import H5Batch

/// Compressed inputs gone wrong, through the binary (issue 15): a damaged chunk of every codec
/// is exit 65 naming its rows, on the workers' path and libhdf5's, leaving nothing behind; a
/// filter h5batch cannot decode (ZFP) is exit 69 for run and check; with no plugin anywhere,
/// libhdf5 still applies h5batch's codecs.
extension BadDataTests {
    static let codecs = Repo.data + "/codecs.h5"  // scripts/make_codec_fixtures.py
    /// Each codec variant of the fixture, and what its damaged stream is called.
    static let codecVariants: [(variant: String, stream: String)] = [
        ("lzf", "lzf"), ("lzf_shuffle", "lzf"), ("zstd", "zstd"), ("zstd_shuffle", "zstd"), ("lz4", "lz4"), ("lz4_shuffle", "lz4"),
        ("bitshuffle_lz4", "bitshuffle"), ("bitshuffle_zstd", "bitshuffle"), ("blosc_blosclz_shuffle", "blosc"), ("blosc_lz4", "blosc"),
        ("blosc_lz4hc_bitshuffle", "blosc"), ("blosc_zlib_shuffle", "blosc"), ("blosc_zstd_shuffle", "blosc"),
    ]

    /// Overwrites the stored chunk at `origin` of `dataset` in `path` with 0xFF bytes.
    func overwriteChunk(_ path: String, _ dataset: String, _ origin: [Int]) throws {
        let chunk = try chunkLocation(path, dataset, origin)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(chunk.address))
        handle.write(Data(repeating: 0xFF, count: chunk.size))
    }

    @Test("a damaged chunk of every codec: exit 65 naming its rows, both modes, both read paths, nothing left behind")
    func damagedCodecChunks() throws {
        let work = Workspace()
        let input = work.file("codecs.h5")
        try FileManager.default.copyItem(atPath: Self.codecs, toPath: input)
        for (variant, _) in Self.codecVariants {
            try overwriteChunk(input, "/\(variant)/float32", [25, 0])
            // (Chunks a codec did not shrink are stored as they are, where damage cannot show:
            // the ones chosen here are all compressed.)
            try overwriteChunk(input, "/split/\(variant)", [50, 0])
        }
        for (variant, stream) in Self.codecVariants {
            for mode in ["minibatch", "full"] {
                try expectFailure(work, input: input, dataset: "/\(variant)/float32", run: "{ mode: \(mode), batch_rows: 25 }",
                                  message: "the stored chunk holding rows 25..<50 of /\(variant)/float32 in \(input) is corrupt: "
                                      + "its \(stream) stream does not decode to 700 bytes")
                try expectFailure(work, input: input, dataset: "/split/\(variant)", run: "{ mode: \(mode), batch_rows: 25 }",
                                  message: "cannot read the stored chunk holding rows 50..<60, columns 0..<4 of /split/\(variant) in \(input): "
                                      + "it is corrupt (its \(stream) stream does not decode to 400 bytes)")
            }
        }
    }

    @Test("after a damaged zstd chunk, the repaired input runs to the end with --resume, as after gzip")
    func resumeAfterDamagedCodecChunk() throws {
        let work = Workspace()
        let input = work.file("in.h5")
        try generate([input, "--dataset", "x", "--shape", "1000x32", "--chunk-rows", "100", "--compression", "zstd:3", "--shuffle"])
        let pristine = try Data(contentsOf: URL(fileURLWithPath: input))
        try overwriteChunk(input, "x", [700, 0])
        let yaml = pipeline(work, input: input, dataset: "/x", run: "{ batch_rows: 100, workers: 1 }")
        try expectFailure(work, input: input, dataset: "/x", run: "{ batch_rows: 100, workers: 1 }",
                          message: "the stored chunk holding rows 700..<800 of /x in \(input) is corrupt: its zstd stream does not decode to 12800 bytes")
        try pristine.write(to: URL(fileURLWithPath: input))
        let resumed = try runBinary(["run", yaml, "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let (values, _) = try readDataset(work.output, "/x")
        let (source, _) = try readDataset(input, "/x")
        #expect(values == source.map { max($0, 0) })
    }

    @Test("ZFP, which h5batch cannot decode: run (both modes) and check exit 69 naming it and the codecs h5batch reads; inspect marks it")
    func undecodableFilter() throws {
        let inspect = try expectUnavailableFilter(Workspace(), input: Self.codecs, dataset: "/zfp/float32",
                                                  filter: "H5Z-ZFP-1.1.1 (ZFP-1.0.1) (32013)")
        for (codec, name) in [("zstd_shuffle/float32", "shuffle, zstd(5)"), ("lz4/float32", "lz4"), ("lzf/float32", "lzf"),
                              ("bitshuffle_zstd/float32", "bitshuffle(zstd 3)"), ("blosc_zstd_shuffle/float32", "blosc(zstd, level 3, shuffle)")] {
            #expect(inspect.split(separator: "\n").contains { $0.contains("/\(codec) ") && $0.hasSuffix(name) }, "\(codec): \(inspect)")
        }
    }

    @Test("with no plugin on HDF5_PLUGIN_PATH, libhdf5 reads and writes every codec through h5batch's registered filters")
    func noPluginsInstalled() throws {
        let work = Workspace()
        let empty = work.file("plugins")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let (expected, _) = try readDataset(Self.codecs, "/reference/float32")
        for (variant, _) in Self.codecVariants {
            let codec = variant.split(separator: "_")[0]
            // Chunks that split rows: libhdf5 decodes the input; 7-row chunks for the output,
            // batches of 10 rows: libhdf5 encodes it.
            work.folder.write("p.yaml", """
            input: { file: \(Self.codecs), dataset: /split/\(variant) }
            output: { file: \(work.output), dataset: /y, chunk_rows: 7, compression: \(codec) }
            run: { batch_rows: 10 }
            stages: [{ leaky_relu: { negative_slope: 1.0 } }]
            """)
            let result = try runBinary(["run", work.file("p.yaml"), "--force"], environment: ["HDF5_PLUGIN_PATH": empty])
            #expect(result.status == 0, "\(variant): \(result.stderr)")
            let check = try runBinary(["check", work.file("p.yaml"), "--force"], environment: ["HDF5_PLUGIN_PATH": empty])
            #expect(check.stdout.contains("read path: hyperslab") && check.stdout.contains("write path: hyperslab"), "\(check.stdout)")
            #expect(try readDataset(work.output, "/y").values == expected, "\(variant)")
        }
    }

    @Test("generate --compression takes every codec, with a level where it has one")
    func generateCodecs() throws {
        let work = Workspace()
        for (argument, filters) in [("lzf", "lzf"), ("zstd:5", "shuffle, zstd(5)"), ("lz4", "shuffle, lz4"), ("bitshuffle", "bitshuffle(lz4)"),
                                    ("blosc:9", "blosc(lz4, level 9, shuffle)"), ("gzip:2", "shuffle, gzip(2)")] {
            let file = work.file("g.h5")
            let shuffle = argument == "bitshuffle" || argument == "lzf" ? [] : ["--shuffle"]
            try generate([file, "--dataset", "x", "--shape", "300x16", "--chunk-rows", "64", "--compression", argument, "--force"] + shuffle)
            let dataset = try HDF5File.open(file).dataset("/x")
            #expect(dataset.filters.map(\.description).joined(separator: ", ") == filters)
            let plain = work.file("plain.h5")
            try generate([plain, "--dataset", "x", "--shape", "300x16", "--chunk-rows", "64", "--force"])
            #expect(try readDataset(file, "/x").values == readDataset(plain, "/x").values, "\(argument)")
        }
        let bad = try runBinary(["generate", work.file("b.h5"), "--dataset", "x", "--shape", "10x4", "--compression", "lz4:3"])
        #expect(bad.status == 64 && bad.stderr.contains("--compression lz4:3: lz4 has no levels; leave level out"), "\(bad.stderr)")
    }
}
