import Foundation

/// The statistics of every stage's output over the rows a run (or one batch) processed:
/// `--stats`.
public struct ChainStatistics: Sendable, Equatable, Codable {
    /// One stage's: its position, what it is, and its output's per-feature statistics.
    public struct Stage: Sendable, Equatable, Codable {
        /// From 1, as error messages count stages.
        public let index: Int
        /// The stage's description, e.g. `linear(256 → 1024)` or `relu`.
        public let stage: String
        /// Its output's per-feature statistics.
        public var features: FeatureStatistics
    }

    /// One entry per stage of the chain, in order.
    public private(set) var stages: [Stage]

    /// Empty statistics for `chain`'s stages.
    public init(chain: StageChain) {
        stages = chain.stages.enumerated().map { index, stage in
            Stage(index: index + 1, stage: stage.description, features: FeatureStatistics(width: chain.widths[index + 1]))
        }
    }

    /// Rows counted (the same for every stage).
    public var rows: Int { stages.first?.features.rows ?? 0 }

    /// Counts `rows` rows of stage `stage`'s output (0-based), `values` holding them.
    mutating func add(stage: Int, _ values: UnsafePointer<Float>, rows: Int) {
        stages[stage].features.add(values, rows: rows)
    }

    /// Merges statistics of other rows of the same chain in.
    public mutating func merge(_ other: ChainStatistics) {
        for index in stages.indices { stages[index].features.merge(other.stages[index].features) }
    }

    /// Back to no rows.
    mutating func reset() {
        for index in stages.indices { stages[index].features = FeatureStatistics(width: stages[index].features.width) }
    }
}

/// One batch's statistics, filled by the worker that computes it (`StageChain.run`) and merged
/// into the run's on the I/O lane in row order.
final class StatisticsCollector: @unchecked Sendable {
    var statistics: ChainStatistics

    init(chain: StageChain) {
        statistics = ChainStatistics(chain: chain)
    }
}

/// The run's statistics, batch by batch in row order, so that a checkpoint can save the
/// statistics of exactly the rows before its batch boundary (where a resumed run starts
/// computing again), like `InputDigestLedger` does for the input's digest.
///
/// Batches are merged strictly in row order, whenever the merging happens, so a run's figures
/// do not depend on its worker count, its checkpoints, or whether it was resumed.
final class StatisticsLedger {
    /// The statistics of the rows before `baseRow`.
    private var base: ChainStatistics
    private var baseRow: Int
    /// Batches after `baseRow`, in order, not merged yet.
    private var pending: [(end: Int, statistics: ChainStatistics)] = []

    /// A ledger whose run starts at row `start`, with `before` the statistics of the rows
    /// before it (a resumed run's checkpoint), or none.
    init(chain: StageChain, start: Int, before: ChainStatistics?) {
        base = before ?? ChainStatistics(chain: chain)
        baseRow = start
    }

    /// Adds the next batch's statistics (batches must come in order); `end` is its end row.
    func append(_ statistics: ChainStatistics, end: Int) {
        pending.append((end, statistics))
    }

    /// The statistics of the rows before `boundary`, a batch boundary at or after the last one
    /// asked for, or nil when the batches before it are not all recorded.
    func statistics(before boundary: Int) -> ChainStatistics? {
        while let next = pending.first, next.end <= boundary {
            base.merge(next.statistics)
            baseRow = next.end
            pending.removeFirst()
        }
        return baseRow == boundary ? base : nil
    }

    /// The statistics of every row recorded.
    var total: ChainStatistics {
        var total = base
        for batch in pending { total.merge(batch.statistics) }
        return total
    }
}

/// One output dataset's statistics (`RunReport.statistics`).
public struct DatasetStatistics: Sendable, Equatable, Codable {
    /// The output dataset's path.
    public let dataset: String
    /// Every stage's statistics over its rows.
    public let statistics: ChainStatistics
}
