/// Reads a batch's rows from the input on the I/O lane.
///
/// With a `RawChunkLayout`, stored chunks are read as they are on disk (`H5Dread_chunk`) and
/// left for a worker to decode, so decompressing and converting run on every core, outside HDF5's
/// global lock. Float32 chunks without filters land straight in the batch's floats. Without a
/// layout, HDF5 reads and converts a hyperslab.
struct BatchReader {
    let dataset: Dataset
    let layout: RawChunkLayout?
    /// True when stored elements are little-endian IEEE float32, so undecoded bytes are the floats.
    let storesFloat32: Bool

    init(dataset: Dataset, allowRawChunks: Bool = true) {
        self.dataset = dataset
        let type = dataset.elementType
        storesFloat32 = type.kind == .float && type.size == 4 && !type.isBigEndian && type.hasStandardLayout
        layout = allowRawChunks ? RawChunkLayout.of(dataset, decodable: ElementConversion.canDecode(type)) : nil
    }

    var pathDescription: String { layout == nil ? "hyperslab" : "raw chunks" }

    /// The decoding half, for the workers.
    var decoder: ChunkDecoder? {
        layout.map {
            ChunkDecoder(layout: $0, elementType: dataset.elementType, storesFloat32: storesFloat32,
                         label: "\(dataset.name) in \(dataset.file.path)", totalRows: dataset.rowCount,
                         rowOffset: dataset.rowOffset)
        }
    }

    func read(_ batch: Batch) throws {
        let width = dataset.rowWidth
        batch.stored.removeAll(keepingCapacity: true)
        guard let layout else {
            try dataset.read(rows: batch.rows, into: batch.input.prefix(batch.rows.count * width))
            return
        }
        let first = batch.chunks(of: layout.chunkRows).lowerBound
        var sizes: [(chunk: Int, size: Int)] = []
        for chunk in batch.chunks(of: layout.chunkRows) {
            let size = try dataset.storedChunkSize(at: layout.offset(ofChunk: chunk))
            let floats = (chunk - first) * layout.chunkElements
            if size == 0 {
                // Never written: HDF5 supplies the fill value.
                let rows = (chunk * layout.chunkRows)..<min(dataset.rowCount, (chunk + 1) * layout.chunkRows)
                try dataset.read(rows: rows, into: batch.input.slice(floats, rows.count * width))
            } else if layout.isUnfiltered && storesFloat32 {
                guard size == layout.chunkBytes else { throw corrupt(chunk, layout, "it holds \(size) bytes, not \(layout.chunkBytes)") }
                let target = batch.input.slice(floats, layout.chunkElements)
                _ = try dataset.readStoredChunk(at: layout.offset(ofChunk: chunk), into: UnsafeMutableRawPointer(target.baseAddress!))
            } else {
                sizes.append((chunk, size))
            }
        }
        batch.bytes.reserve(sizes.reduce(0) { $0 + $1.size })
        var offset = 0
        for (chunk, size) in sizes {
            let mask = try dataset.readStoredChunk(at: layout.offset(ofChunk: chunk), into: batch.bytes.pointer + offset)
            batch.stored.append(.init(chunk: chunk, location: .bytes, byteOffset: offset, size: size, filterMask: mask))
            offset += size
        }
    }

    private func corrupt(_ chunk: Int, _ layout: RawChunkLayout, _ why: String) -> H5BatchError {
        ChunkDecoder.corrupt(chunk: chunk, layout: layout, totalRows: dataset.rowCount, rowOffset: dataset.rowOffset,
                             label: "\(dataset.name) in \(dataset.file.path)", why)
    }
}

/// Decodes stored input chunks into Float32 rows: decompress (any of `Codecs.all`), unshuffle,
/// byte order and type.
/// Runs on workers; holds no HDF5 object.
struct ChunkDecoder: Sendable {
    let layout: RawChunkLayout
    let elementType: ElementType
    let storesFloat32: Bool
    let label: String
    let totalRows: Int
    /// The stored row of row 0 (a shard's window starts past it), for messages.
    let rowOffset: Int

    /// Decodes every stored chunk of `batch` into `batch.input`; nil, or the error for a
    /// chunk whose bytes do not decode.
    func decode(_ batch: Batch, with state: WorkerState) -> H5BatchError? {
        guard !batch.stored.isEmpty else { return nil }
        let first = batch.chunks(of: layout.chunkRows).lowerBound
        let chunkBytes = layout.chunkBytes
        // Scratch only where a step cannot write to its final place (it costs memory per worker).
        if layout.needsStagingBuffer { state.scratchA.reserve(chunkBytes) }
        if !storesFloat32 { state.scratchB.reserve(chunkBytes) }
        let compressor = layout.compressor
        let codec = compressor.map { state.codecs.codec($0.filterID)! }
        for stored in batch.stored {
            let floats = batch.input.slice((stored.chunk - first) * layout.chunkElements, layout.chunkElements)
            let target = UnsafeMutableRawPointer(floats.baseAddress!)
            var current = UnsafeRawPointer(batch.bytes.pointer + stored.byteOffset)
            // A filter whose bit is set in the mask was skipped for this chunk (LZF leaves a
            // chunk that would not shrink as it is).
            let compressed = compressor.map { stored.filterMask & (1 << UInt32($0.index)) == 0 } ?? false
            let shuffled = layout.shuffleIndex.map { stored.filterMask & (1 << UInt32($0)) == 0 } ?? false
            // Each step writes where the next reads; float32 chunks end in the batch's floats.
            let elements = storesFloat32 ? target : state.scratchB.pointer
            if compressed, let codec, let compressor {
                let destination = shuffled ? state.scratchA.pointer : elements
                guard codec.decode(UnsafeRawBufferPointer(start: current, count: stored.size),
                                   into: UnsafeMutableRawBufferPointer(start: destination, count: chunkBytes),
                                   parameters: compressor.parameters) else {
                    return Self.corrupt(chunk: stored.chunk, layout: layout, totalRows: totalRows, rowOffset: rowOffset, label: label,
                                        "its \(compressor.codec.streamName) stream does not decode to \(chunkBytes) bytes")
                }
                current = UnsafeRawPointer(destination)
            } else if stored.size != chunkBytes {
                return Self.corrupt(chunk: stored.chunk, layout: layout, totalRows: totalRows, rowOffset: rowOffset, label: label,
                                    "it holds \(stored.size) bytes, not \(chunkBytes)")
            }
            if shuffled {
                ByteShuffle.unshuffle(current, into: elements, count: layout.chunkElements, size: layout.elementSize)
                current = UnsafeRawPointer(elements)
            }
            ElementConversion.decode(current, type: elementType, count: layout.chunkElements, into: floats.baseAddress!)
        }
        return nil
    }

    static func corrupt(chunk: Int, layout: RawChunkLayout, totalRows: Int, rowOffset: Int, label: String,
                        _ why: String) -> H5BatchError {
        let start = chunk * layout.chunkRows + rowOffset
        let end = min(totalRows + rowOffset, start + layout.chunkRows)
        return H5BatchError(.data, "the stored chunk holding rows \(start)..<\(end) of \(label) is corrupt: \(why)")
    }
}

extension ChunkDecoder {
    /// The worker scratch `decode` reserves, in bytes: `a` (`WorkerState.scratchA`) holds an
    /// decompressed chunk until it is unshuffled, `b` (`scratchB`) elements that need converting.
    var scratchBytes: (a: Int, b: Int) {
        (layout.needsStagingBuffer ? layout.chunkBytes : 0, storesFloat32 ? 0 : layout.chunkBytes)
    }
}
