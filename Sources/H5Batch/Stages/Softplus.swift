import CKernels

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
    public var name: String { Spec.name }
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

// MARK: - Functional form

extension Functional {
    /// `F.softplus`: `log(1 + exp(β·x)) / β`, or `x` where `β·x > threshold` (PyTorch's
    /// defaults: β = 1, threshold = 20); −∞ gives 0, NaN stays NaN.
    public static func softplus(_ x: UnsafeMutableBufferPointer<Float>, beta: Float = 1, threshold: Float = 20) {
        guard let p = x.baseAddress else { return }
        ck_softplus(p, x.count, beta, threshold)
    }

    /// `F.softplus` on a copy of `x` (defaults β = 1, threshold = 20).
    public static func softplus(_ x: [Float], beta: Float = 1, threshold: Float = 20) -> [Float] {
        Softplus(beta: beta, threshold: threshold)(x, width: max(1, x.count))
    }
}

// MARK: - Pipeline file

extension Softplus {
    /// `softplus: { beta: 1, threshold: 20 }`; `beta` is not 0.
    struct Spec: StageSpec {
        static let name = "softplus"
        var beta: Double
        var threshold: Double
        init(beta: Double, threshold: Double) {
            self.beta = beta
            self.threshold = threshold
        }
        init(_ entry: StageEntry) throws {
            let p = try entry.fields(["beta", "threshold"])
            beta = try p["beta"].map { try entry.float($0, "beta") } ?? 1
            if beta == 0 { throw entry.fail(p["beta"]!, "beta", "must not be 0 (softplus divides by it)") }
            threshold = try p["threshold"].map { try entry.float($0, "threshold") } ?? 20
        }
        var resolvedParameters: [String: Any] { ["beta": beta, "threshold": threshold] }
        func makeStage(_ weights: WeightFiles) -> any Stage { Softplus(beta: Float(beta), threshold: Float(threshold)) }
    }
}

extension StageConfig {
    /// `softplus` with `beta` (not 0) and `threshold`.
    public static func softplus(beta: Double, threshold: Double) -> StageConfig {
        StageConfig(Softplus.Spec(beta: beta, threshold: threshold))
    }
}
