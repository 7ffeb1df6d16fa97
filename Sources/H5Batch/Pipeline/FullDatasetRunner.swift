import Foundation

/// Full-dataset mode: the whole tensor in memory, one operation per stage using every core.
///
/// Linear stages are one sgemm each with BLAS using all `workers` threads; in-place stages and
/// epilogues are split into row blocks over the workers. Each intermediate tensor is released as
/// soon as the next exists, so peak memory is the largest pair of adjacent tensors.
struct FullDatasetRunner {
    let input: Dataset
    let output: Dataset
    let chain: StageChain
    let workers: Int

    /// Bytes this mode needs at its peak for `rows` rows (tensors, parameters, a margin for the
    /// runtime and HDF5's caches).
    static func estimatedPeakBytes(rows: Int, chain: StageChain) -> Int {
        var peak = rows * chain.inputWidth * 4
        for step in chain.steps {
            if case .linear(let linear, _) = step {
                peak = max(peak, rows * (linear.inFeatures + linear.outFeatures) * 4)
            }
        }
        return peak + chain.parameterBytes + runtimeOverheadBytes
    }

    /// What the process takes besides its tensors: runtime, libraries, HDF5 caches.
    static let runtimeOverheadBytes = 48 << 20

    func run(report: inout RunReport) throws {
        SystemInfo.setBLASThreads(workers)
        let rows = input.rowCount
        var current = FloatBuffer(capacity: rows * chain.inputWidth)
        var start = now()
        try input.read(rows: 0..<rows, into: current.prefix(rows * chain.inputWidth))
        report.phases.read = now() - start

        start = now()
        for step in chain.steps {
            switch step {
            case .inPlace(let group):
                let width = chain.widths[chain.widths.startIndex]  // in-place groups only lead the chain
                parallelRows(rows, width: width, current) { block in
                    for stage in group { stage.apply(block, width: width) }
                }
            case .linear(let linear, let epilogue):
                let next = FloatBuffer(capacity: rows * linear.outFeatures)
                linear.multiply(UnsafeBufferPointer(current.prefix(rows * linear.inFeatures)), rows: rows,
                                into: next.prefix(rows * linear.outFeatures))
                current = next  // the input tensor is released here
                parallelRows(rows, width: linear.outFeatures, current) { block in
                    let blockRows = block.count / linear.outFeatures
                    linear.addBias(block, rows: blockRows)
                    for stage in epilogue { stage.apply(block, width: linear.outFeatures) }
                }
            }
        }
        report.phases.compute = now() - start

        start = now()
        try output.write(rows: 0..<rows, from: UnsafeBufferPointer(current.prefix(rows * chain.outputWidth)))
        report.phases.write = now() - start
        report.peakThreads = max(report.peakThreads, SystemInfo.threadCount)
    }

    /// Runs `body` on row blocks of `buffer` spread over the workers.
    private func parallelRows(_ rows: Int, width: Int, _ buffer: FloatBuffer,
                              _ body: @Sendable (UnsafeMutableBufferPointer<Float>) -> Void) {
        guard rows > 0 else { return }
        let blocks = min(rows, workers)
        let perBlock = (rows + blocks - 1) / blocks
        DispatchQueue.concurrentPerform(iterations: blocks) { index in
            let first = index * perBlock
            let count = min(perBlock, rows - first)
            guard count > 0 else { return }
            body(buffer.slice(first * width, count * width))
        }
    }
}
