import Foundation

/// `nn.Linear`: `y = x·Wᵀ + b`, on oneDNN's matmul primitive (`MatmulPrimitive`).
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
    /// The products: packed weights and compiled kernels, made on first use and shared by
    /// every copy of this stage.
    let primitive: MatmulPrimitive

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
        primitive = MatmulPrimitive(weight: weight, bias: bias, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout)
    }

    /// The pipeline-file name, `linear`.
    public var name: String { Spec.name }
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

    /// The weights and bias as given, plus the copy of the weights in the kernels' layout and
    /// the bias the kernels read (`MatmulPrimitive.packedWeightBytes`).
    public var parameterBytes: Int {
        4 * (weight.count + 2 * (bias?.count ?? 0)) + primitive.packedWeightBytes
    }

    /// Scratch bytes a product of `rows` rows needs in the caller's `Workspace`.
    func scratchpadBytes(rows: Int) -> Int { primitive.scratchpadBytes(rows: rows) }

    /// `output = x·Wᵀ + b` for `rows` rows, on the calling thread, with scratch space from
    /// `workspace`.
    func apply(_ x: UnsafeBufferPointer<Float>, rows: Int, into output: UnsafeMutableBufferPointer<Float>,
               workspace: inout Workspace) {
        precondition(x.count >= rows * inFeatures && output.count >= rows * outFeatures, "linear: buffers too small")
        guard rows > 0 else { return }
        guard inFeatures > 0 else {
            // No input features: every product is an empty sum, 0, and only the bias is left.
            for row in 0..<rows { for j in 0..<outFeatures { output[row * outFeatures + j] = bias?[j] ?? 0 } }
            return
        }
        let scratchpad = workspace.scratchpad(bytes: primitive.scratchpadBytes(rows: rows))
        primitive.multiply(x.baseAddress!, rows: rows, into: output.baseAddress!, scratchpad: scratchpad)
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.linear`: `y = x·Wᵀ + b` for `rows` rows, through oneDNN's matmul (`MatmulPrimitive`)
    /// on the calling thread.
    /// `output` holds `rows · linear.outFeatures` values.
    public static func linear(_ x: UnsafeBufferPointer<Float>, rows: Int, _ linear: Linear,
                              into output: UnsafeMutableBufferPointer<Float>) {
        var workspace = Workspace()
        linear.apply(x, rows: rows, into: output, workspace: &workspace)
    }

    /// `F.linear` on `rows` rows of `linear.inFeatures` values: a new array of
    /// `rows · linear.outFeatures` values, bias included.
    public static func linear(_ x: [Float], rows: Int, _ linear: Linear) -> [Float] {
        var y = [Float](repeating: 0, count: rows * linear.outFeatures)
        x.withUnsafeBufferPointer { input in
            y.withUnsafeMutableBufferPointer { output in Self.linear(input, rows: rows, linear, into: output) }
        }
        return y
    }
}

// MARK: - Pipeline file

extension Linear {
    /// `linear: { file: weights.h5, weight: fc1.weight, bias: fc1.bias, layout: torch }`.
    struct Spec: StageSpec {
        static let name = "linear"
        var file: String
        var weight: String
        var bias: String?
        var layout: Layout
        init(file: String, weight: String, bias: String?, layout: Layout) {
            self.file = file
            self.weight = weight
            self.bias = bias
            self.layout = layout
        }
        init(_ entry: StageEntry) throws {
            let p = try entry.fields(["file", "weight", "bias", "layout"])
            guard let file = p["file"] else { throw entry.fail(entry.anchor, "file", "missing (the HDF5 file holding the weights)") }
            guard let weight = p["weight"] else { throw entry.fail(entry.anchor, "weight", "missing (the weight dataset)") }
            self.file = try entry.path(file, "file")
            self.weight = try entry.dataset(weight, "weight")
            bias = try p["bias"].flatMap { $0.isNull ? nil : try entry.dataset($0, "bias") }
            layout = try p["layout"].map { try entry.choice($0, "layout", Layout.allCases) } ?? .torch
        }
        var resolvedParameters: [String: Any] {
            ["file": absolutePath(file), "weight": weight, "bias": bias ?? NSNull(), "layout": layout.rawValue]
        }
        var weightFile: String? { file }
        func makeStage(_ weights: WeightFiles) throws -> any Stage {
            let (shape, values) = try weights.tensor(weight, in: file)
            guard shape.count == 2, shape[0] > 0, shape[1] > 0 else {
                throw H5BatchError(.data, "weight \(weight) in \(file) has shape \(shapeText(shape)); linear needs a 2-D matrix\(shape.count == 2 ? " with no empty dimension" : "")")
            }
            let (inFeatures, outFeatures) = layout == .torch ? (shape[1], shape[0]) : (shape[0], shape[1])
            var biasValues: [Float]? = nil
            if let bias {
                let (biasShape, values) = try weights.tensor(bias, in: file)
                guard biasShape == [outFeatures] else {
                    throw H5BatchError(.data, "bias \(bias) in \(file) has shape \(shapeText(biasShape)); expected [\(outFeatures)] for weight \(shapeText(shape)) in \(layout.rawValue) layout")
                }
                biasValues = values
            }
            return Linear(weight: values, bias: biasValues, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout,
                          source: "weight \(weight) in \(file)")
        }
    }
}

extension StageConfig {
    /// `linear`: `weight` (and `bias`) datasets in `file`, in `torch` `[out, in]` or `keras` `[in, out]` layout.
    public static func linear(file: String, weight: String, bias: String?, layout: Linear.Layout) -> StageConfig {
        StageConfig(Linear.Spec(file: file, weight: weight, bias: bias, layout: layout))
    }
}
