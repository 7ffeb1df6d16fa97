import CKernels

/// `nn.GELU`: `x · Φ(x)` (`approximate: none`, the default) or its tanh approximation
/// (`approximate: tanh`).
public struct GELU: InPlaceStage {
    /// How `Φ(x)` is computed, as `nn.GELU(approximate=…)`: `none` (exact, through `erfc`) or
    /// `tanh`.
    public enum Approximation: String, Sendable, CaseIterable {
        /// PyTorch's `approximate='none'` (x·Φ(x), the default) and `approximate='tanh'`.
        case none, tanh
    }
    /// The form used (`approximate`, default `none`).
    public let approximate: Approximation
    /// Defaults to the exact form, as PyTorch does.
    public init(approximate: Approximation = .none) { self.approximate = approximate }
    /// The pipeline-file name, `gelu`.
    public var name: String { Spec.name }
    /// `gelu`, or `gelu(approximate: tanh)` for the tanh form.
    public var description: String { approximate == .none ? "gelu" : "gelu(approximate: tanh)" }
    /// Counted as 20 FLOPs per value for the exact form (`erfc`), 8 for the tanh form.
    public func flopsPerRow(inputWidth width: Int) -> Int { (approximate == .none ? 20 : 8) * width }
    /// Applies `Functional.gelu` or `Functional.geluTanh` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        switch approximate {
        case .none: Functional.gelu(values)
        case .tanh: Functional.geluTanh(values)
        }
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.gelu` with `approximate='none'`: `x · Φ(x) = x/2 · erfc(−x/√2)`, through an erfc
    /// accurate to a relative 1.2·10⁻⁷ (Numerical Recipes' `erfcc`), so the negative tail
    /// keeps its relative precision; −∞ gives NaN (−∞ · 0) as in PyTorch.
    public static func gelu(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_gelu(p, x.count)
    }

    /// `F.gelu` with `approximate='tanh'`: `x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³)))`,
    /// computed as the equal `x / (1 + exp(−2u))`; −∞ gives NaN as in PyTorch.
    public static func geluTanh(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_gelu_tanh(p, x.count)
    }

    /// `F.gelu` on a copy of `x`, exact (`approximate: .none`, the default) or `.tanh`.
    public static func gelu(_ x: [Float], approximate: GELU.Approximation = .none) -> [Float] {
        GELU(approximate: approximate)(x, width: max(1, x.count))
    }
}

// MARK: - Pipeline file

extension GELU {
    /// `gelu: { approximate: none }`.
    struct Spec: StageSpec {
        static let name = "gelu"
        var approximate: Approximation
        init(approximate: Approximation) { self.approximate = approximate }
        init(_ entry: StageEntry) throws {
            let p = try entry.fields(["approximate"])
            approximate = try p["approximate"].map { try entry.choice($0, "approximate", Approximation.allCases) } ?? .none
        }
        var resolvedParameters: [String: Any] { ["approximate": approximate.rawValue] }
        func makeStage(_ weights: WeightFiles) -> any Stage { GELU(approximate: approximate) }
    }
}

extension StageConfig {
    /// `gelu`, exact (`none`) or its `tanh` approximation.
    public static func gelu(approximate: GELU.Approximation) -> StageConfig {
        StageConfig(GELU.Spec(approximate: approximate))
    }
}
