/// One step of a pipeline, applied to every row's last dimension (PyTorch's `nn.Module` role).
public protocol Stage: Sendable, CustomStringConvertible {
    /// The name used in pipeline files (`linear`, `relu`, …).
    var name: String { get }
    /// The row width this stage produces from rows of `width` values; throws `H5BatchError`
    /// (`.data`) when rows of that width do not fit the stage's parameters.
    func outputWidth(forInputWidth width: Int) throws -> Int
    /// Floating-point operations per input row of the given width (for throughput reports).
    func flopsPerRow(inputWidth width: Int) -> Int
    /// The learned values the stage holds (a linear stage's weight and bias), in a fixed order;
    /// empty for a stage whose parameters are all in its pipeline entry.
    var parameters: [[Float]] { get }
    /// Bytes the stage's parameters take in memory, with any copy it makes of them.
    var parameterBytes: Int { get }
}

extension Stage {
    /// None by default: a stage whose parameters all sit in its pipeline entry.
    public var parameters: [[Float]] { [] }
    /// Bytes `parameters` take in memory (float32), for a stage that keeps no other copy.
    public var parameterBytes: Int { 4 * parameters.reduce(0) { $0 + $1.count } }
}

/// A stage that rewrites whole rows in place without changing their width (every activation),
/// so it needs no extra buffer and can be fused into the epilogue of the linear stage before it.
public protocol InPlaceStage: Stage {
    /// Applies the stage in place to whole rows of `width` values held in `values`.
    func apply(_ values: UnsafeMutableBufferPointer<Float>, width: Int)
}

extension InPlaceStage {
    /// The width unchanged: an in-place stage accepts rows of any width.
    public func outputWidth(forInputWidth width: Int) throws -> Int { width }
    /// One FLOP per value; stages with costlier math override it.
    public func flopsPerRow(inputWidth width: Int) -> Int { width }

    /// Applies the stage to a copy of `values` (rows of `width`), as `nn.Module.forward` would.
    public func callAsFunction(_ values: [Float], width: Int) -> [Float] {
        var result = values
        result.withUnsafeMutableBufferPointer { apply($0, width: width) }
        return result
    }
}
