/// The stages as plain functions on buffers, like `torch.nn.functional`.
///
/// Buffer forms work in place on rows stored contiguously; array forms return a new array.
/// The buffer forms run CKernels' vector loops, built for several ISA levels and chosen at run
/// time (`VectorKernels`). Each stage's file adds its own functions (`ReLU.swift` adds `relu`).
public enum Functional {
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
