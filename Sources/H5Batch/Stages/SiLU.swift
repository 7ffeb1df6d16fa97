import CKernels

/// `nn.SiLU` (swish): `x · sigmoid(x)`.
public struct SiLU: InPlaceStage {
    /// A SiLU; it has no parameters.
    public init() {}
    /// The pipeline-file name, `silu`.
    public var name: String { Spec.name }
    /// `silu`.
    public var description: String { "silu" }
    /// Counted as 4 FLOPs per value, for the exponential and the division.
    public func flopsPerRow(inputWidth width: Int) -> Int { 4 * width }
    /// Applies `Functional.silu` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.silu(values)
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.silu` (swish): `x · sigmoid(x)`, computed as PyTorch does, `x / (1 + exp(−x))`, so
    /// −∞ gives NaN (−∞/∞) as it does in PyTorch.
    public static func silu(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_silu(p, x.count)
    }

    /// `F.silu` on a copy of `x`.
    public static func silu(_ x: [Float]) -> [Float] { SiLU()(x, width: max(1, x.count)) }
}

// MARK: - Pipeline file

extension SiLU {
    /// `silu`: no parameters.
    struct Spec: StageSpec {
        static let name = "silu"
        init() {}
        init(_ entry: StageEntry) throws { _ = try entry.fields([]) }
        var resolvedParameters: [String: Any] { [:] }
        func makeStage(_ weights: WeightFiles) -> any Stage { SiLU() }
    }
}

extension StageConfig {
    /// `silu`.
    public static var silu: StageConfig { StageConfig(SiLU.Spec()) }
}
