import Foundation

/// A pipeline as written in a pipeline file (YAML or JSON), validated but not yet opened.
///
/// Relative paths inside a pipeline file are resolved against that file's folder when it is
/// loaded, so every path here is usable from the working directory.
public struct PipelineConfig: Sendable, Equatable {
    /// `input`: where the rows come from.
    public struct Input: Sendable, Equatable {
        /// The HDF5 file to read (absolute, or relative to the working directory).
        public var file: String
        /// nil: the input file's only dataset (or `datasets`).
        public var dataset: String?
        /// Several datasets, each run through the pipeline into the same output file under its
        /// own path: dataset paths, or glob patterns over them (`*`, `?` and `[…]`, which do not
        /// cross a `/`). nil: one dataset (`dataset`). Never set together with `dataset`.
        public var datasets: [String]?
        /// One dataset (`dataset`, or the file's only one) or several (`datasets`).
        public init(file: String, dataset: String? = nil, datasets: [String]? = nil) {
            self.file = file
            self.dataset = dataset
            self.datasets = datasets
        }
    }

    /// `output.compression`.
    public enum Compression: String, Sendable, Equatable, CaseIterable {
        /// No filter, or deflate at `level` (with `shuffle` before it when set).
        case none, gzip
    }

    /// `output`: where and how the result is stored.
    public struct Output: Sendable, Equatable {
        /// The HDF5 file to create; nil until the pipeline file or `--output` names it.
        public var file: String?
        /// nil: the input dataset's path. With `input.datasets`, a group under which each input
        /// dataset's path is repeated (nil: the same paths as in the input).
        public var dataset: String?
        /// `output.dtype`: the stored type, float16, float32 (default) or float64.
        public var dtype: StorageType = .float32
        /// nil: the batch rows.
        public var chunkRows: Int?
        /// `output.compression`: `none` (default) or `gzip`.
        public var compression: Compression = .none
        /// `output.level`: the gzip level, 1–9 (default 4).
        public var level: Int = 4
        /// `output.shuffle`: the byte-shuffle filter before gzip.
        public var shuffle: Bool = false
        /// An output with the defaults above.
        public init(file: String? = nil, dataset: String? = nil) {
            self.file = file
            self.dataset = dataset
        }
    }

    /// `run.mode`: mini-batch (streaming, bounded memory) or full-dataset (everything in memory).
    public enum Mode: String, Codable, Sendable, Equatable, CaseIterable {
        /// `minibatch` streams batches in bounded memory; `full` holds the whole tensor.
        case minibatch, full
    }

    /// `run`: how the rows are processed.
    public struct Run: Sendable, Equatable {
        /// `run.mode` (default `minibatch`).
        public var mode: Mode = .minibatch
        /// `run.batch_rows`: rows per batch (default 8192; rounded to whole input chunks on the raw path).
        public var batchRows: Int = 8192
        /// nil: one worker per active core.
        public var workers: Int?
        /// `run.memory_limit`: full mode refuses to start when its estimate is above it (default 80%).
        public var memoryLimit: MemoryLimit = .fractionOfPhysical(0.8)
        /// nil: the whole input. Set: only this shard's rows (`--shard`; the CLI also names the
        /// output after the shard, `Shard.outputPath(for:)`).
        public var shard: Shard?
        /// `run.stats` (or `--stats`): count every stage's output per feature (default false).
        public var stats = false
        /// The defaults above.
        public init() {}
    }

    /// The most `run.batch_rows` and `output.chunk_rows` may be: 2³⁰ rows, already 4 GiB of
    /// float32 per batch buffer at one value a row. Beyond it, sizes computed from them could
    /// overflow.
    public static let maximumRows = 1 << 30

    /// What logs and metrics call the pipeline; nil: the pipeline file's name without its
    /// extension (see `PipelineFile.load`).
    public var name: String?
    /// nil until the pipeline file or `--input` names one.
    public var input: Input?
    /// The output; its `file` may still be nil.
    public var output: Output
    /// How the rows are processed.
    public var run: Run
    /// The stages, in order (may be empty: the data are copied, converted to `output.dtype`).
    public var stages: [StageConfig]

    /// A pipeline with these parts; the same as a pipeline file with them.
    public init(input: Input? = nil, output: Output = Output(), run: Run = Run(), stages: [StageConfig]) {
        self.input = input
        self.output = output
        self.run = run
        self.stages = stages
    }
}

/// A memory budget: absolute bytes, or a share of the machine's memory.
public enum MemoryLimit: Sendable, Equatable, CustomStringConvertible {
    /// A number of bytes (`4GiB`).
    case bytes(Int)
    /// A share of the machine's available memory, 0…1 (`80%`).
    case fractionOfPhysical(Double)

    /// Parses `4GiB`, `512MB`, `1073741824`, `60%`.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("%") {
            guard let percent = Double(trimmed.dropLast().trimmingCharacters(in: .whitespaces)),
                  percent > 0, percent <= 100 else { return nil }
            self = .fractionOfPhysical(percent / 100)
            return
        }
        let kibi = 1024.0
        let units: [(String, Double)] = [("KiB", kibi), ("MiB", kibi * kibi), ("GiB", kibi * kibi * kibi),
                                         ("TiB", kibi * kibi * kibi * kibi), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9),
                                         ("TB", 1e12), ("K", kibi), ("M", kibi * kibi), ("G", kibi * kibi * kibi),
                                         ("B", 1)]
        var number = trimmed
        var scale = 1.0
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            number = String(trimmed.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            scale = factor
            break
        }
        guard let value = Double(number), value * scale >= 1, value * scale < 9e18 else { return nil }
        self = .bytes(Int(value * scale))
    }

    /// The limit in bytes on a machine with `physicalMemory` bytes.
    public func bytes(physicalMemory: Int) -> Int {
        switch self {
        case .bytes(let bytes): return bytes
        case .fractionOfPhysical(let fraction): return Int(Double(physicalMemory) * fraction)
        }
    }

    /// `4.0 GiB` or `80%`, as a pipeline file would say it.
    public var description: String {
        switch self {
        case .bytes(let bytes): return formatBytes(bytes)
        case .fractionOfPhysical(let fraction): return "\(Int((fraction * 100).rounded()))%"
        }
    }
}
