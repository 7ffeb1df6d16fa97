/// `nn.ReLU`: `max(x, 0)`; NaN stays NaN.
public struct ReLU: InPlaceStage {
    public init() {}
    public var name: String { "relu" }
    public var description: String { "relu" }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.relu(values)
    }
}

/// `nn.LeakyReLU`: `x` if `x > 0`, else `negative_slope · x`.
public struct LeakyReLU: InPlaceStage {
    public let negativeSlope: Float
    public init(negativeSlope: Float = 0.01) { self.negativeSlope = negativeSlope }
    public var name: String { "leaky_relu" }
    public var description: String { "leaky_relu(negative_slope: \(negativeSlope))" }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.leakyReLU(values, negativeSlope: negativeSlope)
    }
}

/// `nn.PReLU`: `x` if `x > 0`, else `a · x`, with one learned `a` or one per feature (last
/// dimension). For 2-D input the last dimension is PyTorch's channel dimension.
public struct PReLU: InPlaceStage {
    public let weight: [Float]
    /// Where the weight came from, e.g. "weight prelu.weight in weights.h5", for error messages.
    public let source: String?
    /// `weight` holds one value shared by every feature, or one per feature.
    public init(weight: [Float] = [0.25], source: String? = nil) {
        precondition(!weight.isEmpty, "PReLU needs at least one weight")
        self.weight = weight
        self.source = source
    }
    public var name: String { "prelu" }
    public var parameters: [[Float]] { [weight] }
    public var description: String {
        weight.count == 1 ? "prelu(weight: \(weight[0]))" : "prelu(\(weight.count) weights)"
    }
    public func outputWidth(forInputWidth width: Int) throws -> Int {
        guard weight.count == 1 || weight.count == width else {
            let origin = source.map { "; \($0)" } ?? ""
            throw H5BatchError(.data, "prelu has \(weight.count) weights but rows have \(width) features (need 1 or \(width)\(origin))")
        }
        return width
    }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.prelu(values, weight: weight, width: width)
    }
}

/// `nn.ELU`: `x` if `x > 0`, else `alpha · (exp(x) − 1)`.
public struct ELU: InPlaceStage {
    public let alpha: Float
    public init(alpha: Float = 1.0) { self.alpha = alpha }
    public var name: String { "elu" }
    public var description: String { "elu(alpha: \(alpha))" }
    public func flopsPerRow(inputWidth width: Int) -> Int { 4 * width }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.elu(values, alpha: alpha)
    }
}

/// `nn.Sigmoid`: `1 / (1 + exp(−x))`.
public struct Sigmoid: InPlaceStage {
    public init() {}
    public var name: String { "sigmoid" }
    public var description: String { "sigmoid" }
    public func flopsPerRow(inputWidth width: Int) -> Int { 4 * width }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.sigmoid(values)
    }
}

/// `nn.Tanh`.
public struct Tanh: InPlaceStage {
    public init() {}
    public var name: String { "tanh" }
    public var description: String { "tanh" }
    public func flopsPerRow(inputWidth width: Int) -> Int { 5 * width }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.tanh(values)
    }
}

/// `nn.SiLU` (swish): `x · sigmoid(x)`.
public struct SiLU: InPlaceStage {
    public init() {}
    public var name: String { "silu" }
    public var description: String { "silu" }
    public func flopsPerRow(inputWidth width: Int) -> Int { 4 * width }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.silu(values)
    }
}

/// `nn.GELU`: `x · Φ(x)` (`approximate: none`, the default) or its tanh approximation
/// (`approximate: tanh`).
public struct GELU: InPlaceStage {
    public enum Approximation: String, Sendable, CaseIterable {
        case none, tanh
    }
    public let approximate: Approximation
    public init(approximate: Approximation = .none) { self.approximate = approximate }
    public var name: String { "gelu" }
    public var description: String { approximate == .none ? "gelu" : "gelu(approximate: tanh)" }
    public func flopsPerRow(inputWidth width: Int) -> Int { (approximate == .none ? 20 : 8) * width }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        switch approximate {
        case .none: Functional.gelu(values)
        case .tanh: Functional.geluTanh(values)
        }
    }
}

/// `nn.Softplus`: `log(1 + exp(β·x)) / β`, or `x` where `β·x > threshold`.
public struct Softplus: InPlaceStage {
    public let beta: Float
    public let threshold: Float
    public init(beta: Float = 1, threshold: Float = 20) {
        self.beta = beta
        self.threshold = threshold
    }
    public var name: String { "softplus" }
    public var description: String {
        beta == 1 && threshold == 20 ? "softplus" : "softplus(beta: \(beta), threshold: \(threshold))"
    }
    public func flopsPerRow(inputWidth width: Int) -> Int { 6 * width }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.softplus(values, beta: beta, threshold: threshold)
    }
}

/// `nn.Hardtanh`: `x` clamped to `[min_val, max_val]` (−1 and 1 by default).
public struct Hardtanh: InPlaceStage {
    public let minVal: Float
    public let maxVal: Float
    /// `minVal` must be below `maxVal`, as PyTorch requires.
    public init(minVal: Float = -1, maxVal: Float = 1) {
        precondition(minVal < maxVal, "hardtanh: min_val must be below max_val")
        self.minVal = minVal
        self.maxVal = maxVal
    }
    public var name: String { "hardtanh" }
    public var description: String {
        minVal == -1 && maxVal == 1 ? "hardtanh" : "hardtanh(min_val: \(minVal), max_val: \(maxVal))"
    }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.hardtanh(values, minVal: minVal, maxVal: maxVal)
    }
}

/// `nn.Softmax(dim=-1)`: each row's values become `exp(x − max) / Σ exp(x − max)`.
public struct Softmax: InPlaceStage {
    public init() {}
    public var name: String { "softmax" }
    public var description: String { "softmax" }
    public func flopsPerRow(inputWidth width: Int) -> Int { 6 * width }
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.softmax(values, width: width)
    }
}
