import CKernels

/// `nn.Sigmoid`: `1 / (1 + exp(−x))`.
public struct Sigmoid: InPlaceStage {
    /// A sigmoid; it has no parameters.
    public init() {}
    /// The pipeline-file name, `sigmoid`.
    public var name: String { Spec.name }
    /// `sigmoid`.
    public var description: String { "sigmoid" }
    /// Counted as 4 FLOPs per value, for the exponential and the division.
    public func flopsPerRow(inputWidth width: Int) -> Int { 4 * width }
    /// Applies `Functional.sigmoid` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.sigmoid(values)
    }
}

// MARK: - Functional form

extension Functional {
    /// `torch.sigmoid`: `1 / (1 + exp(−x))`; −∞ → 0, +∞ → 1, NaN stays NaN.
    public static func sigmoid(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_sigmoid(p, x.count)
    }

    /// `torch.sigmoid` on a copy of `x`.
    public static func sigmoid(_ x: [Float]) -> [Float] { Sigmoid()(x, width: max(1, x.count)) }
}

// MARK: - Pipeline file

extension Sigmoid {
    /// `sigmoid`: no parameters.
    struct Spec: StageSpec {
        static let name = "sigmoid"
        init() {}
        init(_ entry: StageEntry) throws { _ = try entry.fields([]) }
        var resolvedParameters: [String: Any] { [:] }
        func makeStage(_ weights: WeightFiles) -> any Stage { Sigmoid() }
    }
}

extension StageConfig {
    /// `sigmoid`.
    public static var sigmoid: StageConfig { StageConfig(Sigmoid.Spec()) }
}
