import Foundation
import Testing
@testable import H5Batch

/// `ShardMerge` over shard outputs made in-process (`PipelineRunner` with `run.shard`): the
/// plan orders and checks them, the merged dataset equals a single run's output, and shards
/// that do not make up one run are refused before anything is written.
@Suite("ShardMerge: planning and writing merges of shards made in-process")
struct ShardMergeTests {
    /// An input of 600 rows (chunks of 100), a pipeline over it in batches of 100, the outputs
    /// of 3 shards of it and of a single run.
    final class Fixture {
        let folder = TemporaryFolder()
        let input: String
        let single: String
        let count = 3
        /// The outputs' `output.compression` (and shuffle).
        let compression: PipelineConfig.Compression

        init(compression: PipelineConfig.Compression = .none) throws {
            self.compression = compression
            input = folder.file("in.h5")
            single = folder.file("single.h5")
            var options = SyntheticData.Options(shape: [600, 8])
            options.chunkRows = 100
            options.seed = 12
            try SyntheticData.generate(path: input, dataset: "/x", options: options)
            for index in 0..<count {
                _ = try PipelineRunner(config: config(shard: try Shard(index: index, count: count))).run()
            }
            _ = try PipelineRunner(config: config(shard: nil)).run()
        }

        func shard(_ index: Int) -> String { folder.file("out-shard-\(index)-of-\(count).h5") }

        func config(shard: Shard?) -> PipelineConfig {
            var config = PipelineConfig(input: .init(file: input, dataset: "/x"), output: .init(dataset: "/y"),
                                        stages: [.leakyReLU(negativeSlope: 0.1), .elu(alpha: 0.5)])
            // The CLI names a shard's output after it; the library writes where it is told.
            config.output.file = shard.map { self.shard($0.index) } ?? single
            config.run.batchRows = 100
            config.run.workers = 2
            config.run.shard = shard
            config.output.compression = compression
            config.output.shuffle = compression != .none && compression != .bitshuffle
            return config
        }
    }

    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    @Test("shards given in any order are planned in row order, and merged into a virtual dataset equal to a single run's output")
    func virtualMerge() throws {
        let fixture = try Fixture()
        let merge = try ShardMerge.plan([2, 0, 1].map { (file: fixture.shard($0), dataset: String?("/y")) })
        #expect(merge.sources.map(\.file) == (0..<3).map(fixture.shard))
        #expect(merge.sources.map(\.firstIndex) == [0, 200, 400])
        #expect(merge.sources.map(\.shape) == [[200, 8], [200, 8], [200, 8]])
        #expect(merge.sources.map { $0.placement?.range } == [0..<200, 200..<400, 400..<600])
        #expect(merge.shape == [600, 8])
        #expect(merge.dtype == "float32")

        let merged = fixture.folder.file("merged.h5")
        let outcome = try merge.write(to: merged, dataset: "/y", copy: false, force: false)
        #expect(outcome == ShardMerge.Outcome(path: merged, dataset: "/y", shape: [600, 8], bytesCopied: 0, seconds: outcome.seconds))
        let expected = try readDataset(fixture.single, "/y"), actual = try readDataset(merged, "/y")
        #expect(actual.shape == expected.shape)
        #expect(Self.bits(actual.values) == Self.bits(expected.values))

        let file = try HDF5File.open(merged), singleFile = try HDF5File.open(fixture.single)
        let dataset = try file.dataset("/y"), singleDataset = try singleFile.dataset("/y")
        #expect(dataset.layout == .virtual)
        #expect(try dataset.virtualSources().map(\.file) == (0..<3).map { "out-shard-\($0)-of-3.h5" })
        // The merge's provenance is the single run's: the shards' input digests add up.
        for attribute in ["h5batch_source_fingerprint", "h5batch_config", "h5batch_source", "h5batch_weights_fingerprint"] {
            let value = try dataset.stringAttribute(attribute)
            #expect(value != nil, "\(attribute)")
            #expect(value == (try singleDataset.stringAttribute(attribute)), "\(attribute)")
        }
    }

    @Test("a merge with copy writes the rows into a regular dataset equal to a single run's output")
    func copyMerge() throws {
        let fixture = try Fixture()
        let merge = try ShardMerge.plan((0..<3).map { (file: fixture.shard($0), dataset: String?.none) })
        let merged = fixture.folder.file("copy.h5")
        let outcome = try merge.write(to: merged, dataset: "/z", copy: true, force: false)
        #expect(outcome.bytesCopied == 600 * 8 * 4)
        #expect(outcome.shape == [600, 8])
        let file = try HDF5File.open(merged)
        let dataset = try file.dataset("/z")
        #expect(dataset.layout != .virtual)
        #expect(Self.bits(try dataset.readAll()) == Self.bits(try readDataset(fixture.single, "/y").values))
    }

    @Test("a merge with copy of compressed shards keeps their codec (libhdf5 applies h5batch's registered one) and their rows",
          arguments: [PipelineConfig.Compression.lzf, .zstd, .lz4, .bitshuffle, .blosc])
    func copyMergeCompressed(_ compression: PipelineConfig.Compression) throws {
        let fixture = try Fixture(compression: compression)
        let merge = try ShardMerge.plan((0..<3).map { (file: fixture.shard($0), dataset: String?.none) })
        let merged = fixture.folder.file("copy.h5")
        _ = try merge.write(to: merged, dataset: "/z", copy: true, force: false)
        let dataset = try HDF5File.open(merged).dataset("/z")
        let single = try HDF5File.open(fixture.single).dataset("/y")
        #expect(dataset.filters.map(\.id) == single.filters.map(\.id) && dataset.filters.last?.id == Codecs.codec(named: compression.rawValue)?.filterID)
        #expect(Self.bits(try dataset.readAll()) == Self.bits(try single.readAll()))
    }

    @Test("a merge is not written over an existing file unless forced")
    func existingOutput() throws {
        let fixture = try Fixture()
        let merge = try ShardMerge.plan((0..<3).map { (file: fixture.shard($0), dataset: String?("/y")) })
        let merged = fixture.folder.file("merged.h5")
        try Data("not HDF5".utf8).write(to: URL(fileURLWithPath: merged))
        do {
            _ = try merge.write(to: merged, dataset: "/y", copy: false, force: false)
            Issue.record("written over an existing file")
        } catch let error as H5BatchError {
            #expect(error.kind == .cannotCreate)
        }
        #expect(try String(contentsOfFile: merged, encoding: .utf8) == "not HDF5")
        _ = try merge.write(to: merged, dataset: "/y", copy: false, force: true)
        #expect(Self.bits(try readDataset(merged, "/y").values) == Self.bits(try readDataset(fixture.single, "/y").values))
    }

    /// The error planning a merge of `sources` throws (nil when it throws none).
    static func refusal(_ sources: [String]) -> H5BatchError? {
        do {
            _ = try ShardMerge.plan(sources.map { (file: $0, dataset: String?("/y")) })
            return nil
        } catch let error as H5BatchError {
            return error
        } catch {
            return H5BatchError(.io, "not an H5BatchError: \(error)")
        }
    }

    @Test("a missing shard is refused as a usage error naming it")
    func missingShard() throws {
        let fixture = try Fixture()
        let error = Self.refusal([fixture.shard(0), fixture.shard(2)])
        #expect(error?.kind == .usage)
        #expect(error?.message.contains("1 of the run's 3 shards are missing (shard 1)") == true, "\(String(describing: error))")
    }

    @Test("the same shard file named twice is refused as a usage error")
    func sameFileTwice() throws {
        let fixture = try Fixture()
        let error = Self.refusal([fixture.shard(0), fixture.shard(1), fixture.shard(2), fixture.shard(1)])
        #expect(error?.kind == .usage)
        #expect(error?.message == "merge: \(fixture.shard(1)):/y is named twice")
    }

    @Test("a shard given twice through two files (a copy) is refused as a usage error")
    func shardTwiceInTwoFiles() throws {
        let fixture = try Fixture()
        let copy = fixture.folder.file("copy-of-shard-1.h5")
        try FileManager.default.copyItem(atPath: fixture.shard(1), toPath: copy)
        let error = Self.refusal([fixture.shard(0), fixture.shard(1), copy, fixture.shard(2)])
        #expect(error?.kind == .usage)
        #expect(error?.message == "merge: shard 1 of 3 is given twice: \(fixture.shard(1)) and \(copy)")
    }

    @Test("a shard file that does not exist is refused as not found, naming it")
    func absentFile() throws {
        let fixture = try Fixture()
        let error = Self.refusal([fixture.shard(0), fixture.folder.file("nothing.h5"), fixture.shard(2)])
        #expect(error?.kind == .notFound)
        #expect(error?.message.contains("nothing.h5") == true, "\(String(describing: error))")
    }
}
