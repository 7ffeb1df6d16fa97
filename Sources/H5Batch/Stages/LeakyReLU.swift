import CKernels

/// `nn.LeakyReLU`: `x` if `x > 0`, else `negative_slope · x`.
public struct LeakyReLU: InPlaceStage {
    /// The slope for negative inputs (`negative_slope`, default 0.01).
    public let negativeSlope: Float
    /// `negativeSlope` defaults to PyTorch's 0.01.
    public init(negativeSlope: Float = 0.01) { self.negativeSlope = negativeSlope }
    /// The pipeline-file name, `leaky_relu`.
    public var name: String { Spec.name }
    /// `leaky_relu(negative_slope: S)`.
    public var description: String { "leaky_relu(negative_slope: \(negativeSlope))" }
    /// Applies `Functional.leakyReLU` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.leakyReLU(values, negativeSlope: negativeSlope)
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.leaky_relu`: `x` if `x > 0`, else `negativeSlope · x`.
    public static func leakyReLU(_ x: UnsafeMutableBufferPointer<Float>, negativeSlope: Float = 0.01) {
        guard let p = x.baseAddress else { return }
        ck_leaky_relu(p, x.count, negativeSlope)
    }

    /// `F.leaky_relu` on a copy of `x` (`negativeSlope` default 0.01).
    public static func leakyReLU(_ x: [Float], negativeSlope: Float = 0.01) -> [Float] {
        LeakyReLU(negativeSlope: negativeSlope)(x, width: max(1, x.count))
    }
}

// MARK: - Pipeline file

extension LeakyReLU {
    /// `leaky_relu: { negative_slope: 0.01 }`.
    struct Spec: StageSpec {
        static let name = "leaky_relu"
        var negativeSlope: Double
        init(negativeSlope: Double) { self.negativeSlope = negativeSlope }
        init(_ entry: StageEntry) throws {
            let p = try entry.fields(["negative_slope"])
            negativeSlope = try p["negative_slope"].map { try entry.number($0, "negative_slope") } ?? 0.01
        }
        var resolvedParameters: [String: Any] { ["negative_slope": negativeSlope] }
        func makeStage(_ weights: WeightFiles) -> any Stage { LeakyReLU(negativeSlope: Float(negativeSlope)) }
    }
}

extension StageConfig {
    /// `leaky_relu` with its `negative_slope`.
    public static func leakyReLU(negativeSlope: Double) -> StageConfig {
        StageConfig(LeakyReLU.Spec(negativeSlope: negativeSlope))
    }
}
