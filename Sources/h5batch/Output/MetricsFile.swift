import Foundation
import H5Batch

/// `--metrics-file`: a run's figures in Prometheus' text format, for node_exporter's textfile
/// collector, written atomically (a temporary file beside it, synced, renamed), so the
/// collector never reads half a file.
///
/// Samples are labelled with the pipeline's name. Samples of other pipelines in the same file
/// are kept, and so is this pipeline's last success time when this run fails: an alert on
/// "no success for a day" then keeps working through failures.
struct MetricsFile {
    let path: String
    let pipeline: String

    /// What one run did.
    struct Outcome {
        var exitStatus: Int32
        var started: Date
        var ended: Date
        /// nil when the run failed before it had figures.
        var report: RunReport?
    }

    private struct Family {
        let name: String
        let help: String
    }

    private static let families = [
        Family(name: "h5batch_last_run_timestamp_seconds", help: "When the last run ended (Unix time)."),
        Family(name: "h5batch_last_success_timestamp_seconds", help: "When a run last succeeded (Unix time), up to date included."),
        Family(name: "h5batch_last_run_exit_status", help: "Exit status of the last run (0 success; sysexits codes; 130 and 143 stopped by a signal)."),
        Family(name: "h5batch_last_run_duration_seconds", help: "Wall time of the last run."),
        Family(name: "h5batch_last_run_rows", help: "Rows the last run processed (0 when the output was up to date)."),
        Family(name: "h5batch_last_run_input_bytes", help: "Bytes of input the last run read (rows x features x element size)."),
        Family(name: "h5batch_last_run_output_bytes", help: "Bytes of output the last run wrote (rows x features x element size)."),
        Family(name: "h5batch_last_run_peak_rss_bytes", help: "Peak resident memory of the last run."),
        Family(name: "h5batch_last_run_up_to_date", help: "1 when the last run found its output up to date and did nothing (--skip-if-fresh)."),
    ]

    /// Checks, before the run, that the file can be written where it is to go.
    static func checkWritable(_ path: String) throws {
        guard !path.isEmpty else { throw H5BatchError(.usage, "--metrics-file needs a file name") }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw H5BatchError(.cannotCreate, "--metrics-file \(path) is a directory")
        }
        let parent = folder(of: path)
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw H5BatchError(.cannotCreate, "--metrics-file \(path): folder \(parent) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: parent) else {
            throw H5BatchError(.cannotCreate, "--metrics-file \(path): folder \(parent) is not writable")
        }
    }

    private static func folder(of path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    func write(_ outcome: Outcome) throws {
        // Runs of several pipelines may share the file (and its temporary name): each reads,
        // merges and replaces it holding a lock on the folder, so none loses another's samples.
        let folder = Self.folder(of: path)
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw H5BatchError(.io, "cannot open \(folder) to write the metrics file: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw H5BatchError(.io, "cannot lock \(folder) to write the metrics file: \(String(cString: strerror(errno)))")
            }
        }
        let label = "{pipeline=\"\(Self.escape(pipeline))\"}"
        var mine: [String: Double] = [
            "h5batch_last_run_timestamp_seconds": outcome.ended.timeIntervalSince1970,
            "h5batch_last_run_exit_status": Double(outcome.exitStatus),
            "h5batch_last_run_duration_seconds": outcome.ended.timeIntervalSince(outcome.started),
        ]
        if let report = outcome.report {
            mine["h5batch_last_run_rows"] = Double(report.rows)
            mine["h5batch_last_run_input_bytes"] = Double(report.bytesIn)
            mine["h5batch_last_run_output_bytes"] = Double(report.bytesOut)
            mine["h5batch_last_run_peak_rss_bytes"] = Double(report.peakResidentBytes)
            mine["h5batch_last_run_up_to_date"] = report.upToDate ? 1 : 0
        }
        let previous = Self.samples(in: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
        if outcome.exitStatus == 0 {
            mine["h5batch_last_success_timestamp_seconds"] = outcome.ended.timeIntervalSince1970
        } else if let last = previous.first(where: { $0.name == "h5batch_last_success_timestamp_seconds" && $0.labels == label }) {
            mine["h5batch_last_success_timestamp_seconds"] = last.value
        }
        var text = ""
        for family in Self.families {
            let others = previous.filter { $0.name == family.name && $0.labels != label }
            guard mine[family.name] != nil || !others.isEmpty else { continue }
            text += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) gauge\n"
            for sample in others { text += "\(family.name)\(sample.labels) \(Self.number(sample.value))\n" }
            if let value = mine[family.name] { text += "\(family.name)\(label) \(Self.number(value))\n" }
        }
        try DurableFile.write(Data(text.utf8), to: path)
    }

    /// Samples of h5batch's families in an earlier file: name, label set as written, value.
    private static func samples(in text: String) -> [(name: String, labels: String, value: Double)] {
        text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), line.hasPrefix("h5batch_"),
                  let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let series = line[..<space]
            let name = series.prefix { $0 != "{" }
            guard families.contains(where: { $0.name == name }) else { return nil }
            return (String(name), String(series.dropFirst(name.count)), value)
        }
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.3f", value)
    }

    /// A label value with `\`, `"` and newlines escaped, as the exposition format requires.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
