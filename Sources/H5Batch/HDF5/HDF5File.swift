import CHDF5
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An open HDF5 file (`H5Fopen` / `H5Fcreate`).
///
/// Not `Sendable`: every HDF5 object of a run lives on its I/O lane.
public final class HDF5File {
    /// The path the file was opened or created with.
    public let path: String
    let handle: Handle

    private init(path: String, id: hid_t) {
        self.path = path
        self.handle = Handle(id, closer: H5Fclose)
        // libhdf5 opens files without O_CLOEXEC, and holds a flock on them: a process this one
        // starts (from any thread) would inherit the descriptor and keep the file locked after
        // h5batch closed it, so a later open fails with "unable to lock file".
        let fd = h5b_file_descriptor(id)
        if fd >= 0 { _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC) }
        _ = H5Eclear2(h5b_E_DEFAULT())
    }

    /// Opens an existing file. Tells a missing file, a file that is not HDF5 and a damaged one
    /// apart (`HDF5Error.Reason` `.notFound`, `.notHDF5`, `.corrupt`). `H5Fopen`
    ///
    /// `postponingMetadataWrites` (with `writable`): see `create(_:postponingMetadataWrites:)`.
    public static func open(_ path: String, writable: Bool = false, postponingMetadataWrites: Bool = false) throws -> HDF5File {
        enterHDF5()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw HDF5Error(operation: "open \(path)", detail: "no such file", reason: .notFound)
        }
        if isDirectory.boolValue {
            throw HDF5Error(operation: "open \(path)", detail: "it is a directory", reason: .notHDF5)
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw HDF5Error(operation: "open \(path)", detail: "permission denied", reason: .unreadable)
        }
        // From libhdf5's first open of the file until its descriptor is close-on-exec.
        descriptorLock.lock()
        defer { descriptorLock.unlock() }
        let isHDF5 = H5Fis_hdf5(path)
        if isHDF5 == 0 {
            throw HDF5Error(operation: "open \(path)", detail: "not an HDF5 file", reason: .notHDF5)
        }
        // libhdf5 1.10 crashes on some damaged group indexes instead of reporting them.
        try SymbolTableCheck.verify(path)
        let flags = writable ? h5b_F_ACC_RDWR() : h5b_F_ACC_RDONLY()
        let access = try fileAccess(postponingMetadataWrites: writable && postponingMetadataWrites, "open \(path)")
        let id = H5Fopen(path, flags, access?.id ?? h5b_P_DEFAULT())
        if id < 0 {
            let error = HDF5Error.fromStack(operation: "open \(path)")
            // A file whose superblock survives but whose end is missing reads as "truncated";
            // anything else wrong with a file that has the signature is damage, not absence.
            let reason: HDF5Error.Reason = error.reason == .io || error.reason == .other ? .corrupt : error.reason
            throw HDF5Error(operation: error.operation, detail: error.detail, reason: reason)
        }
        return HDF5File(path: path, id: id)
    }

    /// Creates a new file, replacing any file already at `path`. `H5Fcreate`
    ///
    /// With `postponingMetadataWrites`, HDF5 writes the file's metadata only when it is flushed
    /// or closed, never in between: a flushed file on disk is then a consistent state that the
    /// raw data written afterwards (always past its end) cannot damage. Checkpoints rely on it.
    public static func create(_ path: String, postponingMetadataWrites: Bool = false) throws -> HDF5File {
        enterHDF5()
        let access = try fileAccess(postponingMetadataWrites: postponingMetadataWrites, "create \(path)")
        descriptorLock.lock()
        defer { descriptorLock.unlock() }
        let id = try checkID(H5Fcreate(path, h5b_F_ACC_TRUNC(), h5b_P_DEFAULT(), access?.id ?? h5b_P_DEFAULT()),
                             "create \(path)")
        return HDF5File(path: path, id: id)
    }

    /// Held from libhdf5's open of a file until its descriptor is close-on-exec (libhdf5 opens
    /// files without `O_CLOEXEC`).
    private static let descriptorLock = NSLock()

    /// Runs `body` while no HDF5 file of this process is between being opened and being marked
    /// close-on-exec. A program that starts child processes while other threads open HDF5
    /// files should start them in here: otherwise a child can inherit a descriptor opened in
    /// that window, and with it libhdf5's `flock`, keeping the file locked after it is closed.
    public static func withDescriptorsSettled<T>(_ body: () throws -> T) rethrows -> T {
        descriptorLock.lock()
        defer { descriptorLock.unlock() }
        return try body()
    }

    private static func fileAccess(postponingMetadataWrites: Bool, _ what: String) throws -> Handle? {
        guard postponingMetadataWrites else { return nil }
        let access = try makePropertyList(h5b_P_FILE_ACCESS(), "file access")
        try check(h5b_postpone_metadata_writes(access.id), "\(what): configure the metadata cache")
        return access
    }

    /// Closes the file without writing anything more to it: whatever HDF5 still holds (dirty
    /// metadata, cached chunks) is discarded, so the file on disk stays as its last flush left
    /// it. For a run that failed or stopped after a checkpoint. Errors are ignored: the writes
    /// that fail are the ones being discarded. `H5Fclose`
    public func abandon() {
        enterHDF5()
        let fd = h5b_file_descriptor(handle.id)
        if fd >= 0 {
            // HDF5 keeps writing to its descriptor until the last object of the file is closed;
            // pointing it at /dev/null makes those writes vanish instead of reaching the file.
            let null = Glibc.open("/dev/null", O_WRONLY)
            if null >= 0 {
                _ = dup2(null, fd)
                _ = Glibc.close(null)
            }
        }
        try? handle.close("close \(path)")
        _ = H5Eclear2(h5b_E_DEFAULT())
    }

    /// Bytes the file takes on disk now (its end of file). `fstat`
    public func sizeOnDisk() throws -> Int {
        enterHDF5()
        let fd = h5b_file_descriptor(handle.id)
        var info = stat()
        guard fd >= 0, fstat(fd, &info) == 0 else {
            throw HDF5Error(operation: "measure \(path)", detail: String(cString: strerror(errno)), reason: .io)
        }
        return Int(info.st_size)
    }

    /// Flushes and closes; reports failures (a full disk shows up here). `H5Fflush`, `H5Fclose`
    public func close() throws {
        enterHDF5()
        try check(H5Fflush(handle.id, H5F_SCOPE_LOCAL), "write \(path)")
        try handle.close("close \(path)")
    }

    /// Writes buffered data and metadata to the file. `H5Fflush`
    public func flush() throws {
        enterHDF5()
        try check(H5Fflush(handle.id, H5F_SCOPE_LOCAL), "write \(path)")
    }

    // MARK: - Objects

    /// Whether `path` names a dataset in this file (false for groups and missing paths).
    public func hasDataset(_ path: String) throws -> Bool {
        enterHDF5()
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if try !checkBool(H5Lexists(handle.id, prefix, h5b_P_DEFAULT()), "look up \(prefix) in \(self.path)") {
                return false
            }
        }
        guard !prefix.isEmpty else { return false }
        let object = H5Oopen(handle.id, prefix, h5b_P_DEFAULT())
        guard object >= 0 else {
            let error = HDF5Error.fromStack(operation: "open \(prefix) in \(self.path)")
            if error.reason == .corrupt { throw error }  // a damaged object header
            return false  // a dangling soft or external link
        }
        defer { H5Oclose(object) }
        return H5Iget_type(object) == H5I_DATASET
    }

    /// Opens a dataset. `chunkCacheBytes` sizes HDF5's chunk cache for it (the 1 MiB default
    /// makes HDF5 re-read and re-inflate a larger chunk on every partial access). `H5Dopen2`
    public func dataset(_ name: String, chunkCacheBytes: Int? = nil) throws -> Dataset {
        enterHDF5()
        guard try hasDataset(name) else {
            throw HDF5Error(operation: "open dataset \(name) in \(path)", detail: "no such dataset", reason: .notFound)
        }
        let access = try makePropertyList(h5b_P_DATASET_ACCESS(), "dataset access")
        if let bytes = chunkCacheBytes {
            // 12421 slots (a prime, as HDF5 advises); w0 = 1 evicts fully read chunks first.
            try check(H5Pset_chunk_cache(access.id, 12421, bytes, 1.0), "size the chunk cache")
        }
        let id = try checkID(H5Dopen2(handle.id, name, access.id), "open dataset \(name) in \(path)")
        return try Dataset(file: self, name: name, handle: Handle(id, closer: H5Dclose))
    }

    /// Paths of every dataset in the file, in name order (`H5Lvisit`).
    public func datasetPaths() throws -> [String] {
        enterHDF5()
        final class Names { var all: [String] = [] }
        let names = Names()
        let context = Unmanaged.passUnretained(names).toOpaque()
        try check(H5Lvisit(handle.id, H5_INDEX_NAME, H5_ITER_INC, { _, name, _, context in
            guard let name, let context else { return 0 }
            Unmanaged<Names>.fromOpaque(context).takeUnretainedValue().all.append(String(cString: name))
            return 0
        }, context), "list the objects in \(path)")
        return try names.all.map { "/" + $0 }.filter { try hasDataset($0) }
    }

    /// Describes a new dataset's storage.
    public struct DatasetLayout: Sendable {
        /// Chunk dimensions, one per dimension; nil for contiguous storage, which takes no filters.
        public var chunks: [Int]?
        /// The filters (chunked datasets only): a codec, and the shuffle.
        public var compression: ChunkCompression

        /// Chunks of `chunks` with `compression`'s filters.
        public init(chunks: [Int]? = nil, compression: ChunkCompression) {
            self.chunks = chunks
            self.compression = compression
        }

        /// gzip at `gzipLevel` (1–9; nil: no compression), with HDF5's shuffle filter before it.
        /// The defaults are contiguous storage, no compression and no shuffle.
        public init(chunks: [Int]? = nil, gzipLevel: Int? = nil, shuffle: Bool = false) {
            self.init(chunks: chunks, compression: ChunkCompression(gzipLevel == nil ? nil : .gzip, level: gzipLevel, shuffle: shuffle))
        }
    }

    /// Creates a dataset, creating intermediate groups as needed. `H5Dcreate2`
    public func createDataset(_ name: String, type: StorageType, shape: [Int],
                              layout: DatasetLayout = DatasetLayout()) throws -> Dataset {
        enterHDF5()
        let what = "create dataset \(name) in \(path)"
        let fileType = try type.makeFileType()
        let space = try makeDataspace(shape)
        let linkCreation = try makePropertyList(h5b_P_LINK_CREATE(), "link creation")
        try check(H5Pset_create_intermediate_group(linkCreation.id, 1), what)
        let creation = try makePropertyList(h5b_P_DATASET_CREATE(), "dataset creation")
        if let chunks = layout.chunks {
            var dims = chunks.map { hsize_t(max(1, $0)) }
            try check(H5Pset_chunk(creation.id, Int32(dims.count), &dims), what)
            let chunkBytes = dims.reduce(type.size) { $0 * Int($1) }
            for filter in layout.compression.filters(elementSize: type.size, chunkBytes: chunkBytes) {
                switch filter.id {
                case Int(H5Z_FILTER_SHUFFLE): try check(H5Pset_shuffle(creation.id), what)
                case Int(H5Z_FILTER_DEFLATE): try check(H5Pset_deflate(creation.id, filter.parameters[0]), what)
                default:
                    // h5batch's other codecs are registered with libhdf5 (CodecFilters).
                    try check(H5Pset_filter(creation.id, H5Z_filter_t(filter.id), filter.optional ? UInt32(H5Z_FLAG_OPTIONAL) : UInt32(H5Z_FLAG_MANDATORY),
                                            filter.parameters.count, filter.parameters), what)
                }
            }
        }
        // Every element gets written, so HDF5 need not write fill values first.
        try check(H5Pset_fill_time(creation.id, H5D_FILL_TIME_NEVER), what)
        let id = try checkID(H5Dcreate2(handle.id, name, fileType.id, space.id, linkCreation.id,
                                        creation.id, h5b_P_DEFAULT()), what)
        return try Dataset(file: self, name: name, handle: Handle(id, closer: H5Dclose))
    }
}
