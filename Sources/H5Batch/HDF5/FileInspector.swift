/// Describes the datasets of a file for `h5batch inspect`.
public enum FileInspector {
    public struct Row: Sendable, Equatable {
        public let path: String
        public let shape: String
        public let dtype: String
        public let layout: String
        public let filters: String
    }

    public static func describe(_ path: String) throws -> [Row] {
        try translatingHDF5Errors(otherwise: .data) {
            let file = try HDF5File.open(path)
            return try file.datasetPaths().map { name in
                let dataset = try file.dataset(name)
                return Row(path: name,
                           shape: dataset.shape.isEmpty ? "scalar" : dataset.shape.map(String.init).joined(separator: "x"),
                           dtype: dataset.elementType.description,
                           layout: dataset.storageDescription,
                           filters: dataset.filters.isEmpty ? "none" : dataset.filters.map(\.description).joined(separator: ", "))
            }
        }
    }
}
