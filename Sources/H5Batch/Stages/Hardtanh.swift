import CKernels

/// `nn.Hardtanh`: `x` clamped to `[min_val, max_val]` (−1 and 1 by default).
public struct Hardtanh: InPlaceStage {
    /// The lower bound (`min_val`, default −1).
    public let minVal: Float
    /// The upper bound (`max_val`, default 1).
    public let maxVal: Float
    /// `minVal` must be below `maxVal`, as PyTorch requires.
    public init(minVal: Float = -1, maxVal: Float = 1) {
        precondition(minVal < maxVal, "hardtanh: min_val must be below max_val")
        self.minVal = minVal
        self.maxVal = maxVal
    }
    /// The pipeline-file name, `hardtanh`.
    public var name: String { Spec.name }
    /// `hardtanh`, or `hardtanh(min_val: A, max_val: B)` when either is not the default.
    public var description: String {
        minVal == -1 && maxVal == 1 ? "hardtanh" : "hardtanh(min_val: \(minVal), max_val: \(maxVal))"
    }
    /// Applies `Functional.hardtanh` to every value in place.
    public func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int) {
        Functional.hardtanh(values, minVal: minVal, maxVal: maxVal)
    }
}

// MARK: - Functional form

extension Functional {
    /// `F.hardtanh`: `x` clamped to `[minVal, maxVal]` (defaults −1, 1); NaN stays NaN.
    public static func hardtanh(_ x: UnsafeMutableBufferPointer<Float>, minVal: Float = -1, maxVal: Float = 1) {
        guard let p = x.baseAddress else { return }
        ck_hardtanh(p, x.count, minVal, maxVal)
    }

    /// `F.hardtanh` on a copy of `x`: values clamped to `[minVal, maxVal]` (−1, 1 by
    /// default).
    public static func hardtanh(_ x: [Float], minVal: Float = -1, maxVal: Float = 1) -> [Float] {
        Hardtanh(minVal: minVal, maxVal: maxVal)(x, width: max(1, x.count))
    }
}

// MARK: - Pipeline file

extension Hardtanh {
    /// `hardtanh: { min_val: -1, max_val: 1 }`, `min_val < max_val` as float32.
    struct Spec: StageSpec {
        static let name = "hardtanh"
        var minVal: Double
        var maxVal: Double
        init(minVal: Double, maxVal: Double) {
            self.minVal = minVal
            self.maxVal = maxVal
        }
        init(_ entry: StageEntry) throws {
            let p = try entry.fields(["min_val", "max_val"])
            minVal = try p["min_val"].map { try entry.float($0, "min_val") } ?? -1
            maxVal = try p["max_val"].map { try entry.float($0, "max_val") } ?? 1
            guard Float(minVal) < Float(maxVal) else {  // compared as the stage holds them
                throw entry.fail(p["max_val"] ?? p["min_val"]!, nil, "min_val (\(minVal)) must be below max_val (\(maxVal)), as in PyTorch")
            }
        }
        var resolvedParameters: [String: Any] { ["min_val": minVal, "max_val": maxVal] }
        func makeStage(_ weights: WeightFiles) -> any Stage { Hardtanh(minVal: Float(minVal), maxVal: Float(maxVal)) }
    }
}

extension StageConfig {
    /// `hardtanh` clamping to `[minVal, maxVal]` (`minVal < maxVal`).
    public static func hardtanh(minVal: Double, maxVal: Double) -> StageConfig {
        StageConfig(Hardtanh.Spec(minVal: minVal, maxVal: maxVal))
    }
}
