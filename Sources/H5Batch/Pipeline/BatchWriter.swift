/// Encodes output chunks on workers and stores them on the I/O lane.
///
/// With a `RawChunkLayout`, workers convert, shuffle and compress whole chunks (`Codecs.all`), and
/// the lane stores them with `H5Dwrite_chunk`; float32 chunks without filters are stored
/// straight from the batch's floats. Without one, HDF5 writes hyperslabs (and runs its own
/// filters, single-threaded, under its lock); float16 rows are still converted by the workers.
///
/// Either way every chunk reaches HDF5 once, whole: hyperslab writes stop at the last chunk
/// boundary a batch reaches and carry the rows after it over to the next batch. A chunk on
/// disk is therefore never rewritten, which is what lets a checkpoint (taken between batches)
/// stay intact while the run goes on.
final class BatchWriter {
    let dataset: Dataset
    let encoder: ChunkEncoder?
    /// How the output's chunks map onto rows (nil when it is not chunked).
    private let grid: ChunkGrid?
    /// Rows before this are in the file; rows from here to `carryEnd` wait in `carry`.
    private(set) var completeRows: Int
    private var carryEnd: Int
    private let carry = ByteBuffer()
    /// Writes the stored chunks back while the run goes on (raw path), from the first batch on.
    private var writeback: BackgroundWriteback?

    /// The raw path needs every batch to cover whole output chunks: `batchRows` a multiple of
    /// the chunk rows, or one batch for the whole dataset. `firstRow`: rows before it are in
    /// the file already (a resumed run); batches may start before it.
    init(dataset: Dataset, type: StorageType, batchRows: Int, firstRow: Int = 0, allowRawChunks: Bool = true) {
        self.dataset = dataset
        encoder = Self.encoder(for: allowRawChunks ? RawChunkLayout.of(dataset, decodable: true) : nil, type: type,
                               rows: dataset.rowCount, width: dataset.rowWidth, batchRows: batchRows)
        grid = dataset.chunkShape.flatMap { ChunkGrid(shape: dataset.shape, chunks: $0) }
        completeRows = firstRow
        carryEnd = firstRow
        carry.reserve(Self.carryBytes(grid: grid, encoder: encoder, width: dataset.rowWidth, type: type))
    }

    /// Bytes of the carry: on the hyperslab path, one chunk's rows (the carry is always less than
    /// one chunk); nothing otherwise.
    static func carryBytes(grid: ChunkGrid?, encoder: ChunkEncoder?, width: Int, type: StorageType) -> Int {
        guard let grid, encoder?.layout == nil else { return 0 }
        return grid.extent * grid.innerRows * width * (type == .float16 ? 2 : 4)
    }

    var pathDescription: String { Self.pathDescription(encoder) }

    /// The encoder a writer of `rows` rows of `width` values stored as `type` uses, in batches of
    /// `batchRows`: with `layout` (what `RawChunkLayout.of` finds on the output dataset, nil when
    /// raw chunks are not allowed) the raw path, when every batch covers whole chunks (or one
    /// batch covers the dataset); otherwise hyperslab writes, with float16 rounded by the workers.
    /// The one place the write path is decided: `init` uses it, and `PipelinePlan` for an output
    /// that does not exist yet.
    static func encoder(for layout: RawChunkLayout?, type: StorageType, rows: Int, width: Int, batchRows: Int) -> ChunkEncoder? {
        if let layout, batchRows % layout.chunkRows == 0 || rows <= batchRows, [.float16, .float32, .float64].contains(type) {
            return ChunkEncoder(layout: layout, type: type, totalRows: rows, rowWidth: width)
        }
        return type == .float16 ? ChunkEncoder(layout: nil, type: type, totalRows: rows, rowWidth: width) : nil
    }

    /// "raw chunks" or "hyperslab", for a writer with `encoder`.
    static func pathDescription(_ encoder: ChunkEncoder?) -> String { encoder?.layout == nil ? "hyperslab" : "raw chunks" }

    /// What `RawChunkLayout.of(_:decodable: true)` finds on the dataset `PreparedJob.createOutput`
    /// makes with `shape`, `chunks` (nil: contiguous), `type` and `compression` (nil: none),
    /// worked out before it exists: h5batch's filters always qualify, so the same geometry rule
    /// decides.
    static func layoutOfNewOutput(shape: [Int], chunks: [Int]?, type: StorageType, compression: ChunkCompression?) -> RawChunkLayout? {
        guard let chunks else { return nil }
        let filters = compression?.filters(elementSize: type.size, chunkBytes: chunks.reduce(type.size, *)) ?? []
        return RawChunkLayout(shape: shape, chunks: chunks, elementSize: type.size, filters: filters)
    }

    /// Writes a batch; batches come in row order.
    func write(_ batch: Batch) throws {
        guard let encoder, let layout = encoder.layout else {
            if encoder == nil {
                try writeWholeChunks(batch, values: UnsafeRawPointer(batch.output.prefix(0).baseAddress!), valueSize: 4)
            } else {
                try writeWholeChunks(batch, values: UnsafeRawPointer(batch.bytes.pointer), valueSize: 2)
            }
            return
        }
        let first = batch.chunks(of: layout.chunkRows).lowerBound
        // A resumed run's first batch may start below the checkpoint: its chunks there are in
        // the file already and are never written again.
        for stored in batch.stored where stored.chunk * layout.chunkRows >= completeRows {
            let bytes: UnsafeRawBufferPointer
            switch stored.location {
            case .bytes:
                bytes = UnsafeRawBufferPointer(batch.bytes.bytes(stored.byteOffset, stored.size))
            case .floats:
                bytes = UnsafeRawBufferPointer(batch.output.slice((stored.chunk - first) * layout.chunkElements, layout.chunkElements))
            }
            try dataset.writeStoredChunk(at: layout.offset(ofChunk: stored.chunk), bytes: bytes, filterMask: stored.filterMask)
        }
        completeRows = batch.rows.upperBound
        // Chunks go straight to the file (no cache in libhdf5), so what is written can start
        // going to disk now instead of all at the final fsync, while the workers sit idle.
        if writeback == nil { writeback = BackgroundWriteback(path: dataset.file.path) }
        writeback?.request()
    }

    /// Hyperslab writes of whole chunks: the carried rows and this batch's rows up to the last
    /// chunk boundary it reaches; the rest is carried. `values` holds the batch's rows as
    /// float32 (`valueSize` 4) or float16 (2).
    private func writeWholeChunks(_ batch: Batch, values: UnsafeRawPointer, valueSize: Int) throws {
        let rows = batch.rows
        let rowBytes = dataset.rowWidth * valueSize
        precondition(carryEnd == max(rows.lowerBound, completeRows), "batches out of order")
        var end = rows.upperBound
        if let grid, end < dataset.rowCount { end = grid.rows(ofChunk: grid.chunk(holding: end)).lowerBound }
        if end > completeRows {
            if carryEnd > completeRows { try store(completeRows..<carryEnd, from: UnsafeRawPointer(carry.pointer), valueSize) }
            let from = max(rows.lowerBound, completeRows)
            if end > from { try store(from..<end, from: values + (from - rows.lowerBound) * rowBytes, valueSize) }
            completeRows = end
            carryEnd = end
        }
        let keep = max(carryEnd, rows.lowerBound)..<rows.upperBound
        if !keep.isEmpty {
            let held = (carryEnd - completeRows) * rowBytes
            precondition(held + keep.count * rowBytes <= carry.capacity, "carried rows exceed a chunk")
            (carry.pointer + held).copyMemory(from: values + (keep.lowerBound - rows.lowerBound) * rowBytes,
                                              byteCount: keep.count * rowBytes)
            carryEnd = keep.upperBound
        }
    }

    private func store(_ rows: Range<Int>, from bytes: UnsafeRawPointer, _ valueSize: Int) throws {
        let count = rows.count * dataset.rowWidth
        if valueSize == 4 {
            try dataset.write(rows: rows, from: UnsafeBufferPointer(start: bytes.assumingMemoryBound(to: Float.self), count: count))
        } else {
            try dataset.write(rows: rows, halves: UnsafeRawBufferPointer(start: bytes, count: count * 2))
        }
    }
}

/// Turns a batch's output rows into stored chunks, or (without a layout) into float16 rows for
/// HDF5 to store. Runs on workers; holds no HDF5 object.
struct ChunkEncoder: Sendable {
    let layout: RawChunkLayout?
    let type: StorageType
    let totalRows: Int
    let rowWidth: Int

    func encode(_ batch: Batch, with state: WorkerState) {
        guard let layout else {
            let count = batch.rows.count * rowWidth
            batch.bytes.reserve(count * 2)
            ElementConversion.encode(batch.output.prefix(count).baseAddress!, count: count, as: type, into: batch.bytes.pointer)
            return
        }
        let chunks = batch.chunks(of: layout.chunkRows)
        let width = layout.rowWidth
        let chunkBytes = layout.chunkBytes
        let compressor = layout.compressor
        let codec = compressor.map { state.codecs.codec($0.filterID)! }
        let bound = layout.encodedBound(state.codecs)
        // The input's stored bytes were decoded already: the buffer is free for the output.
        batch.bytes.reserve(bound * chunks.count)
        if layout.needsStagingBuffer { state.scratchA.reserve(chunkBytes) }
        if type != .float32 { state.scratchB.reserve(chunkBytes) }
        batch.stored.removeAll(keepingCapacity: true)
        var offset = 0
        for chunk in chunks {
            let floats = batch.output.slice((chunk - chunks.lowerBound) * layout.chunkElements, layout.chunkElements)
            // An edge chunk is stored whole; its rows past the end are zeroed so that the file's
            // bytes do not depend on what the buffer held before.
            let validRows = min(layout.chunkRows, totalRows - chunk * layout.chunkRows)
            if validRows < layout.chunkRows {
                UnsafeMutableBufferPointer(rebasing: floats[(validRows * width)...]).update(repeating: 0)
            }
            if layout.isUnfiltered && type == .float32 {
                batch.stored.append(.init(chunk: chunk, location: .floats, byteOffset: 0, size: chunkBytes, filterMask: 0))
                continue
            }
            var current = UnsafeRawPointer(floats.baseAddress!)
            if type != .float32 {
                ElementConversion.encode(floats.baseAddress!, count: layout.chunkElements, as: type, into: state.scratchB.pointer)
                current = UnsafeRawPointer(state.scratchB.pointer)
            }
            if layout.shuffleIndex != nil {
                let destination = compressor == nil ? batch.bytes.pointer + offset : state.scratchA.pointer
                ByteShuffle.shuffle(current, into: destination, count: layout.chunkElements, size: layout.elementSize)
                current = UnsafeRawPointer(destination)
            }
            var size = chunkBytes, mask: UInt32 = 0
            if let codec, let compressor {
                if let encoded = codec.encode(UnsafeRawBufferPointer(start: current, count: chunkBytes),
                                              into: batch.bytes.bytes(offset, bound), parameters: compressor.parameters) {
                    size = encoded
                } else {
                    // The codec leaves this chunk as it is (LZF, when it would not shrink): stored
                    // without it, its bit set in the mask, as libhdf5 stores it for an optional filter.
                    mask = 1 << UInt32(compressor.index)
                }
            }
            let destination = batch.bytes.pointer + offset
            if codec == nil || mask != 0, current != UnsafeRawPointer(destination) {
                destination.copyMemory(from: current, byteCount: chunkBytes)
            }
            batch.stored.append(.init(chunk: chunk, location: .bytes, byteOffset: offset, size: size, filterMask: mask))
            offset += size
        }
    }
}

extension ChunkEncoder {
    /// The worker scratch `encode` reserves, in bytes: `a` (`WorkerState.scratchA`) holds a
    /// shuffled chunk until it is compressed, `b` (`scratchB`) a chunk converted from float32.
    var scratchBytes: (a: Int, b: Int) {
        guard let layout else { return (0, 0) }
        return (layout.needsStagingBuffer ? layout.chunkBytes : 0, type != .float32 ? layout.chunkBytes : 0)
    }
}
