import Foundation

/// Renders a `BenchReport` as a terminal table, JSON, CSV and a self-contained HTML page.
public enum BenchReportWriter {
    /// The table printed on the terminal: one row per summary, mini-batch first.
    ///
    /// Columns: mode, batch rows, workers, median s, rows/s, MB/s, GFLOP/s (`-` without a linear
    /// stage), peak RSS (MiB), threads, and each phase's share of the summed phase times.
    public static func table(_ report: BenchReport) -> String {
        let header = ["mode", "batch rows", "workers", "median s", "rows/s", "MB/s", "GFLOP/s", "peak RSS (MiB)",
                      "threads", "phases"]
        let rows = report.orderedSummaries.map { s in
            [s.mode, formatCount(s.batchRows), s.workersColumn, ReportFormat.seconds(s.medianSeconds),
             ReportFormat.number(s.rowsPerSecond, digits: 0), ReportFormat.number(s.megabytesPerSecond, digits: 1),
             gflopsText(s.gflops, report), ReportFormat.mebibytes(s.peakResidentBytes), String(s.peakThreads),
             BenchReport.phaseSplitText(s.phases)]
        }
        let leftAligned: Set<Int> = [0, header.count - 1]
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { cells in
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                if column == cells.count - 1 { return cell }
                return leftAligned.contains(column) ? cell + padding : padding + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// The report as pretty-printed JSON with sorted keys, decodable back into an equal `BenchReport`.
    ///
    /// Throws `EncodingError` when a figure is NaN or infinite, which JSON cannot hold.
    public static func json(_ report: BenchReport) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(report)
        data.append(0x0A)
        return data
    }

    /// The CSV header: report fields, run fields, one column per phase, then the I/O paths.
    static let csvColumns = ["pipeline", "input", "mode", "batch_rows", "workers", "repetition", "seconds", "rows",
                             "rows_per_second", "megabytes_per_second", "gflops", "peak_resident_bytes",
                             "peak_threads"] + BenchReport.phaseNames.map { "phase_" + $0 } + ["input_path", "output_path", "stats"]

    /// One CSV line per run (not per summary) after a header line, quoted as RFC 4180 says, with
    /// CRLF line ends. A phase the run did not record is an empty cell.
    public static func csv(_ report: BenchReport) -> String {
        var lines = [csvColumns.joined(separator: ",")]
        for run in report.runs {
            let fields = [report.pipeline, report.input, run.mode, String(run.batchRows), String(run.workers),
                          String(run.repetition), String(run.seconds), String(run.rows), String(run.rowsPerSecond),
                          String(run.megabytesPerSecond), String(run.gflops), String(run.peakResidentBytes),
                          String(run.peakThreads)]
                + BenchReport.phaseNames.map { run.phases[$0].map { String($0) } ?? "" }
                + [run.inputPath, run.outputPath, run.stats == true ? "true" : "false"]
            lines.append(fields.map(csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// A self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched): the setup,
    /// charts of throughput, peak memory and phases, the summaries, and every run in a collapsed list.
    public static func html(_ report: BenchReport) -> String {
        BenchPage(report: report).render()
    }

    /// Writes report.json, report.csv and report.html into `folder`, creating it if missing, and
    /// returns their paths in that order.
    ///
    /// Each file is replaced atomically. Nothing is written when the report cannot be encoded.
    public static func write(_ report: BenchReport, to folder: String) throws -> [String] {
        let json: Data
        do {
            json = try self.json(report)
        } catch let EncodingError.invalidValue(value, context) {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            throw H5BatchError(.io, "cannot write the bench report as JSON: \(path.drop { $0 == "." }) is \(value), "
                + "which JSON cannot hold")
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw H5BatchError(.cannotCreate, "cannot create the report folder \(folder): \(error.localizedDescription)")
        }
        let base = URL(fileURLWithPath: folder)
        let files: [(String, Data)] = [
            ("report.json", json),
            ("report.csv", Data(csv(report).utf8)),
            ("report.html", Data(html(report).utf8)),
        ]
        return try files.map { name, contents in
            let url = base.appendingPathComponent(name)
            do {
                try contents.write(to: url, options: .atomic)
            } catch {
                throw H5BatchError(.io, "cannot write \(url.path): \(error.localizedDescription)")
            }
            return url.path
        }
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func gflopsText(_ gflops: Double, _ report: BenchReport) -> String {
        report.linearFlopsPerRow == 0 ? "-" : ReportFormat.compact(gflops)
    }
}

/// The HTML page of one report.
struct BenchPage {
    let report: BenchReport
    let summaries: [BenchReport.Summary]
    /// One colour per worker count, shared by the mini-batch series and the full-mode lines.
    let colors: [Int: String]

    init(report: BenchReport) {
        self.report = report
        summaries = report.orderedSummaries
        let workers = Set(report.summaries.map(\.workers)).sorted()
        colors = Dictionary(uniqueKeysWithValues: workers.enumerated().map {
            ($0.element, BenchChart.palette[$0.offset % BenchChart.palette.count])
        })
    }

    func render() -> String {
        let title = "h5batch bench: \(report.pipeline)"
        var page = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(e(title))</title>
        <style>\(Self.style)</style>
        </head>
        <body>
        <main>
        <h1>h5batch bench <span class="pipeline">\(e(report.pipeline))</span></h1>

        """
        page += header()
        page += keyFigures()
        page += figure(id: "throughput", heading: "Throughput by batch size", chart: throughputChart(), caption:
            "Median over the repetitions of each combination; the vertical bars span the fastest and slowest "
            + "repetition. MB/s is the logical input size (10⁶ bytes) divided by the wall time of the whole run. "
            + "Dashed lines: full-dataset mode, which reads everything at once and so has no batch size; the "
            + "shaded band around one spans its fastest and slowest repetition.")
        page += figure(id: "memory", heading: "Peak memory by batch size", chart: memoryChart(), caption:
            "The largest peak resident set size (RSS) among the repetitions. Dashed lines: full-dataset mode.")
        page += figure(id: "phases", heading: "Where the time went", chart: phaseChart(), caption:
            "Median seconds per phase as a share of their sum. Compute time is summed over the workers, so "
            + "in mini-batch mode the phases add up to more than the wall time; waiting is the I/O lane idle "
            + "while the workers compute.")
        if let sparsity = report.stageSparsity, !sparsity.isEmpty {
            page += figure(id: "sparsity", heading: "Sparsity per stage (--stats)", chart: sparsityChart(sparsity), caption:
                "The share of each stage's output values that are exactly zero, and its dead units (features "
                + "zero in every row), from the first run with --stats. " + statsOverheadText())
        }
        page += summaryTable()
        page += runsTable()
        page += """
        <footer>Written by h5batch \(e(report.h5batchVersion)).</footer>
        </main>
        </body>
        </html>

        """
        return page
    }

    // MARK: Sections

    private func header() -> String {
        let machine = report.machine
        let shape = report.inputShape.map(formatCount).joined(separator: " × ")
        let rowCount = report.rows == 1 ? "1 row" : "\(formatCount(report.rows)) rows"
        let repetitions = Set(report.summaries.map(\.repetitions)).sorted().map(String.init).joined(separator: "/")
        let runs = "\(report.runs.count) run\(report.runs.count == 1 ? "" : "s")"
            + (repetitions.isEmpty ? "" : ", \(repetitions) repetition\(repetitions == "1" ? "" : "s") per combination")
        let items: [(String, String)] = [
            ("Pipeline", "<code>\(e(report.pipeline))</code>"),
            ("Input", "<code>\(e(report.input))</code> — shape \(e(shape)) (\(rowCount)), \(e(report.inputSizeText)) "
                + "(\(formatCount(report.inputBytes)) bytes, logical)"),
            ("Stages", e(report.stages.isEmpty ? "none (copy)" : report.stages)
                + (report.linearFlopsPerRow > 0 ? " — \(formatCount(report.linearFlopsPerRow)) linear FLOPs per row" : "")),
            ("Machine", e("\(machine.cpu), \(machine.cores) core\(machine.cores == 1 ? "" : "s"), "
                + "\(formatBytes(machine.memoryBytes)) memory, \(machine.os)")),
            ("GEMM", e(machine.gemm.map { "\($0.library) \($0.version), \($0.isa) kernels (the CPU offers \($0.cpuVectors))" } ?? "not recorded")),
            ("h5batch", e(report.h5batchVersion)),
            ("Date", e(report.created)),
            ("Runs", e(runs)),
        ]
        return "<dl class=\"meta\">\n" + items.map { "<dt>\($0.0)</dt><dd>\($0.1)</dd>" }.joined(separator: "\n")
            + "\n</dl>\n"
    }

    private func keyFigures() -> String {
        var lines: [String] = []
        for mode in Set(summaries.map(\.mode)).sorted(by: { (BenchReport.modeRank($0), $0) < (BenchReport.modeRank($1), $1) }) {
            guard let best = summaries.filter({ $0.mode == mode }).max(by: { $0.megabytesPerSecond < $1.megabytesPerSecond }),
                  best.megabytesPerSecond > 0 else { continue }
            let setting = mode == "full" ? best.workersText : "batch \(formatCount(best.batchRows)) rows, \(best.workersText)"
            lines.append("<li>Fastest \(e(mode)): <strong>\(ReportFormat.number(best.megabytesPerSecond, digits: 1)) MB/s</strong>, "
                + "\(ReportFormat.number(best.rowsPerSecond, digits: 0)) rows/s (\(e(setting)); peak RSS "
                + "\(ReportFormat.mebibytes(best.peakResidentBytes)) MiB)</li>")
        }
        return lines.isEmpty ? "" : "<ul class=\"key\">\n" + lines.joined(separator: "\n") + "\n</ul>\n"
    }

    private func figure(id: String, heading: String, chart: String, caption: String) -> String {
        """
        <section id="\(id)">
        <h2>\(e(heading))</h2>
        <figure>
        \(chart)
        <figcaption>\(e(caption))</figcaption>
        </figure>
        </section>

        """
    }

    // MARK: Charts

    /// The non-full summaries grouped into one series per (mode, workers).
    private var seriesGroups: [(label: String, workers: Int, summaries: [BenchReport.Summary])] {
        var groups: [(label: String, workers: Int, summaries: [BenchReport.Summary])] = []
        for summary in summaries where summary.mode != "full" {
            let label = "\(summary.mode), \(summary.workersText)"
            if let index = groups.firstIndex(where: { $0.label == label }) {
                groups[index].summaries.append(summary)
            } else {
                groups.append((label, summary.workers, [summary]))
            }
        }
        return groups
    }

    private func lineChart(title: String, yTitle: String, unit: String, value: (BenchReport.Summary) -> Double,
                           range: (BenchReport.Summary) -> (Double, Double)?) -> String {
        let series = seriesGroups.enumerated().map { index, group in
            BenchChart.Series(label: group.label, color: colors[group.workers] ?? "#333333", marker: index,
                              points: group.summaries.map { s in
                let y = value(s)
                let bounds = range(s).map { (min($0.0, y), max($0.1, y)) }
                var tooltip = "\(s.mode), batch \(formatCount(s.batchRows)) rows, \(s.workersText): "
                    + "\(ReportFormat.compact(y)) \(unit)"
                if let (low, high) = bounds {
                    tooltip += " (\(ReportFormat.compact(low))–\(ReportFormat.compact(high)) over \(s.repetitions) runs)"
                }
                return BenchChart.Point(x: s.batchRows, y: y, low: bounds?.0, high: bounds?.1, tooltip: tooltip)
            })
        }
        let references = summaries.filter { $0.mode == "full" }.map { s in
            let y = value(s)
            let bounds = range(s).map { (min($0.0, y), max($0.1, y)) }
            return BenchChart.Reference(label: "full, \(s.workersText): \(ReportFormat.compact(y)) \(unit)", value: y,
                                        low: bounds?.0, high: bounds?.1, color: colors[s.workers] ?? "#333333")
        }
        return BenchChart.lineChart(title: title, yTitle: yTitle, xTitle: "Batch rows (log₂ scale)", series: series,
                                    references: references, referenceLegend: "full dataset",
                                    emptyNote: "No mini-batch runs; full-dataset figures are the dashed lines.")
    }

    private func throughputChart() -> String {
        lineChart(title: "Throughput (MB/s) against batch rows", yTitle: "Throughput (MB/s)", unit: "MB/s",
                  value: \.megabytesPerSecond) { s in
            guard let low = report.megabytesPerSecond(seconds: s.maxSeconds),
                  let high = report.megabytesPerSecond(seconds: s.minSeconds) else { return nil }
            return (low, high)
        }
    }

    private func memoryChart() -> String {
        lineChart(title: "Peak RSS (MiB) against batch rows", yTitle: "Peak RSS (MiB)", unit: "MiB",
                  value: { Double($0.peakResidentBytes) / 1_048_576 }, range: { _ in nil })
    }

    private func phaseChart() -> String {
        let bars = summaries.map { s in
            let label = s.mode == "full" ? "full · \(s.workersText)"
                : "\(s.mode) · \(formatCount(s.batchRows)) rows · \(s.workersText)"
            return BenchChart.PhaseBar(label: label, phases: BenchReport.phaseShares(s.phases),
                                       trailing: "\(ReportFormat.seconds(s.medianSeconds)) s")
        }
        return BenchChart.phaseChart(title: "Share of time per phase", bars: bars, trailingTitle: "median wall",
                                     xTitle: "Share of summed phase time")
    }

    private func sparsityChart(_ stages: [BenchReport.StageSparsity]) -> String {
        let bars = stages.enumerated().map { index, stage in
            BenchChart.PhaseBar(label: "\(index + 1) \(stage.stage)",
                                phases: [(name: "zeros", seconds: stage.sparsity, share: stage.sparsity),
                                         (name: "non-zero", seconds: 1 - stage.sparsity, share: 1 - stage.sparsity)],
                                trailing: "\(ReportFormat.number(stage.sparsity * 100, digits: 1))% · "
                                    + "\(stage.deadUnits) of \(formatCount(stage.width)) dead")
        }
        return BenchChart.phaseChart(title: "Zeros per stage output", bars: bars, trailingTitle: "zeros · dead units",
                                     xTitle: "Share of the stage's output values")
    }

    /// What counting costs: each combination's median with --stats against without.
    private func statsOverheadText() -> String {
        let pairs = summaries.filter { $0.stats == true }.compactMap { counted -> String? in
            guard let plain = summaries.first(where: { $0.stats != true && $0.mode == counted.mode
                    && $0.batchRows == counted.batchRows && $0.workers == counted.workers }),
                  plain.medianSeconds > 0 else { return nil }
            let change = (counted.medianSeconds / plain.medianSeconds - 1) * 100
            let setting = counted.mode == "full" ? "full" : "\(counted.mode) \(formatCount(counted.batchRows)) rows"
            return "\(setting), \(counted.workers) worker\(counted.workers == 1 ? "" : "s"): \(change >= 0 ? "+" : "")\(ReportFormat.number(change, digits: 1))%"
        }
        return pairs.isEmpty ? "" : "Median wall time with --stats against without: " + pairs.joined(separator: "; ") + "."
    }

    // MARK: Tables

    private func summaryTable() -> String {
        let best = summaries.count > 1 ? summaries.map(\.megabytesPerSecond).filter(\.isFinite).max() : nil
        var out = """
        <section id="summaries">
        <h2>Summaries</h2>
        <div class="scroll"><table>
        <thead><tr><th>Mode</th><th class="n">Batch rows</th><th class="n">Workers</th><th class="n">Reps</th>\
        <th class="n">Median s</th><th class="n">Min–max s</th><th class="n">Rows/s</th><th class="n">MB/s</th>\
        <th class="n">GFLOP/s</th><th class="n">Peak RSS<br>(MiB)</th><th class="n">Threads</th><th>I/O path<br>(in → out)</th>\
        <th>Phases</th></tr></thead>
        <tbody>

        """
        for s in summaries {
            let isBest = best.map { $0 > 0 && s.megabytesPerSecond == $0 } ?? false
            let cells = [
                td(s.mode), td(formatCount(s.batchRows), numeric: true), td(s.workersColumn, numeric: true),
                td(String(s.repetitions), numeric: true), td(ReportFormat.seconds(s.medianSeconds), numeric: true),
                td("\(ReportFormat.seconds(s.minSeconds))–\(ReportFormat.seconds(s.maxSeconds))", numeric: true),
                td(ReportFormat.number(s.rowsPerSecond, digits: 0), numeric: true),
                isBest ? "<td class=\"n best\">\(e(ReportFormat.number(s.megabytesPerSecond, digits: 1)))</td>"
                    : td(ReportFormat.number(s.megabytesPerSecond, digits: 1), numeric: true),
                td(BenchReportWriter.gflopsText(s.gflops, report), numeric: true),
                td(ReportFormat.mebibytes(s.peakResidentBytes), numeric: true), td(String(s.peakThreads), numeric: true),
                "<td class=\"wrap\">\(e("\(s.inputPath) → \(s.outputPath)"))</td>",
                // A no-break space keeps each "read 22%" together when the cell wraps.
                "<td class=\"phases\">\(e(BenchReport.phaseSplitText(s.phases, space: "\u{A0}")))</td>",
            ]
            out += "<tr\(isBest ? " class=\"best\"" : "")>" + cells.joined() + "</tr>\n"
        }
        out += "</tbody>\n</table></div>\n"
        if best != nil { out += "<p class=\"note\">The row with the highest throughput is highlighted.</p>\n" }
        return out + "</section>\n"
    }

    private func runsTable() -> String {
        // Every run normally covers the whole input, so the rows column only appears when one did not.
        let showRows = report.runs.contains { $0.rows != report.rows }
        let single = ["Mode", "Batch rows", "Workers", "Rep", "Seconds"] + (showRows ? ["Rows"] : [])
            + ["Rows/s", "MB/s", "GFLOP/s", "Peak RSS<br>(MiB)", "Threads"]
        let heads = single.enumerated().map { index, title in
            "<th rowspan=\"2\"\(index == 0 ? "" : " class=\"n\"")>\(title)</th>"
        }.joined()
        let phaseHeads = BenchReport.phaseNames.map { "<th class=\"n\">\(e($0))</th>" }.joined()
        var out = """
        <section id="runs">
        <details>
        <summary>All \(report.runs.count) run\(report.runs.count == 1 ? "" : "s")</summary>
        <div class="scroll"><table>
        <thead><tr>\(heads)<th colspan="\(BenchReport.phaseNames.count)" class="group">Phase seconds</th>\
        <th rowspan="2">I/O path<br>(in → out)</th></tr>
        <tr>\(phaseHeads)</tr></thead>
        <tbody>

        """
        for run in report.runs {
            let phases = BenchReport.phaseNames.map { name in
                td(run.phases[name].map(ReportFormat.seconds) ?? "-", numeric: true)
            }
            let cells = [
                td(run.mode), td(formatCount(run.batchRows), numeric: true),
                td(String(run.workers) + (run.stats == true ? " + stats" : ""), numeric: true),
                td(String(run.repetition), numeric: true), td(ReportFormat.seconds(run.seconds), numeric: true),
            ] + (showRows ? [td(formatCount(run.rows), numeric: true)] : []) + [
                td(ReportFormat.number(run.rowsPerSecond, digits: 0), numeric: true),
                td(ReportFormat.number(run.megabytesPerSecond, digits: 1), numeric: true),
                td(BenchReportWriter.gflopsText(run.gflops, report), numeric: true),
                td(ReportFormat.mebibytes(run.peakResidentBytes), numeric: true), td(String(run.peakThreads), numeric: true),
            ] + phases + ["<td class=\"wrap\">\(e("\(run.inputPath) → \(run.outputPath)"))</td>"]
            out += "<tr>" + cells.joined() + "</tr>\n"
        }
        return out + "</tbody>\n</table></div>\n</details>\n</section>\n"
    }

    private func td(_ text: String, numeric: Bool = false) -> String {
        numeric ? "<td class=\"n\">\(e(text))</td>" : "<td>\(e(text))</td>"
    }

    private func e(_ text: String) -> String { ReportFormat.escape(text) }

    static let style = """
    body{margin:0;background:#fff;color:#1f1f1f;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,\
    "Helvetica Neue",Arial,sans-serif}
    main{max-width:1240px;margin:0 auto;padding:24px 20px 40px}
    h1{font-size:24px;margin:0 0 12px;overflow-wrap:anywhere}
    h1 .pipeline{font-weight:400;color:#555;font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;\
    font-size:20px;margin-left:6px}
    h2{font-size:18px;margin:30px 0 6px;border-bottom:1px solid #ddd;padding-bottom:4px}
    code{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
    dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 18px;margin:0}
    dl.meta dt{color:#666}
    dl.meta dd{margin:0;overflow-wrap:anywhere}
    ul.key{margin:14px 0 0;padding-left:20px}
    figure{margin:6px 0 0}
    figcaption,p.note,footer{color:#555;font-size:13px;margin-top:4px}
    svg.chart{display:block;width:100%;height:auto}
    .scroll{overflow-x:auto}
    table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
    th,td{padding:4px 6px;border-bottom:1px solid #e6e6e6;text-align:left;white-space:nowrap;vertical-align:top}
    th{background:#f5f5f5;font-weight:600;vertical-align:bottom}
    th.group{text-align:center;border-bottom:1px solid #d6d6d6}
    .n{text-align:right}
    td.wrap{white-space:normal;min-width:120px}
    td.phases{white-space:normal;min-width:200px}
    tr.best td{background:#e8f1fa}
    tr.best td.best{font-weight:700}
    details{margin-top:26px}
    details>summary{cursor:pointer;font-weight:600;font-size:16px}
    footer{margin-top:28px}
    """
}
