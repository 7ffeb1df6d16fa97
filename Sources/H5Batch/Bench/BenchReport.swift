import Foundation

/// The results of `h5batch bench`: one pipeline measured over modes, batch sizes and worker
/// counts, each combination run `repeat` times in a fresh child process.
public struct BenchReport: Codable, Sendable, Equatable {
    /// The machine the figures were measured on.
    public struct Machine: Codable, Sendable, Equatable {
        /// The CPU model (`model name` in `/proc/cpuinfo`), or `unknown CPU`.
        public var cpu: String
        /// Active cores (`SystemInfo.activeCores`).
        public var cores: Int
        /// Memory available: physical memory, or the cgroup v2 limit when that is lower.
        public var memoryBytes: Int
        /// The OS name (`PRETTY_NAME` in `/etc/os-release`) and the kernel release.
        public var os: String
        /// The GEMM library and kernels the runs used (nil in reports from before it was kept).
        public var gemm: GEMMKernels?
        /// Creates a description from its fields; `gemm` defaults to this process's.
        public init(cpu: String, cores: Int, memoryBytes: Int, os: String, gemm: GEMMKernels? = GEMM.kernels) {
            self.cpu = cpu
            self.cores = cores
            self.memoryBytes = memoryBytes
            self.os = os
            self.gemm = gemm
        }
    }

    /// One child-process run.
    public struct Run: Codable, Sendable, Equatable {
        /// "minibatch" or "full".
        public var mode: String
        /// Rows per batch (for full mode: the dataset's rows).
        public var batchRows: Int
        /// Compute workers.
        public var workers: Int
        /// 1-based repetition number.
        public var repetition: Int
        /// Wall time of the child's run, in seconds.
        public var seconds: Double
        /// Rows the run produced.
        public var rows: Int
        /// `rows / seconds` (0 when `seconds` is 0).
        public var rowsPerSecond: Double
        /// Input megabytes (10⁶ bytes, logical uncompressed size) per second.
        public var megabytesPerSecond: Double
        /// Linear-stage GFLOP/s (0 when the pipeline has no linear stage).
        public var gflops: Double
        /// The child's peak resident set size (`VmHWM`), in bytes.
        public var peakResidentBytes: Int
        /// Most threads seen in the child process during the run.
        public var peakThreads: Int
        /// Seconds per phase: keys among "read", "decode", "compute", "encode", "write", "waiting".
        public var phases: [String: Double]
        /// Which I/O path each side took, e.g. "raw chunks" or "hyperslab".
        public var inputPath: String
        /// The output side's path: "raw chunks" or "hyperslab".
        public var outputPath: String
        /// True for a run with `--stats` (nil in reports written before bench measured it).
        public var stats: Bool?

        /// Creates a run from its fields (`BenchSweep.run(_:repetition:)` fills them from a `RunReport`).
        public init(mode: String, batchRows: Int, workers: Int, repetition: Int, seconds: Double, rows: Int,
                    rowsPerSecond: Double, megabytesPerSecond: Double, gflops: Double, peakResidentBytes: Int,
                    peakThreads: Int, phases: [String: Double], inputPath: String, outputPath: String, stats: Bool? = nil) {
            self.stats = stats
            self.mode = mode
            self.batchRows = batchRows
            self.workers = workers
            self.repetition = repetition
            self.seconds = seconds
            self.rows = rows
            self.rowsPerSecond = rowsPerSecond
            self.megabytesPerSecond = megabytesPerSecond
            self.gflops = gflops
            self.peakResidentBytes = peakResidentBytes
            self.peakThreads = peakThreads
            self.phases = phases
            self.inputPath = inputPath
            self.outputPath = outputPath
        }
    }

    /// The median over repetitions of one (mode, batchRows, workers) combination.
    public struct Summary: Codable, Sendable, Equatable {
        /// "minibatch" or "full".
        public var mode: String
        /// Rows per batch as the runs reported them (for full mode: the dataset's rows).
        public var batchRows: Int
        /// Compute workers.
        public var workers: Int
        /// How many runs the summary combines.
        public var repetitions: Int
        /// The median wall time, in seconds; the rates below are computed from it.
        public var medianSeconds: Double
        /// The fastest repetition's wall time, in seconds.
        public var minSeconds: Double
        /// The slowest repetition's wall time, in seconds.
        public var maxSeconds: Double
        /// Rows per second at the median time.
        public var rowsPerSecond: Double
        /// Input megabytes (10⁶ bytes, logical uncompressed size) per second at the median time.
        public var megabytesPerSecond: Double
        /// Linear-stage GFLOP/s at the median time (0 when the pipeline has no linear stage).
        public var gflops: Double
        /// The largest peak RSS among the repetitions.
        public var peakResidentBytes: Int
        /// The most threads any repetition's process had.
        public var peakThreads: Int
        /// Median seconds per phase.
        public var phases: [String: Double]
        /// The input side's I/O path (of the first run), e.g. "raw chunks" or "hyperslab".
        public var inputPath: String
        /// The output side's I/O path (of the first run).
        public var outputPath: String
        /// True for the runs with `--stats`.
        public var stats: Bool?

        /// Creates a summary from its fields (`BenchSweep.summarize` computes them).
        public init(mode: String, batchRows: Int, workers: Int, repetitions: Int, medianSeconds: Double,
                    minSeconds: Double, maxSeconds: Double, rowsPerSecond: Double, megabytesPerSecond: Double,
                    gflops: Double, peakResidentBytes: Int, peakThreads: Int, phases: [String: Double],
                    inputPath: String, outputPath: String, stats: Bool? = nil) {
            self.stats = stats
            self.mode = mode
            self.batchRows = batchRows
            self.workers = workers
            self.repetitions = repetitions
            self.medianSeconds = medianSeconds
            self.minSeconds = minSeconds
            self.maxSeconds = maxSeconds
            self.rowsPerSecond = rowsPerSecond
            self.megabytesPerSecond = megabytesPerSecond
            self.gflops = gflops
            self.peakResidentBytes = peakResidentBytes
            self.peakThreads = peakThreads
            self.phases = phases
            self.inputPath = inputPath
            self.outputPath = outputPath
        }
    }

    /// The h5batch version that ran the bench.
    public var h5batchVersion: String
    /// ISO 8601 time the bench started.
    public var created: String
    /// The pipeline file as given on the command line.
    public var pipeline: String
    /// "FILE:DATASET" of the input.
    public var input: String
    /// Rows of the input.
    public var rows: Int
    /// The input dataset's shape.
    public var inputShape: [Int]
    /// Logical input bytes (rows × features × stored element size).
    public var inputBytes: Int
    /// Linear-stage FLOPs per row.
    public var linearFlopsPerRow: Int
    /// The stage chain, e.g. "linear(256 → 1024) → relu → linear(1024 → 256)".
    public var stages: String
    /// Where the figures were measured.
    public var machine: Machine
    /// Every child-process run.
    public var runs: [Run]
    /// One per (mode, batch rows, workers) combination (`BenchSweep.summarize`).
    public var summaries: [Summary]
    /// With `bench --stats`: each stage's sparsity and dead units, from the first counted run.
    public var stageSparsity: [StageSparsity]?

    /// One stage's share of zeros and its dead units (`--stats`).
    public struct StageSparsity: Codable, Sendable, Equatable {
        /// The stage, e.g. `relu`.
        public var stage: String
        /// Zeros among all its output values, 0…1.
        public var sparsity: Double
        /// Features zero in every row.
        public var deadUnits: Int
        /// Its output's features.
        public var width: Int
        /// A stage's figures.
        public init(stage: String, sparsity: Double, deadUnits: Int, width: Int) {
            self.stage = stage
            self.sparsity = sparsity
            self.deadUnits = deadUnits
            self.width = width
        }
    }

    /// Creates a report from its fields.
    public init(h5batchVersion: String, created: String, pipeline: String, input: String, rows: Int,
                inputShape: [Int], inputBytes: Int, linearFlopsPerRow: Int, stages: String, machine: Machine,
                runs: [Run], summaries: [Summary]) {
        self.h5batchVersion = h5batchVersion
        self.created = created
        self.pipeline = pipeline
        self.input = input
        self.rows = rows
        self.inputShape = inputShape
        self.inputBytes = inputBytes
        self.linearFlopsPerRow = linearFlopsPerRow
        self.stages = stages
        self.machine = machine
        self.runs = runs
        self.summaries = summaries
    }
}
