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
