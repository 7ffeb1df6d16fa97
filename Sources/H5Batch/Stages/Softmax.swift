import CKernels

/// `nn.Softmax(dim=-1)`: each row's values become `exp(x − max) / Σ exp(x − max)`.
public struct Softmax: InPlaceStage {
    /// A softmax over the last dimension; it has no parameters.
    public init() {}
    /// The pipeline-file name, `softmax`.
    public var name: String { Spec.name }
    /// `softmax`.
    public var description: String { "softmax" }
    /// Counted as 6 FLOPs per value: the maximum, the exponential, the sum and the scaling.
    public func flopsPerRow(inputWidth width: Int) -> Int { 6 * width }
    /// Applies `Functional.softmax` to each row of `width` values in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.softmax(values, width: width)
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.softmax` over the last dimension (rows of `width`): `exp(x − max) / Σ exp(x − max)`,
    /// the maximum subtracted first so no exponential overflows. A row holding NaN or +∞ (or
    /// only −∞) becomes NaN, as in PyTorch.
    public static func softmax(_ x: UnsafeMutableBufferPointer<Float>, width: Int) {
        precondition(width > 0 && x.count % width == 0, "softmax: the buffer does not hold whole rows")
        guard let p = x.baseAddress else { return }
        ck_softmax(p, x.count / width, width)
    }

    /// Softmax over each row of `width` values.
    public static func softmax(_ x: [Float], width: Int) -> [Float] { Softmax()(x, width: width) }
}

// MARK: - Pipeline file

extension Softmax {
    /// `softmax`, or `softmax: { dim: -1 }`: the last dimension is the only one.
    struct Spec: StageSpec {
        static let name = "softmax"
        init() {}
        init(_ entry: StageEntry) throws {
            let p = try entry.fields(["dim"])
            if let dim = p["dim"], try entry.number(dim, "dim") != -1 {
                throw entry.fail(dim, "dim", "h5batch applies softmax over the last dimension only (dim: -1)")
            }
        }
        var resolvedParameters: [String: Any] { ["dim": -1] }
        func makeStage(_ weights: WeightFiles) -> any Stage { Softmax() }
    }
}

extension StageConfig {
    /// Over the last dimension.
    public static var softmax: StageConfig { StageConfig(Softmax.Spec()) }
}
