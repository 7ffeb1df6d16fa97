import CKernels
import Foundation

/// `nn.BatchNorm1d` in eval mode on `(rows, features)`: each feature becomes
/// `(x − running_mean) / √(running_var + eps) · weight + bias`, applied as PyTorch's CPU kernel
/// does, `x · scale + shift` with `scale = weight / √(running_var + eps)` and
/// `shift = bias − running_mean · scale` (computed once, in double, then rounded to float32).
/// NaN stays NaN, element by element.
public struct BatchNorm: InPlaceStage {
    /// The mean of each feature the model was trained with.
    public let runningMean: [Float]
    /// The variance of each feature the model was trained with.
    public let runningVar: [Float]
    /// One scale per feature, or nil for none (`affine=False`).
    public let weight: [Float]?
    /// One offset per feature, or nil for none.
    public let bias: [Float]?
    /// Added to the variance before the square root (`eps`, default 1e-5).
    public let eps: Double
    /// Where the statistics came from, e.g. "running_mean bn.running_mean in weights.h5".
    public let source: String?
    /// `x · scale + shift` is the whole stage.
    let scale: [Float]
    let shift: [Float]

    /// Every array holds one value per feature; `eps` is PyTorch's 1e-5 by default.
    public init(runningMean: [Float], runningVar: [Float], weight: [Float]? = nil, bias: [Float]? = nil,
                eps: Double = 1e-5, source: String? = nil) {
        let features = runningMean.count
        precondition(features > 0 && runningVar.count == features && (weight?.count ?? features) == features
                     && (bias?.count ?? features) == features, "batch_norm: every parameter needs one value per feature")
        precondition(eps >= 0 && eps.isFinite, "batch_norm: eps must be finite and not negative")
        self.runningMean = runningMean
        self.runningVar = runningVar
        self.weight = weight
        self.bias = bias
        self.eps = eps
        self.source = source
        (scale, shift) = Self.affine(runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias, eps: eps)
    }

    /// PyTorch's eval-mode terms (`batch_norm_cpu_collect_linear_and_constant_terms`), held in
    /// float32 as PyTorch holds them; the inverse deviation is computed in double (PyTorch
    /// uses float32: the two differ by at most an ulp).
    static func affine(runningMean: [Float], runningVar: [Float], weight: [Float]?, bias: [Float]?,
                       eps: Double) -> (scale: [Float], shift: [Float]) {
        var scale = [Float](repeating: 0, count: runningMean.count), shift = scale
        for j in runningMean.indices {
            let inverse = Float(1 / (Double(runningVar[j]) + eps).squareRoot())
            scale[j] = weight.map { $0[j] * inverse } ?? inverse
            shift[j] = (bias?[j] ?? 0) - runningMean[j] * scale[j]
        }
        return (scale, shift)
    }

    /// The pipeline-file name, `batch_norm`.
    public var name: String { Spec.name }
    /// `[running_mean, running_var]`, then `[weight]` and `[bias]` when given (they enter the
    /// weights' fingerprint).
    public var parameters: [[Float]] { [runningMean, runningVar] + [weight, bias].compactMap { $0 } }
    /// `batch_norm(N features)`, with `eps` when it is not the default.
    public var description: String {
        "batch_norm(\(runningMean.count) features\(eps == 1e-5 ? "" : ", eps: \(eps)"))"
    }

    /// `width` unchanged; throws `H5BatchError(.data)` (exit 65) unless rows have one feature
    /// per statistic.
    public func outputWidth(forInputWidth width: Int) throws -> Int {
        guard runningMean.count == width else {
            let origin = source.map { "; \($0)" } ?? ""
            throw H5BatchError(.data, "batch_norm has \(runningMean.count) features but rows have \(width)\(origin)")
        }
        return width
    }

    /// Counted as 2 FLOPs per value: a multiply and an add.
    public func flopsPerRow(inputWidth width: Int) -> Int { 2 * width }

    /// Applies `x · scale + shift` in place to rows of `width` values.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        precondition(width == scale.count && values.count % width == 0, "batch_norm: the buffer does not hold whole rows")
        guard let p = values.baseAddress else { return }
        scale.withUnsafeBufferPointer { s in
            shift.withUnsafeBufferPointer { t in ck_scale_shift(values.count / width, width, s.baseAddress!, t.baseAddress!, p) }
        }
    }

    /// `linear` followed by this stage as one linear stage: each output feature's weights and
    /// bias multiplied by its `scale`, and `shift` added to the bias. Rounding differs from
    /// running the two in turn (the product `x·(W·s)` rounds where `(x·W)·s` rounded), by a few
    /// float32 ulps of each term, well within float32 tolerance. nil when a `scale` or `shift`
    /// is not finite: then NaN and ∞ would spread over terms that stay finite when unfolded.
    func folded(into linear: Linear) -> Linear? {
        guard linear.outFeatures == scale.count, scale.allSatisfy(\.isFinite), shift.allSatisfy(\.isFinite) else { return nil }
        var weight = linear.weight
        for o in 0..<linear.outFeatures {
            for i in 0..<linear.inFeatures {
                let index = linear.layout == .torch ? o * linear.inFeatures + i : i * linear.outFeatures + o
                weight[index] *= scale[o]
            }
        }
        let bias = (0..<linear.outFeatures).map { o in (linear.bias?[o] ?? 0) * scale[o] + shift[o] }
        return Linear(weight: weight, bias: bias, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures,
                      layout: linear.layout, source: linear.source)
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.batch_norm(training=False)` on rows of `width` features: `x · scale + shift` with
    /// `scale = weight / √(running_var + eps)` and `shift = bias − running_mean · scale`, as
    /// PyTorch's CPU kernel computes it. Every array holds `width` values.
    public static func batchNorm(_ x: UnsafeMutableBufferPointer<Float>, width: Int, runningMean: [Float],
                                 runningVar: [Float], weight: [Float]? = nil, bias: [Float]? = nil, eps: Double = 1e-5) {
        BatchNorm(runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias, eps: eps).apply(x, width: width)
    }

    /// `F.batch_norm(training=False)` on a copy of `x`, rows of `width` features.
    public static func batchNorm(_ x: [Float], width: Int, runningMean: [Float], runningVar: [Float],
                                 weight: [Float]? = nil, bias: [Float]? = nil, eps: Double = 1e-5) -> [Float] {
        BatchNorm(runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias, eps: eps)(x, width: width)
    }
}

// MARK: - Pipeline file

extension BatchNorm {
    /// `batch_norm: { file: weights.h5, running_mean: bn.running_mean, running_var: bn.running_var,
    /// weight: bn.weight, bias: bn.bias, eps: 1e-5 }`; `weight`, `bias` and `eps` optional.
    struct Spec: StageSpec {
        static let name = "batch_norm"
        var file: String
        var runningMean: String
        var runningVar: String
        var weight: String?
        var bias: String?
        var eps: Double

        init(file: String, runningMean: String, runningVar: String, weight: String?, bias: String?, eps: Double) {
            self.file = file
            self.runningMean = runningMean
            self.runningVar = runningVar
            self.weight = weight
            self.bias = bias
            self.eps = eps
        }

        init(_ entry: StageEntry) throws {
            let p = try entry.fields(["file", "running_mean", "running_var", "weight", "bias", "eps"])
            guard let file = p["file"] else { throw entry.fail(entry.anchor, "file", "missing (the weights file holding the running statistics)") }
            guard let mean = p["running_mean"] else { throw entry.fail(entry.anchor, "running_mean", "missing (the running mean dataset)") }
            guard let variance = p["running_var"] else { throw entry.fail(entry.anchor, "running_var", "missing (the running variance dataset)") }
            self.file = try entry.path(file, "file")
            runningMean = try entry.dataset(mean, "running_mean")
            runningVar = try entry.dataset(variance, "running_var")
            weight = try p["weight"].flatMap { $0.isNull ? nil : try entry.dataset($0, "weight") }
            bias = try p["bias"].flatMap { $0.isNull ? nil : try entry.dataset($0, "bias") }
            eps = try p["eps"].map { try entry.number($0, "eps") } ?? 1e-5
            if eps < 0 { throw entry.fail(p["eps"]!, "eps", "must not be negative") }
        }

        var resolvedParameters: [String: Any] {
            ["file": absolutePath(file), "running_mean": runningMean, "running_var": runningVar,
             "weight": weight ?? NSNull(), "bias": bias ?? NSNull(), "eps": eps]
        }

        var weightFile: String? { file }

        func makeStage(_ weights: WeightFiles) throws -> any Stage {
            let mean = try weights.featureVector(runningMean, "running_mean", in: file, for: "batch_norm")
            // Every other vector has one value per feature, as the running mean.
            let features = (label: "running_mean \(runningMean)", count: mean.count)
            func vector(_ name: String, _ label: String) throws -> [Float] {
                try weights.featureVector(name, label, in: file, for: "batch_norm", sameLengthAs: features)
            }
            let variance = try vector(runningVar, "running_var")
            return BatchNorm(runningMean: mean, runningVar: variance, weight: try weight.map { try vector($0, "weight") },
                             bias: try bias.map { try vector($0, "bias") }, eps: eps, source: "running_mean \(runningMean) in \(file)")
        }
    }
}

extension StageConfig {
    /// `batch_norm` in eval mode: `runningMean` and `runningVar` (and optional `weight` and
    /// `bias`) datasets in `file`, and `eps`.
    public static func batchNorm(file: String, runningMean: String, runningVar: String, weight: String? = nil,
                                 bias: String? = nil, eps: Double = 1e-5) -> StageConfig {
        StageConfig(BatchNorm.Spec(file: file, runningMean: runningMean, runningVar: runningVar, weight: weight,
                                   bias: bias, eps: eps))
    }
}
