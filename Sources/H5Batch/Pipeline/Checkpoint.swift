import Foundation

/// The durable progress record of a run: `OUTPUT.checkpoint`, beside `OUTPUT.partial`.
///
/// Written (atomically, synced) only after the partial file has been flushed and synced, so it
/// never claims more than the file holds. It names the work (`job`) so that a partial from a
/// different pipeline or input is never continued, and it summarizes the stored chunks
/// (`chunks`) so that a resumed run can check the file still is what the checkpoint left.
struct Checkpoint: Codable, Equatable {
    static let currentFormat = "h5batch checkpoint 2"

    var format = Checkpoint.currentFormat
    /// Chosen when the partial file was created; also stored on its dataset.
    var runID: String
    var job: JobIdentity
    var dataset: String
    /// With `input.datasets`: the output datasets finished before `dataset`, in order (nil for a
    /// run of one dataset).
    var completedDatasets: [String]?
    /// Rows before this one are in the partial file.
    var rowsDone: Int
    var rowsTotal: Int
    /// The partial file's size at the checkpoint: anything past it was written afterwards.
    var fileBytes: Int
    /// The end-of-allocation address in the file's superblock at the checkpoint. A later flush
    /// (one a crash cut short) changes it.
    var endOfAllocation: Int
    var chunks: ChunkLedger.Summary
    /// The input's `RowDigest` over the rows before `inputDigest.row` (the batch boundary at
    /// or before `rowsDone`, where a resumed run starts reading), for the output's provenance.
    var inputDigest: InputDigest
    /// With `--stats`: the statistics of the rows before `inputDigest.row`, which a resumed run
    /// goes on from.
    var statistics: ChainStatistics?
    /// With `--stats` and `input.datasets`: the statistics of the datasets finished before.
    var completedStatistics: [DatasetStatistics]?
    /// When the checkpoint was saved (ISO 8601).
    var saved: String

    struct InputDigest: Codable, Equatable {
        var row: Int
        /// 16 hex digits (JSON numbers are not exact beyond 2⁵³ in every reader).
        var digest: String

        init(row: Int, digest: UInt64) {
            self.row = row
            self.digest = String(digest, radix: 16)
        }

        var value: UInt64? { UInt64(digest, radix: 16) }
    }

    private enum CodingKeys: String, CodingKey {
        // Snake case is "run_id", which converts back to "runId", not "runID".
        case format, runID = "runId", job, dataset, completedDatasets, rowsDone, rowsTotal, fileBytes, endOfAllocation, chunks,
             inputDigest, statistics, completedStatistics, saved
    }

    /// The attribute on the output dataset that holds `runID`.
    static let runIDAttribute = "h5batch_run_id"

    /// The record at `path`: nil when there is none; throws when it cannot be read or parsed.
    static func read(_ path: String) throws -> Checkpoint? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw H5BatchError(.io, "cannot read \(path)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let record = try? decoder.decode(Checkpoint.self, from: data), record.format == currentFormat else {
            throw H5BatchError(.data, "\(path) is not a checkpoint this version of h5batch writes")
        }
        return record
    }

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try DurableFile.write(try encoder.encode(self) + Data("\n".utf8), to: path)
    }
}

/// What a run's result depends on: h5batch's version, the resolved pipeline and the files it
/// reads (identified by path and `FileState`).
struct JobIdentity: Codable, Equatable {
    struct SourceFile: Codable, Equatable {
        var path: String
        var state: FileState
    }

    var version: String
    var pipeline: String
    var sources: [SourceFile]

    init(config: PipelineConfig, batchRows: Int, chunkRows: Int) throws {
        version = H5BatchVersion.string
        pipeline = config.resolvedJSON(batchRows: batchRows, chunkRows: chunkRows)
        var seen = Set<String>()
        sources = []
        for file in RunPlan.filesRead(by: config) {
            let path = absolutePath(file)
            guard seen.insert(path).inserted else { continue }
            sources.append(SourceFile(path: path, state: try FileState(path: file)))
        }
    }

    /// The identity of a run over several datasets: every dataset's resolved pipeline, in order,
    /// and every file any of them reads.
    init(combining parts: [JobIdentity]) {
        version = H5BatchVersion.string
        pipeline = "[" + parts.map(\.pipeline).joined(separator: ",") + "]"
        var seen = Set<String>()
        sources = parts.flatMap(\.sources).filter { seen.insert($0.path).inserted }
    }

    /// The state of the input file when the run began (the first source).
    var inputState: FileState? { sources.first?.state }

    /// Why a partial written for `recorded` cannot be continued as this job, or nil if it can.
    func difference(from recorded: JobIdentity) -> String? {
        if version != recorded.version {
            return "it was written by h5batch \(recorded.version), this is \(version)"
        }
        if pipeline != recorded.pipeline { return "it was written by a different pipeline" }
        for source in sources {
            guard let old = recorded.sources.first(where: { $0.path == source.path }) else {
                return "it was written by a pipeline that did not read \(source.path)"
            }
            if old != source { return "\(source.path) has changed since" }
        }
        return nil
    }
}
