import ArgumentParser
import Foundation
import H5Batch
import Logging

/// `--progress`: where a run shows how far it is.
enum ProgressMode: String, CaseIterable, ExpressibleByArgument {
    /// A live line when standard error is a terminal (and the log is text); a log line every
    /// `--progress-interval` seconds otherwise.
    case auto
    /// The live line even when standard error does not look like a terminal (text log only).
    case on
    /// No progress at all.
    case off
}

/// Turns a run's progress events (many a second, from any thread) into a live line or into
/// periodic log lines, with the percentage, the rate and the time left.
final class ProgressReporter: @unchecked Sendable {
    enum Style {
        case liveLine
        case logLines(every: Double)
    }

    let style: Style
    private let console: Console
    private let lock = NSLock()
    private let started = Date()
    private var lastShown: Date

    /// The reporter for `mode`, or nil when nothing is to be shown.
    static func make(_ mode: ProgressMode, format: LogFormat, interval: Double, console: Console) -> ProgressReporter? {
        switch (mode, format) {
        case (.off, _): return nil
        case (.on, .text): return ProgressReporter(style: .liveLine, console: console)
        case (.auto, .text) where console.isTerminal: return ProgressReporter(style: .liveLine, console: console)
        default: return ProgressReporter(style: .logLines(every: interval), console: console)
        }
    }

    init(style: Style, console: Console) {
        self.style = style
        self.console = console
        lastShown = started
    }

    func report(_ progress: RunProgress) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        switch style {
        case .liveLine:
            // Ten redraws a second are smooth enough and cost nothing.
            guard now.timeIntervalSince(lastShown) >= 0.1 || progress.fraction >= 1 else { return }
            console.setStatus(line(progress, now: now))
        case .logLines(let every):
            guard now.timeIntervalSince(lastShown) >= every else { return }
            let figures = self.figures(progress, now: now)
            var metadata: Logger.Metadata = [
                "event": "progress", "phase": .string(progress.phaseName),
                "rows_done": .stringConvertible(progress.rowsDone), "rows_total": .stringConvertible(progress.rowsTotal),
                "percent": .stringConvertible((progress.fraction * 1000).rounded() / 10),
            ]
            if let rate = figures.rate { metadata["rows_per_s"] = .stringConvertible(rate.rounded()) }
            if let eta = figures.eta { metadata["eta_s"] = .stringConvertible(eta.rounded()) }
            log.info("\(line(progress, now: now))", metadata: metadata)
        }
        lastShown = now
    }

    /// Removes the live line (before the run's last words).
    func finish() {
        if case .liveLine = style { console.setStatus(nil) }
    }

    /// `42% · 440,320 of 1,048,576 rows · 1,234,567 rows/s · 5 s left`
    private func line(_ progress: RunProgress, now: Date) -> String {
        let figures = self.figures(progress, now: now)
        var parts = ["\(Int((progress.fraction * 100).rounded(.down)))%", progress.description]
        if let rate = figures.rate { parts.append("\(formatCount(Int(rate.rounded()))) rows/s") }
        if let eta = figures.eta { parts.append("\(Self.duration(eta)) left") }
        return parts.joined(separator: " · ")
    }

    /// Rows per second at the run's pace so far (in full mode, rows through the whole
    /// pipeline: each pass is a share of the work), and seconds left; nil until the run has
    /// gone for a moment.
    private func figures(_ progress: RunProgress, now: Date) -> (rate: Double?, eta: Double?) {
        let elapsed = now.timeIntervalSince(started)
        guard elapsed > 0.5, progress.fraction > 0 else { return (nil, nil) }
        return (Double(progress.rowsThisRun) * progress.fraction / elapsed, elapsed * (1 - progress.fraction) / progress.fraction)
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total) s" }
        if total < 3600 { return String(format: "%d:%02d", total / 60, total % 60) }
        return String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
    }
}
