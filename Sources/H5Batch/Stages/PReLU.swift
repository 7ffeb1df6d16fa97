import Foundation
import CKernels

/// `nn.PReLU`: `x` if `x > 0`, else `a · x`, with one learned `a` or one per feature (last
/// dimension). For 2-D input the last dimension is PyTorch's channel dimension.
public struct PReLU: InPlaceStage {
    /// The slope `a`: one value shared by every feature, or one per feature.
    public let weight: [Float]
    /// Where the weight came from, e.g. "weight prelu.weight in weights.h5", for error messages.
    public let source: String?
    /// `weight` holds one value shared by every feature, or one per feature.
    public init(weight: [Float] = [0.25], source: String? = nil) {
        precondition(!weight.isEmpty, "PReLU needs at least one weight")
        self.weight = weight
        self.source = source
    }
    /// The pipeline-file name, `prelu`.
    public var name: String { Spec.name }
    /// `[weight]`, the learned slopes (they enter the weights' fingerprint).
    public var parameters: [[Float]] { [weight] }
    /// `prelu(weight: A)` for one shared slope, `prelu(N weights)` for per-feature slopes.
    public var description: String {
        weight.count == 1 ? "prelu(weight: \(weight[0]))" : "prelu(\(weight.count) weights)"
    }
    /// `width` unchanged; throws `H5BatchError(.data)` (exit 65) unless `weight` holds 1 or
    /// `width` values.
    public func outputWidth(forInputWidth width: Int) throws -> Int {
        guard weight.count == 1 || weight.count == width else {
            let origin = source.map { "; \($0)" } ?? ""
            throw H5BatchError(.data, "prelu has \(weight.count) weights but rows have \(width) features (need 1 or \(width)\(origin))")
        }
        return width
    }
    /// Applies `Functional.prelu` in place to rows of `width` values.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.prelu(values, weight: weight, width: width)
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.prelu`: `x` if `x > 0`, else `a · x`; `weight` holds one `a` or one per feature of
    /// rows `width` wide.
    public static func prelu(_ x: UnsafeMutableBufferPointer<Float>, weight: [Float], width: Int) {
        if weight.count == 1 { return leakyReLU(x, negativeSlope: weight[0]) }
        precondition(weight.count == width && width > 0 && x.count % width == 0, "prelu: weights do not fit the rows")
        guard let p = x.baseAddress else { return }
        weight.withUnsafeBufferPointer { w in ck_prelu(p, x.count / width, width, w.baseAddress!) }
    }

    /// `F.prelu` on a copy of `x`, rows of `width` values; `weight` holds one slope or one
    /// per feature.
    public static func prelu(_ x: [Float], weight: [Float], width: Int) -> [Float] {
        PReLU(weight: weight)(x, width: width)
    }
}

// MARK: - Pipeline file

extension PReLU {
    /// `prelu: { value: 0.25 }` or `prelu: { file: weights.h5, weight: prelu.weight }`.
    struct Spec: StageSpec {
        static let name = "prelu"
        var weight: StageConfig.PReLUWeight
        init(weight: StageConfig.PReLUWeight) { self.weight = weight }
        init(_ entry: StageEntry) throws {
            let p = try entry.fields(["file", "weight", "value"])
            if let value = p["value"] {
                if p["file"] != nil || p["weight"] != nil {
                    throw entry.fail(value, nil, "give either value or file and weight, not both")
                }
                weight = .value(try entry.number(value, "value"))
                return
            }
            switch (p["file"], p["weight"]) {
            case (nil, nil): weight = .value(0.25)
            case (let file?, let dataset?): weight = .file(try entry.path(file, "file"), dataset: try entry.dataset(dataset, "weight"))
            case (let file?, nil): throw entry.fail(file, "weight", "missing (file needs a weight dataset)")
            case (nil, let dataset?): throw entry.fail(dataset, "file", "missing (weight needs the file that holds it)")
            }
        }
        var resolvedParameters: [String: Any] {
            switch weight {
            case .value(let value): return ["value": value]
            case .file(let file, let dataset): return ["file": absolutePath(file), "weight": dataset]
            }
        }
        var weightFile: String? {
            if case .file(let file, _) = weight { return file } else { return nil }
        }
        func makeStage(_ weights: WeightFiles) throws -> any Stage {
            switch weight {
            case .value(let value):
                return PReLU(weight: [Float(value)])
            case .file(let file, let dataset):
                let (shape, values) = try weights.tensor(dataset, in: file)
                guard shape.count <= 1, !values.isEmpty else {
                    throw H5BatchError(.data, "weight \(dataset) in \(file) has shape \(shapeText(shape)); prelu needs 1 value or one per feature")
                }
                return PReLU(weight: values, source: "weight \(dataset) in \(file)")
            }
        }
    }
}

extension StageConfig {
    /// `prelu` with its slope(s).
    public static func prelu(_ weight: PReLUWeight) -> StageConfig { StageConfig(PReLU.Spec(weight: weight)) }

    /// Where a PReLU stage's slopes come from: a dataset in a weights file, or one value.
    public enum PReLUWeight: Sendable, Equatable {
        /// A dataset (1 value, or one per feature) in an HDF5 file.
        case file(String, dataset: String)
        /// One slope for every feature.
        case value(Double)
    }
}
