import CKernels

/// The stages as plain functions on buffers, like `torch.nn.functional`.
///
/// Buffer forms work in place on rows stored contiguously; array forms return a new array.
/// The buffer forms run CKernels' vector loops, built for several ISA levels and chosen at run
/// time (`VectorKernels`).
public enum Functional {
    /// `F.relu`: `max(x, 0)`; NaN stays NaN.
    public static func relu(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_relu(p, x.count)
    }

    /// `F.leaky_relu`: `x` if `x > 0`, else `negativeSlope · x`.
    public static func leakyReLU(_ x: UnsafeMutableBufferPointer<Float>, negativeSlope: Float = 0.01) {
        guard let p = x.baseAddress else { return }
        ck_leaky_relu(p, x.count, negativeSlope)
    }

    /// `F.prelu`: `x` if `x > 0`, else `a · x`; `weight` holds one `a` or one per feature of
    /// rows `width` wide.
    public static func prelu(_ x: UnsafeMutableBufferPointer<Float>, weight: [Float], width: Int) {
        if weight.count == 1 { return leakyReLU(x, negativeSlope: weight[0]) }
        precondition(weight.count == width && width > 0 && x.count % width == 0, "prelu: weights do not fit the rows")
        guard let p = x.baseAddress else { return }
        weight.withUnsafeBufferPointer { w in ck_prelu(p, x.count / width, width, w.baseAddress!) }
    }

    /// `F.elu`: `x` if `x > 0`, else `alpha · (exp(x) − 1)`, with `exp(x) − 1` computed as an
    /// accurate expm1 so small negative inputs keep their precision.
    public static func elu(_ x: UnsafeMutableBufferPointer<Float>, alpha: Float = 1.0) {
        guard let p = x.baseAddress else { return }
        ck_elu(p, x.count, alpha)
    }

    /// `torch.sigmoid`: `1 / (1 + exp(−x))`; −∞ → 0, +∞ → 1, NaN stays NaN.
    public static func sigmoid(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_sigmoid(p, x.count)
    }

    /// `torch.tanh`, as `expm1(2x) / (expm1(2x) + 2)`: accurate near 0, ±1 beyond |x| = 10
    /// (where float32 `tanh` is ±1 anyway); NaN stays NaN.
    public static func tanh(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_tanh(p, x.count)
    }

    /// `F.silu` (swish): `x · sigmoid(x)`, computed as PyTorch does, `x / (1 + exp(−x))`, so
    /// −∞ gives NaN (−∞/∞) as it does in PyTorch.
    public static func silu(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_silu(p, x.count)
    }

    /// `F.gelu` with `approximate='none'`: `x · Φ(x) = x/2 · erfc(−x/√2)`, through an erfc
    /// accurate to a relative 1.2·10⁻⁷ (Numerical Recipes' `erfcc`), so the negative tail
    /// keeps its relative precision; −∞ gives NaN (−∞ · 0) as in PyTorch.
    public static func gelu(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_gelu(p, x.count)
    }

    /// `F.gelu` with `approximate='tanh'`: `x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³)))`,
    /// computed as the equal `x / (1 + exp(−2u))`; −∞ gives NaN as in PyTorch.
    public static func geluTanh(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let p = x.baseAddress else { return }
        ck_gelu_tanh(p, x.count)
    }

    /// `F.softplus`: `log(1 + exp(β·x)) / β`, or `x` where `β·x > threshold` (PyTorch's
    /// defaults: β = 1, threshold = 20); −∞ gives 0, NaN stays NaN.
    public static func softplus(_ x: UnsafeMutableBufferPointer<Float>, beta: Float = 1, threshold: Float = 20) {
        guard let p = x.baseAddress else { return }
        ck_softplus(p, x.count, beta, threshold)
    }

    /// `F.hardtanh`: `x` clamped to `[minVal, maxVal]` (defaults −1, 1); NaN stays NaN.
    public static func hardtanh(_ x: UnsafeMutableBufferPointer<Float>, minVal: Float = -1, maxVal: Float = 1) {
        guard let p = x.baseAddress else { return }
        ck_hardtanh(p, x.count, minVal, maxVal)
    }

    /// `F.softmax` over the last dimension (rows of `width`): `exp(x − max) / Σ exp(x − max)`,
    /// the maximum subtracted first so no exponential overflows. A row holding NaN or +∞ (or
    /// only −∞) becomes NaN, as in PyTorch.
    public static func softmax(_ x: UnsafeMutableBufferPointer<Float>, width: Int) {
        precondition(width > 0 && x.count % width == 0, "softmax: the buffer does not hold whole rows")
        guard let p = x.baseAddress else { return }
        ck_softmax(p, x.count / width, width)
    }

    /// `F.linear`: `y = x·Wᵀ + b` for `rows` rows, through oneDNN's sgemm (`GEMM`) on
    /// the calling thread.
    /// `output` holds `rows · linear.outFeatures` values.
    public static func linear(_ x: UnsafeBufferPointer<Float>, rows: Int, _ linear: Linear,
                              into output: UnsafeMutableBufferPointer<Float>) {
        linear.multiply(x, rows: rows, into: output)
        linear.addBias(output, rows: rows)
    }

    // MARK: - Array forms

    /// `F.relu` on a copy of `x`.
    public static func relu(_ x: [Float]) -> [Float] { ReLU()(x, width: max(1, x.count)) }
    /// `F.leaky_relu` on a copy of `x` (`negativeSlope` default 0.01).
    public static func leakyReLU(_ x: [Float], negativeSlope: Float = 0.01) -> [Float] {
        LeakyReLU(negativeSlope: negativeSlope)(x, width: max(1, x.count))
    }
    /// `F.prelu` on a copy of `x`, rows of `width` values; `weight` holds one slope or one
    /// per feature.
    public static func prelu(_ x: [Float], weight: [Float], width: Int) -> [Float] {
        PReLU(weight: weight)(x, width: width)
    }
    /// `F.elu` on a copy of `x` (`alpha` default 1.0).
    public static func elu(_ x: [Float], alpha: Float = 1.0) -> [Float] {
        ELU(alpha: alpha)(x, width: max(1, x.count))
    }
    /// `torch.sigmoid` on a copy of `x`.
    public static func sigmoid(_ x: [Float]) -> [Float] { Sigmoid()(x, width: max(1, x.count)) }
    /// `torch.tanh` on a copy of `x`.
    public static func tanh(_ x: [Float]) -> [Float] { Tanh()(x, width: max(1, x.count)) }
    /// `F.silu` on a copy of `x`.
    public static func silu(_ x: [Float]) -> [Float] { SiLU()(x, width: max(1, x.count)) }
    /// `F.gelu` on a copy of `x`, exact (`approximate: .none`, the default) or `.tanh`.
    public static func gelu(_ x: [Float], approximate: GELU.Approximation = .none) -> [Float] {
        GELU(approximate: approximate)(x, width: max(1, x.count))
    }
    /// `F.softplus` on a copy of `x` (defaults β = 1, threshold = 20).
    public static func softplus(_ x: [Float], beta: Float = 1, threshold: Float = 20) -> [Float] {
        Softplus(beta: beta, threshold: threshold)(x, width: max(1, x.count))
    }
    /// `F.hardtanh` on a copy of `x`: values clamped to `[minVal, maxVal]` (−1, 1 by
    /// default).
    public static func hardtanh(_ x: [Float], minVal: Float = -1, maxVal: Float = 1) -> [Float] {
        Hardtanh(minVal: minVal, maxVal: maxVal)(x, width: max(1, x.count))
    }
    /// Softmax over each row of `width` values.
    public static func softmax(_ x: [Float], width: Int) -> [Float] { Softmax()(x, width: width) }
    /// `F.linear` on `rows` rows of `linear.inFeatures` values: a new array of
    /// `rows · linear.outFeatures` values, bias included.
    public static func linear(_ x: [Float], rows: Int, _ linear: Linear) -> [Float] {
        var y = [Float](repeating: 0, count: rows * linear.outFeatures)
        x.withUnsafeBufferPointer { input in
            y.withUnsafeMutableBufferPointer { output in Self.linear(input, rows: rows, linear, into: output) }
        }
        return y
    }

    // MARK: - Vector-friendly exp, erfc, expm1

    // The kernels (Sources/CKernels/kernels.inc) compute these same formulas in C, operation for
    // operation and with the same constants, so a value from one of these functions and the
    // kernels' result agree bit for bit. Change both together.

    /// `exp(x)` in float32, branch-free so loops calling it vectorize: `2ⁿ · (1 + expm1(r))`
    /// as in `expm1`. 0 below −87.3 (where float32 `exp` leaves the normal range), +∞ above
    /// about 88.72; NaN propagates.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let (scale, poly) = reduced(x < -87.3 ? -87.3 : (x > 88.0 ? 88.0 : x))
        // 2¹²⁸ is not a float: past 88, scale e⁸⁸ by e^(x − 88) instead.
        let result = scale * (poly + 1) * (x > 88.0 ? expTail(x - 88.0) : 1)
        return x < -87.3 ? 0 : (x.isNaN ? x : result)
    }

    /// The range reduction `exp` and `expm1` share, for `x` already clamped within [−87.3, 88]:
    /// `x = n·ln2 + r` with `|r| ≤ ln2/2`; returns 2ⁿ and a degree-7 polynomial for `expm1(r)`.
    @inline(__always)
    private static func reduced(_ x: Float) -> (scale: Float, poly: Float) {
        // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low mantissa bits.
        let shifter: Float = 12_582_912
        let t = x * 1.442_695_04 + shifter
        let n = t - shifter
        let r = (x - n * 0.693_145_75) - n * 1.428_606_8e-6
        let poly = r + r * r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040))))))
        let exponent = (t.bitPattern &- shifter.bitPattern) &+ 127
        return (Float(bitPattern: exponent &<< 23), poly)
    }

    /// e^d for 0 ≤ d: exp's last 0.72 before float32 overflows; +∞ beyond.
    @inline(__always)
    private static func expTail(_ d: Float) -> Float {
        d > 0.75 ? Float.infinity : 1 + d * (1 + d * (0.5 + d * (1.0 / 6 + d * (1.0 / 24 + d * (1.0 / 120 + d * (1.0 / 720))))))
    }

    /// `erfc(x)` in float32 from Numerical Recipes' Chebyshev fit `erfcc` (relative error below
    /// 1.2·10⁻⁷ for every x): accurate in both tails, branch-free.
    @inline(__always)
    public static func erfc(_ x: Float) -> Float {
        let z = x < 0 ? -x : x
        let t = 1 / (1 + 0.5 * z)
        let poly = -1.265_512_23 + t * (1.000_023_68 + t * (0.374_091_96 + t * (0.096_784_18 + t * (-0.186_288_06
            + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))))
        let answer = t * exp(-z * z + poly)
        return x < 0 ? 2 - answer : answer  // NaN: `x < 0` is false and answer is NaN
    }

    // MARK: - Vector-friendly expm1

    /// `exp(x) − 1` in float32, branch-free so loops calling it vectorize. Accurate to a few ulps
    /// over the whole range: `x = n·ln2 + r` with `|r| ≤ ln2/2`, a degree-7 polynomial for
    /// `expm1(r)`, then `2ⁿ·expm1(r) + (2ⁿ − 1)`. NaN propagates; large negative `x` gives −1.
    @inline(__always)
    public static func expm1(_ x: Float) -> Float {
        let (scale, poly) = reduced(x < -87.0 ? -87.0 : (x > 88.0 ? 88.0 : x))
        let result = scale * poly + (scale - 1)
        return x.isNaN ? x : result
    }
}
