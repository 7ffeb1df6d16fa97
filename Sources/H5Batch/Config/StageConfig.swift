/// One stage as written in a pipeline file: its name and parameters, validated, its weights not
/// yet read.
///
/// Each stage's own file defines what its entry holds (a `StageSpec`) and the static member
/// that builds it here, so a pipeline built in code reads like its file:
/// `[.linear(file: "w.h5", weight: "fc1.weight", bias: "fc1.bias", layout: .torch), .relu, .softmax]`.
public struct StageConfig: Sendable, Equatable {
    /// The parsed entry; `StageRegistry` lists every kind.
    let spec: any StageSpec

    init(_ spec: some StageSpec) { self.spec = spec }

    /// The stage's name in pipeline files (`linear`, `relu`, …).
    public var name: String { type(of: spec).name }

    /// The weights file this stage reads, if any.
    public var file: String? { spec.weightFile }

    /// Equal when both are the same kind with the same parameters.
    public static func == (lhs: StageConfig, rhs: StageConfig) -> Bool { lhs.spec.isEqual(to: rhs.spec) }
}

extension StageSpec {
    /// True when `other` is this kind with equal parameters.
    func isEqual(to other: any StageSpec) -> Bool { (other as? Self) == self }
}
