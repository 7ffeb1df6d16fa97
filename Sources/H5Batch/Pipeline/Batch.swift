/// One batch in flight and the buffers it reuses from batch to batch.
///
/// A stream keeps a fixed set of these; each is owned by exactly one party at a time (the I/O
/// lane while reading and writing, one worker while decoding, computing and encoding), handed
/// over through Dispatch queues, hence `@unchecked Sendable`.
final class Batch: @unchecked Sendable {
    /// Where one stored chunk's bytes are.
    struct StoredChunk {
        enum Location { case bytes, floats }
        /// The chunk's number along the rows.
        var chunk: Int
        var location: Location
        var byteOffset: Int
        var size: Int
        var filterMask: UInt32
    }

    var index = 0
    var rows: Range<Int> = 0..<0
    var input: FloatBuffer
    var output: FloatBuffer
    /// Stored chunk bytes: read from the input, then (once decoded) reused for encoded output.
    let bytes = ByteBuffer()
    var stored: [StoredChunk] = []
    var decodeSeconds = 0.0
    var computeSeconds = 0.0
    var encodeSeconds = 0.0
    /// The `RowDigest` of the batch's input rows, when the run fingerprints its input.
    var inputDigest: UInt64 = 0
    /// With `--stats`: this batch's statistics, counted by its worker.
    var statistics: StatisticsCollector?
    var failure: H5BatchError?

    init(input: FloatBuffer, output: FloatBuffer) {
        self.input = input
        self.output = output
    }

    /// Bytes a batch of `batchRows` rows needs for stored chunks: the input's as read, or the
    /// output's as encoded (their bound), whichever is more. Reserving it once up front means
    /// no pass grows the buffer later.
    /// `encoder`: the writer's.
    static func storedBytes(batchRows: Int, reader: BatchReader, encoder: ChunkEncoder?, codecs: CodecSet) -> Int {
        func chunks(_ chunkRows: Int) -> Int { batchRows.units(of: chunkRows) }
        let read = storedInputBytes(batchRows: batchRows, reader: reader)
        let write = encoder.map { encoder -> Int in
            guard let layout = encoder.layout else { return batchRows * encoder.rowWidth * 2 }  // float16 rows
            if layout.isUnfiltered && encoder.type == .float32 { return 0 }
            return layout.encodedBound(codecs) * chunks(layout.chunkRows)
        } ?? 0
        return max(read, write)
    }

    /// Sets `inputDigest` from the decoded input rows (`width` values each); `rowOffset` is the
    /// stored row of the run's row 0 (`Dataset.rowOffset`), so that a shard's rows are hashed as
    /// the rows they are in the input and the shards' digests add up to the whole input's.
    func hashInput(width: Int, rowOffset: Int) {
        inputDigest = RowDigest.sum(input.prefix(rows.count * width).baseAddress!, rows: rows.count, width: width,
                                    firstRow: rows.lowerBound + rowOffset)
    }

    /// Bytes a batch of `batchRows` rows needs for the input's stored chunks as read.
    static func storedInputBytes(batchRows: Int, reader: BatchReader) -> Int {
        reader.layout.map { layout in
            layout.isUnfiltered && reader.storesFloat32 ? 0 : layout.chunkBytes * batchRows.units(of: layout.chunkRows)
        } ?? 0
    }

    /// Chunks (counted along the rows) that rows of this batch fall in.
    func chunks(of chunkRows: Int) -> ClosedRange<Int> {
        (rows.lowerBound / chunkRows)...((rows.upperBound - 1) / chunkRows)
    }
}

/// Worker-private state: lives on one worker's serial queue only.
final class WorkerState: @unchecked Sendable {
    var workspace = Workspace()
    /// Codec state (libdeflate's, Zstd's contexts, …), made on first use.
    let codecs = CodecSet()
    let scratchA = ByteBuffer()
    let scratchB = ByteBuffer()

    /// What one worker's state grows to over batches of at most `rows` rows: the chain's two
    /// alternating scratch tiles (every linear step but the last writes one), the largest
    /// scratchpad a linear stage's product needs at that tile height, the scratch buffers the
    /// decoder and the encoder reserve (`scratchBytes`), each the larger of the two, and the
    /// codecs' contexts (`ChunkCodec.workspaceBytes`).
    static func estimatedBytes(chain: StageChain, rows: Int, decoder: ChunkDecoder?, encoder: ChunkEncoder?) -> Int {
        let tile = min(chain.tileRows, rows)
        var scratchTiles = [0, 0]
        var linearSteps: [Linear] = []
        for step in chain.steps { if case .linear(let linear, _) = step { linearSteps.append(linear) } }
        for (offset, linear) in linearSteps.dropLast().enumerated() {
            let index = (offset + 1) % 2
            scratchTiles[index] = max(scratchTiles[index], tile * linear.outFeatures * 4)
        }
        let scratchpad = linearSteps.map { $0.scratchpadBytes(rows: tile) }.max() ?? 0
        let decoding = decoder?.scratchBytes ?? (a: 0, b: 0), encoding = encoder?.scratchBytes ?? (a: 0, b: 0)
        // The codecs' own state (`CodecSet`): one instance per filter, shared when the input
        // and the output use the same codec.
        var codecBytes: [Int: Int] = [:]
        for (layout, encodes) in [(decoder?.layout, false), (encoder?.layout, true)] {
            guard let layout, let compressor = layout.compressor else { continue }
            let bytes = compressor.codec.workspaceBytes(chunkBytes: layout.chunkBytes, parameters: compressor.parameters, encoding: encodes)
            codecBytes[compressor.filterID] = max(codecBytes[compressor.filterID] ?? 0, bytes)
        }
        return scratchTiles[0] + scratchTiles[1] + scratchpad + max(decoding.a, encoding.a) + max(decoding.b, encoding.b)
            + codecBytes.values.reduce(0, +)
    }
}
