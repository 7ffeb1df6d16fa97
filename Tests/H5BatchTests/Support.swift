import Foundation
import Testing
@testable import H5Batch

/// The repository's folders, found from this file's path.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let data = root + "/data"
    static let config = root + "/config"

    /// The built `h5batch` binary: `$H5BATCH_BIN`, or the debug build in `.build`.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["H5BATCH_BIN"], !path.isEmpty { return path }
        return root + "/.build/debug/h5batch"
    }
}

/// A temporary folder removed when the test is done.
final class TemporaryFolder {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "h5batch-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        let target = file(name)
        try! text.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }

    var contents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path).sorted()) ?? [] }
}

/// Reads a whole dataset as Float32 with its shape.
func readDataset(_ file: String, _ name: String) throws -> (values: [Float], shape: [Int]) {
    let handle = try HDF5File.open(file)
    let dataset = try handle.dataset(name)
    return (try dataset.readAll(), dataset.shape)
}

/// Elementwise comparison with PyTorch-style tolerance: NaN must meet NaN, infinities must be
/// equal, finite values within `atol + rtol·|expected|`. Returns a description of the first
/// mismatch (and how many), or nil.
///
/// With `rowWidth`, a value may also be off by `1e-6 ×` the largest finite magnitude in its row:
/// a float32 dot product that cancels to near zero keeps the rounding error of its large terms,
/// which no relative tolerance on the small result can absorb.
func mismatch(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-4, atol: Float = 1e-5,
              rowWidth: Int? = nil) -> String? {
    guard actual.count == expected.count else { return "count \(actual.count) != \(expected.count)" }
    var rowScale = [Float](repeating: 0, count: actual.count)
    if let width = rowWidth, width > 0 {
        for start in stride(from: 0, to: expected.count, by: width) {
            let row = expected[start..<min(expected.count, start + width)]
            let scale = row.filter(\.isFinite).map(abs).max() ?? 0
            for index in row.indices { rowScale[index] = 1e-6 * scale }
        }
    }
    var first: String? = nil
    var count = 0
    for index in actual.indices {
        let a = actual[index], e = expected[index]
        let ok: Bool
        if e.isNaN { ok = a.isNaN }
        else if e.isInfinite { ok = a == e }
        else { ok = a.isFinite && abs(a - e) <= max(atol + rtol * abs(e), rowScale[index]) }
        if !ok {
            count += 1
            if first == nil { first = "index \(index): got \(a), expected \(e)" }
        }
    }
    return first.map { "\($0) (\(count) mismatches of \(actual.count))" }
}

/// This process's environment without the variables `--shard auto` reads (the tests may run
/// inside a Slurm job or under mpirun), plus `extra`.
func childEnvironment(adding extra: [String: String] = [:]) -> [String: String] {
    let launcher = ["OMPI_COMM_WORLD_", "PMI_", "SLURM_", "JOB_COMPLETION_INDEX", "H5BATCH_SHARDS"]
    return ProcessInfo.processInfo.environment.filter { key, _ in !launcher.contains { key.hasPrefix($0) } }
        .merging(extra) { $1 }
}

/// Result of running the built binary.
struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs the built `h5batch` with `arguments` in `directory`, with `environment` added to this
/// process's; `shellPrefix` (e.g. a ulimit) runs it through bash.
func runBinary(_ arguments: [String], in directory: String? = nil, shellPrefix: String? = nil,
               environment: [String: String] = [:]) throws -> ProcessResult {
    guard let shellPrefix else {
        return try runProcess(Repo.binary, arguments, environment: environment, in: directory)
    }
    let quoted = ([Repo.binary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    return try runProcess("/bin/bash", ["-c", shellPrefix + "; exec " + quoted.joined(separator: " ")],
                          environment: environment, in: directory)
}

/// Runs `executable` with `arguments` in `directory`, with `environment` added to this
/// process's (less the launcher variables), started while HDF5 descriptors are settled.
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                in directory: String? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = childEnvironment(adding: environment)
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try HDF5File.withDescriptorsSettled { try process.run() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// The test cases of data/cases.json.
struct ReferenceCase: Sendable, CustomTestStringConvertible {
    let name: String
    let inputsFile: String
    let input: String
    let stagesJSON: String
    var testDescription: String { name }

    static let all: [ReferenceCase] = {
        let url = URL(fileURLWithPath: Repo.data + "/cases.json")
        let manifest = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let defaultInputs = manifest["inputs_file"] as! String
        return (manifest["cases"] as! [[String: Any]]).map { entry in
            let stages = try! JSONSerialization.data(withJSONObject: entry["stages"]!)
            return ReferenceCase(name: entry["name"] as! String,
                                 inputsFile: entry["inputs_file"] as? String ?? defaultInputs,
                                 input: entry["input"] as! String,
                                 stagesJSON: String(decoding: stages, as: UTF8.self))
        }
    }()

    /// A JSON pipeline file for this case; weight paths stay relative to data/ because the
    /// pipeline's folder is data/.
    func pipelineJSON(output: String, mode: String, batchRows: Int, workers: Int, dtype: String = "float32") -> String {
        """
        {"input": {"file": "\(inputsFile)", "dataset": "\(input)"},
         "output": {"file": "\(output)", "dataset": "/result", "dtype": "\(dtype)"},
         "run": {"mode": "\(mode)", "batch_rows": \(batchRows), "workers": \(workers)},
         "stages": \(stagesJSON)}
        """
    }
}

extension Tag {
    /// Suites that run the built binary end to end (or many times over): the bulk of
    /// `make test`'s time. `make test-quick` leaves them out.
    @Tag static var endToEnd: Self
}
