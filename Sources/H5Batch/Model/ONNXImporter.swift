import ONNXProto

/// What an ONNX model becomes: its layers in order, and the tensors the import derived from the
/// model's own (a Gemm's `alpha·B`, a broadcast bias, a slope reshaped to one dimension).
struct ONNXImport: Sendable {
    var layers: [ONNXLayer] = []
    var derived: [String: DerivedTensor] = [:]
}

/// A tensor computed from one of the model's: `scale` times `base`, given `shape` (a broadcast
/// one-value base is repeated to fill it).
struct DerivedTensor: Sendable, Equatable {
    let base: String
    let scale: Float
    let shape: [Int]
}

/// Turns a model's graph into layers. The graph must be a chain from its one input to its one
/// output: each node takes the previous node's result plus constants. Groups of nodes that
/// exporters write for one PyTorch layer (GELU's Erf and Tanh forms, SiLU, LayerNorm at opset
/// 13, Softplus' threshold) are recognised first (`ONNXPatterns`); other nodes map one by one.
struct ONNXImporter {
    let graph: ONNXGraph
    private(set) var result = ONNXImport()
    /// Nodes already turned into layers (or dropped).
    private(set) var used = Set<Int>()

    /// Imports the model in `file`; every graph it cannot run is exit 65, naming the node.
    static func importModel(_ file: ONNXModelFile) throws -> ONNXImport {
        var importer = ONNXImporter(graph: try ONNXGraph(file))
        try importer.walk()
        return importer.result
    }

    private init(graph: ONNXGraph) { self.graph = graph }

    private var path: String { graph.file.path }

    func fail(_ node: Int, _ why: String) -> H5BatchError {
        H5BatchError(.data, "\(path): node \(graph.label(node)): \(why)")
    }

    private mutating func walk() throws {
        var current = graph.input
        while true {
            let readers = (graph.consumers[current] ?? []).filter { !used.contains($0) }
            if current == graph.output {
                guard readers.isEmpty else {
                    throw fail(readers[0], "reads the graph's output \(current); h5batch imports a chain that ends at the output")
                }
                break
            }
            guard !readers.isEmpty else {
                throw H5BatchError(.data, "\(path): value \(current) feeds no node and is not the graph's output \(graph.output); h5batch imports a chain from the input to the output")
            }
            if let match = try ONNXPatterns(importer: self, current: current).match() {
                result.layers.append(match.layer)
                used.formUnion(match.nodes)
                current = match.output
                continue
            }
            if readers.count > 1 {
                let merge = readers.first { index in graph.nodes[index].input.filter { isComputed($0) }.count > 1 } ?? readers[1]
                throw fail(merge, "\(mergeDescription(merge)); h5batch imports a chain where each node takes the previous node's result plus constants")
            }
            current = try step(readers[0], current: current)
        }
        if let stray = graph.nodes.indices.first(where: { !used.contains($0) }) {
            throw fail(stray, "is not on the chain from the input \(graph.input) to the output \(graph.output)")
        }
    }

    /// A value computed by the graph (the input or a node's result), not a constant.
    func isComputed(_ value: String) -> Bool {
        !value.isEmpty && graph.constants[value] == nil
    }

    private func mergeDescription(_ node: Int) -> String {
        let computed = graph.nodes[node].input.filter { isComputed($0) }
        if computed.count > 1 {
            let what = graph.nodes[node].opType == "Add" ? " (a residual connection)" : ""
            return "combines two computed values, \(computed.joined(separator: " and "))\(what)"
        }
        return "its input also feeds another node (a branch)"
    }

    // MARK: - One node at a time

    /// Maps the node `index`, which reads `current`, to layers; returns the value it produces.
    private mutating func step(_ index: Int, current: String) throws -> String {
        let node = graph.nodes[index]
        let inputs = node.input
        for (position, value) in inputs.enumerated() where position > 0 && isComputed(value) && value != current {
            throw fail(index, "input \(position + 1) (\(value)) is computed, not a constant; \(graph.producer[value] == nil ? "it is a second input of the graph" : "the graph branches (a residual connection?)")")
        }
        guard inputs.first == current else {
            throw fail(index, "takes the chain's value \(current) as a later input; h5batch imports nodes whose first input is the previous node's result")
        }
        let extraOutputs = node.output.dropFirst().filter { !$0.isEmpty && !(graph.consumers[$0] ?? []).isEmpty }
        guard extraOutputs.isEmpty else { throw fail(index, "its output \(extraOutputs[0]) is used; h5batch imports single-output nodes") }
        used.insert(index)
        var output = node.output[0]
        switch node.opType {
        case "Identity", "Dropout":
            break
        case "Flatten":
            let axis = node.int("axis", default: 1)
            guard let rank = graph.inputRank, rank == 2, axis == 1 || axis == -1 else {
                throw fail(index, "flattens axis \(axis) of a tensor of rank \(graph.inputRank.map(String.init) ?? "unknown"), which changes a row; h5batch keeps rows of the input's last dimension")
            }
        case "Gemm":
            result.layers.append(try gemm(index))
        case "MatMul":
            let (layer, end) = try matMul(index)
            result.layers.append(layer)
            output = end
        case "Relu": result.layers.append(.relu)
        case "LeakyRelu": result.layers.append(.leakyReLU(negativeSlope: Double(node.float("alpha", default: 0.01))))
        case "Elu": result.layers.append(.elu(alpha: Double(node.float("alpha", default: 1))))
        case "Sigmoid": result.layers.append(.sigmoid)
        case "Tanh": result.layers.append(.tanh)
        case "Softplus": result.layers.append(.softplus(threshold: 20))  // exact in float32: log1p(exp(x)) rounds to x beyond 20
        case "PRelu": result.layers.append(.prelu(slope: try vector(index, position: 1, what: "slope")))
        case "Gelu":
            let mode = node.attribute("approximate").map { String(decoding: $0.s, as: UTF8.self) } ?? "none"
            guard let approximation = GELU.Approximation(rawValue: mode) else { throw fail(index, "approximate is \(mode); h5batch knows none and tanh") }
            result.layers.append(.gelu(approximation))
        case "Softmax":
            let axis = node.int("axis", default: graph.file.opset >= 13 ? -1 : 1)
            guard axis == -1 || (axis == 1 && graph.inputRank == 2) else {
                throw fail(index, "is over axis \(axis); h5batch applies softmax over the last axis")
            }
            result.layers.append(.softmax)
        case "Clip":
            result.layers.append(try clip(index))
        case "LayerNormalization":
            let axis = node.int("axis", default: -1)
            guard axis == -1 || (graph.inputRank.map { axis == $0 - 1 } ?? false) else {
                throw fail(index, "normalizes from axis \(axis); h5batch normalizes over the last axis only")
            }
            result.layers.append(.layerNorm(weight: try vector(index, position: 1, what: "scale"),
                                            bias: inputs.count > 2 && !inputs[2].isEmpty ? try vector(index, position: 2, what: "bias") : nil,
                                            eps: Double(node.float("epsilon", default: 1e-5))))
        case "BatchNormalization":
            guard node.int("training_mode", default: 0) == 0 else { throw fail(index, "is in training mode; h5batch runs inference") }
            guard inputs.count == 5 else { throw fail(index, "has \(inputs.count) inputs; expected X, scale, B, mean and var") }
            result.layers.append(.batchNorm(mean: try vector(index, position: 3, what: "mean"),
                                            variance: try vector(index, position: 4, what: "var"),
                                            weight: try vector(index, position: 1, what: "scale"),
                                            bias: try vector(index, position: 2, what: "bias"),
                                            eps: Double(node.float("epsilon", default: 1e-5))))
        case "Add", "Sub", "Mul", "Div":
            if inputs.dropFirst().contains(current) { throw fail(index, "combines the chain's value \(current) with itself; h5batch has no stage for it") }
            throw fail(index, "applies a constant on its own, outside a Gemm, MatMul + Add or a recognised layer; h5batch has no stage for it")
        default:
            throw fail(index, "op type \(node.opType) is not supported (h5batch imports Gemm, MatMul + Add, Relu, LeakyRelu, PRelu, Elu, Sigmoid, Tanh, Softplus, Softmax, Clip, Gelu, LayerNormalization, BatchNormalization and the forms exporters write for GELU, SiLU and LayerNorm)")
        }
        return output
    }

    /// `Gemm(x, B, C)`: `alpha·x·B(ᵀ) + beta·C` as a linear layer.
    private mutating func gemm(_ index: Int) throws -> ONNXLayer {
        let node = graph.nodes[index]
        guard node.int("transA", default: 0) == 0 else { throw fail(index, "has transA=1; the rows must be its first operand as they are") }
        let (weight, shape) = try matrix(index)
        let transB = node.int("transB", default: 0) != 0
        let outFeatures = transB ? shape[0] : shape[1]
        let alpha = node.float("alpha", default: 1)
        let weightName = alpha == 1 ? weight : derive(weight, scale: alpha, shape: shape)
        var bias: String?
        if node.input.count > 2, !node.input[2].isEmpty {
            bias = try biasVector(index, position: 2, features: outFeatures, scale: node.float("beta", default: 1))
        }
        return .linear(weight: weightName, bias: bias, layout: transB ? .torch : .keras)
    }

    /// `MatMul(x, W)`, and the `Add` of a constant bias right after it, as one linear layer;
    /// returns the layer and the value it ends at.
    private mutating func matMul(_ index: Int) throws -> (ONNXLayer, String) {
        let (weight, shape) = try matrix(index)
        let output = graph.nodes[index].output[0]
        let readers = graph.consumers[output] ?? []
        if output != graph.output, readers.count == 1, graph.nodes[readers[0]].opType == "Add" {
            let add = readers[0]
            let addInputs = graph.nodes[add].input
            if let position = addInputs.firstIndex(where: { $0 != output }), addInputs.count == 2, !isComputed(addInputs[position]) {
                let bias = try biasVector(add, position: position, features: shape[1], scale: 1)
                used.insert(add)
                return (.linear(weight: weight, bias: bias, layout: .keras), graph.nodes[add].output[0])
            }
        }
        return (.linear(weight: weight, bias: nil, layout: .keras), output)
    }

    /// The constant 2-D matrix a Gemm or MatMul multiplies by, with its shape.
    private func matrix(_ index: Int) throws -> (name: String, shape: [Int]) {
        let inputs = graph.nodes[index].input
        guard inputs.count >= 2, let tensor = graph.constants[inputs[1]] else {
            throw fail(index, "multiplies by a computed value, not a constant weight")
        }
        let shape = tensor.dims.map { Int(truncatingIfNeeded: $0) }
        guard shape.count == 2, shape.allSatisfy({ $0 > 0 }) else {
            throw fail(index, "its weight \(inputs[1]) has shape \(shapeText(shape)); h5batch needs a 2-D matrix")
        }
        return (inputs[1], shape)
    }

    /// A bias of `features` values (or one, broadcast), scaled by `scale`: the constant itself
    /// when it already is `[features]` and unscaled, else a derived tensor.
    private mutating func biasVector(_ index: Int, position: Int, features: Int, scale: Float) throws -> String {
        let name = graph.nodes[index].input[position]
        guard let tensor = graph.constants[name] else { throw fail(index, "its bias \(name) is computed, not a constant") }
        let shape = tensor.dims.map { Int(truncatingIfNeeded: $0) }
        let count = elementCount(shape) ?? 0
        guard count == features || count == 1, shape.filter({ $0 != 1 }).count <= 1 else {
            throw fail(index, "its bias \(name) has shape \(shapeText(shape)); expected [\(features)] or one value")
        }
        if shape == [features] && scale == 1 { return name }
        return derive(name, scale: scale, shape: [features])
    }

    /// The constant at `position` as a one-dimensional tensor (a reshaped one when its other
    /// dimensions are 1, as exporters write a PReLU slope of shape [C, 1, 1]).
    private mutating func vector(_ index: Int, position: Int, what: String) throws -> String {
        let inputs = graph.nodes[index].input
        guard inputs.count > position, let tensor = graph.constants[inputs[position]] else {
            throw fail(index, "has no constant \(what)")
        }
        let shape = tensor.dims.map { Int(truncatingIfNeeded: $0) }
        guard shape.filter({ $0 != 1 }).count <= 1, let count = elementCount(shape), count > 0 else {
            throw fail(index, "its \(what) \(inputs[position]) has shape \(shapeText(shape)); h5batch needs one value per feature")
        }
        return shape.count == 1 ? inputs[position] : derive(inputs[position], scale: 1, shape: [count])
    }

    /// `Clip` with its bounds from inputs (opset 11 on) or attributes: `hardtanh`, or `relu`
    /// for a lower bound of 0 alone.
    private func clip(_ index: Int) throws -> ONNXLayer {
        let node = graph.nodes[index]
        var low: Float?, high: Float?
        if graph.file.opset >= 11 {
            func bound(_ position: Int) throws -> Float? {
                guard node.input.count > position, !node.input[position].isEmpty else { return nil }
                guard let value = try graph.scalar(node.input[position]) else {
                    throw fail(index, "its bound \(node.input[position]) is not a one-value constant")
                }
                return value
            }
            (low, high) = (try bound(1), try bound(2))
        } else {
            low = node.attribute("min")?.f
            high = node.attribute("max")?.f
        }
        switch (low, high) {
        case (let low?, let high?):
            guard low < high else { throw fail(index, "clips to [\(low), \(high)]; hardtanh needs min below max") }
            return .hardtanh(min: Double(low), max: Double(high))
        case (0?, nil):
            return .relu
        default:
            throw fail(index, "clips on one side only; h5batch maps Clip with both bounds to hardtanh (and Clip(min=0) to relu)")
        }
    }

    /// Records a derived tensor and returns its name.
    mutating func derive(_ base: String, scale: Float, shape: [Int]) -> String {
        let name = scale == 1 ? "\(base)@\(shapeText(shape))" : "\(base)×\(scale)@\(shapeText(shape))"
        result.derived[name] = DerivedTensor(base: base, scale: scale, shape: shape)
        return name
    }
}
