import CHDF5

/// Finding the stored chunk behind a failed read.
///
/// When libhdf5 cannot read a selection of a chunked dataset (a chunk whose deflate stream or
/// checksum is damaged, say), its error says only what failed ("inflate() failed"), not where.
/// The failed selection is then read again one stored chunk at a time, and the first chunk that
/// fails is named by the rows (or elements) it holds, so that the user knows which part of the
/// data is lost. This runs only after a failure and costs about one more read of the selection.
extension Dataset {
    /// A better error for a read of `blocks` that failed with `error`: the first stored chunk in
    /// those blocks that cannot be read, or `error` itself when the failure is not about stored
    /// bytes (a filter, damage or I/O), the dataset is not chunked, or every chunk reads on its own.
    /// `blocks` are in the stored dataset's coordinates (`storedCoordinates`).
    func locatingDamage(_ error: HDF5Error, in blocks: [Block]) -> HDF5Error {
        let shape = storedShape
        guard [.filterFailed, .corrupt, .io].contains(error.reason),
              let chunks = chunkShape, chunks.count == rank, rank > 0, chunks.allSatisfy({ $0 > 0 }) else { return error }
        let origins = chunkOrigins(covering: blocks, chunks: chunks)
        for (index, origin) in origins.enumerated() {
            let count = zip(zip(origin, chunks), shape).map { min($0.0 + $0.1, $1) - $0.0 }
            if let failure = readBlock(start: origin, count: count) {
                // Damage outside the chunks (a fill value message, say) fails every chunk alike:
                // naming the first would blame it wrongly. A filter failure is the chunk's own.
                if failure.reason != .filterFailed, let next = origins.dropFirst(index + 1).first,
                   let other = readBlock(start: next, count: zip(zip(next, chunks), shape).map { min($0.0 + $0.1, $1) - $0.0 }),
                   other.detail == failure.detail {
                    return failure.reason == .other ? error : HDF5Error(operation: error.operation, detail: failure.detail, reason: failure.reason)
                }
                let what = "read the stored chunk holding \(Self.describe(start: origin, count: count, shape: shape)) of \(name) in \(file.path)"
                // A filter that fails on one chunk means that chunk's bytes are damaged.
                let damaged = failure.reason == .filterFailed && !failure.detail.hasPrefix("the file is")
                return HDF5Error(operation: what,
                                 detail: damaged ? "it is corrupt (\(failure.detail))" : failure.detail,
                                 reason: failure.reason == .other ? error.reason : failure.reason)
            }
        }
        return error
    }

    /// The first coordinates of every chunk that `blocks` touch, each once, in row-major order
    /// of the blocks.
    private func chunkOrigins(covering blocks: [Block], chunks: [Int]) -> [[Int]] {
        var seen = Set<[Int]>()
        var origins: [[Int]] = []
        for block in blocks where block.count.allSatisfy({ $0 > 0 }) {
            let first = zip(block.start, chunks).map { $0 / $1 }
            let last = zip(zip(block.start, block.count), chunks).map { ($0.0 + $0.1 - 1) / $1 }
            var index = first
            while true {
                let origin = zip(index, chunks).map { $0 * $1 }
                if seen.insert(origin).inserted { origins.append(origin) }
                // Odometer over the chunk grid, last dimension fastest.
                var dim = rank - 1
                while dim >= 0 {
                    if index[dim] < last[dim] { index[dim] += 1; break }
                    index[dim] = first[dim]
                    dim -= 1
                }
                if dim < 0 { break }
            }
        }
        return origins
    }

    /// Reads one block as Float32 and throws the values away; the error if that fails.
    private func readBlock(start: [Int], count: [Int]) -> HDF5Error? {
        let what = "read \(name) in \(file.path)"
        do {
            let memory = try makeDataspace([count.reduce(1, *)])
            let selection = Handle(try checkID(H5Dget_space(handle.id), what), closer: H5Sclose)
            var first = start.map { hsize_t($0) }
            var size = count.map { hsize_t($0) }
            try check(H5Sselect_hyperslab(selection.id, H5S_SELECT_SET, &first, nil, &size, nil), what)
            var scratch = [Float](repeating: 0, count: count.reduce(1, *))
            try scratch.withUnsafeMutableBufferPointer { buffer in
                _ = try check(CodecFilters.decodingChunks(of: codecChunkBytes) {
                    H5Dread(handle.id, h5b_T_NATIVE_FLOAT(), memory.id, selection.id, h5b_P_DEFAULT(), buffer.baseAddress)
                }, what)
            }
            return nil
        } catch let error as HDF5Error {
            return error
        } catch {
            return HDF5Error(operation: what, detail: "\(error)", reason: .other)
        }
    }

    /// What a block of a dataset holds, in h5batch's terms: `elements 16..<32` (rank 1),
    /// `rows 300..<400` (a run of whole rows), `rows 300..<400, columns 16..<32`, or for a block
    /// that cuts through the inner leading dimensions its index ranges and the runs of rows in it.
    static func describe(start: [Int], count: [Int], shape: [Int]) -> String {
        let end = zip(start, count).map { $0 + $1 }
        guard shape.count >= 2 else { return "elements \(start[0])..<\(end[0])" }
        let leading = shape.dropLast()
        let inner = leading.dropFirst()
        let innerRows = inner.reduce(1, *)
        let columns = count.last! == shape.last! ? "" : ", columns \(start.last!)..<\(end.last!)"
        let wholeInner = zip(start.dropFirst().dropLast(), inner).allSatisfy { $0.0 == 0 }
            && zip(count.dropFirst().dropLast(), inner).allSatisfy { $0.0 == $0.1 }
        if wholeInner {
            return "rows \(start[0] * innerRows)..<\(end[0] * innerRows)" + columns
        }
        // Runs of consecutive flat rows: one per combination of the outer leading indices.
        let lastLeading = leading.count - 1
        var runs: [String] = []
        var total = 0
        var index = Array(start.prefix(lastLeading))
        while true {
            total += 1
            if runs.count < 3 {
                var row = 0
                for (dim, value) in index.enumerated() { row = row * leading[dim] + value }
                let first = row * leading[lastLeading] + start[lastLeading]
                runs.append("\(first)..<\(first + count[lastLeading])")
            }
            var dim = lastLeading - 1
            while dim >= 0 {
                if index[dim] < end[dim] - 1 { index[dim] += 1; break }
                index[dim] = start[dim]
                dim -= 1
            }
            if dim < 0 { break }
        }
        let ranges = zip(start, end).map { "\($0)..<\($1)" }.joined(separator: ", ")
        let more = total > runs.count ? " and \(total - runs.count) more" : ""
        return "[\(ranges)] (rows \(runs.joined(separator: ", "))\(more))"
    }
}
