/// How a chunked dataset's chunks map onto its flat rows, for chunk shapes like the ones h5batch
/// gives its outputs (`BatchPlan.chunkShape`): ones, then one partial dimension, then whole
/// dimensions. Every chunk then holds a contiguous range of rows, and the chunks taken in
/// row-major order of their grid come in row order.
struct ChunkGrid: Equatable {
    /// Leading dimensions (the last, the features, is always whole in a chunk).
    let leading: [Int]
    /// The partial dimension, its chunk extent, and the rows one step along it spans.
    let axis: Int
    let extent: Int
    let innerRows: Int
    /// Chunks along `axis`.
    let chunksAlong: Int
    let count: Int
    /// A rank-1 dataset: one row, no leading dimension in its coordinates.
    let isSingleRow: Bool

    /// nil when the chunks do not have that shape (then chunks are not contiguous in rows).
    init?(shape: [Int], chunks: [Int]) {
        guard shape.count == chunks.count, !shape.isEmpty, chunks.last == shape.last else { return nil }
        var leading = Array(shape.dropLast())
        var chunkLeading = Array(chunks.dropLast())
        isSingleRow = leading.isEmpty
        if leading.isEmpty {
            leading = [1]
            chunkLeading = [1]
        }
        var axis = leading.count - 1
        while axis > 0 && chunkLeading[axis] == leading[axis] { axis -= 1 }
        guard chunkLeading[..<axis].allSatisfy({ $0 == 1 }), chunkLeading[axis] >= 1 else { return nil }
        self.leading = leading
        self.axis = axis
        extent = chunkLeading[axis]
        innerRows = leading[(axis + 1)...].reduce(1, *)
        chunksAlong = leading[axis].units(of: extent)
        count = leading[..<axis].reduce(1, *) * chunksAlong
    }

    /// Rows of chunk `index` (in grid order).
    func rows(ofChunk index: Int) -> Range<Int> {
        let outer = index / chunksAlong, step = index % chunksAlong
        let first = outer * leading[axis] * innerRows + step * extent * innerRows
        return first..<(first + min(extent, leading[axis] - step * extent) * innerRows)
    }

    /// The chunk holding `row`.
    func chunk(holding row: Int) -> Int {
        let slab = leading[axis] * innerRows
        return row / slab * chunksAlong + row % slab / (extent * innerRows)
    }

    /// The dataset coordinates where chunk `index` starts (features dimension included).
    func offset(ofChunk index: Int) -> [Int] {
        var coordinates = [Int](repeating: 0, count: leading.count + 1)
        var outer = index / chunksAlong
        coordinates[axis] = index % chunksAlong * extent
        for dim in (0..<axis).reversed() {
            coordinates[dim] = outer % leading[dim]
            outer /= leading[dim]
        }
        return isSingleRow ? [0] : coordinates
    }
}

/// A running summary of the chunks an output has stored below a row: how many, and a digest
/// of where each is and how big. A resumed run recomputes it from the partial file and compares
/// it with its checkpoint's, so a file that holds more, less or other chunks than the
/// checkpoint recorded (a flush cut short by a crash) is never continued.
struct ChunkLedger {
    struct Entry: Codable, Equatable {
        var chunk: Int
        var address: Int
        var size: Int
    }

    struct Summary: Codable, Equatable {
        /// Chunks below the row (the writer hands HDF5 whole chunks only, so a checkpoint's
        /// row is always a chunk boundary).
        var chunks = 0
        /// FNV-1a over (chunk, address, size) of each of them, in row order, as hex.
        var digest = ""
    }

    let grid: ChunkGrid
    private var complete = 0
    private var hash: UInt64 = 0xcbf2_9ce4_8422_2325

    init(grid: ChunkGrid) {
        self.grid = grid
    }

    /// Brings the summary up to `row`, looking up the chunks completed since the last call
    /// (which are never written again, so their entries stay valid).
    mutating func summary(upTo row: Int, in dataset: Dataset) throws -> Summary {
        while complete < grid.count && grid.rows(ofChunk: complete).upperBound <= row {
            let entry = try self.entry(complete, in: dataset)
            for value in [entry.chunk, entry.address, entry.size] {
                withUnsafeBytes(of: UInt64(truncatingIfNeeded: value).littleEndian) { bytes in
                    for byte in bytes {
                        hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
                    }
                }
            }
            complete += 1
        }
        return Summary(chunks: complete, digest: String(hash, radix: 16))
    }

    private func entry(_ chunk: Int, in dataset: Dataset) throws -> Entry {
        let offset = grid.offset(ofChunk: chunk)
        guard let location = try dataset.storedChunkLocation(at: offset) else {
            throw H5BatchError(.io, "chunk \(chunk) (rows \(grid.rows(ofChunk: chunk))) of \(dataset.name) is missing from \(dataset.file.path)")
        }
        return Entry(chunk: chunk, address: location.address, size: location.size)
    }
}
