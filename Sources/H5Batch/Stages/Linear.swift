/// `nn.Linear`: `y = x·Wᵀ + b`, on oneDNN's sgemm (`GEMM`).
public struct Linear: Stage {
    /// How the weight matrix is stored.
    public enum Layout: String, Sendable, CaseIterable {
        /// `[out, in]`, PyTorch's `nn.Linear.weight`.
        case torch
        /// `[in, out]`, Keras' `Dense.kernel`.
        case keras
    }

    /// Values per input row (`in_features`).
    public let inFeatures: Int
    /// Values per output row (`out_features`).
    public let outFeatures: Int
    /// How `weight` is stored: `.torch` (`[out, in]`) or `.keras` (`[in, out]`).
    public let layout: Layout
    /// The weight matrix, row-major, in `layout`.
    public let weight: [Float]
    /// `outFeatures` values added to every output row, or nil for no bias.
    public let bias: [Float]?
    /// Where the weight came from, e.g. "weight fc1.weight in weights.h5", for error messages.
    public let source: String?

    /// `weight` is `outFeatures × inFeatures` values for `.torch`, `inFeatures × outFeatures` for `.keras`.
    public init(weight: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int, layout: Layout = .torch,
                source: String? = nil) {
        precondition(weight.count == inFeatures * outFeatures, "linear: weight has \(weight.count) values, expected \(inFeatures)x\(outFeatures)")
        precondition(bias == nil || bias!.count == outFeatures, "linear: bias does not match the output width")
        self.weight = weight
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.layout = layout
        self.source = source
    }

    /// The pipeline-file name, `linear`.
    public var name: String { "linear" }
    /// `[weight]`, then `[bias]` when there is one (they enter the weights' fingerprint).
    public var parameters: [[Float]] { [weight] + (bias.map { [$0] } ?? []) }
    /// `linear(IN → OUT)`, with `, no bias` and `, keras layout` when they apply.
    public var description: String {
        "linear(\(inFeatures) → \(outFeatures)\(bias == nil ? ", no bias" : "")\(layout == .keras ? ", keras layout" : ""))"
    }

    /// `outFeatures`; throws `H5BatchError(.data)` (exit 65) unless `width` is `inFeatures`,
    /// naming the weight's shape and layout when `source` is known.
    public func outputWidth(forInputWidth width: Int) throws -> Int {
        guard width == inFeatures else {
            let shape = layout == .torch ? "[\(outFeatures), \(inFeatures)]" : "[\(inFeatures), \(outFeatures)]"
            let origin = source.map { " (\($0) is \(shape), \(layout.rawValue) layout)" } ?? ""
            throw H5BatchError(.data, "linear expects rows of \(inFeatures) features but gets \(width)\(origin)")
        }
        return outFeatures
    }

    /// `2 · inFeatures · outFeatures` (a multiply and an add per weight; the bias is not counted).
    public func flopsPerRow(inputWidth width: Int) -> Int { 2 * inFeatures * outFeatures }

    /// `output = x·Wᵀ` (no bias) for `rows` rows.
    func multiply(_ x: UnsafeBufferPointer<Float>, rows: Int, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(x.count >= rows * inFeatures && output.count >= rows * outFeatures, "linear: buffers too small")
        guard rows > 0 else { return }
        // No input features: every output is an empty sum, 0.
        guard inFeatures > 0 else { output.prefix(rows * outFeatures).update(repeating: 0); return }
        weight.withUnsafeBufferPointer { w in
            GEMM.multiply(m: rows, n: outFeatures, k: inFeatures, a: x.baseAddress!, b: w.baseAddress!,
                          transposeB: layout == .torch, c: output.baseAddress!)
        }
    }

    /// Adds the bias to every row of `output`.
    func addBias(_ output: UnsafeMutableBufferPointer<Float>, rows: Int) {
        guard let bias, let y = output.baseAddress else { return }
        bias.withUnsafeBufferPointer { b in VectorKernels.addBias(b.baseAddress!, rows: rows, width: outFeatures, to: y) }
    }
}
