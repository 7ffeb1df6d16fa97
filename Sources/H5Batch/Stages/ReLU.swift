import CKernels

/// `nn.ReLU`: `max(x, 0)`; NaN stays NaN.
public struct ReLU: InPlaceStage {
    /// A ReLU; it has no parameters.
    public init() {}
    /// The pipeline-file name, `relu`.
    public var name: String { Spec.name }
    /// `relu`.
    public var description: String { "relu" }
    /// Applies `Functional.relu` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.relu(values)
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.relu`: `max(x, 0)`; NaN stays NaN.
    public static func relu(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_relu(p, x.count)
    }

    /// `F.relu` on a copy of `x`.
    public static func relu(_ x: [Float]) -> [Float] { ReLU()(x, width: max(1, x.count)) }
}

// MARK: - Pipeline file

extension ReLU {
    /// `relu`: no parameters.
    struct Spec: StageSpec {
        static let name = "relu"
        init() {}
        init(_ entry: StageEntry) throws { _ = try entry.fields([]) }
        var resolvedParameters: [String: Any] { [:] }
        func makeStage(_ weights: WeightFiles) -> any Stage { ReLU() }
    }
}

extension StageConfig {
    /// `relu`.
    public static var relu: StageConfig { StageConfig(ReLU.Spec()) }
}
