import CBLAS

/// The stages as plain functions on buffers, like `torch.nn.functional`.
///
/// Buffer forms work in place on rows stored contiguously; array forms return a new array.
/// Loops run over raw pointers so the compiler vectorizes them.
public enum Functional {
    /// `F.relu`: `max(x, 0)`; NaN stays NaN.
    public static func relu(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        for i in 0..<x.count {
            let v = p[i]
            // `!(v <= 0)` is true for NaN too, so NaN passes through as in PyTorch.
            p[i] = !(v <= 0) ? v : 0
        }
    }

    /// `F.leaky_relu`: `x` if `x > 0`, else `negativeSlope · x`.
    public static func leakyReLU(_ x: UnsafeMutableBufferPointer<Float>, negativeSlope: Float = 0.01) {
        guard let p = x.baseAddress else { return }
        for i in 0..<x.count {
            let v = p[i]
            p[i] = v > 0 ? v : v * negativeSlope
        }
    }

    /// `F.prelu`: `x` if `x > 0`, else `a · x`; `weight` holds one `a` or one per feature of
    /// rows `width` wide.
    public static func prelu(_ x: UnsafeMutableBufferPointer<Float>, weight: [Float], width: Int) {
        if weight.count == 1 { return leakyReLU(x, negativeSlope: weight[0]) }
        precondition(weight.count == width && width > 0 && x.count % width == 0, "prelu: weights do not fit the rows")
        guard let p = x.baseAddress else { return }
        weight.withUnsafeBufferPointer { w in
            let a = w.baseAddress!
            for row in 0..<(x.count / width) {
                let r = p + row * width
                for j in 0..<width {
                    let v = r[j]
                    r[j] = v > 0 ? v : v * a[j]
                }
            }
        }
    }

    /// `F.elu`: `x` if `x > 0`, else `alpha · (exp(x) − 1)`, with `exp(x) − 1` computed as an
    /// accurate expm1 so small negative inputs keep their precision.
    public static func elu(_ x: UnsafeMutableBufferPointer<Float>, alpha: Float = 1.0) {
        guard let p = x.baseAddress else { return }
        for i in 0..<x.count {
            let v = p[i]
            p[i] = v > 0 ? v : alpha * expm1(v)
        }
    }

    /// `F.linear`: `y = x·Wᵀ + b` for `rows` rows, through BLAS `sgemm`.
    /// `output` holds `rows · linear.outFeatures` values.
    public static func linear(_ x: UnsafeBufferPointer<Float>, rows: Int, _ linear: Linear,
                              into output: UnsafeMutableBufferPointer<Float>) {
        linear.multiply(x, rows: rows, into: output)
        linear.addBias(output, rows: rows)
    }

    // MARK: - Array forms

    public static func relu(_ x: [Float]) -> [Float] { ReLU()(x, width: max(1, x.count)) }
    public static func leakyReLU(_ x: [Float], negativeSlope: Float = 0.01) -> [Float] {
        LeakyReLU(negativeSlope: negativeSlope)(x, width: max(1, x.count))
    }
    public static func prelu(_ x: [Float], weight: [Float], width: Int) -> [Float] {
        PReLU(weight: weight)(x, width: width)
    }
    public static func elu(_ x: [Float], alpha: Float = 1.0) -> [Float] {
        ELU(alpha: alpha)(x, width: max(1, x.count))
    }
    public static func linear(_ x: [Float], rows: Int, _ linear: Linear) -> [Float] {
        var y = [Float](repeating: 0, count: rows * linear.outFeatures)
        x.withUnsafeBufferPointer { input in
            y.withUnsafeMutableBufferPointer { output in Self.linear(input, rows: rows, linear, into: output) }
        }
        return y
    }

    // MARK: - Vector-friendly expm1

    /// `exp(x) − 1` in float32, branch-free so loops calling it vectorize. Accurate to a few ulps
    /// over the whole range: `x = n·ln2 + r` with `|r| ≤ ln2/2`, a degree-7 polynomial for
    /// `expm1(r)`, then `2ⁿ·expm1(r) + (2ⁿ − 1)`. NaN propagates; large negative `x` gives −1.
    @inline(__always)
    public static func expm1(_ x: Float) -> Float {
        let clamped = x < -87.0 ? -87.0 : (x > 88.0 ? 88.0 : x)
        // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low mantissa bits.
        let shifter: Float = 12_582_912
        let t = clamped * 1.442_695_04 + shifter
        let n = t - shifter
        let r = (clamped - n * 0.693_145_75) - n * 1.428_606_8e-6
        let poly = r + r * r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040))))))
        let exponent = (t.bitPattern &- shifter.bitPattern) &+ 127
        let scale = Float(bitPattern: exponent &<< 23)
        let result = scale * poly + (scale - 1)
        return x.isNaN ? x : result
    }
}
