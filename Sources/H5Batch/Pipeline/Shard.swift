import Foundation

/// One of `count` independent parts of a run: shard `index` (from 0) processes a contiguous range
/// of the input's first dimension, and writes its own output file.
///
/// Shards split the first dimension into ranges of whole units (`firstDimensionRange`), where a
/// unit is a whole number of input chunks and of batches: every shard's batches are then the
/// batches a single run would form over the same rows, so the stitched result is bit-identical
/// to a single run's (BLAS sums depend on the rows a batch holds).
public struct Shard: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// This shard's number, from 0.
    public let index: Int
    /// How many shards the run has, at least 1.
    public let count: Int

    /// Shard `index` of `count`; throws `H5BatchError(.usage)` (exit 64) unless `count ≥ 1` and
    /// `0 ≤ index < count`.
    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw H5BatchError(.usage, "a run has at least one shard, not \(count)") }
        guard (0..<count).contains(index) else {
            throw H5BatchError(.usage, "shard \(index) of \(count) does not exist: shards are numbered 0 to \(count - 1)")
        }
        self.index = index
        self.count = count
    }

    /// `I/N`, as `--shard` takes it.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw H5BatchError(.usage, "--shard takes I/N (shard I of N, counted from 0) or auto, not '\(text)'")
        }
        try self.init(index: index, count: count)
    }

    /// `I/N`, as `--shard` takes it.
    public var description: String { "\(index)/\(count)" }

    /// The range of first-dimension indices this shard covers, out of `extent`, split in whole
    /// units of `unit` indices (the last unit may be short) as evenly as units allow: the first
    /// shards get one unit more when they do not divide evenly. A shard gets an empty range
    /// when there are fewer units than shards.
    public func firstDimensionRange(extent: Int, unit: Int) -> Range<Int> {
        let unit = max(1, unit)
        let units = extent.units(of: unit)
        let (base, extra) = units.quotientAndRemainder(dividingBy: count)
        let first = index * base + min(index, extra)
        let last = first + base + (index < extra ? 1 : 0)
        return min(extent, first * unit)..<min(extent, last * unit)
    }

    /// The output file of this shard for the pipeline's output `path`: `{shard}` and `{shards}`
    /// replaced by the index and the count; without `{shard}` (which alone tells the shards'
    /// files apart), `-shard-I-of-N` goes before the file name's extension
    /// (`out/mlp.h5` → `out/mlp-shard-2-of-4.h5`).
    public func outputPath(for path: String) -> String {
        let path = path.replacingOccurrences(of: "{shards}", with: String(count))
        if path.contains("{shard}") { return path.replacingOccurrences(of: "{shard}", with: String(index)) }
        let folder = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let stem = (name as NSString).deletingPathExtension
        let renamed = stem + "-shard-\(index)-of-\(count)" + String(name.dropFirst(stem.count))
        return folder.isEmpty ? renamed : (folder as NSString).appendingPathComponent(renamed)
    }
}

/// Finds this process's shard in the environment a cluster launcher sets (`--shard auto`).
public enum ShardEnvironment {
    /// A shard and the variables it came from.
    public struct Detected: Sendable, Equatable {
        /// The shard the variables name.
        public let shard: Shard
        /// Which launcher's variables, e.g. `Open MPI (OMPI_COMM_WORLD_RANK=1, OMPI_COMM_WORLD_SIZE=3)`.
        public let source: String
    }

    /// The launchers, most specific first: an MPI launcher started inside a Slurm allocation
    /// sets Slurm's variables too, and a Slurm array task's step sets `SLURM_PROCID` to 0.
    static let launchers: [(name: String, rank: String, size: String)] = [
        ("Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
        ("MPI (PMI)", "PMI_RANK", "PMI_SIZE"),
    ]

    /// The shard the environment names, or nil when it names none (no launcher's variables).
    /// Throws `H5BatchError(.usage)` for variables that are there but unusable.
    public static func detect(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Detected? {
        func number(_ name: String) throws -> Int? {
            guard let text = environment[name] else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw H5BatchError(.usage, "--shard auto: \(name)=\(text) is not a whole number")
            }
            return value
        }
        func shard(_ index: Int, _ count: Int, _ source: String) throws -> Detected {
            do {
                return Detected(shard: try Shard(index: index, count: count), source: source)
            } catch let error as H5BatchError {
                throw H5BatchError(.usage, "--shard auto: \(source) does not name a shard: \(error.message)")
            }
        }
        func missing(_ found: String, _ needed: String, _ hint: String = "") -> H5BatchError {
            H5BatchError(.usage, "--shard auto: \(found) is set but \(needed) is not\(hint)")
        }

        for launcher in launchers {
            guard let rank = try number(launcher.rank) else { continue }
            guard let size = try number(launcher.size) else { throw missing(launcher.rank, launcher.size) }
            return try shard(rank, size, "\(launcher.name) (\(launcher.rank)=\(rank), \(launcher.size)=\(size))")
        }
        // A Slurm job array: one task per array index. With H5BATCH_SHARDS the index is the
        // shard (so `sbatch --array=5` reruns shard 5 alone); without, indexes may start
        // anywhere (--array=1-8) and the array's size is the count.
        if let task = try number("SLURM_ARRAY_TASK_ID") {
            if let count = try number("H5BATCH_SHARDS") {
                return try shard(task, count, "a Slurm job array (SLURM_ARRAY_TASK_ID=\(task), H5BATCH_SHARDS=\(count))")
            }
            guard let count = try number("SLURM_ARRAY_TASK_COUNT") else {
                throw missing("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", " (Slurm 17.02 or later sets both)")
            }
            let first = try number("SLURM_ARRAY_TASK_MIN") ?? 0
            guard task >= first else {
                throw H5BatchError(.usage, "--shard auto: SLURM_ARRAY_TASK_ID=\(task) is below SLURM_ARRAY_TASK_MIN=\(first)")
            }
            return try shard(task - first, count,
                             "a Slurm job array (SLURM_ARRAY_TASK_ID=\(task), SLURM_ARRAY_TASK_MIN=\(first), SLURM_ARRAY_TASK_COUNT=\(count))")
        }
        if let rank = try number("SLURM_PROCID") {
            guard let size = try number("SLURM_NTASKS") else { throw missing("SLURM_PROCID", "SLURM_NTASKS") }
            return try shard(rank, size, "Slurm tasks (SLURM_PROCID=\(rank), SLURM_NTASKS=\(size))")
        }
        // A Kubernetes indexed Job: the index is set, the completion count is not (the manifest
        // passes it as H5BATCH_SHARDS).
        if let index = try number("JOB_COMPLETION_INDEX") {
            guard let count = try number("H5BATCH_SHARDS") else {
                throw missing("JOB_COMPLETION_INDEX", "H5BATCH_SHARDS", " (set it to the Job's completions)")
            }
            return try shard(index, count, "a Kubernetes indexed Job (JOB_COMPLETION_INDEX=\(index), H5BATCH_SHARDS=\(count))")
        }
        return nil
    }

    /// The names `detect` looks at, for messages.
    public static let variableNames = "OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/SIZE, SLURM_ARRAY_TASK_ID with H5BATCH_SHARDS or SLURM_ARRAY_TASK_COUNT/MIN, SLURM_PROCID/NTASKS, JOB_COMPLETION_INDEX with H5BATCH_SHARDS"
}

/// Where a shard sits in the input: the shard, its first-dimension range and the whole extent.
/// Written on the shard's output dataset (`h5batch_shard`) so that `h5batch merge` can check
/// that shards cover the rows exactly once.
public struct ShardPlacement: Sendable, Equatable, Codable {
    /// The shard's number, from 0.
    public let index: Int
    /// How many shards the run has.
    public let count: Int
    /// First-dimension indices of the input (and the output) this shard holds.
    public let start: Int
    /// One past the last first-dimension index this shard holds.
    public let end: Int
    /// The input's whole first dimension.
    public let extent: Int
    /// The whole run's batch rows (a last shard's own may be fewer): shards of one run share it.
    public let batchRows: Int

    /// The placement of `shard`, holding first-dimension indices `range` of `extent`.
    public init(shard: Shard, range: Range<Int>, extent: Int, batchRows: Int) {
        index = shard.index
        count = shard.count
        start = range.lowerBound
        end = range.upperBound
        self.extent = extent
        self.batchRows = batchRows
    }

    /// `start..<end`.
    public var range: Range<Int> { start..<end }

    /// The attribute's name on a shard's output dataset.
    public static let attribute = "h5batch_shard"

    /// The placement as JSON with sorted keys: the `h5batch_shard` attribute's text.
    public var json: String {
        String(decoding: try! JSONEncoder.sorted.encode(self), as: UTF8.self)
    }

    /// The placement `json` holds, or nil when it is not one.
    public static func parse(_ json: String) -> ShardPlacement? {
        try? JSONDecoder().decode(ShardPlacement.self, from: Data(json.utf8))
    }
}

extension JSONEncoder {
    /// Sorted keys, no escaped slashes: stable text for attributes and records.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
