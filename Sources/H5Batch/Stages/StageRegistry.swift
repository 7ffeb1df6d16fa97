/// Every stage a pipeline file can name.
///
/// Each stage lives in one file (`ReLU.swift`, `Linear.swift`, `LayerNorm.swift`, …) holding all
/// of it: the `Stage` (its PyTorch-semantics kernel, description and FLOPs), its `Functional`
/// forms, its `StageSpec` (how its pipeline-file entry parses, its resolved JSON, how it loads
/// its weights) and its `StageConfig` member. This list names each one once, as an operator
/// list names its kernels; adding a stage is its file, its line here, a test and a reference
/// case.
enum StageRegistry {
    /// In the order error messages list them.
    static let kinds: [any StageSpec.Type] = [
        Linear.Spec.self,
        ReLU.Spec.self,
        LeakyReLU.Spec.self,
        PReLU.Spec.self,
        ELU.Spec.self,
        Sigmoid.Spec.self,
        Tanh.Spec.self,
        SiLU.Spec.self,
        GELU.Spec.self,
        Softplus.Spec.self,
        Hardtanh.Spec.self,
        Softmax.Spec.self,
        LayerNorm.Spec.self,
        BatchNorm.Spec.self,
    ]

    /// The kind a pipeline file calls `name`, if any.
    static func kind(named name: String) -> (any StageSpec.Type)? {
        kinds.first { $0.name == name }
    }

    /// Every stage name, in `kinds`' order.
    static var names: [String] { kinds.map { $0.name } }
}

/// What a pipeline file says about one kind of stage: its parameters, parsed and checked, with
/// the file paths resolved. It turns into a `Stage` when the run loads it.
protocol StageSpec: Sendable, Equatable {
    /// The name pipeline files use (`relu`, `leaky_relu`, …).
    static var name: String { get }
    /// Reads and checks the entry's parameters; a usage error (exit 64) names the line and key.
    init(_ entry: StageEntry) throws
    /// The parameters as JSON values with every default filled in and paths absolute: the
    /// stage's part of `PipelineConfig.resolvedJSON`, which provenance compares, so it must not
    /// change for the same work.
    var resolvedParameters: [String: Any] { get }
    /// The weights file the stage reads (nil: none); the output may not be one of them.
    var weightFile: String? { get }
    /// The stage, its weights read through `weights`. A wrong shape is `H5BatchError(.data)`.
    func makeStage(_ weights: WeightFiles) throws -> any Stage
}

extension StageSpec {
    /// None: the parameters all sit in the pipeline entry.
    var weightFile: String? { nil }
}
