import CHDF5
import Foundation

/// HDF5 virtual datasets (`H5Pset_virtual`): a dataset whose rows are read from other files'
/// datasets, stored as a list of mappings and no data.
///
/// libhdf5 resolves a relative source file name against the folder of the file holding the
/// virtual dataset (then `HDF5_VDS_PREFIX`, then the working directory), so a folder holding a
/// virtual dataset and its sources can move as a whole. It reads the fill value, silently, for
/// a source it cannot open: `checkVirtualSources` is how h5batch refuses that instead.
extension HDF5File {
    /// One mapping: indices `firstIndex..<firstIndex + shape[0]` of the virtual dataset's first
    /// dimension are the whole of `dataset` in `file` (`file` as it is stored: relative to the
    /// virtual dataset's file, or absolute).
    public struct VirtualSource: Sendable, Equatable {
        /// The source file, as stored: relative to the virtual dataset's file, or absolute.
        public var file: String
        /// The source dataset's path in `file`.
        public var dataset: String
        /// The source dataset's whole shape; `shape[0]` indices of the virtual dataset map onto it.
        public var shape: [Int]
        /// The virtual dataset's first-dimension index where the source's rows start.
        public var firstIndex: Int

        /// A mapping from its parts.
        public init(file: String, dataset: String, shape: [Int], firstIndex: Int) {
            self.file = file
            self.dataset = dataset
            self.shape = shape
            self.firstIndex = firstIndex
        }
    }

    /// Creates the virtual dataset `name` of `shape`, storing values of `type`'s stored type,
    /// from `sources`. Floating-point values no source covers read as NaN, not 0.
    /// `H5Pset_virtual`, `H5Dcreate2`
    public func createVirtualDataset(_ name: String, typeOf type: Dataset, shape: [Int], sources: [VirtualSource]) throws {
        enterHDF5()
        let what = "create the virtual dataset \(name) in \(path)"
        let fileType = Handle(try checkID(H5Dget_type(type.handle.id), what), closer: H5Tclose)
        let creation = try makePropertyList(h5b_P_DATASET_CREATE(), "dataset creation")
        if H5Tget_class(fileType.id) == H5T_FLOAT {
            var nan = Double.nan
            try check(H5Pset_fill_value(creation.id, h5b_T_NATIVE_DOUBLE(), &nan), what)
        }
        let virtualSpace = try makeDataspace(shape)
        for source in sources where source.shape.first != 0 {
            var start = [hsize_t(source.firstIndex)] + [hsize_t](repeating: 0, count: shape.count - 1)
            var count = source.shape.map { hsize_t($0) }
            try check(H5Sselect_hyperslab(virtualSpace.id, H5S_SELECT_SET, &start, nil, &count, nil), what)
            let sourceSpace = try makeDataspace(source.shape)
            // Source names are printf-like patterns (`%b`): a literal % is written %%.
            try check(H5Pset_virtual(creation.id, virtualSpace.id, Self.escapedVirtualName(source.file),
                                     Self.escapedVirtualName(source.dataset), sourceSpace.id), what)
        }
        try check(H5Sselect_all(virtualSpace.id), what)
        let linkCreation = try makePropertyList(h5b_P_LINK_CREATE(), "link creation")
        try check(H5Pset_create_intermediate_group(linkCreation.id, 1), what)
        let id = try checkID(H5Dcreate2(handle.id, name, fileType.id, virtualSpace.id, linkCreation.id, creation.id,
                                        h5b_P_DEFAULT()), what)
        try check(H5Dclose(id), what)
    }

    static func escapedVirtualName(_ name: String) -> String {
        name.replacingOccurrences(of: "%", with: "%%")
    }
}

extension Dataset {
    /// The source file and dataset names of a virtual dataset's mappings, as stored.
    /// `H5Pget_virtual_filename`, `H5Pget_virtual_dsetname`
    public func virtualSources() throws -> [(file: String, dataset: String)] {
        enterHDF5()
        let what = "read the mappings of the virtual dataset \(name) in \(file.path)"
        let creation = Handle(try checkID(H5Dget_create_plist(handle.id), what), closer: H5Pclose)
        var count = 0
        try check(H5Pget_virtual_count(creation.id, &count), what)
        func text(_ get: (UnsafeMutablePointer<CChar>?, Int) -> Int) throws -> String {
            let length = get(nil, 0)
            guard length >= 0 else { throw HDF5Error.fromStack(operation: what) }
            var buffer = [CChar](repeating: 0, count: length + 1)
            guard get(&buffer, buffer.count) >= 0 else { throw HDF5Error.fromStack(operation: what) }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return try (0..<count).map { index in
            (file: try text { H5Pget_virtual_filename(creation.id, index, $0, $1) },
             dataset: try text { H5Pget_virtual_dsetname(creation.id, index, $0, $1) })
        }
    }

    /// Throws `.notFound` when a virtual dataset maps rows from a file that is not there (libhdf5
    /// would read those rows as the fill value without a word). Looks where libhdf5 does:
    /// `HDF5_VDS_PREFIX`, the virtual dataset's folder, the working directory.
    public func checkVirtualSources() throws {
        let folder = (absolutePath(file.path) as NSString).deletingLastPathComponent
        // libhdf5 replaces ${ORIGIN} with the virtual dataset's folder.
        let prefixes = (ProcessInfo.processInfo.environment["HDF5_VDS_PREFIX"] ?? "")
            .split(separator: ":").map { $0.replacingOccurrences(of: "${ORIGIN}", with: folder) }
        var checked = Set<String>()
        for source in try virtualSources() where source.file != "." && checked.insert(source.file).inserted {
            let name = source.file.replacingOccurrences(of: "%%", with: "%")
            let base = name.hasPrefix("/") ? (name as NSString).lastPathComponent : name
            let candidates = (name.hasPrefix("/") ? [name] : []) + prefixes.map { $0 + "/" + base }
                + [folder + "/" + base, base]
            guard candidates.contains(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw HDF5Error(operation: "read the virtual dataset \(self.name) in \(file.path)",
                                detail: "its rows come from \(name) (\(source.dataset)), which is not there (looked in \(folder))",
                                reason: .notFound)
            }
        }
    }
}
