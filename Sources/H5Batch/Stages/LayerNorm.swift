import CKernels
import Foundation

/// `nn.LayerNorm` over the last dimension: each row becomes `(x − mean) / √(var + eps)`, then
/// `· weight + bias` when they are given (the elementwise affine). `var` is the biased
/// variance, as in PyTorch; a row holding NaN or ±∞ becomes NaN.
public struct LayerNorm: InPlaceStage {
    /// One scale per feature, or nil for none (`elementwise_affine=False`).
    public let weight: [Float]?
    /// One offset per feature, or nil for none.
    public let bias: [Float]?
    /// Added to the variance before the square root (`eps`, default 1e-5).
    public let eps: Double
    /// Where the weight and bias came from, e.g. "weight ln.weight in weights.h5", for errors.
    public let source: String?

    /// `weight` and `bias`, when given, hold one value per feature; `eps` is PyTorch's 1e-5 by
    /// default.
    public init(weight: [Float]? = nil, bias: [Float]? = nil, eps: Double = 1e-5, source: String? = nil) {
        precondition(eps >= 0 && eps.isFinite, "layer_norm: eps must be finite and not negative")
        self.weight = weight
        self.bias = bias
        self.eps = eps
        self.source = source
    }

    /// The pipeline-file name, `layer_norm`.
    public var name: String { Spec.name }
    /// `[weight]` and `[bias]` when given (they enter the weights' fingerprint).
    public var parameters: [[Float]] { [weight, bias].compactMap { $0 } }
    /// `layer_norm`, with `weight`, `bias` and `eps` where they apply.
    public var description: String {
        let parts = [weight.map { "weight: \($0.count)" }, bias.map { "bias: \($0.count)" },
                     eps == 1e-5 ? nil : "eps: \(eps)"].compactMap { $0 }
        return parts.isEmpty ? "layer_norm" : "layer_norm(\(parts.joined(separator: ", ")))"
    }

    /// `width` unchanged; throws `H5BatchError(.data)` (exit 65) unless `weight` and `bias`
    /// hold `width` values each.
    public func outputWidth(forInputWidth width: Int) throws -> Int {
        for (label, values) in [("weight", weight), ("bias", bias)] {
            if let values, values.count != width {
                let origin = source.map { "; \($0)" } ?? ""
                throw H5BatchError(.data, "layer_norm has a \(label) of \(values.count) values but rows have \(width) features\(origin)")
            }
        }
        return width
    }

    /// Counted as 8 FLOPs per value: the two passes of moments, the normalization and the affine.
    public func flopsPerRow(inputWidth width: Int) -> Int { 8 * width }

    /// Applies `Functional.layerNorm` in place to rows of `width` values.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.layerNorm(values, width: width, weight: weight, bias: bias, eps: eps)
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.layer_norm` over the last dimension (rows of `width`): `(x − mean) / √(var + eps)`,
    /// then `· weight + bias` where given (one value per feature each). The mean and the biased
    /// variance are computed in double in two passes, in an order every ISA level shares; a row
    /// holding NaN or ±∞ becomes NaN, as in PyTorch.
    public static func layerNorm(_ x: UnsafeMutableBufferPointer<Float>, width: Int, weight: [Float]? = nil,
                                 bias: [Float]? = nil, eps: Double = 1e-5) {
        precondition(width > 0 && x.count % width == 0, "layer_norm: the buffer does not hold whole rows")
        precondition(weight.map { $0.count == width } ?? true && bias.map { $0.count == width } ?? true,
                     "layer_norm: weight and bias need one value per feature")
        guard let p = x.baseAddress else { return }
        withOptionalBuffer(weight) { w in
            withOptionalBuffer(bias) { b in ck_layer_norm(p, x.count / width, width, eps, w, b) }
        }
    }

    /// `F.layer_norm` on a copy of `x`, rows of `width` values.
    public static func layerNorm(_ x: [Float], width: Int, weight: [Float]? = nil, bias: [Float]? = nil,
                                 eps: Double = 1e-5) -> [Float] {
        LayerNorm(weight: weight, bias: bias, eps: eps)(x, width: width)
    }

    /// `body` with `values`' storage, or with nil for nil.
    static func withOptionalBuffer<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let values else { return body(nil) }
        return values.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

// MARK: - Pipeline file

extension LayerNorm {
    /// `layer_norm: { file: weights.h5, weight: ln.weight, bias: ln.bias, eps: 1e-5 }`; every
    /// parameter optional, but `weight` and `bias` need `file`, and `file` one of them.
    struct Spec: StageSpec {
        static let name = "layer_norm"
        var file: String?
        var weight: String?
        var bias: String?
        var eps: Double

        init(file: String?, weight: String?, bias: String?, eps: Double) {
            self.file = file
            self.weight = weight
            self.bias = bias
            self.eps = eps
        }

        init(_ entry: StageEntry) throws {
            let p = try entry.fields(["file", "weight", "bias", "eps"])
            eps = try p["eps"].map { try entry.number($0, "eps") } ?? 1e-5
            if eps < 0 { throw entry.fail(p["eps"]!, "eps", "must not be negative") }
            let weightNode = p["weight"].flatMap { $0.isNull ? nil : $0 }
            let biasNode = p["bias"].flatMap { $0.isNull ? nil : $0 }
            switch (p["file"].flatMap { $0.isNull ? nil : $0 }, weightNode ?? biasNode) {
            case (nil, nil):
                break
            case (let file?, _?):
                self.file = try entry.path(file, "file")
                weight = try weightNode.map { try entry.dataset($0, "weight") }
                bias = try biasNode.map { try entry.dataset($0, "bias") }
            case (let file?, nil):
                throw entry.fail(file, "weight", "missing (file needs a weight or bias dataset)")
            case (nil, let dataset?):
                throw entry.fail(dataset, "file", "missing (weight and bias need the file that holds them)")
            }
        }

        var resolvedParameters: [String: Any] {
            ["file": file.map(absolutePath) ?? NSNull(), "weight": weight ?? NSNull(), "bias": bias ?? NSNull(), "eps": eps]
        }

        var weightFile: String? { file }

        func makeStage(_ weights: WeightFiles) throws -> any Stage {
            guard let file else { return LayerNorm(eps: eps) }
            let weightValues = try weight.map { try weights.featureVector($0, "weight", in: file, for: "layer_norm") }
            let biasValues = try bias.map {
                try weights.featureVector($0, "bias", in: file, for: "layer_norm", sameLengthAs: weightValues.map { ("weight \(weight!)", $0.count) })
            }
            let source = [weight.map { "weight \($0)" }, bias.map { "bias \($0)" }].compactMap { $0 }.joined(separator: " and ")
            return LayerNorm(weight: weightValues, bias: biasValues, eps: eps, source: "\(source) in \(file)")
        }
    }
}

extension StageConfig {
    /// `layer_norm` over the last dimension: optional `weight` and `bias` datasets in `file`
    /// (nil: no elementwise affine), and `eps`.
    public static func layerNorm(file: String? = nil, weight: String? = nil, bias: String? = nil, eps: Double = 1e-5) -> StageConfig {
        StageConfig(LayerNorm.Spec(file: file, weight: weight, bias: bias, eps: eps))
    }
}
