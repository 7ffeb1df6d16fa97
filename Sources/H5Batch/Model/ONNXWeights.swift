/// An ONNX model's tensors as a weight source: its initializers and constants, and the tensors
/// its import derived from them. The stages an imported model becomes read their parameters
/// here, by name, like any weights.
struct ONNXWeights: WeightSource {
    /// The model file's path, for messages.
    let path: String
    private let file: ONNXModelFile
    private let graph: ONNXGraph
    private let derived: [String: DerivedTensor]

    /// Parses and imports the model at `path` (derived tensors depend on the import).
    init(path: String) throws {
        file = try ONNXModelFile(path: path)
        graph = try ONNXGraph(file)
        derived = try ONNXImporter.importModel(file).derived
        self.path = path
    }

    /// The model's constants and derived tensors, sorted.
    var tensorNames: [String] { (Array(graph.constants.keys) + Array(derived.keys)).sorted() }

    /// The tensor `name` as row-major float32 values with its shape; a missing name throws
    /// exit 65 listing the names the model holds, closest first.
    func tensor(named name: String) throws -> (shape: [Int], values: [Float]) {
        if let recipe = derived[name] {
            let base = try tensor(named: recipe.base)
            let count = elementCount(recipe.shape) ?? 0
            // A one-value bias is repeated; the width it is repeated to comes from another
            // tensor's dimensions, which a damaged file may make absurd.
            guard base.values.count == count || (base.values.count == 1 && count <= 1 << 26) else {
                throw H5BatchError(.data, "tensor \(recipe.base) in \(path) has \(base.values.count) values; its layer needs \(count)")
            }
            let values = base.values.count == 1 ? [Float](repeating: base.values[0], count: count) : base.values
            return (recipe.shape, recipe.scale == 1 ? values : values.map { $0 * recipe.scale })
        }
        guard let tensor = graph.constants[name] else {
            throw H5BatchError(.data, "\(path) has no tensor \(name); it \(closestNamesListing(tensorNames, to: name))")
        }
        return try file.decode(tensor, what: "tensor \(name)")
    }
}

/// The stages of the ONNX model at `path`, in order: its layers, each reading its tensors
/// from the model file.
public enum ONNXModel {
    /// The model's stages; exit 65 (naming the node) for a graph h5batch cannot run, 66 when
    /// the file cannot be read.
    public static func stages(path: String) throws -> [StageConfig] {
        try ONNXImporter.importModel(try ONNXModelFile(path: path)).layers.map { $0.stage(modelFile: path) }
    }
}
