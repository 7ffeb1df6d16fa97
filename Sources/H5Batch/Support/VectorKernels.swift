import CKernels

/// Which build of the vector kernels runs.
///
/// The hot loops (activations, element conversion, byte shuffle, statistics counting)
/// are C in the `CKernels` target, compiled for x86-64 baseline (SSE2), AVX2 and AVX-512. The
/// best level the CPU offers is chosen on first use; the environment variable
/// `H5BATCH_MAX_ISA` (`avx512`, `avx2` or `baseline`) caps it, and an unknown value is ignored.
/// Element-wise results are bit-identical at every level.
public enum VectorKernels {
    /// The level in use: `avx512`, `avx2` or `sse2` (`baseline` off x86-64).
    public static var isa: String { String(cString: ckernels_isa_name()) }
    /// The best level this CPU offers, whatever `H5BATCH_MAX_ISA` says.
    public static var cpuISA: String { String(cString: ckernels_cpu_best_isa_name()) }
}
