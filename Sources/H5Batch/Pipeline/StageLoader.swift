/// Turns stage configurations into stages, reading weights from HDF5 files.
///
/// Weight files are opened once each however many stages use them. Runs on the I/O lane.
final class StageLoader {
    private var files: [String: HDF5File] = [:]
    private var models: [String: ONNXWeights] = [:]
    private var safetensors: [String: SafeTensorsFile] = [:]

    func load(_ configs: [StageConfig]) throws -> [any Stage] {
        try configs.enumerated().map { index, config in
            do {
                return try load(config)
            } catch let error as H5BatchError {
                throw H5BatchError(error.kind, "stage \(index + 1) (\(config.name)): \(error.message)")
            }
        }
    }

    private func load(_ config: StageConfig) throws -> any Stage {
        switch config {
        case .relu:
            return ReLU()
        case .leakyReLU(let slope):
            return LeakyReLU(negativeSlope: Float(slope))
        case .elu(let alpha):
            return ELU(alpha: Float(alpha))
        case .sigmoid:
            return Sigmoid()
        case .tanh:
            return Tanh()
        case .silu:
            return SiLU()
        case .gelu(let approximate):
            return GELU(approximate: approximate)
        case .softplus(let beta, let threshold):
            return Softplus(beta: Float(beta), threshold: Float(threshold))
        case .hardtanh(let low, let high):
            return Hardtanh(minVal: Float(low), maxVal: Float(high))
        case .softmax:
            return Softmax()
        case .prelu(.value(let value)):
            return PReLU(weight: [Float(value)])
        case .prelu(.file(let file, let dataset)):
            let (values, shape) = try read(file, dataset)
            guard shape.count <= 1, !values.isEmpty else {
                throw H5BatchError(.data, "weight \(dataset) in \(file) has shape \(shapeText(shape)); prelu needs 1 value or one per feature")
            }
            return PReLU(weight: values, source: "weight \(dataset) in \(file)")
        case .linear(let file, let weightName, let biasName, let layout):
            let (weight, shape) = try read(file, weightName)
            guard shape.count == 2, shape[0] > 0, shape[1] > 0 else {
                throw H5BatchError(.data, "weight \(weightName) in \(file) has shape \(shapeText(shape)); linear needs a 2-D matrix\(shape.count == 2 ? " with no empty dimension" : "")")
            }
            let (inFeatures, outFeatures) = layout == .torch ? (shape[1], shape[0]) : (shape[0], shape[1])
            var bias: [Float]? = nil
            if let biasName {
                let (values, biasShape) = try read(file, biasName)
                guard biasShape == [outFeatures] else {
                    throw H5BatchError(.data, "bias \(biasName) in \(file) has shape \(shapeText(biasShape)); expected [\(outFeatures)] for weight \(shapeText(shape)) in \(layout.rawValue) layout")
                }
                bias = values
            }
            return Linear(weight: weight, bias: bias, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout,
                          source: "weight \(weightName) in \(file)")
        }
    }

    /// The tensor `dataset` of the weights file `file`: an ONNX model's tensor, a safetensors
    /// tensor, or an HDF5 dataset, by the file's extension.
    private func read(_ file: String, _ dataset: String) throws -> (values: [Float], shape: [Int]) {
        let name = file.lowercased()
        if name.hasSuffix(".onnx") {
            let model = try models[file] ?? ONNXWeights(path: file)
            models[file] = model
            let tensor = try model.tensor(named: dataset)
            return (tensor.values, tensor.shape)
        }
        if name.hasSuffix(".safetensors") {
            let weights = try safetensors[file] ?? SafeTensorsFile(path: file)
            safetensors[file] = weights
            let tensor = try weights.tensor(named: dataset)
            return (tensor.values, tensor.shape)
        }
        return try translatingHDF5Errors(otherwise: .data) {
            let handle: HDF5File
            if let open = files[file] {
                handle = open
            } else {
                handle = try HDF5File.open(file)
                files[file] = handle
            }
            let data = try handle.dataset(dataset)
            guard data.elementType.isNumeric else {
                throw H5BatchError(.data, "weight \(dataset) in \(file) holds \(data.elementType) values, not numbers")
            }
            return (try data.readAll(), data.shape)
        }
    }
}

func shapeText(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
