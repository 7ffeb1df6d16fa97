import Foundation

/// Named tensors a stage reads its parameters from: an HDF5 file, a safetensors state dict
/// (`SafeTensorsFile`) or an ONNX model's initializers (`ONNXWeights`).
public protocol WeightSource {
    /// The file's path, for messages.
    var path: String { get }
    /// Every tensor name the source holds, for "did you mean" messages.
    var tensorNames: [String] { get }
    /// The tensor `name` as row-major Float32 values with its shape. A missing name throws an
    /// `H5BatchError` naming it: an HDF5 file keeps libhdf5's "no such dataset" message and
    /// exit 66 (a missing input, as for every dataset h5batch opens); other sources throw exit
    /// 65 with a message that lists the names the file holds, closest first.
    func tensor(named name: String) throws -> (shape: [Int], values: [Float])
}

/// Opens the weight source at `path`, its format chosen by the file's extension: the one place
/// a new weights format is added. `.safetensors` is a state dict, `.onnx` a model's tensors
/// (the stages it became read them here); anything else is read as HDF5.
func openWeightSource(_ path: String) throws -> any WeightSource {
    switch (path as NSString).pathExtension.lowercased() {
    case "safetensors":
        return try SafeTensorsFile(path: path)
    case "onnx":
        return try ONNXWeights(path: path)
    default:
        return try translatingHDF5Errors(otherwise: .data) { try HDF5File.open(path) }
    }
}

/// Every file reading the weights at `path` reads: the file itself and, for an ONNX model, the
/// external data files its tensors name (`RunPlan.filesRead(by:)`). A model that does not parse
/// names none: loading it fails with the reason.
func filesRead(byWeightsAt path: String) -> [String] {
    guard (path as NSString).pathExtension.lowercased() == "onnx" else { return [path] }
    return [path] + ((try? ONNXModelFile(path: path))?.externalDataFiles ?? [])
}

/// The weight sources one load opens, each once however many stages read it. Used on one
/// thread (the I/O lane).
final class WeightFiles {
    private var sources: [String: any WeightSource] = [:]

    /// The tensor `name` in the file at `path`, opened on first use.
    func tensor(_ name: String, in path: String) throws -> (shape: [Int], values: [Float]) {
        let source: any WeightSource
        if let open = sources[path] {
            source = open
        } else {
            source = try openWeightSource(path)
            sources[path] = source
        }
        return try source.tensor(named: name)
    }
}

extension HDF5File: WeightSource {
    /// Every dataset's path, in name order (none when the file cannot be listed).
    public var tensorNames: [String] { (try? datasetPaths()) ?? [] }

    /// The dataset `name` read as float32, with its shape. A missing dataset is exit 66
    /// ("no such dataset"); a dataset of strings or compounds is exit 65.
    public func tensor(named name: String) throws -> (shape: [Int], values: [Float]) {
        try translatingHDF5Errors(otherwise: .data) {
            let data = try dataset(name)
            guard data.elementType.isNumeric else {
                throw H5BatchError(.data, "weight \(name) in \(path) holds \(data.elementType) values, not numbers")
            }
            return (data.shape, try data.readAll())
        }
    }
}

extension WeightFiles {
    /// The tensor `name` in `file` as one value per feature, for `stage`'s `label` parameter
    /// (layer_norm's weight, batch_norm's running_mean, …): exit 65 unless it is 1-D and not
    /// empty and, given `sameLengthAs` (another such vector, by its label and length), as long.
    func featureVector(_ name: String, _ label: String, in file: String, for stage: String,
                       sameLengthAs other: (label: String, count: Int)? = nil) throws -> [Float] {
        let (shape, values) = try tensor(name, in: file)
        guard shape.count == 1, !values.isEmpty else {
            throw H5BatchError(.data, "\(label) \(name) in \(file) has shape \(shapeText(shape)); \(stage) needs one value per feature")
        }
        if let other, other.count != values.count {
            throw H5BatchError(.data, "\(label) \(name) in \(file) has \(values.count) values but \(other.label) has \(other.count)")
        }
        return values
    }
}
