/// What a run did and where its time went.
public struct RunReport: Codable, Sendable, Equatable {
    /// Seconds spent per phase. Worker phases (`decode`, `encode`, and `compute` in mini-batch
    /// mode) add up across workers; I/O-lane phases (`read`, `write`, `waiting`) and full mode's
    /// `compute` are wall time.
    public struct Phases: Codable, Sendable, Equatable {
        public var read = 0.0
        /// Inflating, unshuffling and converting stored chunks (workers).
        public var decode = 0.0
        public var compute = 0.0
        /// Converting, shuffling and deflating output chunks (workers).
        public var encode = 0.0
        public var write = 0.0
        /// The I/O lane idle, waiting for workers to finish a batch.
        public var waiting = 0.0
        public init() {}
    }

    /// Rows this run processed (a resumed run's rows after `resumedFromRow`).
    public var rows = 0
    /// The row a resumed run continued from; 0 for a run from the start.
    public var resumedFromRow = 0
    /// True when the run found its output up to date and did nothing (`skipIfFresh`).
    public var upToDate = false
    public var seconds = 0.0
    /// Logical input size (rows × features × stored element size).
    public var bytesIn = 0
    /// Logical output size (rows × output width × stored element size).
    public var bytesOut = 0
    public var peakResidentBytes = 0
    public var mode = PipelineConfig.Mode.minibatch
    public var batchRows = 0
    public var workers = 0
    public var phases = Phases()
    /// Most threads seen in the process during the run.
    public var peakThreads = 0
    public var input = ""
    public var output = ""
    /// How the input was read and the output written: "raw chunks" or "hyperslab".
    public var inputPath = ""
    public var outputPath = ""
    /// Linear-stage floating-point operations of the whole run.
    public var linearFlops = 0

    public init() {}

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
