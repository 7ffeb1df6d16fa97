/// Something a run reports while it goes, for the caller to show or log (the library prints
/// nothing itself).
public enum RunEvent: Sendable, Equatable {
    /// A run without `resume` found an earlier run's partial output and starts over.
    case replacingPartial(path: String, rowsSaved: Int?, rowsTotal: Int)
    /// A run with `resume` could not continue the partial output it found, and starts over.
    case notResuming(path: String, reason: String)
    /// A run with `resume` continues a partial output.
    case resuming(path: String, fromRow: Int, rowsTotal: Int)
    /// A checkpoint was saved: rows before `rowsDone` are durable.
    case checkpointSaved(rowsDone: Int, rowsTotal: Int)
    /// The run moved on (sent often, from any thread: throttle before showing it).
    case progress(RunProgress)
    /// `skipIfFresh`: the output was made from the same input values, pipeline, weights and
    /// version; the run does nothing.
    case upToDate(path: String, reason: String)
    /// `skipIfFresh`: the input's file changed since the output was made, so its values are
    /// read to compare them with the output's fingerprint.
    case comparingSourceValues(path: String, reason: String)
    /// `skipIfFresh`: the output is out of date and is made again.
    case outOfDate(path: String, reason: String)
    /// The run is one shard (`PipelineConfig.Run.shard`): the first-dimension indices it takes,
    /// the rows they hold, the input file, and the unit shards are made of (first-dimension
    /// indices holding whole batches and chunks).
    case shard(ShardPlacement, rows: Int, of: String, unit: Int)

    /// One line for people.
    public var message: String {
        switch self {
        case .replacingPartial(let path, let saved?, let total):
            return "replacing \(path), left by an earlier run with \(formatCount(saved)) of \(formatCount(total)) rows saved (--resume continues such a run)"
        case .replacingPartial(let path, nil, _):
            return "replacing \(path), left by an earlier run"
        case .notResuming(let path, let reason):
            return "not resuming \(path): \(reason); starting from the first row"
        case .resuming(let path, let row, let total):
            return "resuming \(path) at row \(formatCount(row)) of \(formatCount(total)) (\(percent(row, of: total)))"
        case .checkpointSaved(let done, let total):
            return "checkpoint: \(formatCount(done)) of \(formatCount(total)) rows saved (\(percent(done, of: total)))"
        case .progress(let progress):
            return progress.description
        case .upToDate(let path, let reason):
            return "\(path) is up to date: \(reason)"
        case .comparingSourceValues(let path, let reason):
            return "\(path) \(reason) since the output was made; reading it to compare its values with those the output was made from"
        case .outOfDate(let path, let reason):
            return "\(path) is out of date (\(reason)); making it again"
        case .shard(let shard, let rows, let input, let unit):
            let units = shard.extent.units(of: max(1, unit))
            let share = shard.range.isEmpty
                ? "no rows: \(input) splits into \(units) \(units == 1 ? "unit" : "units") of \(formatCount(unit)) indices (whole batches and chunks), fewer than the shards; a smaller run.batch_rows makes smaller units"
                : "indices \(formatCount(shard.start))..<\(formatCount(shard.end)) of \(formatCount(shard.extent)) along the first dimension of \(input), \(formatCount(rows)) rows"
            return "shard \(shard.index) of \(shard.count): \(share)"
        }
    }
}

/// Where runners report progress; called from the I/O lane and from workers.
typealias ProgressSink = @Sendable (RunProgress) -> Void

/// How far a run is.
public struct RunProgress: Sendable, Equatable, CustomStringConvertible {
    /// What the run is doing.
    public enum Phase: Sendable, Equatable {
        /// Mini-batch mode: reading, computing and writing together.
        case streaming
        /// Full mode's passes: read the whole input, one pass per step (a linear stage with
        /// the activations after it, or activations alone), write the whole output.
        case reading
        /// Full mode: step `step` of `of` over the whole tensor.
        case computing(step: Int, of: Int)
        /// Full mode: writing the whole output.
        case writing
    }

    /// The current phase.
    public var phase: Phase
    /// Rows this phase has finished, counted from the dataset's first row (a resumed run
    /// starts past 0).
    public var rowsDone: Int
    /// Rows in the whole dataset.
    public var rowsTotal: Int
    /// Rows this run processes: all of them, or those after a resumed run's checkpoint.
    public var rowsThisRun: Int
    /// The share of this run's work done, 0…1: in full mode each pass counts as much as any
    /// other, so the share is an estimate of the time.
    public var fraction: Double

    /// A progress report from its fields.
    public init(phase: Phase, rowsDone: Int, rowsTotal: Int, rowsThisRun: Int, fraction: Double) {
        self.phase = phase
        self.rowsDone = rowsDone
        self.rowsTotal = rowsTotal
        self.rowsThisRun = rowsThisRun
        self.fraction = fraction
    }

    /// `streaming`, `reading`, `computing step N of M` or `writing`.
    public var phaseName: String {
        switch phase {
        case .streaming: return "streaming"
        case .reading: return "reading"
        case .computing(let step, let steps): return "computing step \(step) of \(steps)"
        case .writing: return "writing"
        }
    }

    /// `N of M rows`, after the phase's name except in mini-batch mode (`streaming`).
    public var description: String {
        let rows = "\(formatCount(rowsDone)) of \(formatCount(rowsTotal)) rows"
        return phase == .streaming ? rows : "\(phaseName): \(rows)"
    }
}
