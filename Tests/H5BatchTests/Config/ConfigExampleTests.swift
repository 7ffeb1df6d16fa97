import Foundation
import Testing
@testable import H5Batch

/// The crontab line and systemd units in config/unattended/ run as written (with the install
/// paths pointed at a temporary copy), and systemd accepts the units.
@Suite("config/unattended examples")
struct ConfigExampleTests {
    static let folder = Repo.config + "/unattended"

    /// A copy of the repository's layout that the examples' relative paths work in, with
    /// `bin/h5batch` linked to the built binary.
    func install() throws -> TemporaryFolder {
        let root = TemporaryFolder()
        let manager = FileManager.default
        for sub in ["config/unattended", "data", "bin", "out"] {
            try manager.createDirectory(atPath: root.file(sub), withIntermediateDirectories: true)
        }
        try manager.copyItem(atPath: Self.folder + "/nightly.yaml", toPath: root.file("config/unattended/nightly.yaml"))
        for name in ["sample.h5", "weights.h5"] {
            try manager.copyItem(atPath: Repo.data + "/" + name, toPath: root.file("data/" + name))
        }
        try manager.createSymbolicLink(atPath: root.file("bin/h5batch"), withDestinationPath: Repo.binary)
        return root
    }

    /// The example's text with its install paths replaced by the temporary copy's.
    func localized(_ text: String, in root: TemporaryFolder) -> String {
        text.replacingOccurrences(of: "/usr/local/bin/h5batch", with: root.file("bin/h5batch"))
            .replacingOccurrences(of: "/opt/h5batch", with: root.path)
            .replacingOccurrences(of: "/var/lib/prometheus/node-exporter/h5batch.prom", with: root.file("h5batch.prom"))
            .replacingOccurrences(of: "/var/log/h5batch/nightly.log", with: root.file("nightly.log"))
    }

    /// Runs `command` with /bin/sh; returns its exit status.
    func sh(_ command: String, path: String, directory: String? = nil) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.environment = ["PATH": path, "HOME": NSTemporaryDirectory()]
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try HDF5File.withDescriptorsSettled { try process.run() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func jsonLines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "not a JSON object: \($0)")
        }
    }

    @Test("the crontab line runs, then finds its output up to date; the log is JSON lines and the metrics are written")
    func crontabLine() throws {
        let root = try install()
        let crontab = try String(contentsOfFile: Self.folder + "/h5batch.crontab", encoding: .utf8)
        let entries = crontab.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.contains("=") && !$0.isEmpty }
        let entry = try #require(entries.count == 1 ? entries.first : nil, "expected one crontab entry: \(entries)")
        // Five schedule fields, then the command.
        let fields = entry.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        try #require(fields.count == 6)
        let command = localized(String(fields[5]), in: root)
        let path = root.file("bin") + ":/usr/bin:/bin"

        #expect(try sh(command, path: path) == 0)
        #expect(FileManager.default.fileExists(atPath: root.file("out/nightly.h5")))
        #expect(try sh(command, path: path) == 0)
        let lines = try jsonLines(root.file("nightly.log"))
        let done = lines.filter { $0["event"] as? String == "done" }
        #expect(done.count == 2)
        #expect(done.first?["rows"] as? Int == 10_000 && done.first?["up_to_date"] as? Bool == false)
        #expect(done.last?["rows"] as? Int == 0 && done.last?["up_to_date"] as? Bool == true)
        let metrics = try String(contentsOfFile: root.file("h5batch.prom"), encoding: .utf8)
        #expect(metrics.contains("h5batch_last_run_exit_status{pipeline=\"nightly-demo\"} 0"), "\(metrics)")
        #expect(metrics.contains("h5batch_last_run_up_to_date{pipeline=\"nightly-demo\"} 1"), "\(metrics)")
    }

    @Test("the systemd service's command runs, and systemd-analyze accepts the units")
    func systemdUnits() throws {
        let root = try install()
        let service = localized(try String(contentsOfFile: Self.folder + "/h5batch-nightly.service", encoding: .utf8), in: root)
        let execStart = try #require(service.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        let command = String(execStart.dropFirst("ExecStart=".count))
        #expect(try sh(command, path: "/usr/bin:/bin", directory: root.path) == 0)
        #expect(FileManager.default.fileExists(atPath: root.file("out/nightly.h5")))

        let analyzer = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyzer) else { return }  // not a systemd machine
        let units = TemporaryFolder()
        units.write("h5batch-nightly.service", service.replacingOccurrences(of: "User=h5batch", with: "User=root"))
        try FileManager.default.copyItem(atPath: Self.folder + "/h5batch-nightly.timer", toPath: units.file("h5batch-nightly.timer"))
        let verify = Process()
        verify.executableURL = URL(fileURLWithPath: analyzer)
        verify.arguments = ["verify", units.file("h5batch-nightly.service"), units.file("h5batch-nightly.timer")]
        let errors = Pipe()
        verify.standardError = errors
        verify.standardOutput = FileHandle.nullDevice
        try HDF5File.withDescriptorsSettled { try verify.run() }
        let complaints = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        verify.waitUntilExit()
        #expect(verify.terminationStatus == 0 && complaints.isEmpty, "\(complaints)")
    }
}
