import Foundation
import Testing
@testable import H5Batch

/// Bench reports shaped like the ones `h5batch bench` produces.
enum BenchFixture {
    static let machine = BenchReport.Machine(cpu: "AMD EPYC 7B13", cores: 16, memoryBytes: 64 << 30,
                                             os: "Debian GNU/Linux 12 (bookworm)")

    /// 2,000,000 × 256 float32 rows through linear(256 → 1024) → relu → linear(1024 → 256): two
    /// modes, batch sizes 1024…65536, 2 and 8 workers, 3 repetitions each.
    static func realistic(pipeline: String = "config/bench-mlp.yaml") -> BenchReport {
        let rows = 2_000_000, width = 256
        let inputBytes = rows * width * 4
        let flopsPerRow = 2 * 256 * 1024 * 2
        var runs: [BenchReport.Run] = []
        let throughput: [Int: [Int: Double]] = [2: [1024: 310, 4096: 420, 16384: 470, 65536: 480],
                                                8: [1024: 650, 4096: 1100, 16384: 1350, 65536: 1380]]
        for workers in [2, 8] {
            for batch in [1024, 4096, 16384, 65536] {
                let rss = 60 * 1_048_576 + (workers + 2) * batch * 2048 + workers * batch * 4096
                runs += repetitions(mode: "minibatch", batch: batch, workers: workers, megabytesPerSecond: throughput[workers]![batch]!,
                                    inputBytes: inputBytes, rows: rows, flopsPerRow: flopsPerRow, rss: rss,
                                    threads: workers + 3, split: ["read": 0.22, "decode": 0.08, "compute": 0.55,
                                                                   "encode": 0.05, "write": 0.07, "waiting": 0.03],
                                    inputPath: "raw chunks", outputPath: "raw chunks, deflate")
            }
        }
        for (workers, rate) in [(2, 540.0), (8, 980.0)] {
            runs += repetitions(mode: "full", batch: rows, workers: workers, megabytesPerSecond: rate,
                                inputBytes: inputBytes, rows: rows, flopsPerRow: flopsPerRow,
                                rss: rows * (256 + 1024) * 4 + 70 * 1_048_576, threads: workers + 2,
                                split: ["read": 0.35, "compute": 0.45, "write": 0.2],
                                inputPath: "hyperslab", outputPath: "hyperslab")
        }
        return report(pipeline: pipeline, rows: rows, shape: [rows, width], inputBytes: inputBytes,
                      flopsPerRow: flopsPerRow, stages: "linear(256 → 1024) → relu → linear(1024 → 256)", runs: runs)
    }

    /// Three runs whose median is exactly `megabytesPerSecond`, spread ±4%.
    static func repetitions(mode: String, batch: Int, workers: Int, megabytesPerSecond: Double, inputBytes: Int,
                            rows: Int, flopsPerRow: Int, rss: Int, threads: Int, split: [String: Double],
                            inputPath: String, outputPath: String) -> [BenchReport.Run] {
        [1.0, 1.04, 0.96].enumerated().map { index, factor in
            let seconds = Double(inputBytes) / 1e6 / megabytesPerSecond * factor
            return BenchReport.Run(mode: mode, batchRows: batch, workers: workers, repetition: index + 1, seconds: seconds,
                                   rows: rows, rowsPerSecond: Double(rows) / seconds,
                                   megabytesPerSecond: Double(inputBytes) / 1e6 / seconds,
                                   gflops: Double(rows * flopsPerRow) / 1e9 / seconds,
                                   peakResidentBytes: rss + index * 4096, peakThreads: threads,
                                   phases: split.mapValues { $0 * seconds * (mode == "full" ? 1 : Double(workers) / 2) },
                                   inputPath: inputPath, outputPath: outputPath)
        }
    }

    /// A report whose summaries are the medians of `runs`, grouped as `bench` groups them.
    static func report(pipeline: String, rows: Int, shape: [Int], inputBytes: Int, flopsPerRow: Int, stages: String,
                       runs: [BenchReport.Run]) -> BenchReport {
        var keys: [String] = []
        var groups: [String: [BenchReport.Run]] = [:]
        for run in runs {
            let key = "\(run.mode)/\(run.batchRows)/\(run.workers)"
            if groups[key] == nil { keys.append(key) }
            groups[key, default: []].append(run)
        }
        let summaries = keys.map { key -> BenchReport.Summary in
            let group = groups[key]!
            let median = group.sorted { $0.seconds < $1.seconds }[group.count / 2]
            let phases = Dictionary(uniqueKeysWithValues: median.phases.keys.map { name in
                (name, group.map { $0.phases[name] ?? 0 }.sorted()[group.count / 2])
            })
            return BenchReport.Summary(mode: median.mode, batchRows: median.batchRows, workers: median.workers,
                                       repetitions: group.count, medianSeconds: median.seconds,
                                       minSeconds: group.map(\.seconds).min()!, maxSeconds: group.map(\.seconds).max()!,
                                       rowsPerSecond: median.rowsPerSecond, megabytesPerSecond: median.megabytesPerSecond,
                                       gflops: median.gflops, peakResidentBytes: group.map(\.peakResidentBytes).max()!,
                                       peakThreads: group.map(\.peakThreads).max()!, phases: phases,
                                       inputPath: median.inputPath, outputPath: median.outputPath)
        }
        return BenchReport(h5batchVersion: "0.2.0", created: "2025-05-14T09:30:00Z", pipeline: pipeline,
                           input: "data/bench.h5:/features", rows: rows, inputShape: shape, inputBytes: inputBytes,
                           linearFlopsPerRow: flopsPerRow, stages: stages, machine: machine, runs: runs,
                           summaries: summaries)
    }

    /// Only full mode, one run, no linear stage, no phase times.
    static func fullOnly() -> BenchReport {
        let run = BenchReport.Run(mode: "full", batchRows: 10_000, workers: 4, repetition: 1, seconds: 0.05, rows: 10_000,
                                  rowsPerSecond: 200_000, megabytesPerSecond: 25.6, gflops: 0,
                                  peakResidentBytes: 80 << 20, peakThreads: 6, phases: [:],
                                  inputPath: "hyperslab", outputPath: "hyperslab")
        return report(pipeline: "relu.yaml", rows: 10_000, shape: [10_000, 32], inputBytes: 1_280_000, flopsPerRow: 0,
                      stages: "relu", runs: [run])
    }

    /// One batch size, one worker count, every figure zero.
    static func zeroThroughput() -> BenchReport {
        let run = BenchReport.Run(mode: "minibatch", batchRows: 8192, workers: 1, repetition: 1, seconds: 0, rows: 0,
                                  rowsPerSecond: 0, megabytesPerSecond: 0, gflops: 0, peakResidentBytes: 0,
                                  peakThreads: 0, phases: ["read": 0, "compute": 0], inputPath: "hyperslab",
                                  outputPath: "hyperslab")
        return report(pipeline: "empty.yaml", rows: 0, shape: [0, 8], inputBytes: 0, flopsPerRow: 0, stages: "",
                      runs: [run])
    }
}

/// Splits RFC 4180 CSV text into records of fields.
func parseCSV(_ text: String) -> [[String]] {
    var records: [[String]] = [], fields: [String] = [], field = ""
    var quoted = false, characters = Array(text), index = 0
    while index < characters.count {
        let character = characters[index]
        if quoted {
            if character == "\"" {
                if index + 1 < characters.count, characters[index + 1] == "\"" {
                    field.append("\"")
                    index += 1
                } else {
                    quoted = false
                }
            } else {
                field.append(character)
            }
        } else if character == "\"" {
            quoted = true
        } else if character == "," {
            fields.append(field)
            field = ""
        } else if character == "\r\n" || character == "\n" {
            records.append(fields + [field])
            fields = []
            field = ""
        } else {
            field.append(character)
        }
        index += 1
    }
    if !field.isEmpty || !fields.isEmpty { records.append(fields + [field]) }
    characters.removeAll()
    return records
}

func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

@Suite("Bench reports")
struct BenchReportTests {
    let report = BenchFixture.realistic()

    @Test func fixtureIsWhatTheTestsAssume() {
        #expect(report.runs.count == 30)
        #expect(report.summaries.count == 10)
        #expect(Set(report.summaries.map(\.mode)) == ["minibatch", "full"])
        #expect(report.summaries.allSatisfy { $0.repetitions == 3 })
    }

    @Test("bench --stats: each combination also runs counted; the report keeps them apart, shows the cost and the sparsity")
    func statsRuns() throws {
        var sweep = BenchSweep(modes: [.minibatch, .full], batchRows: [1024, 4096], workers: [2], repeats: 1)
        #expect(sweep.combinations.count == 3)
        sweep.stats = [false, true]
        #expect(sweep.combinations.map(\.stats) == [false, true, false, true, false, true])
        // The fixture's runs, and the same again with --stats, 10% slower.
        var runs = report.runs
        for run in report.runs {
            var counted = run
            counted.stats = true
            counted.seconds *= 1.1
            runs.append(counted)
        }
        var withStats = report
        withStats.runs = runs
        withStats.summaries = BenchSweep.summarize(runs, inputBytes: report.inputBytes, linearFlopsPerRow: report.linearFlopsPerRow)
        withStats.stageSparsity = [.init(stage: "linear(256 → 1024)", sparsity: 0, deadUnits: 0, width: 1024),
                                   .init(stage: "relu", sparsity: 0.5, deadUnits: 3, width: 1024)]
        #expect(withStats.summaries.count == 2 * report.summaries.count)
        let html = BenchReportWriter.html(withStats)
        #expect(html.contains("Sparsity per stage (--stats)"))
        #expect(html.contains("50.0% · 3 of 1,024 dead"))
        #expect(html.contains("minibatch 1,024 rows, 2 workers: +10.0%"), "\(html.prefix(0))")
        #expect(html.contains("2 workers + stats"))
        let table = BenchReportWriter.table(withStats)
        #expect(occurrences(of: "2 + stats", in: table) == report.summaries.filter { $0.workers == 2 }.count)
        let csv = parseCSV(BenchReportWriter.csv(withStats))
        #expect(csv[0].last == "stats" && csv.dropFirst().filter { $0.last == "true" }.count == report.runs.count)
        let decoded = try JSONDecoder().decode(BenchReport.self, from: try BenchReportWriter.json(withStats))
        #expect(decoded == withStats)
        #expect(!BenchReportWriter.html(report).contains("Sparsity per stage"))
    }

    @Test func jsonRoundTrips() throws {
        let data = try BenchReportWriter.json(report)
        let decoded = try JSONDecoder().decode(BenchReport.self, from: data)
        #expect(decoded == report)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\n  \"created\" : \"2025-05-14T09:30:00Z\",\n  \"h5batchVersion\""), "pretty, sorted keys")
        #expect(text.contains("\"data/bench.h5:/features\""), "slashes unescaped")
    }

    @Test func jsonRefusesNonFiniteFigures() {
        var broken = report
        broken.runs[0].megabytesPerSecond = .infinity
        #expect(throws: EncodingError.self) { try BenchReportWriter.json(broken) }
        let folder = NSTemporaryDirectory() + "h5batch-never-" + UUID().uuidString
        #expect(throws: H5BatchError(.io, "cannot write the bench report as JSON: runs[0].megabytesPerSecond is inf, "
                                     + "which JSON cannot hold")) {
            try BenchReportWriter.write(broken, to: folder)
        }
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test func csvHasOneLinePerRunWithQuotedCommas() {
        let text = BenchReportWriter.csv(report)
        #expect(text.hasSuffix("\r\n"))
        let lines = text.components(separatedBy: "\r\n").dropLast()
        #expect(lines.count == report.runs.count + 1)
        #expect(lines.first == "pipeline,input,mode,batch_rows,workers,repetition,seconds,rows,rows_per_second,"
            + "megabytes_per_second,gflops,peak_resident_bytes,peak_threads,phase_read,phase_decode,phase_compute,"
            + "phase_encode,phase_write,phase_waiting,input_path,output_path,stats")
        #expect(lines.dropFirst().allSatisfy { $0.hasSuffix(",raw chunks,\"raw chunks, deflate\",false") || $0.hasSuffix(",hyperslab,hyperslab,false") })

        let records = parseCSV(text)
        #expect(records.count == report.runs.count + 1)
        #expect(records.allSatisfy { $0.count == 22 })
        let header = records[0]
        for (record, run) in zip(records.dropFirst(), report.runs) {
            let row = Dictionary(uniqueKeysWithValues: zip(header, record))
            #expect(row["mode"] == run.mode && row["batch_rows"] == String(run.batchRows))
            #expect(Double(row["seconds"]!) == run.seconds, "full precision")
            #expect(row["output_path"] == run.outputPath)
            #expect(row["phase_compute"].flatMap(Double.init) == run.phases["compute"])
            if run.mode == "full" { #expect(row["phase_decode"] == "" && row["phase_waiting"] == "") }
        }
    }

    @Test func csvQuotesQuotesAndLineBreaks() {
        #expect(BenchReportWriter.csvField("plain") == "plain")
        #expect(BenchReportWriter.csvField("a \"b\"") == "\"a \"\"b\"\"\"")
        #expect(BenchReportWriter.csvField("two\nlines") == "\"two\nlines\"")
        var odd = BenchFixture.fullOnly()
        odd.pipeline = "my \"fast\", run.yaml"
        let records = parseCSV(BenchReportWriter.csv(odd))
        #expect(records.count == 2 && records[1][0] == "my \"fast\", run.yaml")
    }

    @Test func tableHasOneRowPerSummary() {
        let lines = BenchReportWriter.table(report).split(separator: "\n")
        #expect(lines.count == report.summaries.count + 1)
        #expect(lines[0].hasPrefix("mode ") && lines[0].contains("GFLOP/s") && lines[0].hasSuffix("phases"))
        // Mini-batch rows come first, by workers then batch rows.
        #expect(lines[1].hasPrefix("minibatch") && lines[1].contains("1,024"))
        #expect(lines[9].hasPrefix("full"))
        #expect(lines[1].contains("read 22% decode 8% compute 55% encode 5% write 7% waiting 3%"))
        #expect(lines[9].contains("540.0") && lines[9].hasSuffix("read 35% compute 45% write 20%"))
        // Columns line up: every row puts the phases at the same offset.
        let offset = lines[0].range(of: "phases")!.lowerBound.utf16Offset(in: lines[0])
        #expect(lines.dropFirst().allSatisfy { $0.range(of: "read ")!.lowerBound.utf16Offset(in: $0) == offset })
    }

    @Test func htmlHasChartsLegendAndReferenceLines() {
        let html = BenchReportWriter.html(report)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(occurrences(of: "<svg", in: html) == 3)
        #expect(occurrences(of: "</svg>", in: html) == 3)
        #expect(html.contains(">minibatch, 2 workers</text>") && html.contains(">minibatch, 8 workers</text>"))
        #expect(html.contains(">full dataset</text>"))
        #expect(html.contains(">full, 2 workers: 540 MB/s</text>") && html.contains(">full, 8 workers: 980 MB/s</text>"))
        #expect(html.contains(">full, 2 workers: 9,836 MiB</text>"))
        // Log₂ axis labels and phase legend.
        for tick in ["1024", "4096", "16384", "65536"] { #expect(html.contains(">\(tick)</text>")) }
        for phase in BenchReport.phaseNames { #expect(html.contains(">\(phase)</text>")) }
        // Header facts.
        #expect(html.contains("2,000,000 × 256") && html.contains("1.91 GiB"))
        #expect(html.contains("AMD EPYC 7B13, 16 cores, 64.0 GiB memory"))
        #expect(html.contains("linear(256 → 1024) → relu → linear(1024 → 256)"))
        // Tables: 10 summaries, 30 runs in a collapsed list.
        #expect(html.contains("<details>\n<summary>All 30 runs</summary>"))
        #expect(occurrences(of: "<tr>", in: html) + occurrences(of: "<tr class=\"best\">", in: html) == 3 + 10 + 30)
        // Self-contained.
        for external in ["<script", "http://", "https://", "url(", "@import", "<link", "<img"] {
            #expect(!html.contains(external), "\(external)")
        }
    }

    @Test func htmlEscapesEverythingItInserts() {
        var hostile = BenchFixture.realistic(pipeline: "<script>alert('x')</script> & \"q\".yaml")
        hostile.machine.cpu = "<b>cpu</b>"
        hostile.summaries[0].inputPath = "<raw>"
        let html = BenchReportWriter.html(hostile)
        #expect(!html.contains("<script>") && !html.contains("<b>cpu") && !html.contains("<raw>"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;.yaml"))
        #expect(html.contains("&lt;b&gt;cpu&lt;/b&gt;"))
    }

    @Test func degenerateReportsStillRender() throws {
        for degenerate in [BenchFixture.fullOnly(), BenchFixture.zeroThroughput()] {
            let html = BenchReportWriter.html(degenerate)
            #expect(occurrences(of: "<svg", in: html) == 3)
            for bad in ["\"nan", "\"inf", "NaN", ">nan", ">inf"] { #expect(!html.contains(bad), "\(bad)") }
            #expect(BenchReportWriter.table(degenerate).split(separator: "\n").count == 2)
            #expect(parseCSV(BenchReportWriter.csv(degenerate)).count == 2)
            #expect(try JSONDecoder().decode(BenchReport.self, from: BenchReportWriter.json(degenerate)) == degenerate)
        }
        let full = BenchReportWriter.html(BenchFixture.fullOnly())
        #expect(full.contains("No mini-batch runs"))
        #expect(full.contains(">full, 4 workers: 25.6 MB/s</text>"))
        #expect(full.contains("no phase times"))
        let table = BenchReportWriter.table(BenchFixture.fullOnly())
        #expect(table.split(separator: "\n")[1].contains("  -  "), "GFLOP/s is - without a linear stage")
        let zero = BenchReportWriter.html(BenchFixture.zeroThroughput())
        #expect(zero.contains(">8192</text>"), "a single batch size still gets a tick")
    }

    @Test func writesThreeFilesIntoANewFolder() throws {
        let folder = TemporaryFolder()
        let target = folder.file("nested/report")
        let paths = try BenchReportWriter.write(report, to: target)
        #expect(paths == ["json", "csv", "html"].map { target + "/report." + $0 })
        for path in paths { #expect(FileManager.default.fileExists(atPath: path)) }
        let data = try Data(contentsOf: URL(fileURLWithPath: paths[0]))
        #expect(try JSONDecoder().decode(BenchReport.self, from: data) == report)
        // A file where the folder should be cannot be written over.
        let blocker = folder.write("blocker", "x")
        #expect(throws: H5BatchError.self) { try BenchReportWriter.write(report, to: blocker) }
    }

    @Test func niceScalesAndHelpers() {
        let scale = NiceScale(maxValue: 1380)
        #expect(scale.ticks == [0, 500, 1000, 1500] && scale.decimals == 0)
        let unit = NiceScale(maxValue: 0)
        #expect(unit.top == 1 && unit.ticks.count == 6 && unit.decimals == 1)
        #expect(NiceScale(maxValue: 2.3).decimals == 1)
        #expect(NiceScale(maxValue: 0.9).ticks.last == 1)
        #expect(ReportFormat.number(1234567.891, digits: 1) == "1,234,567.9")
        #expect(ReportFormat.number(-0.04, digits: 1) == "0.0")
        #expect(ReportFormat.number(.nan, digits: 1) == "-")
        #expect(BenchChart.spread([100, 101, 102], gap: 15, low: 0, high: 300) == [100, 115, 130])
        #expect(BenchChart.spread([300, 299], gap: 15, low: 0, high: 300) == [300, 285])
        #expect(BenchChart.textColor(on: "#0072B2") == "#fff" && BenchChart.textColor(on: "#E69F00") == "#000")
        #expect(BenchChart.readableOnWhite("#0072B2") == "#0072B2", "dark enough already")
        #expect(BenchChart.readableOnWhite("#56B4E9") != "#56B4E9")
    }
}
