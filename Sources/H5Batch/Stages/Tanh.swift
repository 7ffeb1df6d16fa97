import CKernels

/// `nn.Tanh`.
public struct Tanh: InPlaceStage {
    /// A tanh; it has no parameters.
    public init() {}
    /// The pipeline-file name, `tanh`.
    public var name: String { Spec.name }
    /// `tanh`.
    public var description: String { "tanh" }
    /// Counted as 5 FLOPs per value, for the `expm1` and the division.
    public func flopsPerRow(inputWidth width: Int) -> Int { 5 * width }
    /// Applies `Functional.tanh` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.tanh(values)
    }
}

// MARK: - Functional form

extension Functional {
    /// `torch.tanh`, as `expm1(2x) / (expm1(2x) + 2)`: accurate near 0, ±1 beyond |x| = 10
    /// (where float32 `tanh` is ±1 anyway); NaN stays NaN.
    public static func tanh(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_tanh(p, x.count)
    }

    /// `torch.tanh` on a copy of `x`.
    public static func tanh(_ x: [Float]) -> [Float] { Tanh()(x, width: max(1, x.count)) }
}

// MARK: - Pipeline file

extension Tanh {
    /// `tanh`: no parameters.
    struct Spec: StageSpec {
        static let name = "tanh"
        init() {}
        init(_ entry: StageEntry) throws { _ = try entry.fields([]) }
        var resolvedParameters: [String: Any] { [:] }
        func makeStage(_ weights: WeightFiles) -> any Stage { Tanh() }
    }
}

extension StageConfig {
    /// `tanh`.
    public static var tanh: StageConfig { StageConfig(Tanh.Spec()) }
}
