import ONNXProto

/// A model's graph as the importer walks it: its nodes in order, which node makes each value
/// and which nodes read it, and the values that are constants (initializers and the outputs of
/// `Constant` nodes).
struct ONNXGraph {
    let file: ONNXModelFile
    let nodes: [Onnx_NodeProto]
    /// The one input the rows come in through, and the one output.
    let input: String
    let output: String
    /// The input's rank when the model declares it (2 for rows of features).
    let inputRank: Int?
    /// Constants by value name.
    let constants: [String: Onnx_TensorProto]
    /// The node index that produces each computed value.
    let producer: [String: Int]
    /// The node indices that read each value, in graph order.
    let consumers: [String: [Int]]

    init(_ file: ONNXModelFile) throws {
        self.file = file
        let graph = file.graph
        var constants: [String: Onnx_TensorProto] = [:]
        for initializer in graph.initializer { constants[initializer.name] = initializer }
        var nodes: [Onnx_NodeProto] = []
        for node in graph.node {
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw H5BatchError(.data, "\(file.path): node \(Self.label(node)) is from operator domain \(node.domain); h5batch imports the default ONNX operators")
            }
            if node.opType == "Constant" {
                guard node.output.count == 1 else { throw H5BatchError(.data, "\(file.path): node \(Self.label(node)) has \(node.output.count) outputs") }
                constants[node.output[0]] = try Self.constantValue(node, in: file)
            } else {
                nodes.append(node)
            }
        }
        let inputs = graph.input.filter { constants[$0.name] == nil }
        guard inputs.count == 1 else {
            throw H5BatchError(.data, "\(file.path): the graph has \(inputs.count) inputs (\(inputs.map(\.name).joined(separator: ", "))); h5batch feeds a model one dataset")
        }
        guard graph.output.count == 1 else {
            throw H5BatchError(.data, "\(file.path): the graph has \(graph.output.count) outputs (\(graph.output.map(\.name).joined(separator: ", "))); h5batch writes one dataset")
        }
        input = inputs[0].name
        output = graph.output[0].name
        let shape = inputs[0].type.tensorType.shape
        inputRank = inputs[0].type.tensorType.hasShape ? shape.dim.count : nil
        var producer: [String: Int] = [:]
        var consumers: [String: [Int]] = [:]
        for (index, node) in nodes.enumerated() {
            for value in node.output where !value.isEmpty { producer[value] = index }
            for value in node.input where !value.isEmpty { consumers[value, default: []].append(index) }
        }
        self.nodes = nodes
        self.constants = constants
        self.producer = producer
        self.consumers = consumers
    }

    /// `'name' (OpType)`, or `#index (OpType)` for an unnamed node, as messages name nodes.
    static func label(_ node: Onnx_NodeProto) -> String {
        "\(node.name.isEmpty ? node.output.first ?? "?" : node.name) (\(node.opType))"
    }

    func label(_ index: Int) -> String { Self.label(nodes[index]) }

    /// A constant's values as float32 (none for a name that is no constant).
    func values(of name: String) throws -> [Float] {
        guard let tensor = constants[name] else { return [] }
        return try file.decode(tensor, what: "tensor \(name)").values
    }

    /// The single value of a one-element constant, or nil when `name` is no such constant.
    func scalar(_ name: String) throws -> Float? {
        guard let tensor = constants[name], elementCount(tensor.dims.map { Int(truncatingIfNeeded: $0) }) == 1 else { return nil }
        return try values(of: name).first
    }

    /// A `Constant` node's value as a tensor (its `value` attribute, or the float and int forms).
    private static func constantValue(_ node: Onnx_NodeProto, in file: ONNXModelFile) throws -> Onnx_TensorProto {
        guard let attribute = node.attribute.first else {
            throw H5BatchError(.data, "\(file.path): node \(label(node)) has no value")
        }
        var tensor = Onnx_TensorProto()
        switch attribute.name {
        case "value":
            tensor = attribute.t
        case "value_float":
            tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            tensor.floatData = [attribute.f]
        case "value_floats":
            tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            tensor.dims = [Int64(attribute.floats.count)]
            tensor.floatData = attribute.floats
        case "value_int":
            tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
            tensor.int64Data = [attribute.i]
        case "value_ints":
            tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
            tensor.dims = [Int64(attribute.ints.count)]
            tensor.int64Data = attribute.ints
        default:
            throw H5BatchError(.data, "\(file.path): node \(label(node)) holds a \(attribute.name) constant; h5batch reads numeric constants")
        }
        tensor.name = node.output[0]
        return tensor
    }
}

extension Onnx_NodeProto {
    /// The attribute `name`, if the node has it.
    func attribute(_ name: String) -> Onnx_AttributeProto? {
        attribute.first { $0.name == name }
    }

    func float(_ name: String, default value: Float) -> Float {
        attribute(name)?.f ?? value
    }

    func int(_ name: String, default value: Int) -> Int {
        attribute(name).map { Int($0.i) } ?? value
    }
}
