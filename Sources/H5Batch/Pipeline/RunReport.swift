/// What a run did and where its time went.
public struct RunReport: Codable, Sendable, Equatable {
    /// Seconds spent per phase. Worker phases (`decode`, `encode`, and `compute` in mini-batch
    /// mode) add up across workers; I/O-lane phases (`read`, `write`, `waiting`) and full mode's
    /// `compute` are wall time.
    public struct Phases: Codable, Sendable, Equatable {
        /// Reading stored chunks or hyperslabs (I/O lane).
        public var read = 0.0
        /// Decompressing, unshuffling and converting stored chunks (workers).
        public var decode = 0.0
        /// The stage chain (workers in mini-batch mode, wall time in full mode).
        public var compute = 0.0
        /// Converting, shuffling and compressing output chunks (workers).
        public var encode = 0.0
        /// Writing chunks or hyperslabs (I/O lane).
        public var write = 0.0
        /// The I/O lane idle, waiting for workers to finish a batch.
        public var waiting = 0.0
        /// All phases at 0.
        public init() {}

        /// Adds `other`'s seconds to these, phase by phase.
        mutating func add(_ other: Phases) {
            read += other.read
            decode += other.decode
            compute += other.compute
            encode += other.encode
            write += other.write
            waiting += other.waiting
        }
    }

    /// Rows this run processed (a resumed run's rows after `resumedFromRow`).
    public var rows = 0
    /// The row a resumed run continued from; 0 for a run from the start.
    public var resumedFromRow = 0
    /// True when the run found its output up to date and did nothing (`skipIfFresh`).
    public var upToDate = false
    /// Wall time of the whole run, from opening the input to the output's rename.
    public var seconds = 0.0
    /// Logical input size (rows × features × stored element size).
    public var bytesIn = 0
    /// Logical output size (rows × output width × stored element size).
    public var bytesOut = 0
    /// The process's peak resident memory (`VmHWM`).
    public var peakResidentBytes = 0
    /// The mode the run used.
    public var mode = PipelineConfig.Mode.minibatch
    /// Rows per batch in mini-batch mode (at most the rows); the rows in full mode.
    public var batchRows = 0
    /// Compute workers.
    public var workers = 0
    /// Where the time went.
    public var phases = Phases()
    /// Most threads seen in the process during the run.
    public var peakThreads = 0
    /// `FILE:DATASET` read (or `FILE: N datasets`).
    public var input = ""
    /// `FILE:DATASET` written (or `FILE: N datasets`).
    public var output = ""
    /// How the input was read and the output written: "raw chunks" or "hyperslab".
    public var inputPath = ""
    /// How the output was written: "raw chunks" or "hyperslab".
    public var outputPath = ""
    /// With `--stats`: every stage's statistics, per output dataset.
    public var statistics: [DatasetStatistics]?
    /// Linear-stage floating-point operations of the whole run.
    public var linearFlops = 0
    /// The GEMM library and kernels the linear stages ran on.
    public var gemm = GEMM.kernels
    /// The level of the vector kernels (activations, conversions, shuffle, counting):
    /// `avx512`, `avx2` or `sse2` (`VectorKernels.isa`).
    public var vectorKernels = VectorKernels.isa

    /// An empty report, filled in by the run.
    public init() {}

    /// Rows processed per second of wall time.
    public var rowsPerSecond: Double { seconds > 0 ? Double(rows) / seconds : 0 }
    /// Input megabytes (10⁶ bytes) per second.
    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytesIn) / 1e6 / seconds : 0 }

    /// GFLOP/s of the linear stages over the whole run.
    public var gflops: Double { seconds > 0 ? Double(linearFlops) / 1e9 / seconds : 0 }

    /// Seconds per phase by name, for reports.
    public var phaseSeconds: [String: Double] {
        ["read": phases.read, "decode": phases.decode, "compute": phases.compute, "encode": phases.encode,
         "write": phases.write, "waiting": phases.waiting]
    }

    /// The one-line summary `h5batch run` ends with.
    public var summary: String {
        let rate = formatCount(Int(rowsPerSecond.rounded()))
        return "done: \(formatCount(rows)) rows in \(String(format: "%.2f", seconds)) s, \(rate) rows/s, "
            + "\(String(format: "%.1f", megabytesPerSecond)) MB/s, peak memory \(formatBytes(peakResidentBytes)) "
            + "(\(mode.rawValue), batch \(formatCount(batchRows)) rows, \(workers) worker\(workers == 1 ? "" : "s"), "
            + "\(peakThreads) threads)" + (resumedFromRow > 0 ? ", resumed at row \(formatCount(resumedFromRow))" : "")
    }
}

import Foundation

// MARK: - Filled in by PipelineRunner

extension RunReport {
    /// The report of `plan`'s run, before any row: its mode, batch rows, workers and names.
    init(_ plan: RunPlan, inputFile: String, outputPath: String) {
        self.init()
        let jobs = plan.jobs
        mode = plan.mode
        batchRows = plan.reportedBatchRows
        workers = plan.workers
        input = plan.coversSeveralDatasets ? "\(inputFile): \(jobs.count) datasets" : "\(jobs[0].inputFile):\(jobs[0].input.name)"
        output = plan.coversSeveralDatasets ? "\(outputPath): \(jobs.count) datasets" : "\(outputPath):\(jobs[0].outputDataset)"
        inputPath = Self.distinct(jobs.map(\.reader.pathDescription))
    }

    /// Counts what `dataset` reads, writes and computes; `rowsBefore`: the rows of the datasets
    /// before it.
    mutating func add(_ dataset: DatasetRun, rowsBefore: Int) {
        outputPath = Self.distinct([outputPath, dataset.writer.pathDescription].filter { !$0.isEmpty })
        rows += dataset.rowsWritten
        if dataset.resumeRow > 0 { resumedFromRow = rowsBefore + dataset.resumeRow }
        bytesIn += dataset.bytesIn
        bytesOut += dataset.bytesOut
        linearFlops += dataset.linearFlops
    }

    /// Adds where a dataset's time went.
    mutating func add(_ result: StreamResult) {
        phases.add(result.phases)
        peakThreads = max(peakThreads, result.peakThreads)
    }

    /// The report with the run's wall time since `started` and the peak memory.
    func ended(started: Double) -> RunReport {
        var report = self
        report.seconds = now() - started
        report.peakResidentBytes = SystemInfo.peakResidentBytes
        return report
    }

    /// The distinct values of `values` in their order, joined with ", ".
    private static func distinct(_ values: [String]) -> String {
        var seen = Set<String>()
        return values.flatMap { $0.components(separatedBy: ", ") }.filter { seen.insert($0).inserted }.joined(separator: ", ")
    }
}
