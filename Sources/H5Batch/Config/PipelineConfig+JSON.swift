import Foundation

extension PipelineConfig {
    /// What the pipeline computes, as JSON with sorted keys: every default filled in, every path
    /// absolute, so the same work gives the same text whichever file or command line asked for
    /// it. Settings that change how a run goes but not the bytes it writes (workers, memory
    /// limit, the output's file name) are left out. `batchRows` and `chunkRows` are the values
    /// the run resolved; batch boundaries are part of the result because they decide how BLAS
    /// splits its sums.
    public func resolvedJSON(batchRows: Int, chunkRows: Int) -> String {
        var object: [String: Any] = [
            "stages": stages.map(\.resolvedObject),
            "run": run.shard.map { ["mode": run.mode.rawValue, "batch_rows": batchRows, "shard": $0.description] }
                ?? ["mode": run.mode.rawValue, "batch_rows": batchRows] as [String: Any],
            "output": [
                "dataset": output.dataset ?? input?.dataset ?? NSNull(),
                "dtype": output.dtype.rawValue,
                "chunk_rows": chunkRows,
                "compression": output.compression.rawValue,
                "level": output.compression == .gzip ? output.level : NSNull(),
                "shuffle": output.shuffle,
            ] as [String: Any],
        ]
        if let input {
            object["input"] = ["file": absolutePath(input.file), "dataset": input.dataset ?? NSNull()] as [String: Any]
            if let datasets = input.datasets { object["input"] = ["file": absolutePath(input.file), "datasets": datasets] as [String: Any] }
        }
        // Plain dictionaries, strings and numbers always serialize.
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

extension StageConfig {
    fileprivate var resolvedObject: [String: Any] { [name: spec.resolvedParameters] }
}

/// `path` made absolute against the working directory, with `.` and `..` resolved.
func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}
