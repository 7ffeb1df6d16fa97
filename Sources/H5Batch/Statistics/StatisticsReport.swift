import Foundation

extension ChainStatistics {
    /// Dead units listed in a summary before it only counts them.
    static let listedDeadUnits = 1000

    /// Per stage, as JSON-ready objects: index, stage, width, rows, sparsity (zeros among all
    /// values), dead units (features zero in every row) and, with `features`, every feature's
    /// zeros, negatives, non-finite count, min, max, mean and variance (null where a feature has
    /// no finite value).
    public func jsonStages(features: Bool) -> [[String: Any]] {
        stages.map { entry in
            let stats = entry.features
            let dead = stats.deadUnits
            var object: [String: Any] = [
                "index": entry.index, "stage": entry.stage, "width": stats.width, "rows": stats.rows,
                "sparsity": stats.sparsity, "dead_unit_count": dead.count,
                "dead_units": Array(dead.prefix(features ? dead.count : Self.listedDeadUnits)),
            ]
            if features {
                func finite(_ values: [Double]) -> [Any] { values.map { $0.isFinite ? $0 as Any : NSNull() } }
                object["zeros"] = stats.zeros
                object["negatives"] = stats.negatives
                object["non_finite"] = stats.nonFinite
                object["min"] = finite(stats.minimum.map(Double.init))
                object["max"] = finite(stats.maximum.map(Double.init))
                object["mean"] = finite(zip(stats.mean, stats.finite).map { $1 > 0 ? $0 : .nan })
                object["variance"] = finite(stats.variance)
            }
            return object
        }
    }

    /// One line per stage for people: `stage 2 (relu): 51.2% zeros, 3 of 1,024 units dead (17, 201, 933)`.
    public var summaryLines: [String] {
        stages.map { entry in
            let stats = entry.features
            let dead = stats.deadUnits
            let listed = dead.prefix(8).map(String.init).joined(separator: ", ") + (dead.count > 8 ? ", …" : "")
            let units = dead.isEmpty ? "no dead units" : "\(formatCount(dead.count)) of \(formatCount(stats.width)) units dead (\(listed))"
            return "stage \(entry.index) (\(entry.stage)): \(String(format: "%.1f", stats.sparsity * 100))% zeros, \(units)"
        }
    }
}

/// `--stats` output: the statistics of every output dataset of a run, as JSON.
public enum StatisticsFile {
    /// Where the statistics of the output `path` go: `PATH.stats.json`.
    public static func path(forOutput path: String) -> String { RunFiles(output: path).statistics }

    /// The file's JSON: `{"format", "output", "datasets": [{"dataset", "rows", "stages": […]}]}`.
    static func json(output: String, datasets: [(name: String, statistics: ChainStatistics)]) throws -> Data {
        let object: [String: Any] = [
            "format": "h5batch stats 1",
            "output": output,
            "datasets": datasets.map { entry -> [String: Any] in
                ["dataset": entry.name, "rows": entry.statistics.rows, "stages": entry.statistics.jsonStages(features: true)]
            },
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted])
    }

    /// The summary stored on an output dataset as `h5batch_stats`: each stage's sparsity and
    /// dead units (the per-feature figures are in the JSON file, which can outgrow an attribute).
    static func attribute(_ statistics: ChainStatistics, file: String) throws -> String {
        let object: [String: Any] = ["rows": statistics.rows, "file": file, "stages": statistics.jsonStages(features: false)]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
                      as: UTF8.self)
    }

    /// The attribute's name.
    public static let attributeName = "h5batch_stats"
}
