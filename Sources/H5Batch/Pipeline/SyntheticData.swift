import Foundation

/// Writes datasets of standard-normal values, streamed in row batches so files larger than
/// memory can be made (for demos, tests and benchmarks).
///
/// Row `r` draws from its own generator seeded by `(seed, r)`, so a given seed gives the same
/// values whatever the batch size, chunk size or number of threads.
public enum SyntheticData {
    /// What `generate` writes and how the dataset is stored.
    public struct Options: Sendable {
        /// The dataset's shape; its last dimension, the row width, must be positive.
        public var shape: [Int]
        /// The stored type (default `float32`); float16 values are rounded by h5batch itself.
        public var dtype: StorageType = .float32
        /// Rows per chunk; nil (the default) for chunks of about 1 MiB.
        public var chunkRows: Int?
        /// gzip (deflate) level 1–9, or nil (the default) for no compression.
        public var gzipLevel: Int?
        /// HDF5's shuffle filter (default off).
        public var shuffle = false
        /// The seed (default 0): the same seed and shape give the same values.
        public var seed: UInt64 = 0
        /// Replace a file already at the path (default off).
        public var force = false
        /// Options for a dataset of `shape`, every other setting at its default.
        public init(shape: [Int]) { self.shape = shape }
    }

    /// Creates `path` holding `dataset` and returns the rows written.
    @discardableResult
    public static func generate(path: String, dataset: String, options: Options) throws -> Int {
        guard !options.shape.isEmpty, options.shape.allSatisfy({ $0 >= 0 }), options.shape.last! > 0 else {
            throw H5BatchError(.usage, "shape \(shapeText(options.shape)) must have at least one dimension and a positive last one")
        }
        try OutputTarget.check(path, reads: [], force: options.force)
        try OutputTarget.prepareFolder(for: path)
        let lock = try OutputLock.acquire(for: path)
        defer { lock.release() }
        let partial = RunFiles(output: path).partial
        let lane = IOLane()
        do {
            let rows = try lane.sync { try write(partial, dataset, options) }
            try OutputTarget.commit(partial: partial, to: path)
            return rows
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
    }

    private static func write(_ path: String, _ name: String, _ options: Options) throws -> Int {
        let leading = Array(options.shape.dropLast())
        let width = options.shape.last!
        let rows = leading.reduce(1, *)
        // Never more rows per chunk than the dataset has: the batch buffer is sized from it.
        let chunkRows = max(1, min(rows, options.chunkRows ?? (1 << 20) / (width * options.dtype.size)))
        return try translatingHDF5Errors(otherwise: .io) {
            let file = try HDF5File.create(path)
            var layout = HDF5File.DatasetLayout(gzipLevel: options.gzipLevel, shuffle: options.shuffle)
            if rows > 0 { layout.chunks = BatchPlan.chunkShape(rows: chunkRows, leading: leading, width: width) }
            let dataset = try file.createDataset(name, type: options.dtype, shape: options.shape, layout: layout)
            let plan = BatchPlan(rows: rows, batchRows: max(chunkRows, 65_536 / width * 16))
            let buffer = FloatBuffer(capacity: plan.batchRows * width)
            let halves = options.dtype == .float16 ? ByteBuffer(capacity: plan.batchRows * width * 2) : nil
            let threads = SystemInfo.activeCores
            for index in 0..<plan.count {
                let batch = plan.batch(index)
                let seed = options.seed
                DispatchQueue.concurrentPerform(iterations: threads) { part in
                    let per = batch.count.units(of: threads)
                    let first = part * per
                    guard first < batch.count else { return }
                    for row in first..<min(batch.count, first + per) {
                        fillNormal(buffer.slice(row * width, width), seed: seed, row: UInt64(batch.lowerBound + row))
                    }
                }
                let values = buffer.prefix(batch.count * width)
                if let halves {
                    ElementConversion.encode(values.baseAddress!, count: values.count, as: .float16, into: halves.pointer)
                    try dataset.write(rows: batch, halves: UnsafeRawBufferPointer(halves.bytes(0, values.count * 2)))
                } else {
                    try dataset.write(rows: batch, from: UnsafeBufferPointer(values))
                }
            }
            try file.close()
            return rows
        }
    }

    /// Standard normals by Box–Muller from a SplitMix64 stream seeded by `(seed, row)`.
    static func fillNormal(_ values: UnsafeMutableBufferPointer<Float>, seed: UInt64, row: UInt64) {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 ^ (row &+ 1) &* 0xD1B5_4A32_D192_ED03
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var index = 0
        while index < values.count {
            // Uniforms in (0, 1] and [0, 1) from 53 random bits each.
            let u1 = (Double(next() >> 11) + 1) * 0x1.0p-53
            let u2 = Double(next() >> 11) * 0x1.0p-53
            let radius = (-2 * Foundation.log(u1)).squareRoot()
            let angle = 2 * Double.pi * u2
            values[index] = Float(radius * Foundation.cos(angle))
            if index + 1 < values.count { values[index + 1] = Float(radius * Foundation.sin(angle)) }
            index += 2
        }
    }
}
