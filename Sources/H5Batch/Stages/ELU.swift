import CKernels

/// `nn.ELU`: `x` if `x > 0`, else `alpha · (exp(x) − 1)`.
public struct ELU: InPlaceStage {
    /// The scale of the negative part (`alpha`, default 1.0).
    public let alpha: Float
    /// `alpha` defaults to PyTorch's 1.0.
    public init(alpha: Float = 1.0) { self.alpha = alpha }
    /// The pipeline-file name, `elu`.
    public var name: String { Spec.name }
    /// `elu(alpha: A)`.
    public var description: String { "elu(alpha: \(alpha))" }
    /// Counted as 4 FLOPs per value, for the `expm1`.
    public func flopsPerRow(inputWidth width: Int) -> Int { 4 * width }
    /// Applies `Functional.elu` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.elu(values, alpha: alpha)
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.elu`: `x` if `x > 0`, else `alpha · (exp(x) − 1)`, with `exp(x) − 1` computed as an
    /// accurate expm1 so small negative inputs keep their precision.
    public static func elu(_ x: UnsafeMutableBufferPointer<Float>, alpha: Float = 1.0) {
        guard let p = x.baseAddress else { return }
        ck_elu(p, x.count, alpha)
    }

    /// `F.elu` on a copy of `x` (`alpha` default 1.0).
    public static func elu(_ x: [Float], alpha: Float = 1.0) -> [Float] {
        ELU(alpha: alpha)(x, width: max(1, x.count))
    }
}

// MARK: - Pipeline file

extension ELU {
    /// `elu: { alpha: 1.0 }`.
    struct Spec: StageSpec {
        static let name = "elu"
        var alpha: Double
        init(alpha: Double) { self.alpha = alpha }
        init(_ entry: StageEntry) throws {
            let p = try entry.fields(["alpha"])
            alpha = try p["alpha"].map { try entry.number($0, "alpha") } ?? 1.0
        }
        var resolvedParameters: [String: Any] { ["alpha": alpha] }
        func makeStage(_ weights: WeightFiles) -> any Stage { ELU(alpha: Float(alpha)) }
    }
}

extension StageConfig {
    /// `elu` with its `alpha`.
    public static func elu(alpha: Double) -> StageConfig { StageConfig(ELU.Spec(alpha: alpha)) }
}
