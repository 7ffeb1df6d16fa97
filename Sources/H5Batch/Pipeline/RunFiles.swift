/// The files a run keeps beside its output, named in one place.
///
/// A run writes `OUTPUT.partial` and renames it to `OUTPUT` when complete; `OUTPUT.checkpoint`
/// records how far the partial file is done (for `--resume`); `OUTPUT.lock` is held while a
/// process writes the output; `OUTPUT.stats.json` holds the `--stats` figures.
public struct RunFiles: Sendable, Equatable {
    /// The output file's path.
    public let output: String

    /// The files of a run writing `output`.
    public init(output: String) { self.output = output }

    /// The file being written: `OUTPUT.partial`.
    public var partial: String { output + ".partial" }
    /// The checkpoint record: `OUTPUT.checkpoint`.
    public var checkpoint: String { output + ".checkpoint" }
    /// The lock a writing process holds: `OUTPUT.lock`.
    public var lock: String { output + ".lock" }
    /// The `--stats` figures: `OUTPUT.stats.json`.
    public var statistics: String { output + ".stats.json" }
}
