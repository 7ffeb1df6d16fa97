import ArgumentParser
import H5Batch
import Foundation

extension H5BatchCommand {
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a dataset of standard-normal values, streamed (files larger than memory are fine)."
        )

        @Argument(help: "HDF5 file to create.")
        var file: String

        @Option(help: "Dataset path inside the file.")
        var dataset: String

        @Option(help: ArgumentHelp("Shape, dimensions separated by x: rows x features, or more dimensions.", valueName: "1000000x256"))
        var shape: String

        @Option(help: "Stored type: float16, float32, float64, int8…int64, uint8…uint64 (integers hold the normals rounded toward zero).")
        var dtype: String = "float32"

        @Option(help: "Rows per chunk (default: about 1 MiB per chunk).")
        var chunkRows: Int?

        @Option(help: ArgumentHelp("Compression: gzip, lzf, zstd, lz4, bitshuffle or blosc, with :LEVEL where the codec has levels (gzip:6, zstd:5, blosc:9).",
                                   valueName: "codec[:level]"))
        var compression: String?

        @Flag(help: "Shuffle bytes first (groups bytes by significance, so the codec compresses floats better; Blosc's own shuffle with blosc).")
        var shuffle = false

        @Option(help: "Random seed.")
        var seed: UInt64 = 0

        @Flag(help: "Replace the file if it exists.")
        var force = false

        func parsedShape() throws -> [Int] {
            let parts = shape.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            let dims = parts.map { Int($0.replacingOccurrences(of: "_", with: "")) }
            guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? -1) >= 0 }), (dims.last! ?? 0) > 0 else {
                throw ValidationError("--shape must look like 1000000x256 (non-negative sizes, a positive last one)")
            }
            return dims.map { $0! }
        }

        func parsedCompression() throws -> ChunkCompression {
            guard let compression else { return ChunkCompression(nil, shuffle: shuffle) }
            switch ChunkCompression.parse(compression, shuffle: shuffle) {
            case .success(let parsed): return parsed
            case .failure(let error): throw ValidationError(error.message)
            }
        }

        func validate() throws {
            _ = try parsedShape()
            _ = try parsedCompression()
            if StorageType(rawValue: dtype) == nil {
                throw ValidationError("--dtype must be one of \(StorageType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let chunkRows, chunkRows < 1 { throw ValidationError("--chunk-rows must be at least 1") }
        }

        func run() throws {
            var options = SyntheticData.Options(shape: try parsedShape())
            options.dtype = StorageType(rawValue: dtype)!
            options.chunkRows = chunkRows
            options.compression = try parsedCompression()
            options.seed = seed
            options.force = force
            let start = Date()
            let rows = try SyntheticData.generate(path: file, dataset: dataset, options: options)
            let seconds = Date().timeIntervalSince(start)
            print("wrote \(file):\(dataset) shape \(options.shape.map(String.init).joined(separator: "x")) \(options.dtype.rawValue), \(rows) rows in \(String(format: "%.2f", seconds)) s")
        }
    }
}
