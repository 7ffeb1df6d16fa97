import Foundation
import Testing
@testable import H5Batch

/// What h5batch does for runs nobody watches (cron, systemd timers, CI): progress on a terminal
/// and in logs, JSON log records, a Prometheus metrics file, provenance attributes on the
/// output, and `--skip-if-fresh`. Every test runs the built binary.
@Suite("unattended runs", .tags(.endToEnd))
struct UnattendedTests {
    /// Inputs shared by the tests, each generated on first use; tests that change an input work
    /// on a copy.
    final class Inputs: @unchecked Sendable {
        let folder = NSTemporaryDirectory() + "h5batch-unattended-\(getpid())"
        /// Rows of `big`: enough for a run of over a second in a debug build.
        let bigRows = 600_000
        private let lock = NSLock()
        private var made: Set<String> = []
        private var digests: [String: String] = [:]

        init() {
            try? FileManager.default.removeItem(atPath: folder)
            try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            atexit { try? FileManager.default.removeItem(atPath: UnattendedTests.inputs.folder) }
        }

        /// 20,000 x 32 float32 normals in chunks of 4,096 rows, dataset /x.
        var small: String { generated("small.h5", shape: "20000x32", chunkRows: 4096, seed: 5) }
        /// The same values as `small`, stored as float64, gzip and shuffle, chunks of 3,000 rows.
        var smallFloat64: String {
            generated("small-f64.h5", shape: "20000x32", chunkRows: 3000, seed: 5,
                      extra: ["--dtype", "float64", "--compression", "gzip:1", "--shuffle"])
        }
        /// `bigRows` x 32 float32 in chunks of 4,096 rows, dataset /x.
        var big: String { generated("big.h5", shape: "\(bigRows)x32", chunkRows: 4096, seed: 11) }

        private func generated(_ name: String, shape: String, chunkRows: Int, seed: Int, extra: [String] = []) -> String {
            let path = folder + "/" + name
            lock.lock()
            defer { lock.unlock() }
            if made.insert(name).inserted {
                let result = try! runBinary(["generate", path, "--dataset", "/x", "--shape", shape,
                                             "--chunk-rows", "\(chunkRows)", "--seed", "\(seed)"] + extra)
                precondition(result.status == 0, result.stderr)
            }
            return path
        }

        /// `UnattendedTests.fingerprint(of:)` of a shared input (computed once).
        func fingerprint(of path: String) throws -> String {
            lock.lock()
            defer { lock.unlock() }
            if let known = digests[path] { return known }
            let value = try UnattendedTests.fingerprint(of: path)
            digests[path] = value
            return value
        }
    }

    static let inputs = Inputs()

    /// A pipeline file: dataset /x of `input` through fc1 of data/weights.h5 (32 → 64 features)
    /// and `activation`, into dataset /y of `output`.
    struct Pipeline {
        var input: String
        var output: String
        var name: String?
        var run = "{}"
        var activation = "relu"
        var weights = Repo.data + "/weights.h5"
        var outputChunkRows: Int?

        var text: String {
            """
            \(name.map { "name: '\($0)'\n" } ?? "")input: { file: \(input), dataset: /x }
            output: { file: \(output), dataset: /y\(outputChunkRows.map { ", chunk_rows: \($0)" } ?? "") }
            run: \(run)
            stages:
              - linear: { file: \(weights), weight: fc1.weight, bias: fc1.bias }
              - \(activation)
            """
        }

        /// Writes the file; returns its path.
        @discardableResult
        func write(to path: String) throws -> String {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }

    /// The source fingerprint h5batch should record for dataset /x of `file`, computed here from
    /// the values as float32: for each row r, XXH64 of its bytes (little-endian) seeded with r,
    /// summed with wrapping; `xxh64-rows:` and 16 hex digits. (XXH64 itself is checked against
    /// the reference implementation in XXHashTests.)
    static func fingerprint(of file: String) throws -> String {
        let (values, shape) = try readDataset(file, "/x")
        let width = try #require(shape.last)
        let rowBytes = width * MemoryLayout<Float>.size
        var sum: UInt64 = 0
        values.withUnsafeBytes { bytes in
            for row in 0..<(values.count / width) {
                let term = XXHash64.hash(UnsafeRawBufferPointer(rebasing: bytes[row * rowBytes..<(row + 1) * rowBytes]),
                                         seed: UInt64(row))
                sum = sum &+ term
            }
        }
        return "xxh64-rows:" + String(format: "%016llx", sum)
    }

    /// The h5batch_* string attributes of dataset /y of `file`.
    static func provenance(_ file: String) throws -> [String: String] {
        let dataset = try HDF5File.open(file).dataset("/y")
        var attributes: [String: String] = [:]
        for name in ["h5batch_version", "h5batch_config", "h5batch_source", "h5batch_source_fingerprint",
                     "h5batch_weights_fingerprint", "h5batch_created"] {
            attributes[name] = try dataset.stringAttribute(name)
        }
        return attributes
    }

    /// The `values` of the source fingerprint recorded on dataset /y of `file`.
    static func recordedFingerprint(_ file: String) throws -> String? {
        let text = try #require(try provenance(file)["h5batch_source_fingerprint"])
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        return object?["values"] as? String
    }

    /// Every line of `text` as a JSON object; an issue for a line that is not one.
    static func jsonRecords(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)", sourceLocation: sourceLocation)
            return object
        }
    }

    /// A JSON number as a Double (nil for strings, objects and missing keys).
    static func number(_ value: Any?) -> Double? {
        guard let value, !(value is String) else { return nil }
        return (value as? NSNumber)?.doubleValue ?? (value as? Double)
    }
}

// MARK: - Progress

extension UnattendedTests {
    @Suite("progress")
    struct Progress {
        /// A pipeline over the big input on one worker: over a second in a debug build.
        func longRun(_ folder: TemporaryFolder) throws -> String {
            try Pipeline(input: inputs.big, output: folder.file("out.h5"), run: "{ workers: 1 }").write(to: folder.file("p.yaml"))
        }

        @Test("not a terminal: a progress line every --progress-interval seconds; none with --progress off")
        func logLines() throws {
            let folder = TemporaryFolder()
            let yaml = try longRun(folder)
            let result = try runBinary(["run", yaml, "--progress-interval", "0.2"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.hasPrefix("done: 600,000 rows"), "\(result.stdout)")
            let lines = result.stderr.split(separator: "\n").map(String.init)
            let progress = lines.filter { $0.hasPrefix("progress: ") }
            #expect(!progress.isEmpty && progress.count == lines.count, "stderr: \(result.stderr)")
            for line in progress {
                #expect(line.contains("%") && line.contains(" of 600,000 rows"), "\(line)")
                #expect(!line.contains("\u{1B}"), "escape sequences in a log line: \(line)")
            }
            // The rate shows once the run has gone for half a second.
            #expect(progress.contains { $0.contains(" rows/s") }, "stderr: \(result.stderr)")

            let off = try runBinary(["run", yaml, "--force", "--progress-interval", "0.2", "--progress", "off"])
            #expect(off.status == 0, "\(off.stderr)")
            #expect(off.stderr.isEmpty, "\(off.stderr)")
            #expect(off.stdout.hasPrefix("done: 600,000 rows"))
        }

        @Test("by default a short run shows no progress (one line every 10 seconds)")
        func shortRunIsQuiet() throws {
            let folder = TemporaryFolder()
            let yaml = try Pipeline(input: inputs.small, output: folder.file("out.h5")).write(to: folder.file("p.yaml"))
            let result = try runBinary(["run", yaml])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.isEmpty, "\(result.stderr)")
            #expect(result.stdout.hasPrefix("done: 20,000 rows"))
        }

        @Test("on a terminal: one live line redrawn in place and erased at the end; nothing with --progress off")
        func liveLine() throws {
            let folder = TemporaryFolder()
            let yaml = try longRun(folder)
            let erase = "\r\u{1B}[2K"
            let run = try TerminalRun(["run", yaml])
            #expect(run.status == 0, "\(run.terminal)")
            #expect(run.stdout.hasPrefix("done: 600,000 rows"), "\(run.stdout)")
            #expect(run.terminal.hasPrefix(erase), "\(run.terminal.debugDescription)")
            // What each redraw shows.
            let shown = run.terminal.components(separatedBy: erase).dropFirst()
            #expect(shown.count >= 3, "\(run.terminal.debugDescription)")
            #expect(shown.dropLast().allSatisfy { $0.contains("%") && $0.contains(" of 600,000 rows") },
                    "\(run.terminal.debugDescription)")
            #expect(shown.contains { $0.contains(" rows/s") }, "\(run.terminal.debugDescription)")
            // The last redraw erases the line, before the summary is printed.
            #expect(shown.last == "", "\(run.terminal.debugDescription)")
            #expect(!run.terminal.contains("progress:") && !run.terminal.contains("\n"), "\(run.terminal.debugDescription)")

            let off = try TerminalRun(["run", yaml, "--force", "--progress", "off"])
            #expect(off.status == 0, "\(off.terminal)")
            #expect(!off.terminal.contains("\u{1B}[2K"), "\(off.terminal.debugDescription)")
            #expect(off.terminal.isEmpty, "\(off.terminal.debugDescription)")
            #expect(off.stdout.hasPrefix("done: 600,000 rows"))
        }

        @Test("--log-format json: one object a line, progress records, and a done record last")
        func jsonLog() throws {
            let folder = TemporaryFolder()
            let yaml = try longRun(folder)
            let result = try runBinary(["run", yaml, "--log-format", "json", "--progress-interval", "0.2"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.isEmpty, "\(result.stdout)")
            let records = jsonRecords(result.stderr)
            for record in records {
                #expect(record["time"] is String && record["level"] is String && record["event"] is String, "\(record)")
                let time = try #require(record["time"] as? String)
                #expect(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "\(time)")
            }
            let progress = records.filter { $0["event"] as? String == "progress" }
            #expect(!progress.isEmpty, "\(result.stderr)")
            for record in progress {
                #expect(number(record["rows_done"]) != nil && number(record["rows_total"]) == 600_000, "\(record)")
                let percent = try #require(number(record["percent"]), "\(record)")
                #expect(percent >= 0 && percent <= 100)
            }
            let done = try #require(records.last)
            #expect(done["event"] as? String == "done", "\(done)")
            #expect(done["level"] as? String == "info")
            #expect(number(done["rows"]) == 600_000)
            #expect(number(done["bytes_in"]) == Double(600_000 * 32 * 4))
            #expect(number(done["bytes_out"]) == Double(600_000 * 64 * 4))
            #expect(number(done["workers"]) == 1)
            #expect(number(done["batch_rows"]) == 8192)
            for key in ["seconds", "rows_per_s", "peak_rss_bytes"] {
                #expect((number(done[key]) ?? 0) > 0, "\(key) in \(done)")
            }
            #expect(done["mode"] as? String == "minibatch")
            let phases = try #require(done["phase_seconds"] as? [String: Any], "\(done)")
            #expect(Set(phases.keys) == ["read", "decode", "compute", "encode", "write", "waiting"])
            #expect(phases.values.allSatisfy { number($0) != nil }, "\(phases)")
        }

        @Test("--log-format json: a failure is an error record with its exit code, usage errors too")
        func jsonErrors() throws {
            let folder = TemporaryFolder()
            let missing = try Pipeline(input: folder.file("missing.h5"), output: folder.file("out.h5")).write(to: folder.file("missing.yaml"))
            let valid = try Pipeline(input: inputs.small, output: folder.file("out.h5")).write(to: folder.file("p.yaml"))
            for (arguments, status) in [(["run", missing, "--log-format", "json"], Int32(66)),
                                        (["run", valid, "--log-format", "json", "--batch-rows", "0"], 64),
                                        (["run", valid, "--log-format=json", "--bogus"], 64)] {
                let result = try runBinary(arguments)
                #expect(result.status == status, "\(arguments): \(result.stderr)")
                #expect(result.stdout.isEmpty)
                let records = jsonRecords(result.stderr)
                let last = try #require(records.last, "\(arguments): no records")
                #expect(last["event"] as? String == "error", "\(last)")
                #expect(last["level"] as? String == "error", "\(last)")
                #expect(number(last["exit_code"]) == Double(result.status), "\(last)")
                #expect(!((last["message"] as? String) ?? "").isEmpty, "\(last)")
            }
            #expect(folder.contents == ["missing.yaml", "p.yaml"], "left behind: \(folder.contents)")
        }
    }

    /// The built binary run with standard error on a pseudo-terminal (standard output on a
    /// pipe), as from an interactive shell with TERM=xterm.
    struct TerminalRun {
        let status: Int32
        /// What the terminal received.
        let terminal: String
        let stdout: String

        init(_ arguments: [String]) throws {
            let libc = try PseudoTerminalFunctions()
            let master = libc.openMaster(O_RDWR | O_NOCTTY | O_CLOEXEC)
            try #require(master >= 0, "posix_openpt: \(String(cString: strerror(errno)))")
            defer { close(master) }
            try #require(libc.grant(master) == 0 && libc.unlock(master) == 0, "\(String(cString: strerror(errno)))")
            var nameBuffer = [CChar](repeating: 0, count: 128)
            try #require(libc.name(master, &nameBuffer, nameBuffer.count) == 0, "ptsname_r: \(String(cString: strerror(errno)))")
            let name = String(decoding: nameBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // Close-on-exec: no other test's child inherits it (the terminal would stay open).
            let slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)
            try #require(slave >= 0, "open \(name): \(String(cString: strerror(errno)))")
            let slaveHandle = FileHandle(fileDescriptor: slave, closeOnDealloc: true)
            var size = winsize(ws_row: 50, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0)
            _ = ioctl(slave, UInt(TIOCSWINSZ), &size)

            let reader = TerminalReader(master: master)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Repo.binary)
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            environment["TERM"] = "xterm"
            process.environment = environment
            let out = Pipe()
            process.standardOutput = out
            process.standardError = slaveHandle
            defer { reader.stop() }
            try HDF5File.withDescriptorsSettled { try process.run() }
            // Only the child holds the terminal now: its exit hangs it up.
            try slaveHandle.close()
            let output = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            status = process.terminationStatus
            terminal = String(decoding: reader.stop(), as: UTF8.self)
            stdout = String(decoding: output, as: UTF8.self)
        }
    }

    /// libc's pseudo-terminal functions, which Swift's Glibc module leaves out (their
    /// declarations need _XOPEN_SOURCE), looked up by name.
    struct PseudoTerminalFunctions {
        let openMaster: @convention(c) (Int32) -> Int32
        let grant: @convention(c) (Int32) -> Int32
        let unlock: @convention(c) (Int32) -> Int32
        let name: @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32

        init() throws {
            let libc = try #require(dlopen(nil, RTLD_NOW))
            func function<T>(_ symbol: String, _ type: T.Type) throws -> T {
                unsafeBitCast(try #require(dlsym(libc, symbol), "no \(symbol) in libc"), to: type)
            }
            openMaster = try function("posix_openpt", (@convention(c) (Int32) -> Int32).self)
            grant = try function("grantpt", (@convention(c) (Int32) -> Int32).self)
            unlock = try function("unlockpt", (@convention(c) (Int32) -> Int32).self)
            name = try function("ptsname_r", (@convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32).self)
        }
    }

    /// Reads a pseudo-terminal's master side on a thread of its own (a terminal nobody reads
    /// blocks its writer once its buffer is full).
    final class TerminalReader: @unchecked Sendable {
        private let master: Int32
        private let lock = NSLock()
        private var received = Data()
        private var stopping = false
        private let finished = DispatchSemaphore(value: 0)
        private var result: Data?

        init(master: Int32) {
            self.master = master
            Thread { self.readUntilHangUp() }.start()
        }

        private func readUntilHangUp() {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, 100)
                if ready < 0 && errno == EINTR { continue }
                if ready == 0 {
                    // Nothing more came since the child ended (and a hang-up would have shown).
                    if lock.withLock({ stopping }) { break }
                    continue
                }
                let count = ready < 0 ? -1 : read(master, &buffer, buffer.count)
                if count > 0 {
                    lock.withLock { received.append(contentsOf: buffer[0..<count]) }
                    continue
                }
                if count < 0 && errno == EINTR { continue }
                break  // 0 or EIO: every holder of the terminal closed it
            }
            finished.signal()
        }

        /// Waits for the reader to drain the terminal (the child must have ended); returns what
        /// it read. Later calls return the same.
        @discardableResult
        func stop() -> Data {
            if let result { return result }
            lock.withLock { stopping = true }
            finished.wait()
            result = lock.withLock { received }
            return result!
        }
    }
}

// MARK: - Metrics file

extension UnattendedTests {
    @Suite("--metrics-file")
    struct Metrics {
        /// The samples of a metrics file by series (`name{labels}`). Checks the whole file as
        /// the Prometheus text format has it: `# HELP` and `# TYPE NAME gauge` before a family's
        /// samples, each series once, every other line `name{labels} number`.
        func samples(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Double] {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasSuffix("\n"), sourceLocation: sourceLocation)
            var samples: [String: Double] = [:]
            var typed: Set<String> = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) {
                if line.hasPrefix("# HELP ") { continue }
                if line.hasPrefix("# TYPE ") {
                    let parts = line.split(separator: " ")
                    #expect(parts.count == 4 && parts[3] == "gauge", "\(line)", sourceLocation: sourceLocation)
                    #expect(typed.insert(String(parts[2])).inserted, "family typed twice: \(line)", sourceLocation: sourceLocation)
                    continue
                }
                let space = line.lastIndex(of: " ")
                let series = space.map { String(line[..<$0]) } ?? ""
                let value = space.flatMap { Double(line[line.index(after: $0)...]) }
                let wellFormed = series.range(of: #"^[a-zA-Z_:][a-zA-Z0-9_:]*\{pipeline="([^"\\\n]|\\[\\"n])*"\}$"#,
                                              options: .regularExpression) != nil
                #expect(wellFormed && value != nil, "not a sample line: \(line.debugDescription)", sourceLocation: sourceLocation)
                guard wellFormed, let value else { continue }
                let name = String(series.prefix { $0 != "{" })
                #expect(typed.contains(name), "no # TYPE before \(line)", sourceLocation: sourceLocation)
                #expect(samples.updateValue(value, forKey: series) == nil, "series twice: \(series)", sourceLocation: sourceLocation)
            }
            return samples
        }

        @Test("success and failure figures per pipeline; a failure keeps the last success time; other pipelines' samples stay")
        func successThenFailure() throws {
            let folder = TemporaryFolder()
            let metrics = folder.file("h5batch.prom")
            // A name that needs escaping in a label; the other pipeline is named after its file.
            let named = try Pipeline(input: inputs.small, output: folder.file("named.h5"), name: #"embed "nightly" v2"#)
                .write(to: folder.file("named.yaml"))
            let label = #"{pipeline="embed \"nightly\" v2"}"#
            let other = try Pipeline(input: inputs.small, output: folder.file("other.h5")).write(to: folder.file("other.yaml"))
            let otherLabel = #"{pipeline="other"}"#

            let first = try runBinary(["run", other, "--metrics-file", metrics])
            #expect(first.status == 0, "\(first.stderr)")
            let afterOther = try samples(metrics)
            #expect(afterOther["h5batch_last_run_exit_status" + otherLabel] == 0, "\(afterOther)")
            #expect(afterOther.keys.allSatisfy { $0.hasSuffix(otherLabel) }, "\(afterOther.keys)")

            let before = Date().timeIntervalSince1970
            let success = try runBinary(["run", named, "--metrics-file", metrics])
            let after = Date().timeIntervalSince1970
            #expect(success.status == 0, "\(success.stderr)")
            let text = try String(contentsOfFile: metrics, encoding: .utf8)
            #expect(text.contains("# TYPE h5batch_last_run_timestamp_seconds gauge\n"))
            let succeeded = try samples(metrics)
            func value(_ name: String, _ samples: [String: Double], _ label: String) -> Double? { samples[name + label] }
            #expect(value("h5batch_last_run_exit_status", succeeded, label) == 0, "\(text)")
            #expect(value("h5batch_last_run_rows", succeeded, label) == 20_000)
            #expect(value("h5batch_last_run_input_bytes", succeeded, label) == Double(20_000 * 32 * 4))
            #expect(value("h5batch_last_run_output_bytes", succeeded, label) == Double(20_000 * 64 * 4))
            let duration = try #require(value("h5batch_last_run_duration_seconds", succeeded, label), "\(text)")
            #expect(duration > 0 && duration <= after - before + 1)
            let ended = try #require(value("h5batch_last_run_timestamp_seconds", succeeded, label), "\(text)")
            #expect(ended >= before - 1 && ended <= after + 1, "\(ended) not in \(before)...\(after)")
            let lastSuccess = try #require(value("h5batch_last_success_timestamp_seconds", succeeded, label), "\(text)")
            #expect(lastSuccess == ended)
            for (series, number) in afterOther { #expect(succeeded[series] == number, "\(series) changed") }

            // The output exists and there is no --force: exit 73.
            let failure = try runBinary(["run", named, "--metrics-file", metrics])
            #expect(failure.status == 73, "\(failure.stderr)")
            let failed = try samples(metrics)
            #expect(value("h5batch_last_run_exit_status", failed, label) == 73, "\(failed)")
            #expect(value("h5batch_last_success_timestamp_seconds", failed, label) == lastSuccess, "\(failed)")
            #expect((value("h5batch_last_run_timestamp_seconds", failed, label) ?? 0) >= ended)
            for (series, number) in afterOther { #expect(failed[series] == number, "\(series) changed") }

            #expect(folder.contents == ["h5batch.prom", "named.h5", "named.yaml", "other.h5", "other.yaml"],
                    "left behind: \(folder.contents)")
        }

        @Test("--metrics-file in a folder that does not exist fails before the run")
        func missingFolder() throws {
            let folder = TemporaryFolder()
            let yaml = try Pipeline(input: inputs.small, output: folder.file("out.h5")).write(to: folder.file("p.yaml"))
            let result = try runBinary(["run", yaml, "--metrics-file", "/nonexistent-h5batch-folder/m.prom"])
            #expect(result.status == 73, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(result.stderr.contains("/nonexistent-h5batch-folder"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
            #expect(folder.contents == ["p.yaml"], "the run went ahead: \(folder.contents)")
        }

        @Test("--metrics-file naming a folder fails before the run, as a missing folder does")
        func folderAsMetricsFile() throws {
            let folder = TemporaryFolder()
            let yaml = try Pipeline(input: inputs.small, output: folder.file("out.h5")).write(to: folder.file("p.yaml"))
            try FileManager.default.createDirectory(atPath: folder.file("metrics"), withIntermediateDirectories: false)
            let result = try runBinary(["run", yaml, "--metrics-file", folder.file("metrics")])
            #expect(result.status == 73, "\(result.stderr)")
            #expect(result.stderr == "error: --metrics-file \(folder.file("metrics")) is a directory\n", "\(result.stderr)")
            #expect(result.stdout.isEmpty, "\(result.stdout)")
            #expect(folder.contents == ["metrics", "p.yaml"], "the run went ahead: \(folder.contents)")
        }

        @Test("runs of two pipelines sharing one metrics file at the same time both succeed and both are recorded")
        func sharedFile() throws {
            let folder = TemporaryFolder()
            let metrics = folder.file("m.prom")
            let pipelines = try ["a", "b"].map {
                try Pipeline(input: inputs.small, output: folder.file("\($0).h5")).write(to: folder.file("\($0).yaml"))
            }
            for round in 0..<6 {
                let runs = try pipelines.map { try BackgroundRun(["run", $0, "--force", "--metrics-file", metrics]) }
                for run in runs {
                    let result = run.finish()
                    #expect(result.status == 0, "round \(round): \(result.stderr)")
                }
                let text = try String(contentsOfFile: metrics, encoding: .utf8)
                for name in ["a", "b"] {
                    #expect(text.contains("h5batch_last_run_exit_status{pipeline=\"\(name)\"} 0"), "round \(round): \(text)")
                }
            }
            #expect(folder.contents.filter { $0.contains("tmp") }.isEmpty, "\(folder.contents)")
        }
    }
}

// MARK: - Provenance

extension UnattendedTests {
    @Suite("provenance attributes")
    struct ProvenanceAttributes {
        @Test("the output dataset says which h5batch made it, from what, with which pipeline and weights, and when")
        func attributes() throws {
            let folder = TemporaryFolder()
            let output = folder.file("out.h5")
            let yaml = try Pipeline(input: inputs.small, output: output).write(to: folder.file("p.yaml"))
            let started = Date()
            let result = try runBinary(["run", yaml])
            #expect(result.status == 0, "\(result.stderr)")
            let attributes = try provenance(output)

            let version = try runBinary(["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!version.isEmpty && attributes["h5batch_version"] == version, "\(attributes)")

            let config = try #require(attributes["h5batch_config"])
            let pipeline = try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any], "\(config)")
            #expect((pipeline["stages"] as? [Any])?.count == 2, "\(config)")

            #expect(attributes["h5batch_source"] == absolutePath(inputs.small) + ":/x", "\(attributes)")

            let fingerprintText = try #require(attributes["h5batch_source_fingerprint"])
            let fingerprint = try #require(try JSONSerialization.jsonObject(with: Data(fingerprintText.utf8)) as? [String: Any])
            #expect(Set(fingerprint.keys) == ["values", "shape", "file"], "\(fingerprintText)")
            let values = try #require(fingerprint["values"] as? String)
            #expect(values.range(of: "^xxh64-rows:[0-9a-f]{16}$", options: .regularExpression) != nil, "\(values)")
            #expect(values == (try inputs.fingerprint(of: inputs.small)))
            #expect((fingerprint["shape"] as? [Any])?.compactMap(number) == [20_000, 32], "\(fingerprintText)")
            #expect((fingerprint["file"] as? [String: Any])?.isEmpty == false, "\(fingerprintText)")

            let weights = try #require(attributes["h5batch_weights_fingerprint"])
            #expect(weights.range(of: "^xxh64:[0-9a-f]{16}$", options: .regularExpression) != nil, "\(weights)")

            let createdText = try #require(attributes["h5batch_created"])
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let created = try #require(formatter.date(from: createdText), "\(createdText)")
            #expect(createdText.hasSuffix("Z"), "\(createdText)")
            #expect(created.timeIntervalSince(started) > -1 && created.timeIntervalSinceNow < 1, "\(createdText)")
            #expect(abs(created.timeIntervalSinceNow) < 60)
        }

        @Test("the input's fingerprint is of its values: the same whatever the mode, workers, batch size, chunks or stored type")
        func fingerprintIsOfValues() throws {
            let folder = TemporaryFolder()
            let yaml = try Pipeline(input: inputs.small, output: folder.file("unused.h5")).write(to: folder.file("p.yaml"))
            let expected = try inputs.fingerprint(of: inputs.small)
            // generate writes the same values for a seed, whatever the stored type.
            #expect(try inputs.fingerprint(of: inputs.smallFloat64) == expected)
            let variants: [[String]] = [
                [], ["--mode", "full"], ["--workers", "1"], ["--workers", "2"], ["--batch-rows", "4096"],
                ["--batch-rows", "12288"], ["--mode", "full", "--workers", "1", "--batch-rows", "4096"],
                ["--input", inputs.smallFloat64], ["--input", inputs.smallFloat64, "--mode", "full"],
            ]
            for (index, variant) in variants.enumerated() {
                let output = folder.file("out-\(index).h5")
                let result = try runBinary(["run", yaml, "--output", output] + variant)
                #expect(result.status == 0, "\(variant): \(result.stderr)")
                #expect(try recordedFingerprint(output) == expected, "\(variant)")
            }
        }

        struct Interrupted: Sendable, CustomTestStringConvertible {
            var mode = "minibatch"
            var batchRows = 8192
            var outputChunkRows: Int?
            var testDescription: String {
                "\(mode), batches of \(batchRows) rows" + (outputChunkRows.map { ", output chunks of \($0) rows" } ?? "")
            }
        }

        @Test("a run killed after a checkpoint and resumed records the whole input's fingerprint", arguments: [
            Interrupted(), Interrupted(batchRows: 4096, outputChunkRows: 3000), Interrupted(mode: "full"),
        ])
        func resumedRunFingerprint(_ variant: Interrupted) throws {
            let folder = TemporaryFolder()
            let output = folder.file("out.h5")
            let yaml = try Pipeline(input: inputs.big, output: output, run: "{ mode: \(variant.mode), batch_rows: \(variant.batchRows) }",
                                    outputChunkRows: variant.outputChunkRows).write(to: folder.file("p.yaml"))
            // Checkpoints 8 batches apart: killed right after one, the run is then far from
            // saving the next (a kill inside a checkpoint's flush is another test's subject, and
            // leaves nothing to resume). With one after every batch, a slow build (ASan) was
            // often inside the next one already.
            let run = try BackgroundRun(["run", yaml, "--checkpoint-rows", "65536"])
            _ = try #require(run.waitForCheckpoint(at: output, rows: inputs.bigRows), "no checkpoint before the run ended: \(run.finish().stderr)")
            run.signal(SIGKILL)
            #expect(run.finish().status == 128 + SIGKILL)
            // It may have saved more after the one seen: the record says where it stopped.
            let checkpoint = try #require(CheckpointFields.read(RunFiles(output: output).checkpoint))
            #expect(checkpoint.rowsDone > 0 && checkpoint.rowsDone < inputs.bigRows)

            let resumed = try runBinary(["run", yaml, "--resume"])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(resumed.stderr.contains("resuming \(output).partial at row \(formatCount(checkpoint.rowsDone))"), "\(resumed.stderr)")
            #expect(try recordedFingerprint(output) == (try inputs.fingerprint(of: inputs.big)))
        }
    }
}

// MARK: - --skip-if-fresh

extension UnattendedTests {
    @Suite("--skip-if-fresh")
    struct SkipIfFresh {
        /// A pipeline in a folder of its own, over a copy of the small input (which a test may change).
        struct Job {
            let folder = TemporaryFolder()
            let input: String
            let output: String
            var pipeline: Pipeline

            init(input source: String = inputs.small) throws {
                input = folder.file("in.h5")
                try FileManager.default.copyItem(atPath: source, toPath: input)
                output = folder.file("out.h5")
                pipeline = Pipeline(input: input, output: output)
            }

            /// Runs the pipeline (written anew) with `arguments`.
            func run(_ arguments: [String] = []) throws -> ProcessResult {
                let yaml = try pipeline.write(to: folder.file("p.yaml"))
                return try runBinary(["run", yaml] + arguments)
            }

            /// Makes the output; returns its file's state.
            func make(sourceLocation: SourceLocation = #_sourceLocation) throws -> FileState {
                let result = try run()
                #expect(result.status == 0, "\(result.stderr)", sourceLocation: sourceLocation)
                return try FileState(path: output)
            }

            var upToDate: String { "note: \(output) is up to date: made " }

            func outOfDate(_ reason: String) -> String { "note: \(output) is out of date (\(reason)); making it again\n" }
        }

        /// Adds `delta` to one value of a dataset, in place: the file keeps its name and inode.
        func nudge(_ file: String, _ dataset: String, row: Int, column: Int, by delta: Float) throws {
            let target = try HDF5File.open(file, writable: true).dataset(dataset)
            var values = [Float](repeating: 0, count: target.rowWidth)
            try values.withUnsafeMutableBufferPointer { try target.read(rows: row..<(row + 1), into: $0) }
            values[column] += delta
            try values.withUnsafeBufferPointer { try target.write(rows: row..<(row + 1), from: $0) }
        }

        /// Sets a file's modification time an hour back, as `touch -d` would: same content, another state.
        func backdate(_ path: String) throws {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: path)
        }

        /// Expects the run to have done nothing: exit 0, only notes, no summary, `output` as it was.
        func expectSkipped(_ result: ProcessResult, _ job: Job, state: FileState, sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(result.status == 0, "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stdout.isEmpty, "\(result.stdout)", sourceLocation: sourceLocation)
            #expect(result.stderr.contains(job.upToDate), "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(try FileState(path: job.output) == state, "the output was rewritten", sourceLocation: sourceLocation)
        }

        /// Expects the output to have been made again, as a run without it would make it.
        func expectRemade(_ result: ProcessResult, _ job: Job, reason: String, state: FileState,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(result.status == 0, "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.hasSuffix(job.outOfDate(reason)), "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stdout.hasPrefix("done: 20,000 rows"), "\(result.stdout)", sourceLocation: sourceLocation)
            #expect(try FileState(path: job.output) != state, "the output was not made again", sourceLocation: sourceLocation)
        }

        @Test("an output made from the same input, pipeline and weights is left alone")
        func upToDate() throws {
            let job = try Job()
            let state = try job.make()
            let started = Date()
            let result = try job.run(["--skip-if-fresh"])
            try expectSkipped(result, job, state: state)
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(Date().timeIntervalSince(started) < 10)
            #expect(job.folder.contents == ["in.h5", "out.h5", "p.yaml"], "left behind: \(job.folder.contents)")
            // Settings that change nothing in the output are not a change of pipeline.
            try expectSkipped(try job.run(["--skip-if-fresh", "--workers", "1"]), job, state: state)
        }

        @Test("an input file touched but with the same values: read to compare, and up to date",
              arguments: ["float32", "float64, gzip, chunks of 3,000 rows"])
        func touchedInput(_ kind: String) throws {
            let job = try Job(input: kind == "float32" ? inputs.small : inputs.smallFloat64)
            let state = try job.make()
            try backdate(job.input)
            let result = try job.run(["--skip-if-fresh"])
            try expectSkipped(result, job, state: state)
            let lines = result.stderr.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(result.stderr)")
            #expect(lines.first?.hasPrefix("note: \(absolutePath(job.input)) was modified since the output was made; reading it to compare") == true,
                    "\(result.stderr)")
            #expect(lines.last?.hasPrefix(job.upToDate) == true, "\(result.stderr)")
        }

        @Test("one input value changed: the output is made again, as a fresh run makes it")
        func changedInputValue() throws {
            let job = try Job()
            let state = try job.make()
            let before = try inputs.fingerprint(of: inputs.small)
            try nudge(job.input, "/x", row: 7, column: 3, by: 0.5)
            let changed = try fingerprint(of: job.input)
            #expect(changed != before)

            let result = try job.run(["--skip-if-fresh"])
            try expectRemade(result, job, reason: "the input's values changed", state: state)
            let fresh = job.folder.file("fresh.h5")
            let reference = try job.run(["--output", fresh])
            #expect(reference.status == 0, "\(reference.stderr)")
            let (remade, made) = (try readDataset(job.output, "/y").values, try readDataset(fresh, "/y").values)
            #expect(remade.map(\.bitPattern) == made.map(\.bitPattern), "the remade output differs from a fresh run's")
            #expect(try recordedFingerprint(job.output) == changed)
            // And now it is up to date.
            try expectSkipped(try job.run(["--skip-if-fresh"]), job, state: try FileState(path: job.output))
        }

        @Test("a changed pipeline (a stage's parameter, the batch size) makes the output again")
        func changedPipeline() throws {
            var job = try Job()
            job.pipeline.activation = "leaky_relu: { negative_slope: 0.01 }"
            var state = try job.make()
            job.pipeline.activation = "leaky_relu: { negative_slope: 0.02 }"
            try expectRemade(try job.run(["--skip-if-fresh"]), job, reason: "the pipeline changed", state: state)
            state = try FileState(path: job.output)
            try expectRemade(try job.run(["--skip-if-fresh", "--batch-rows", "12288"]), job, reason: "the pipeline changed", state: state)
            state = try FileState(path: job.output)
            try expectSkipped(try job.run(["--skip-if-fresh", "--batch-rows", "12288"]), job, state: state)
        }

        @Test("changed weights make the output again; a touched weights file alone does not")
        func changedWeights() throws {
            var job = try Job()
            let weights = job.folder.file("weights.h5")
            try FileManager.default.copyItem(atPath: Repo.data + "/weights.h5", toPath: weights)
            job.pipeline.weights = weights
            let state = try job.make()
            try backdate(weights)
            try expectSkipped(try job.run(["--skip-if-fresh"]), job, state: state)
            try nudge(weights, "fc1.weight", row: 0, column: 0, by: 0.25)
            try expectRemade(try job.run(["--skip-if-fresh"]), job, reason: "the weights changed", state: state)
        }

        @Test("an existing output h5batch did not make is replaced only with --force too")
        func foreignOutput() throws {
            let job = try Job()
            let made = try runBinary(["generate", job.output, "--dataset", "/y", "--shape", "20000x64"])
            #expect(made.status == 0, "\(made.stderr)")
            let notHDF5 = job.folder.write("notes.txt", "not an HDF5 file\n")
            for output in [job.output, notHDF5] {
                let state = try FileState(path: output)
                let refused = try job.run(["--skip-if-fresh", "--output", output])
                #expect(refused.status == 73, "\(refused.stderr)")
                #expect(refused.stderr.hasPrefix("error: ") && refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
                #expect(refused.stderr.contains("--skip-if-fresh replaces only outputs h5batch made"), "\(refused.stderr)")
                #expect(refused.stdout.isEmpty)
                #expect(try FileState(path: output) == state)
            }
            #expect(job.folder.contents == ["in.h5", "notes.txt", "out.h5", "p.yaml"], "left behind: \(job.folder.contents)")

            let state = try FileState(path: job.output)
            let forced = try job.run(["--skip-if-fresh", "--force"])
            #expect(forced.status == 0, "\(forced.stderr)")
            #expect(forced.stdout.hasPrefix("done: 20,000 rows"))
            #expect(try FileState(path: job.output) != state)
            #expect(try recordedFingerprint(job.output) == (try inputs.fingerprint(of: inputs.small)))
        }

        @Test("up to date with --log-format json and --metrics-file: an up_to_date record, then done with no rows")
        func upToDateRecords() throws {
            let job = try Job()
            let state = try job.make()
            let metrics = job.folder.file("m.prom")
            let result = try job.run(["--skip-if-fresh", "--log-format", "json", "--metrics-file", metrics])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.isEmpty, "\(result.stdout)")
            #expect(try FileState(path: job.output) == state)
            let records = jsonRecords(result.stderr)
            #expect(records.map { $0["event"] as? String } == ["up_to_date", "done"], "\(result.stderr)")
            let done = try #require(records.last)
            #expect(done["up_to_date"] as? Bool == true, "\(done)")
            #expect(number(done["rows"]) == 0, "\(done)")
            let text = try String(contentsOfFile: metrics, encoding: .utf8)
            #expect(text.contains("\nh5batch_last_run_up_to_date{pipeline=\"p\"} 1\n"), "\(text)")
            #expect(text.contains("\nh5batch_last_run_rows{pipeline=\"p\"} 0\n"), "\(text)")
            #expect(text.contains("\nh5batch_last_run_exit_status{pipeline=\"p\"} 0\n"), "\(text)")
        }
    }
}
