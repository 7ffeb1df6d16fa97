import Foundation

/// The runs `h5batch bench` makes and how their results combine.
public struct BenchSweep: Sendable, Equatable {
    /// One (mode, batch rows, workers) combination; full mode runs at the pipeline's batch rows
    /// (`batchRows` 0).
    public struct Combination: Sendable, Equatable, Hashable {
        /// `minibatch` or `full`.
        public var mode: PipelineConfig.Mode
        /// Rows per batch in mini-batch mode; 0 in full mode.
        public var batchRows: Int
        /// Compute workers.
        public var workers: Int
        /// Counted with `--stats`.
        public var stats = false
    }

    /// The modes to measure (`--modes`).
    public var modes: [PipelineConfig.Mode]
    /// The mini-batch sizes to try (`--batch-rows`); full mode does not use them.
    public var batchRows: [Int]
    /// The worker counts to try (`--workers`).
    public var workers: [Int]
    /// Repetitions of every combination (`--repeat`); `schedule` makes at least one.
    public var repeats: Int

    /// A sweep over `modes`, `batchRows` and `workers`, each combination run `repeats` times.
    public init(modes: [PipelineConfig.Mode], batchRows: [Int], workers: [Int], repeats: Int) {
        self.modes = modes
        self.batchRows = batchRows
        self.workers = workers
        self.repeats = repeats
    }

    /// With `[false, true]` (`bench --stats`), every combination also runs with `--stats`, right
    /// after its run without, so that the two meet the same machine noise.
    public var stats: [Bool] = [false]

    /// Every combination, full mode once per worker count.
    public var combinations: [Combination] {
        var result: [Combination] = []
        for mode in modes {
            for workers in workers {
                let plain = mode == .full ? [Combination(mode: .full, batchRows: 0, workers: workers)]
                    : batchRows.map { Combination(mode: .minibatch, batchRows: $0, workers: workers) }
                for combination in plain {
                    for counted in stats {
                        var run = combination
                        run.stats = counted
                        result.append(run)
                    }
                }
            }
        }
        return result
    }

    /// The order to run them in: repetition after repetition of the whole set, so that noise
    /// on a shared machine hits every combination alike.
    public var schedule: [(combination: Combination, repetition: Int)] {
        (1...max(1, repeats)).flatMap { repetition in combinations.map { ($0, repetition) } }
    }

    /// A bench run from one child's `RunReport`.
    public static func run(_ report: RunReport, repetition: Int) -> BenchReport.Run {
        BenchReport.Run(mode: report.mode.rawValue, batchRows: report.batchRows, workers: report.workers,
                        repetition: repetition, seconds: report.seconds, rows: report.rows,
                        rowsPerSecond: report.rowsPerSecond, megabytesPerSecond: report.megabytesPerSecond,
                        gflops: report.gflops, peakResidentBytes: report.peakResidentBytes,
                        peakThreads: report.peakThreads, phases: report.phaseSeconds,
                        inputPath: report.inputPath, outputPath: report.outputPath)
    }

    /// Medians per (mode, batch rows, workers), in the order the combinations first appear.
    public static func summarize(_ runs: [BenchReport.Run], inputBytes: Int, linearFlopsPerRow: Int) -> [BenchReport.Summary] {
        var order: [String] = []
        var groups: [String: [BenchReport.Run]] = [:]
        for run in runs {
            let key = "\(run.mode)/\(run.batchRows)/\(run.workers)/\(run.stats == true)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(run)
        }
        return order.map { key in
            let group = groups[key]!
            let seconds = median(group.map(\.seconds))
            let rows = group[0].rows
            let phaseNames = Set(group.flatMap { $0.phases.keys })
            let phases = Dictionary(uniqueKeysWithValues: phaseNames.map { name in
                (name, median(group.map { $0.phases[name] ?? 0 }))
            })
            return BenchReport.Summary(
                mode: group[0].mode, batchRows: group[0].batchRows, workers: group[0].workers,
                repetitions: group.count, medianSeconds: seconds,
                minSeconds: group.map(\.seconds).min()!, maxSeconds: group.map(\.seconds).max()!,
                rowsPerSecond: seconds > 0 ? Double(rows) / seconds : 0,
                megabytesPerSecond: seconds > 0 ? Double(inputBytes) / 1e6 / seconds : 0,
                gflops: seconds > 0 ? Double(rows * linearFlopsPerRow) / 1e9 / seconds : 0,
                peakResidentBytes: group.map(\.peakResidentBytes).max()!,
                peakThreads: group.map(\.peakThreads).max()!, phases: phases,
                inputPath: group[0].inputPath, outputPath: group[0].outputPath, stats: group[0].stats)
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The machine, as far as Linux tells.
    public static func machine() -> BenchReport.Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let cpu = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let release = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        let name = release.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { String($0.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? "Linux"
        var system = utsname()
        uname(&system)
        let kernel = withUnsafeBytes(of: &system.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return BenchReport.Machine(cpu: cpu, cores: SystemInfo.activeCores, memoryBytes: SystemInfo.availableMemory,
                                   os: "\(name), Linux \(kernel)")
    }
}
