import CKernels

/// Which build of the vector kernels runs.
///
/// The hot loops (activations, bias add, element conversion, byte shuffle, statistics counting)
/// are C in the `CKernels` target, compiled for x86-64 baseline (SSE2), AVX2 and AVX-512. The
/// best level the CPU offers is chosen on first use; the environment variable
/// `H5BATCH_MAX_ISA` (`avx512`, `avx2` or `baseline`) caps it, and an unknown value is ignored.
/// Element-wise results are bit-identical at every level.
public enum VectorKernels {
    /// The level in use: `avx512`, `avx2` or `sse2` (`baseline` off x86-64).
    public static var isa: String { String(cString: ckernels_isa_name()) }
    /// The best level this CPU offers, whatever `H5BATCH_MAX_ISA` says.
    public static var cpuISA: String { String(cString: ckernels_cpu_best_isa_name()) }

    /// `y[row·width + j] += bias[j]` for `rows` rows (`Linear.addBias`).
    static func addBias(_ bias: UnsafePointer<Float>, rows: Int, width: Int, to y: UnsafeMutablePointer<Float>) {
        ck_bias_add(rows, width, bias, y)
    }
}
