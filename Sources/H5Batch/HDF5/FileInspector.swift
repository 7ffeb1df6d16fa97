/// Describes the datasets of a file for `h5batch inspect`.
public enum FileInspector {
    /// One dataset, as one line of `h5batch inspect`.
    public struct Row: Sendable, Equatable {
        /// The dataset's path, e.g. `/features`.
        public let path: String
        /// `AxB…`, or `scalar`.
        public let shape: String
        /// The stored type, numpy-style (`float32`, `int16-be`, …).
        public let dtype: String
        /// `contiguous`, `compact`, `virtual` or `chunks AxB`.
        public let layout: String
        /// The filters, comma-separated (`shuffle, gzip(4)`), or `none`; a filter libhdf5 cannot
        /// apply here is marked `(not available here)`.
        public let filters: String
    }

    /// Every dataset in the file at `path`, in name order. Throws `H5BatchError`: `.notFound`
    /// (exit 66) for a missing or unreadable file, `.data` (65) for one that is not HDF5 or is
    /// damaged.
    public static func describe(_ path: String) throws -> [Row] {
        try translatingHDF5Errors(otherwise: .data) {
            let file = try HDF5File.open(path)
            return try file.datasetPaths().map { name in
                let dataset = try file.dataset(name)
                return Row(path: name,
                           shape: dataset.shape.isEmpty ? "scalar" : dataset.shape.map(String.init).joined(separator: "x"),
                           dtype: dataset.elementType.description,
                           layout: dataset.storageDescription,
                           filters: dataset.filters.isEmpty ? "none" : dataset.filters.map { $0.description + ($0.isAvailable ? "" : " (not available here)") }
                               .joined(separator: ", "))
            }
        }
    }
}
