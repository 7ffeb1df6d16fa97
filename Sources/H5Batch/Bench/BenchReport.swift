import Foundation

/// The results of `h5batch bench`: one pipeline measured over modes, batch sizes and worker
/// counts, each combination run `repeat` times in a fresh child process.
public struct BenchReport: Codable, Sendable, Equatable {
    /// The machine the figures were measured on.
    public struct Machine: Codable, Sendable, Equatable {
        public var cpu: String
        public var cores: Int
        public var memoryBytes: Int
        public var os: String
        public init(cpu: String, cores: Int, memoryBytes: Int, os: String) {
            self.cpu = cpu
            self.cores = cores
            self.memoryBytes = memoryBytes
            self.os = os
        }
    }

    /// One child-process run.
    public struct Run: Codable, Sendable, Equatable {
        /// "minibatch" or "full".
        public var mode: String
        /// Rows per batch (for full mode: the dataset's rows).
        public var batchRows: Int
        public var workers: Int
        /// 1-based repetition number.
        public var repetition: Int
        public var seconds: Double
        public var rows: Int
        public var rowsPerSecond: Double
        /// Input megabytes (10⁶ bytes, logical uncompressed size) per second.
        public var megabytesPerSecond: Double
        /// Linear-stage GFLOP/s (0 when the pipeline has no linear stage).
        public var gflops: Double
        public var peakResidentBytes: Int
        /// Most threads seen in the child process during the run.
        public var peakThreads: Int
        /// Seconds per phase: keys among "read", "decode", "compute", "encode", "write", "waiting".
        public var phases: [String: Double]
        /// Which I/O path each side took, e.g. "raw chunks" or "hyperslab".
        public var inputPath: String
        public var outputPath: String

        public init(mode: String, batchRows: Int, workers: Int, repetition: Int, seconds: Double, rows: Int,
                    rowsPerSecond: Double, megabytesPerSecond: Double, gflops: Double, peakResidentBytes: Int,
                    peakThreads: Int, phases: [String: Double], inputPath: String, outputPath: String) {
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
        public var mode: String
        public var batchRows: Int
        public var workers: Int
        public var repetitions: Int
        public var medianSeconds: Double
        public var minSeconds: Double
        public var maxSeconds: Double
        public var rowsPerSecond: Double
        public var megabytesPerSecond: Double
        public var gflops: Double
        /// The largest peak RSS among the repetitions.
        public var peakResidentBytes: Int
        public var peakThreads: Int
        /// Median seconds per phase.
        public var phases: [String: Double]
        public var inputPath: String
        public var outputPath: String

        public init(mode: String, batchRows: Int, workers: Int, repetitions: Int, medianSeconds: Double,
                    minSeconds: Double, maxSeconds: Double, rowsPerSecond: Double, megabytesPerSecond: Double,
                    gflops: Double, peakResidentBytes: Int, peakThreads: Int, phases: [String: Double],
                    inputPath: String, outputPath: String) {
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

    public var h5batchVersion: String
    /// ISO 8601 time the bench started.
    public var created: String
    /// The pipeline file as given on the command line.
    public var pipeline: String
    /// "FILE:DATASET" of the input.
    public var input: String
    public var rows: Int
    public var inputShape: [Int]
    /// Logical input bytes (rows × features × stored element size).
    public var inputBytes: Int
    /// Linear-stage FLOPs per row.
    public var linearFlopsPerRow: Int
    /// The stage chain, e.g. "linear(256 → 1024) → relu → linear(1024 → 256)".
    public var stages: String
    public var machine: Machine
    public var runs: [Run]
    public var summaries: [Summary]

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
