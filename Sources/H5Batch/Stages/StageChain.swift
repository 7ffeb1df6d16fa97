/// Stages composed in order, like `nn.Sequential`, checked for a given input width.
///
/// The chain is compiled into steps: stages that rewrite rows in place before the first linear
/// stage run on the input directly, and every linear stage (whose product adds its bias) carries
/// the in-place stages after it as an epilogue, applied while its output tile is still in cache. A
/// `batch_norm` right after a linear stage is folded into that stage's weight and bias
/// (`BatchNorm.folded(into:)`) unless statistics are counted, which need the linear stage's own
/// output.
public struct StageChain: Sendable {
    /// The stages, in the order they run.
    public let stages: [any Stage]
    /// `widths[0]` is the input width; `widths[i + 1]` the width after `stages[i]`.
    public let widths: [Int]

    enum Step: Sendable {
        case inPlace([any InPlaceStage])
        case linear(Linear, epilogue: [any InPlaceStage])
    }

    /// The steps with every stage as written, so statistics can count each stage's output.
    let steps: [Step]
    /// `steps` with each batch_norm that directly follows a linear stage folded into it: what
    /// runs when no statistics are counted. Same count and order of steps as `steps`.
    let fusedSteps: [Step]
    /// Bytes of the folded copies in `fusedSteps`.
    private let foldedParameterBytes: Int
    /// The index in `stages` of each step's first stage (its others follow it).
    let firstStage: [Int]
    /// How many steps are linear: the last one writes straight into the output.
    private let linearStepCount: Int

    /// Checks that every stage accepts the width it receives (`H5BatchError(.data)` otherwise,
    /// naming the stage).
    public init(_ stages: [any Stage], inputWidth: Int) throws {
        var widths = [inputWidth]
        var steps: [Step] = []
        var firstStage: [Int] = []
        for (index, stage) in stages.enumerated() {
            do {
                widths.append(try stage.outputWidth(forInputWidth: widths.last!))
            } catch let error as H5BatchError {
                throw H5BatchError(error.kind, "stage \(index + 1) (\(stage.name)): \(error.message)")
            }
            if let linear = stage as? Linear {
                steps.append(.linear(linear, epilogue: []))
                firstStage.append(index)
            } else if let inPlace = stage as? any InPlaceStage {
                switch steps.last {
                case .linear(let linear, let epilogue)?:
                    steps[steps.count - 1] = .linear(linear, epilogue: epilogue + [inPlace])
                case .inPlace(let group)?:
                    steps[steps.count - 1] = .inPlace(group + [inPlace])
                case nil:
                    steps.append(.inPlace([inPlace]))
                    firstStage.append(index)
                }
            } else {
                preconditionFailure("stage \(stage.name) is neither linear nor in-place")
            }
        }
        self.stages = stages
        self.widths = widths
        self.steps = steps
        var foldedBytes = 0
        fusedSteps = steps.map { step in
            guard case .linear(let written, let writtenEpilogue) = step else { return step }
            var (linear, epilogue) = (written, writtenEpilogue)
            while let batchNorm = epilogue.first as? BatchNorm, let folded = batchNorm.folded(into: linear) {
                linear = folded
                epilogue.removeFirst()
            }
            if epilogue.count < writtenEpilogue.count { foldedBytes += linear.parameterBytes }
            return .linear(linear, epilogue: epilogue)
        }
        foldedParameterBytes = foldedBytes
        self.firstStage = firstStage
        linearStepCount = steps.filter { if case .linear = $0 { return true } else { return false } }.count
    }

    /// The row width the chain takes.
    public var inputWidth: Int { widths.first! }
    /// The row width the chain produces: the last linear stage's `outFeatures`, or the input's.
    public var outputWidth: Int { widths.last! }
    /// The widest row anywhere in the chain.
    public var maxWidth: Int { widths.max()! }
    /// True when the chain has no linear stage (only in-place stages): it runs entirely in the
    /// input buffer. A linear stage always writes a new buffer, even one that keeps the width.
    public var runsInPlace: Bool { steps.allSatisfy { if case .inPlace = $0 { return true } else { return false } } }

    /// FLOPs per row of the whole chain, and of its linear stages alone.
    public var flopsPerRow: Int {
        zip(stages, widths).reduce(0) { $0 + $1.0.flopsPerRow(inputWidth: $1.1) }
    }
    /// FLOPs per row of the linear stages alone (`2·in·out` each), the figure GFLOP/s counts.
    public var linearFlopsPerRow: Int {
        zip(stages, widths).reduce(0) { $0 + (($1.0 as? Linear)?.flopsPerRow(inputWidth: $1.1) ?? 0) }
    }

    /// Bytes the parameters (weights, biases) take in memory, with the copies of linear stages
    /// that a batch_norm was folded into.
    public var parameterBytes: Int {
        foldedParameterBytes + stages.reduce(0) { $0 + $1.parameterBytes }
    }

    /// True when a batch_norm is folded into a linear stage without statistics, so that a run's
    /// values depend on whether it counts them (in their last bits).
    var foldsBatchNorm: Bool { foldedParameterBytes > 0 }

    /// The steps a run takes: `steps` when statistics are counted, `fusedSteps` otherwise.
    func steps(countingStatistics: Bool) -> [Step] { countingStatistics ? steps : fusedSteps }

    // MARK: - Running

    /// Runs the chain on `rows` rows (`nn.Sequential.forward` on a copy).
    public func callAsFunction(_ input: [Float], rows: Int) -> [Float] {
        precondition(input.count == rows * inputWidth, "StageChain: input has \(input.count) values, expected \(rows)x\(inputWidth)")
        let source = FloatBuffer(capacity: input.count)
        _ = source.prefix(input.count).initialize(from: input)
        let output = runsInPlace ? source : FloatBuffer(capacity: rows * outputWidth)
        var workspace = Workspace()
        run(source, rows: rows, into: output, workspace: &workspace)
        return Array(output.prefix(rows * outputWidth))
    }

    /// Rows per tile: the widest intermediate tile stays near 1 MiB (in L2), but tiles keep
    /// at least 64 rows so the matmul kernels stay efficient. 256 rows for rows of up to 1024
    /// values, `MatmulPrimitive.referenceRows`; 512 and 1024 were measured no faster.
    var tileRows: Int { max(64, (1 << 18) / max(1, maxWidth)) }

    /// Runs the chain on one batch, tile by tile, on the calling thread. `input` may be
    /// overwritten; `output` receives `rows × outputWidth` values (it may be `input` itself
    /// when `runsInPlace`).
    ///
    /// With `statistics`, each stage's output is counted into it, tile by tile in row order.
    func run(_ input: FloatBuffer, rows: Int, into output: FloatBuffer, workspace: inout Workspace,
             statistics: StatisticsCollector? = nil) {
        let tile = tileRows
        let plan = steps(countingStatistics: statistics != nil)
        var start = 0
        while start < rows {
            let count = min(tile, rows - start)
            runTile(plan, input.slice(start * inputWidth, count * inputWidth), rows: count,
                    output: output.slice(start * outputWidth, count * outputWidth), workspace: &workspace,
                    statistics: statistics)
            start += count
        }
    }

    private func runTile(_ steps: [Step], _ input: UnsafeMutableBufferPointer<Float>, rows: Int,
                         output: UnsafeMutableBufferPointer<Float>, workspace: inout Workspace,
                         statistics: StatisticsCollector?) {
        var current = input
        var width = inputWidth
        var linearsDone = 0
        func count(_ stage: Int, _ values: UnsafeMutableBufferPointer<Float>) {
            statistics?.statistics.add(stage: stage, UnsafePointer(values.baseAddress!), rows: rows)
        }
        for (stepIndex, step) in steps.enumerated() {
            let first = firstStage[stepIndex]
            switch step {
            case .inPlace(let group):
                for (offset, stage) in group.enumerated() {
                    stage.apply(current, width: width)
                    count(first + offset, current)
                }
            case .linear(let linear, let epilogue):
                linearsDone += 1
                let destination = linearsDone == linearStepCount
                    ? output
                    : workspace.scratch(linearsDone % 2, count: rows * linear.outFeatures)
                linear.apply(UnsafeBufferPointer(current), rows: rows, into: destination, workspace: &workspace)
                count(first, destination)
                for (offset, stage) in epilogue.enumerated() {
                    stage.apply(destination, width: linear.outFeatures)
                    count(first + 1 + offset, destination)
                }
                current = destination
                width = linear.outFeatures
            }
        }
    }
}

/// Scratch space one worker owns for a chain's intermediate tiles and its products' scratchpad.
struct Workspace {
    private var buffers: [FloatBuffer?] = [nil, nil]
    private var scratchpadBuffer: FloatBuffer?

    /// At least `bytes` bytes aligned to 64, or nil for none.
    mutating func scratchpad(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes > 0 else { return nil }
        let floats = bytes.units(of: 4)
        if let buffer = scratchpadBuffer, buffer.capacity >= floats { return UnsafeMutableRawPointer(buffer.prefix(floats).baseAddress!) }
        let buffer = FloatBuffer(capacity: floats)
        scratchpadBuffer = buffer
        return UnsafeMutableRawPointer(buffer.prefix(floats).baseAddress!)
    }

    mutating func scratch(_ index: Int, count: Int) -> UnsafeMutableBufferPointer<Float> {
        if let buffer = buffers[index], buffer.capacity >= count { return buffer.prefix(count) }
        let buffer = FloatBuffer(capacity: count)
        buffers[index] = buffer
        return buffer.prefix(count)
    }
}
