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
        }
    }
}
