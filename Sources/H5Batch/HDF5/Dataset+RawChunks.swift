import CHDF5

// MARK: - Stored chunks, read and written as they are on disk

extension Dataset {
    /// Bytes the chunk starting at `offset` takes in the file; 0 when it was never written
    /// (its rows read as the fill value).
    func storedChunkSize(at offset: [Int]) throws -> Int {
        try storedChunkLocation(at: offset)?.size ?? 0
    }

    /// Where the chunk starting at `offset` is in the file, or nil when it was never written.
    /// `H5Dget_chunk_info_by_coord`
    func storedChunkLocation(at offset: [Int]) throws -> (address: Int, size: Int)? {
        enterHDF5()
        let stored = storedCoordinates(offset)
        var start = stored.map { hsize_t($0) }
        var mask: UInt32 = 0
        var address: haddr_t = 0
        var bytes: hsize_t = 0
        let what = "look up the chunk at \(stored) of \(name) in \(file.path)"
        try check(H5Dget_chunk_info_by_coord(handle.id, &start, &mask, &address, &bytes), what)
        if address == haddr_t.max { return nil }
        // A damaged chunk index can hold any numbers: Int(_:) would trap on them, and the reader
        // would reserve a damaged size before libhdf5 noticed anything.
        var fileSize: hsize_t = 0
        if H5Fget_filesize(file.handle.id, &fileSize) < 0 {
            _ = H5Eclear2(h5b_E_DEFAULT())
            fileSize = hsize_t.max
        }
        let (end, overflow) = UInt64(address).addingReportingOverflow(UInt64(bytes))
        guard !overflow, end <= fileSize, let location = Int(exactly: address), let size = Int(exactly: bytes) else {
            let text = { (value: UInt64) in Int(exactly: value).map(formatCount) ?? String(value) }
            throw HDF5Error(operation: what, detail: "the file is damaged: its chunk index places the chunk at bytes "
                            + "\(text(UInt64(address)))..<\(text(UInt64(address) &+ UInt64(bytes))), past the end of the file at \(text(fileSize))",
                            reason: .corrupt)
        }
        // A stored chunk has bytes; libhdf5 would fail to allocate a buffer for none, which
        // reads as an I/O error (exit 74).
        guard size > 0 else {
            throw HDF5Error(operation: what, detail: "the file is damaged: its chunk index gives the chunk at byte \(formatCount(location)) no bytes",
                            reason: .corrupt)
        }
        return (location, size)
    }

    /// How many chunks have been written to the file. `H5Dget_num_chunks`
    func storedChunkCount() throws -> Int {
        enterHDF5()
        let what = "count the chunks of \(name) in \(file.path)"
        let space = Handle(try checkID(H5Dget_space(handle.id), what), closer: H5Sclose)
        var count: hsize_t = 0
        try check(H5Dget_num_chunks(handle.id, space.id, &count), what)
        return Int(count)
    }

    /// Reads the stored (still filtered) bytes of the chunk at `offset` into `buffer`, which
    /// holds at least `storedChunkSize(at:)` bytes; returns the filter mask (bit `i` set: filter
    /// `i` was skipped for this chunk). `H5Dread_chunk`
    func readStoredChunk(at offset: [Int], into buffer: UnsafeMutableRawPointer) throws -> UInt32 {
        enterHDF5()
        let stored = storedCoordinates(offset)
        var start = stored.map { hsize_t($0) }
        var mask: UInt32 = 0
        let what = "read the stored chunk at \(stored) of \(name) in \(file.path)"
        guard H5Dread_chunk(handle.id, h5b_P_DEFAULT(), &start, &mask, buffer) >= 0 else {
            let error = HDF5Error.fromStack(operation: what)
            // Only chunks that storedChunkLocation found in the index are read. libhdf5 1.10
            // looks the chunk up again another way, and when a damaged index answers the two
            // differently, the read fails as if the disk had ("Read failed", exit 74).
            guard error.detail == "chunk address isn't defined" else { throw error }
            throw HDF5Error(operation: what, detail: "the file is damaged: its chunk index does not find the chunk it lists",
                            reason: .corrupt)
        }
        return mask
    }

    /// Stores already-filtered chunk bytes at `offset`. `H5Dwrite_chunk`
    func writeStoredChunk(at offset: [Int], bytes: UnsafeRawBufferPointer, filterMask: UInt32 = 0) throws {
        enterHDF5()
        let stored = storedCoordinates(offset)
        var start = stored.map { hsize_t($0) }
        try check(H5Dwrite_chunk(handle.id, h5b_P_DEFAULT(), filterMask, &start, bytes.count, bytes.baseAddress),
                  "write the chunk at \(stored) of \(name) in \(file.path)")
    }
}

/// How a chunked dataset's stored chunks map onto flat rows, when h5batch can decode or encode
/// them itself: each chunk holds whole rows (it spans every dimension after the first), and its
/// filters are at most HDF5's shuffle and then one of h5batch's codecs (`Codecs.all`), in that
/// order. Other pipelines (fletcher32, nbit, a codec before shuffle, two codecs) go through
/// HDF5's hyperslab path.
struct RawChunkLayout: Sendable, Equatable {
    /// Rows (flat) per chunk.
    let chunkRows: Int
    /// The chunk's extent along the first dimension.
    let firstDimension: Int
    let rank: Int
    let rowWidth: Int
    /// Bytes per stored element.
    let elementSize: Int
    /// Position of the shuffle filter in the pipeline (its bit in a chunk's filter mask).
    let shuffleIndex: Int?
    /// The codec after the shuffle, if any.
    let compressor: Compressor?

    /// A codec filter of the pipeline.
    struct Compressor: Sendable, Equatable {
        let filterID: Int
        /// Its parameters as the file records them (`cd_values`).
        let parameters: [UInt32]
        /// Its position in the pipeline (its bit in a chunk's filter mask).
        let index: Int

        var codec: any ChunkCodec.Type { Codecs.codec(filterID: filterID)! }
    }

    var chunkElements: Int { chunkRows * rowWidth }
    var chunkBytes: Int { chunkElements * elementSize }
    /// True when the stored bytes are the elements themselves (no filter).
    var isUnfiltered: Bool { shuffleIndex == nil && compressor == nil }
    /// True when a chunk passes through two buffers before its elements (shuffle and a codec).
    var needsStagingBuffer: Bool { shuffleIndex != nil && compressor != nil }

    /// The dataset coordinates where chunk `index` (counted along the rows) starts.
    func offset(ofChunk index: Int) -> [Int] {
        [index * firstDimension] + [Int](repeating: 0, count: rank - 1)
    }

    /// The most bytes a chunk takes once encoded, with `codecs`' state.
    func encodedBound(_ codecs: CodecSet) -> Int {
        guard let compressor else { return chunkBytes }
        return codecs.codec(compressor.filterID)!.bound(chunkBytes, parameters: compressor.parameters)
    }

    /// The layout of `dataset`'s chunks, or nil when h5batch must leave the chunks to HDF5 (not
    /// chunked, rank 1, chunks that split rows, other filters, an element encoding it does not
    /// know). `decodable` says whether the element type can be converted here.
    static func of(_ dataset: Dataset, decodable: Bool) -> RawChunkLayout? {
        guard decodable, let chunks = dataset.chunkShape else { return nil }
        var shuffle: Int?, compressor: Compressor?
        for (index, filter) in dataset.filters.enumerated() {
            if filter.id == Int(H5Z_FILTER_SHUFFLE), shuffle == nil, compressor == nil {
                shuffle = index
            } else if compressor == nil, Codecs.codec(filterID: filter.id) != nil {
                compressor = Compressor(filterID: filter.id, parameters: filter.parameters, index: index)
            } else {
                return nil
            }
        }
        return RawChunkLayout(shape: dataset.shape, chunks: chunks, elementSize: dataset.elementType.size,
                              shuffleIndex: shuffle, compressor: compressor)
    }
}

extension RawChunkLayout {
    /// The layout of chunks `chunks` of a dataset of `shape` with those filters, or nil when
    /// its chunks do not hold whole rows: they must span every dimension after the first, at
    /// rank 2 or more.
    init?(shape: [Int], chunks: [Int], elementSize: Int, shuffleIndex: Int?, compressor: Compressor?) {
        guard shape.count >= 2, chunks.count == shape.count,
              Array(chunks.dropFirst()) == Array(shape.dropFirst()), chunks[0] > 0 else { return nil }
        let inner = shape.dropFirst().dropLast().reduce(1, *)
        self.init(chunkRows: chunks[0] * inner, firstDimension: chunks[0], rank: shape.count, rowWidth: shape.last!,
                  elementSize: elementSize, shuffleIndex: shuffleIndex, compressor: compressor)
    }

    /// The layout of chunks `chunks` of a dataset of `shape` that h5batch creates with
    /// `filters` (`ChunkCompression.filters`), which are always shuffle and/or one codec.
    init?(shape: [Int], chunks: [Int], elementSize: Int, filters: [FilterSpec]) {
        var shuffle: Int?, compressor: Compressor?
        for (index, filter) in filters.enumerated() {
            if filter.id == Int(H5Z_FILTER_SHUFFLE) { shuffle = index }
            else { compressor = Compressor(filterID: filter.id, parameters: filter.parameters, index: index) }
        }
        self.init(shape: shape, chunks: chunks, elementSize: elementSize, shuffleIndex: shuffle, compressor: compressor)
    }
}
