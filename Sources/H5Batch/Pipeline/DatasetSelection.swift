import Foundation

/// `input.datasets`: which datasets of the input file a run takes, and where each goes in the
/// output.
public enum DatasetSelection {
    /// The datasets `patterns` name in `file`, in order, each once: a plain path must exist; a
    /// glob pattern (`*`, `?`, `[…]`; none crosses a `/`) takes every dataset it matches, in name
    /// order, and must match at least one. Throws `.notFound` (66) otherwise.
    public static func resolve(_ patterns: [String], in file: String) throws -> [String] {
        let all = try translatingHDF5Errors(otherwise: .data) { try HDF5File.open(file).datasetPaths() }
        var seen = Set<String>()
        var names: [String] = []
        for raw in patterns {
            let pattern = raw.hasPrefix("/") ? raw : "/" + raw
            let matches: [String]
            if pattern.contains(where: { "*?[".contains($0) }) {
                matches = all.filter { fnmatch(pattern, $0, FNM_PATHNAME) == 0 }
                guard !matches.isEmpty else {
                    throw H5BatchError(.notFound, "input.datasets: no dataset in \(file) matches \(raw) (it has \(listing(all)))")
                }
            } else {
                guard all.contains(pattern) else {
                    throw H5BatchError(.notFound, "input.datasets: \(file) has no dataset \(raw) (it has \(listing(all)))")
                }
                matches = [pattern]
            }
            names += matches.filter { seen.insert($0).inserted }
        }
        return names
    }

    /// One pipeline per dataset `config.input.datasets` names: each with `input.dataset` set and
    /// `output.dataset` its output's path.
    public static func configs(_ config: PipelineConfig) throws -> [PipelineConfig] {
        guard let input = config.input, let patterns = input.datasets else { return [config] }
        return try resolve(patterns, in: input.file).map { name in
            var single = config
            single.input = PipelineConfig.Input(file: input.file, dataset: name)
            single.output.dataset = outputPath(for: name, under: config.output.dataset)
            return single
        }
    }

    /// Where the output of input dataset `path` goes: the same path, under `group` when set.
    public static func outputPath(for path: String, under group: String?) -> String {
        let trimmed = (group ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return trimmed.isEmpty ? path : "/" + trimmed + path
    }

    private static func listing(_ all: [String]) -> String {
        all.isEmpty ? "none" : all.prefix(8).joined(separator: ", ") + (all.count > 8 ? ", … (\(all.count) in all)" : "")
    }
}
