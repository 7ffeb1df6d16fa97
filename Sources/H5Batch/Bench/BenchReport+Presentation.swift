import Foundation

extension BenchReport {
    /// The phase keys of `Run.phases` and `Summary.phases`, in the order data flows through them.
    public static let phaseNames = ["read", "decode", "compute", "encode", "write", "waiting"]

    /// The summaries in reading order: mini-batch first, then full, each by workers and batch rows.
    var orderedSummaries: [Summary] {
        summaries.enumerated().sorted { a, b in
            let left = (Self.modeRank(a.element.mode), a.element.mode, a.element.workers, a.element.batchRows, a.offset)
            let right = (Self.modeRank(b.element.mode), b.element.mode, b.element.workers, b.element.batchRows, b.offset)
            return left < right
        }.map(\.element)
    }

    /// Input megabytes (10⁶ bytes) per second for a run of `seconds`, or nil when that is not a number.
    func megabytesPerSecond(seconds: Double) -> Double? {
        guard inputBytes > 0, seconds > 0, seconds.isFinite else { return nil }
        return Double(inputBytes) / 1e6 / seconds
    }

    /// The logical input size in GiB, e.g. `0.95 GiB`; below 0.01 GiB in a unit that shows it (`1.2 MiB`).
    var inputSizeText: String {
        let gib = Double(inputBytes) / 1_073_741_824
        return gib >= 0.01 ? String(format: "%.2f GiB", gib) : formatBytes(inputBytes)
    }

    static func modeRank(_ mode: String) -> Int {
        switch mode {
        case "minibatch": return 0
        case "full": return 1
        default: return 2
        }
    }

    /// `phases` as (name, seconds) pairs: the known phases in `phaseNames` order, then any others by name.
    static func orderedPhases(_ phases: [String: Double]) -> [(name: String, seconds: Double)] {
        let known = phaseNames.compactMap { name in phases[name].map { (name: name, seconds: $0) } }
        let others = phases.keys.filter { !phaseNames.contains($0) }.sorted().map { (name: $0, seconds: phases[$0]!) }
        return known + others
    }

    /// Each phase's share of the summed phase seconds (compute is summed over workers, so that sum is
    /// not the wall time); empty when there is nothing to share out.
    static func phaseShares(_ phases: [String: Double]) -> [(name: String, seconds: Double, share: Double)] {
        let ordered = orderedPhases(phases).map { (name: $0.name, seconds: $0.seconds.isFinite ? max(0, $0.seconds) : 0) }
        let total = ordered.reduce(0) { $0 + $1.seconds }
        guard total > 0 else { return [] }
        return ordered.map { (name: $0.name, seconds: $0.seconds, share: $0.seconds / total) }
    }

    /// The phase split as text, e.g. `read 12% compute 60% write 20% waiting 8%`, or `-`; `space`
    /// goes between each name and its share.
    static func phaseSplitText(_ phases: [String: Double], space: String = " ") -> String {
        let shares = phaseShares(phases)
        guard !shares.isEmpty else { return "-" }
        return shares.map { "\($0.name)\(space)\(Int(($0.share * 100).rounded()))%" }.joined(separator: " ")
    }
}

extension BenchReport.Summary {
    /// `4 workers`, `1 worker`; `2 workers + stats` for runs with `--stats`, which keeps them
    /// apart in every chart.
    var workersText: String { "\(workers) worker\(workers == 1 ? "" : "s")" + (stats == true ? " + stats" : "") }

    /// `2`, or `2 + stats`: the workers column of the tables.
    var workersColumn: String { String(workers) + (stats == true ? " + stats" : "") }
}

/// Number and text formatting shared by the report's table, CSV and HTML.
enum ReportFormat {
    /// `value` with `digits` decimals and thousands separators (`12,345.6`), or `-` when not finite.
    static func number(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "-" }
        let text = String(format: "%.\(digits)f", abs(value))
        let parts = text.split(separator: ".", maxSplits: 1)
        let whole = parts.first.flatMap { Int($0) }.map(formatCount) ?? String(parts.first ?? "")
        let sign = value < 0 && text.contains(where: { $0 != "0" && $0 != "." }) ? "-" : ""
        return sign + whole + (parts.count > 1 ? "." + parts[1] : "")
    }

    /// About three significant figures for chart labels: `1,234`, `56.7`, `0.89`.
    static func compact(_ value: Double) -> String {
        let magnitude = abs(value)
        return number(value, digits: magnitude >= 100 || magnitude == 0 ? 0 : magnitude >= 10 ? 1 : 2)
    }

    /// Seconds with three decimals below 100 s, one above.
    static func seconds(_ value: Double) -> String { number(value, digits: abs(value) < 100 ? 3 : 1) }

    /// Bytes in MiB with one decimal.
    static func mebibytes(_ bytes: Int) -> String { number(Double(bytes) / 1_048_576, digits: 1) }

    /// Text made safe for HTML and SVG element content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
