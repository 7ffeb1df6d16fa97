/// `nn.ReLU`: `max(x, 0)`; NaN stays NaN.
public struct ReLU: InPlaceStage {
    /// A ReLU; it has no parameters.
    public init() {}
    /// The pipeline-file name, `relu`.
    public var name: String { "relu" }
    /// `relu`.
    public var description: String { "relu" }
    /// Applies `Functional.relu` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.relu(values)
    }
}

/// `nn.LeakyReLU`: `x` if `x > 0`, else `negative_slope · x`.
public struct LeakyReLU: InPlaceStage {
    /// The slope for negative inputs (`negative_slope`, default 0.01).
    public let negativeSlope: Float
    /// `negativeSlope` defaults to PyTorch's 0.01.
    public init(negativeSlope: Float = 0.01) { self.negativeSlope = negativeSlope }
    /// The pipeline-file name, `leaky_relu`.
    public var name: String { "leaky_relu" }
    /// `leaky_relu(negative_slope: S)`.
    public var description: String { "leaky_relu(negative_slope: \(negativeSlope))" }
    /// Applies `Functional.leakyReLU` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.leakyReLU(values, negativeSlope: negativeSlope)
    }
}

/// `nn.PReLU`: `x` if `x > 0`, else `a · x`, with one learned `a` or one per feature (last
/// dimension). For 2-D input the last dimension is PyTorch's channel dimension.
public struct PReLU: InPlaceStage {
    /// The slope `a`: one value shared by every feature, or one per feature.
    public let weight: [Float]
    /// Where the weight came from, e.g. "weight prelu.weight in weights.h5", for error messages.
    public let source: String?
    /// `weight` holds one value shared by every feature, or one per feature.
    public init(weight: [Float] = [0.25], source: String? = nil) {
        precondition(!weight.isEmpty, "PReLU needs at least one weight")
        self.weight = weight
        self.source = source
    }
    /// The pipeline-file name, `prelu`.
    public var name: String { "prelu" }
    /// `[weight]`, the learned slopes (they enter the weights' fingerprint).
    public var parameters: [[Float]] { [weight] }
    /// `prelu(weight: A)` for one shared slope, `prelu(N weights)` for per-feature slopes.
    public var description: String {
        weight.count == 1 ? "prelu(weight: \(weight[0]))" : "prelu(\(weight.count) weights)"
    }
    /// `width` unchanged; throws `H5BatchError(.data)` (exit 65) unless `weight` holds 1 or
    /// `width` values.
    public func outputWidth(forInputWidth width: Int) throws -> Int {
        guard weight.count == 1 || weight.count == width else {
            let origin = source.map { "; \($0)" } ?? ""
            throw H5BatchError(.data, "prelu has \(weight.count) weights but rows have \(width) features (need 1 or \(width)\(origin))")
        }
        return width
    }
    /// Applies `Functional.prelu` in place to rows of `width` values.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.prelu(values, weight: weight, width: width)
    }
}

/// `nn.ELU`: `x` if `x > 0`, else `alpha · (exp(x) − 1)`.
public struct ELU: InPlaceStage {
    /// The scale of the negative part (`alpha`, default 1.0).
    public let alpha: Float
    /// `alpha` defaults to PyTorch's 1.0.
    public init(alpha: Float = 1.0) { self.alpha = alpha }
    /// The pipeline-file name, `elu`.
    public var name: String { "elu" }
    /// `elu(alpha: A)`.
    public var description: String { "elu(alpha: \(alpha))" }
    /// Counted as 4 FLOPs per value, for the `expm1`.
    public func flopsPerRow(inputWidth width: Int) -> Int { 4 * width }
    /// Applies `Functional.elu` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.elu(values, alpha: alpha)
    }
}

/// `nn.Sigmoid`: `1 / (1 + exp(−x))`.
public struct Sigmoid: InPlaceStage {
    /// A sigmoid; it has no parameters.
    public init() {}
    /// The pipeline-file name, `sigmoid`.
    public var name: String { "sigmoid" }
    /// `sigmoid`.
    public var description: String { "sigmoid" }
    /// Counted as 4 FLOPs per value, for the exponential and the division.
    public func flopsPerRow(inputWidth width: Int) -> Int { 4 * width }
    /// Applies `Functional.sigmoid` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.sigmoid(values)
    }
}

/// `nn.Tanh`.
public struct Tanh: InPlaceStage {
    /// A tanh; it has no parameters.
    public init() {}
    /// The pipeline-file name, `tanh`.
    public var name: String { "tanh" }
    /// `tanh`.
    public var description: String { "tanh" }
    /// Counted as 5 FLOPs per value, for the `expm1` and the division.
    public func flopsPerRow(inputWidth width: Int) -> Int { 5 * width }
    /// Applies `Functional.tanh` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.tanh(values)
    }
}

/// `nn.SiLU` (swish): `x · sigmoid(x)`.
public struct SiLU: InPlaceStage {
    /// A SiLU; it has no parameters.
    public init() {}
    /// The pipeline-file name, `silu`.
    public var name: String { "silu" }
    /// `silu`.
    public var description: String { "silu" }
    /// Counted as 4 FLOPs per value, for the exponential and the division.
    public func flopsPerRow(inputWidth width: Int) -> Int { 4 * width }
    /// Applies `Functional.silu` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.silu(values)
    }
}

/// `nn.GELU`: `x · Φ(x)` (`approximate: none`, the default) or its tanh approximation
/// (`approximate: tanh`).
public struct GELU: InPlaceStage {
    /// How `Φ(x)` is computed, as `nn.GELU(approximate=…)`: `none` (exact, through `erfc`) or
    /// `tanh`.
    public enum Approximation: String, Sendable, CaseIterable {
        /// PyTorch's `approximate='none'` (x·Φ(x), the default) and `approximate='tanh'`.
        case none, tanh
    }
    /// The form used (`approximate`, default `none`).
    public let approximate: Approximation
    /// Defaults to the exact form, as PyTorch does.
    public init(approximate: Approximation = .none) { self.approximate = approximate }
    /// The pipeline-file name, `gelu`.
    public var name: String { "gelu" }
    /// `gelu`, or `gelu(approximate: tanh)` for the tanh form.
    public var description: String { approximate == .none ? "gelu" : "gelu(approximate: tanh)" }
    /// Counted as 20 FLOPs per value for the exact form (`erfc`), 8 for the tanh form.
    public func flopsPerRow(inputWidth width: Int) -> Int { (approximate == .none ? 20 : 8) * width }
    /// Applies `Functional.gelu` or `Functional.geluTanh` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        switch approximate {
        case .none: Functional.gelu(values)
        case .tanh: Functional.geluTanh(values)
        }
    }
}

/// `nn.Softplus`: `log(1 + exp(β·x)) / β`, or `x` where `β·x > threshold`.
public struct Softplus: InPlaceStage {
    /// `β` (`beta`, default 1); never 0, since the result is divided by it.
    public let beta: Float
    /// Where `β·x` is above this, the stage returns `x` (`threshold`, default 20).
    public let threshold: Float
    /// The defaults are PyTorch's: `beta` 1, `threshold` 20.
    public init(beta: Float = 1, threshold: Float = 20) {
        self.beta = beta
        self.threshold = threshold
    }
    /// The pipeline-file name, `softplus`.
    public var name: String { "softplus" }
    /// `softplus`, or `softplus(beta: B, threshold: T)` when either is not the default.
    public var description: String {
        beta == 1 && threshold == 20 ? "softplus" : "softplus(beta: \(beta), threshold: \(threshold))"
    }
    /// Counted as 6 FLOPs per value, for the exponential and the logarithm.
    public func flopsPerRow(inputWidth width: Int) -> Int { 6 * width }
    /// Applies `Functional.softplus` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.softplus(values, beta: beta, threshold: threshold)
    }
}

/// `nn.Hardtanh`: `x` clamped to `[min_val, max_val]` (−1 and 1 by default).
public struct Hardtanh: InPlaceStage {
    /// The lower bound (`min_val`, default −1).
    public let minVal: Float
    /// The upper bound (`max_val`, default 1).
    public let maxVal: Float
    /// `minVal` must be below `maxVal`, as PyTorch requires.
    public init(minVal: Float = -1, maxVal: Float = 1) {
        precondition(minVal < maxVal, "hardtanh: min_val must be below max_val")
        self.minVal = minVal
        self.maxVal = maxVal
    }
    /// The pipeline-file name, `hardtanh`.
    public var name: String { "hardtanh" }
    /// `hardtanh`, or `hardtanh(min_val: A, max_val: B)` when either is not the default.
    public var description: String {
        minVal == -1 && maxVal == 1 ? "hardtanh" : "hardtanh(min_val: \(minVal), max_val: \(maxVal))"
    }
    /// Applies `Functional.hardtanh` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.hardtanh(values, minVal: minVal, maxVal: maxVal)
    }
}

/// `nn.Softmax(dim=-1)`: each row's values become `exp(x − max) / Σ exp(x − max)`.
public struct Softmax: InPlaceStage {
    /// A softmax over the last dimension; it has no parameters.
    public init() {}
    /// The pipeline-file name, `softmax`.
    public var name: String { "softmax" }
    /// `softmax`.
    public var description: String { "softmax" }
    /// Counted as 6 FLOPs per value: the maximum, the exponential, the sum and the scaling.
    public func flopsPerRow(inputWidth width: Int) -> Int { 6 * width }
    /// Applies `Functional.softmax` to each row of `width` values in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.softmax(values, width: width)
    }
}
