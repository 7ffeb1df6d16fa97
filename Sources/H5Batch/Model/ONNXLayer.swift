/// One layer of an imported ONNX model: what a node (or a recognised group of nodes) computes,
/// before it becomes a pipeline stage (`ONNXLayer.stage(modelFile:)`, the one place that maps
/// layers to stages). Tensor names are names in the model's `ONNXWeights`.
enum ONNXLayer: Equatable, Sendable {
    /// `Gemm`, or `MatMul` then `Add`: `weight` in `layout`, with an optional bias.
    case linear(weight: String, bias: String?, layout: Linear.Layout)
    case relu
    case leakyReLU(negativeSlope: Double)
    /// `PRelu`: one slope, or one per feature.
    case prelu(slope: String)
    case elu(alpha: Double)
    case sigmoid
    case tanh
    /// `Sigmoid` then `Mul` with its own input.
    case silu
    /// `Gelu`, or its `Erf` or `Tanh` decomposition.
    case gelu(GELU.Approximation)
    /// `Softplus`, or PyTorch's `Where(x > threshold, x, Softplus(x))`.
    case softplus(threshold: Double)
    /// `Clip` with both bounds.
    case hardtanh(min: Double, max: Double)
    /// `Softmax` over the last axis.
    case softmax
    /// `LayerNormalization` over the last axis, or its opset-13 decomposition.
    case layerNorm(weight: String?, bias: String?, eps: Double)
    /// `BatchNormalization` in inference mode.
    case batchNorm(mean: String, variance: String, weight: String?, bias: String?, eps: Double)
}

extension ONNXLayer {
    /// The pipeline stage this layer is, reading its tensors from the model file at `modelFile`.
    func stage(modelFile: String) -> StageConfig {
        switch self {
        case .linear(let weight, let bias, let layout):
            return .linear(file: modelFile, weight: weight, bias: bias, layout: layout)
        case .relu: return .relu
        case .leakyReLU(let slope): return .leakyReLU(negativeSlope: slope)
        case .prelu(let slope): return .prelu(.file(modelFile, dataset: slope))
        case .elu(let alpha): return .elu(alpha: alpha)
        case .sigmoid: return .sigmoid
        case .tanh: return .tanh
        case .silu: return .silu
        case .gelu(let approximate): return .gelu(approximate: approximate)
        case .softplus(let threshold): return .softplus(beta: 1, threshold: threshold)
        case .hardtanh(let low, let high): return .hardtanh(minVal: low, maxVal: high)
        case .softmax: return .softmax
        case .layerNorm(let weight, let bias, let eps):
            return .layerNorm(file: weight == nil && bias == nil ? nil : modelFile, weight: weight, bias: bias, eps: eps)
        case .batchNorm(let mean, let variance, let weight, let bias, let eps):
            return .batchNorm(file: modelFile, runningMean: mean, runningVar: variance, weight: weight, bias: bias, eps: eps)
        }
    }
}
