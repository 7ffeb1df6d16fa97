import Foundation
import Testing
@testable import H5Batch

/// Checkpoints and `--resume` through the built binary: runs killed (SIGKILL), cut off by a
/// simulated power failure, stopped by SIGINT and SIGTERM, and cut off by a full disk, each
/// continued to an output identical, bit for bit, to an uninterrupted run's.
@Suite("checkpoints and --resume", .serialized, .tags(.endToEnd))
struct ResumeTests {
    /// An input, and the outputs of uninterrupted runs, shared by the tests (made once).
    final class Fixture: @unchecked Sendable {
        let folder = NSTemporaryDirectory() + "h5batch-resume-\(getpid())"
        var input: String { folder + "/in.h5" }
        let rows = 200_000
        private var references: [String: String] = [:]
        private let lock = NSLock()

        init() {
            try? FileManager.default.removeItem(atPath: folder)
            try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let made = try! runBinary(["generate", input, "--dataset", "/x", "--shape", "\(rows)x32",
                                       "--chunk-rows", "4096", "--seed", "3"])
            precondition(made.status == 0, made.stderr)
            atexit { try? FileManager.default.removeItem(atPath: ResumeTests.fixture.folder) }
        }

        /// The output of an uninterrupted run of `pipeline` (made on first use).
        func reference(_ pipeline: Pipeline) throws -> String {
            lock.lock()
            defer { lock.unlock() }
            let key = pipeline.text(input: input, output: "")
            if let path = references[key] { return path }
            let path = folder + "/reference-\(references.count).h5"
            let yaml = folder + "/reference-\(references.count).yaml"
            try pipeline.text(input: input, output: path).write(toFile: yaml, atomically: true, encoding: .utf8)
            let result = try runBinary(["run", yaml])
            #expect(result.status == 0, "\(result.stderr)")
            references[key] = path
            return path
        }
    }

    static let fixture = Fixture()

    /// A small MLP; `outputChunkRows` other than the batch rows makes HDF5 assemble chunks
    /// (the hyperslab path), so checkpoints fall inside chunks.
    struct Pipeline: Sendable, CustomTestStringConvertible {
        var mode = "minibatch"
        var outputChunkRows = 4096
        var alpha = 1.0
        var testDescription: String { "\(mode), output chunks of \(outputChunkRows) rows" }

        func text(input: String, output: String) -> String {
            """
            input: { file: \(input), dataset: /x }
            output: { file: \(output), dataset: /y, chunk_rows: \(outputChunkRows), compression: gzip, level: 1, shuffle: true }
            run: { mode: \(mode), batch_rows: 4096 }
            stages:
              - linear: { file: \(Repo.data)/weights.h5, weight: fc1.weight, bias: fc1.bias }
              - relu
              - linear: { file: \(Repo.data)/weights.h5, weight: fc2.weight, bias: fc2.bias }
              - elu: { alpha: \(alpha) }
            """
        }
    }

    /// A pipeline file in `folder` writing `folder/out.h5`.
    func write(_ pipeline: Pipeline, in folder: TemporaryFolder) -> (yaml: String, output: String) {
        let output = folder.file("out.h5")
        return (folder.write("p.yaml", pipeline.text(input: Self.fixture.input, output: output)), output)
    }

    /// The output dataset's values as bit patterns, for exact comparison.
    func bits(_ file: String) throws -> [UInt32] {
        try readDataset(file, "/y").values.map(\.bitPattern)
    }

    func expectIdentical(_ output: String, _ reference: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (a, b) = (try bits(output), try bits(reference))
        #expect(a.count == b.count, sourceLocation: sourceLocation)
        let differing = zip(a, b).filter { $0 != $1 }.count
        #expect(differing == 0, "\(differing) values differ from the uninterrupted run", sourceLocation: sourceLocation)
    }

    @Test("kill -9 after a checkpoint: --resume continues there, bit for bit", arguments: [
        Pipeline(), Pipeline(outputChunkRows: 3000), Pipeline(mode: "full"),
    ])
    func killedRunResumes(_ pipeline: Pipeline) throws {
        let folder = TemporaryFolder()
        let (yaml, output) = write(pipeline, in: folder)
        let run = try BackgroundRun(["run", yaml, "--checkpoint-interval", "0.15"])
        let checkpoint = try #require(run.waitForCheckpoint(at: output), "no checkpoint before the run ended: \(run.finish().stderr)")
        run.signal(SIGKILL)
        #expect(run.finish().status == 128 + SIGKILL)
        #expect(checkpoint.rowsDone > 0 && checkpoint.rowsDone < Self.fixture.rows)
        #expect(!FileManager.default.fileExists(atPath: output), "a killed run never leaves the output's name")
        #expect(FileManager.default.fileExists(atPath: output + ".partial"))

        let resumed = try runBinary(["run", yaml, "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("note: resuming \(output).partial at row \(formatCount(checkpoint.rowsDone))"), "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resumed at row \(formatCount(checkpoint.rowsDone))"), "\(resumed.stdout)")
        try expectIdentical(output, try Self.fixture.reference(pipeline))
        #expect(folder.contents == ["out.h5", "p.yaml"], "left behind: \(folder.contents)")
    }

    /// A power cut loses whatever was written after the last sync, in any order. Between two
    /// checkpoints h5batch only appends raw data past the checkpoint's end, so every mix of the
    /// file as it was just after a checkpoint and as it was later must resume from there.
    @Test("a simulated power cut between checkpoints: every mix of unsynced pages resumes", arguments: [
        Pipeline(), Pipeline(outputChunkRows: 3000),
    ])
    func powerCutResumes(_ pipeline: Pipeline) throws {
        let folder = TemporaryFolder()
        let (yaml, output) = write(pipeline, in: folder)
        let partial = output + ".partial", record = RunFiles(output: output).checkpoint
        var snapshots: (early: Data, late: Data, record: Data, checkpoint: CheckpointFields)?
        var misses: [String] = []
        for _ in 0..<5 where snapshots == nil {
            try? FileManager.default.removeItem(atPath: partial)
            // Checkpoints by rows, not seconds: the run's clock goes on while it is frozen, so
            // a time interval could start the next checkpoint right after the thaw, and a
            // state frozen inside that checkpoint's flush is a crash during a checkpoint (which
            // starts over), not the state between two checkpoints. 50,000 rows are 13 batches.
            let run = try BackgroundRun(["run", yaml, "--force", "--checkpoint-rows", "50000"])
            defer { run.signal(SIGKILL); _ = run.finish() }
            guard run.waitForCheckpoint(at: output) != nil else { misses.append("ended before a checkpoint"); continue }
            // Just after the checkpoint, and a little later (the run goes on in between).
            run.signal(SIGSTOP)
            guard let recordData = FileManager.default.contents(atPath: record),
                  let checkpoint = CheckpointFields.read(record), checkpoint.rowsDone < Self.fixture.rows,
                  let early = FileManager.default.contents(atPath: partial) else { misses.append("finished"); continue }
            // Let it write past the checkpoint (at least one more batch), then freeze it again.
            run.signal(SIGCONT)
            let deadline = Date().addingTimeInterval(2)
            while Date() < deadline, run.process.isRunning,
                  ((try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0) <= early.count {
                usleep(500)
            }
            run.signal(SIGSTOP)
            // Both states must belong to the same checkpoint.
            guard let late = FileManager.default.contents(atPath: partial), late.count > early.count,
                  FileManager.default.contents(atPath: record) == recordData else {
                misses.append("no later state of the same checkpoint")
                continue
            }
            snapshots = (early, late, recordData, checkpoint)
        }
        let (early, late, recordData, checkpoint) = try #require(snapshots, "could not catch the run between two checkpoints: \(misses)")
        #expect(early.prefix(checkpoint.fileBytes) == late.prefix(checkpoint.fileBytes),
                "the file before the checkpoint's end changed after the checkpoint")

        var generator = SystemRandomNumberGenerator()
        for trial in 0..<4 {
            // Pages of the later state reach the disk or not, each on its own; the file ends
            // anywhere from the checkpoint's end to the later state's.
            let page = 4096
            let length = trial == 0 ? checkpoint.fileBytes : Int.random(in: checkpoint.fileBytes...late.count, using: &generator)
            var image = Data(count: length)
            for start in stride(from: 0, to: length, by: page) {
                // A page that did not reach the disk keeps what it held before: zeros past the
                // end of the earlier file.
                let source = Bool.random(using: &generator) ? late : early
                let end = min(length, start + page, source.count)
                if end > start { image.replaceSubrange(start..<end, with: source[start..<end]) }
            }
            try image.write(to: URL(fileURLWithPath: partial))
            try recordData.write(to: URL(fileURLWithPath: record))
            try? FileManager.default.removeItem(atPath: output)
            let resumed = try runBinary(["run", yaml, "--resume"])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(resumed.stderr.contains("resuming \(partial) at row \(formatCount(checkpoint.rowsDone))"),
                    "trial \(trial): \(resumed.stderr)")
            try expectIdentical(output, try Self.fixture.reference(pipeline))
        }
    }

    @Test("SIGTERM and SIGINT: in-flight batches are saved, exit 143 or 130, --resume continues", arguments: [
        SIGTERM, SIGINT,
    ])
    func signalsStopResumably(_ signal: Int32) throws {
        let folder = TemporaryFolder()
        let pipeline = Pipeline()
        let (yaml, output) = write(pipeline, in: folder)
        let run = try BackgroundRun(["run", yaml])
        // Once the run has written a few batches (the default interval saved no checkpoint yet).
        #expect(run.waitForFile(output + ".partial", minimumBytes: 500_000))
        let sent = Date()
        run.signal(signal)
        let result = run.finish()
        #expect(Date().timeIntervalSince(sent) < 5, "took \(Date().timeIntervalSince(sent)) s to stop")
        #expect(result.status == 128 + signal, "\(result.stderr)")
        let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("note: \(name): finishing the batches in flight") == true, "\(result.stderr)")
        let last = try #require(lines.last)
        #expect(last.hasPrefix("error: stopped by \(name): ") && last.contains("rows") && last.contains("are saved in \(output).partial; run again with --resume to continue"), "\(last)")
        let checkpoint = try #require(CheckpointFields.read(RunFiles(output: output).checkpoint))
        #expect(last.contains("\(formatCount(checkpoint.rowsDone)) of \(formatCount(Self.fixture.rows)) rows"), "\(last)")
        #expect(!FileManager.default.fileExists(atPath: output))

        let resumed = try runBinary(["run", yaml, "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming \(output).partial at row \(formatCount(checkpoint.rowsDone))"), "\(resumed.stderr)")
        try expectIdentical(output, try Self.fixture.reference(pipeline))
    }

    @Test("a stop before any row is saved leaves nothing behind")
    func earlyStopLeavesNothing() throws {
        let folder = TemporaryFolder()
        // Full mode reads and computes everything before it writes a row.
        let (yaml, output) = write(Pipeline(mode: "full"), in: folder)
        let run = try BackgroundRun(["run", yaml])
        #expect(run.waitForFile(output + ".partial", minimumBytes: 1))
        run.signal(SIGTERM)
        let result = run.finish()
        #expect(result.status == 143, "\(result.stderr)")
        #expect(result.stderr.hasSuffix("error: stopped by SIGTERM before any rows were saved; nothing to resume\n"), "\(result.stderr)")
        #expect(folder.contents == ["p.yaml"], "left behind: \(folder.contents)")
    }

    @Test("a full disk (file-size limit): exit 74, no output, and --resume continues once there is room",
          .disabled(if: underThreadSanitizer, "ThreadSanitizer's runtime crashes under a file-size limit"))
    func fullDiskResumes() throws {
        let folder = TemporaryFolder()
        let pipeline = Pipeline()
        let (yaml, output) = write(pipeline, in: folder)
        // The whole output is about 8 MB; bash's ulimit -f counts 1 KiB blocks.
        let failed = try runBinary(["run", yaml, "--checkpoint-interval", "0"], shellPrefix: "ulimit -f 3000")
        #expect(failed.status == 74, "\(failed.stderr)")
        let lines = failed.stderr.split(separator: "\n")
        #expect(lines.count == 1 && failed.stderr.hasPrefix("error: "), "\(failed.stderr)")
        #expect(failed.stderr.contains("rows are saved in \(output).partial: run again with --resume to continue"), "\(failed.stderr)")
        #expect(!failed.stderr.contains("HDF5-DIAG"))
        #expect(!FileManager.default.fileExists(atPath: output))
        let checkpoint = try #require(CheckpointFields.read(RunFiles(output: output).checkpoint))
        #expect(checkpoint.rowsDone > 0)

        let resumed = try runBinary(["run", yaml, "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming \(output).partial at row \(formatCount(checkpoint.rowsDone))"), "\(resumed.stderr)")
        try expectIdentical(output, try Self.fixture.reference(pipeline))
    }

    @Test("a real full disk (a small tmpfs, when this user may mount one)",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount")))
    func tmpfsFullDiskResumes() throws {
        let folder = TemporaryFolder()
        let mountPoint = folder.file("disk")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard shell("mount -t tmpfs -o size=3m tmpfs '\(mountPoint)'") == 0 else { return }  // no mount rights here
        defer { _ = shell("umount '\(mountPoint)'") }
        let pipeline = Pipeline()
        let output = mountPoint + "/out.h5"
        let yaml = folder.write("p.yaml", pipeline.text(input: Self.fixture.input, output: output))
        let failed = try runBinary(["run", yaml, "--checkpoint-interval", "0"])
        #expect(failed.status == 74, "\(failed.stderr)")
        #expect(failed.stderr.contains("No space left on device") || failed.stderr.contains("no space"), "\(failed.stderr)")
        #expect(failed.stderr.contains("run again with --resume to continue"), "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        let checkpoint = try #require(CheckpointFields.read(RunFiles(output: output).checkpoint))

        #expect(shell("mount -o remount,size=64m '\(mountPoint)'") == 0)
        let resumed = try runBinary(["run", yaml, "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming \(output).partial at row \(formatCount(checkpoint.rowsDone))"), "\(resumed.stderr)")
        try expectIdentical(output, try Self.fixture.reference(pipeline))
    }

    @Test("a partial from another pipeline or input, or damaged, is never resumed")
    func foreignPartialsStartOver() throws {
        let folder = TemporaryFolder()
        let (yaml, output) = write(Pipeline(), in: folder)
        let partial = output + ".partial"
        /// Leaves a partial with a checkpoint, as a stopped run does.
        func leavePartial() throws {
            try? FileManager.default.removeItem(atPath: output)
            let run = try BackgroundRun(["run", yaml])
            #expect(run.waitForFile(partial, minimumBytes: 500_000))
            run.signal(SIGTERM)
            #expect(run.finish().status == 143)
        }

        // Another pipeline (the ELU's alpha changed).
        try leavePartial()
        let changed = Pipeline(alpha: 0.5)
        try changed.text(input: Self.fixture.input, output: output).write(toFile: yaml, atomically: true, encoding: .utf8)
        var result = try runBinary(["run", yaml, "--resume"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "note: not resuming \(partial): it was written by a different pipeline; starting from the first row\n")
        try expectIdentical(output, try Self.fixture.reference(changed))

        // The same pipeline over a changed input (a copy with one value changed).
        let input = folder.file("in.h5")
        try FileManager.default.copyItem(atPath: Self.fixture.input, toPath: input)
        try changed.text(input: input, output: output).write(toFile: yaml, atomically: true, encoding: .utf8)
        try leavePartial()
        try [Float](repeating: 1, count: 32).withUnsafeBufferPointer { row in
            try HDF5File.open(input, writable: true).dataset("/x").write(rows: 5..<6, from: row)
        }
        result = try runBinary(["run", yaml, "--resume"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("not resuming \(partial): \(absolutePath(input)) has changed since; starting from the first row"), "\(result.stderr)")

        // Cut short below its checkpoint's end.
        try leavePartial()
        let size = try #require(try FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int)
        #expect(truncate(partial, off_t(size / 2)) == 0)
        result = try runBinary(["run", yaml, "--resume"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("not resuming \(partial): it is shorter than at its last checkpoint"), "\(result.stderr)")

        // No checkpoint record next to it.
        try leavePartial()
        try FileManager.default.removeItem(atPath: RunFiles(output: output).checkpoint)
        result = try runBinary(["run", yaml, "--resume"])
        #expect(result.stderr.contains("not resuming \(partial): it has no checkpoint"), "\(result.stderr)")

        // Without --resume, a leftover partial is replaced, and the note says so.
        try leavePartial()
        let saved = try #require(CheckpointFields.read(RunFiles(output: output).checkpoint))
        result = try runBinary(["run", yaml])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "note: replacing \(partial), left by an earlier run with \(formatCount(saved.rowsDone)) of \(formatCount(Self.fixture.rows)) rows saved (--resume continues such a run)\n")
        #expect(folder.contents == ["in.h5", "out.h5", "p.yaml"], "left behind: \(folder.contents)")
    }

    @Test("an ONNX model's external data file is part of what a partial was written by: changed, --resume starts over")
    func changedExternalData() throws {
        let folder = TemporaryFolder()
        // The model's weights live in mlp-external.bin, beside it.
        for name in ["mlp-external.onnx", "mlp-external.bin"] {
            try FileManager.default.copyItem(atPath: "\(Repo.data)/onnx/\(name)", toPath: folder.file(name))
        }
        let input = folder.file("in.h5"), output = folder.file("out.h5"), partial = output + ".partial"
        let made = try runBinary(["generate", input, "--dataset", "/x", "--shape", "1000000x6", "--chunk-rows", "4096", "--seed", "5"])
        #expect(made.status == 0, "\(made.stderr)")
        let yaml = folder.write("p.yaml", """
            input: { file: \(input), dataset: /x }
            output: { file: \(output), dataset: /y }
            run: { batch_rows: 4096 }
            stages:
              - onnx: { file: \(folder.file("mlp-external.onnx")) }
            """)
        let run = try BackgroundRun(["run", yaml])
        #expect(run.waitForFile(partial, minimumBytes: 500_000))
        run.signal(SIGTERM)
        #expect(run.finish().status == 143)

        // Only the external data changes: the first weight, 0.weight[0][0], becomes 0.5.
        let data = folder.file("mlp-external.bin")
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: data))
        try handle.seek(toOffset: 4320)
        try handle.write(contentsOf: withUnsafeBytes(of: Float(0.5).bitPattern.littleEndian) { Data($0) })
        try handle.close()

        let resumed = try runBinary(["run", yaml, "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("not resuming \(partial): \(absolutePath(data)) has changed since; starting from the first row"),
                "\(resumed.stderr)")
        // The output is the changed model's, every row of it.
        let fresh = folder.file("fresh.h5")
        let again = try runBinary(["run", yaml, "--output", fresh])
        #expect(again.status == 0, "\(again.stderr)")
        let (a, b) = (try readDataset(output, "/y").values, try readDataset(fresh, "/y").values)
        #expect(a.count == 4_000_000 && a.map(\.bitPattern) == b.map(\.bitPattern))
        // Being read, the external data may not be the output either.
        let overwrite = try runBinary(["run", yaml, "--output", data, "--force"])
        #expect(overwrite.status == 64 && overwrite.stderr.contains("the output file \(data) is \(data), which this run reads"), "\(overwrite.stderr)")
    }

    @Test("chunk grids map chunks to contiguous row ranges")
    func chunkGrid() throws {
        let flat = try #require(ChunkGrid(shape: [10, 4], chunks: [3, 4]))
        #expect(flat.count == 4)
        #expect((0..<4).map(flat.rows(ofChunk:)) == [0..<3, 3..<6, 6..<9, 9..<10])
        #expect(flat.offset(ofChunk: 2) == [6, 0])
        #expect(flat.chunk(holding: 9) == 3)
        // Rank 3, chunks covering part of the second dimension: [1, 5, w] over [3, 7, w].
        let deep = try #require(ChunkGrid(shape: [3, 7, 2], chunks: [1, 5, 2]))
        #expect(deep.count == 6)
        #expect((0..<6).map(deep.rows(ofChunk:)) == [0..<5, 5..<7, 7..<12, 12..<14, 14..<19, 19..<21])
        #expect(deep.offset(ofChunk: 3) == [1, 5, 0])
        #expect(deep.chunk(holding: 13) == 3)
        // Chunks spanning two leading dimensions partly do not hold contiguous rows.
        #expect(ChunkGrid(shape: [4, 6, 2], chunks: [2, 3, 2]) == nil)
        #expect(ChunkGrid(shape: [5], chunks: [5])?.offset(ofChunk: 0) == [0])
    }
}

/// Whether the tests run under `make sanitize`'s ThreadSanitizer, whose runtime dies of SIGBUS
/// in a process with a small file-size limit (ulimit -f), before h5batch does anything.
let underThreadSanitizer = ProcessInfo.processInfo.environment["TSAN_OPTIONS"] != nil

/// The fields of a checkpoint record the tests look at.
struct CheckpointFields {
    let rowsDone: Int
    let fileBytes: Int

    static func read(_ path: String) -> CheckpointFields? {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let rows = object["rows_done"] as? Int, let bytes = object["file_bytes"] as? Int else { return nil }
        return CheckpointFields(rowsDone: rows, fileBytes: bytes)
    }
}

/// The built binary running in the background, to be signalled.
final class BackgroundRun {
    let process = Process()
    private let stderr = Pipe()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: Repo.binary)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        try HDF5File.withDescriptorsSettled { try process.run() }
    }

    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Waits for the run to end (at most `timeout` seconds, then kills it).
    func finish(timeout: Double = 60) -> (status: Int32, stderr: String) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        // A signal's death shows as 128 + its number, as in a shell.
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return (status, text)
    }

    /// Polls until the run saves a checkpoint of `output` with some, not all, rows done; nil if
    /// the run ends first.
    func waitForCheckpoint(at output: String, rows: Int = ResumeTests.fixture.rows) -> CheckpointFields? {
        while process.isRunning {
            if let fields = CheckpointFields.read(RunFiles(output: output).checkpoint),
               fields.rowsDone > 0 && fields.rowsDone < rows { return fields }
            usleep(2_000)
        }
        return nil
    }

    /// Polls until `path` holds at least `minimumBytes`; false if the run ends first.
    func waitForFile(_ path: String, minimumBytes: Int) -> Bool {
        while process.isRunning {
            if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size >= minimumBytes { return true }
            usleep(2_000)
        }
        return false
    }
}

/// Runs `command` with bash; returns its exit status.
@discardableResult
func shell(_ command: String) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", command]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? HDF5File.withDescriptorsSettled { try process.run() }) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}
