import CDNNL
import CKernels
import Foundation

/// The matrix products every linear stage runs on: oneDNN, through its matmul primitive
/// (`MatmulPrimitive`).
///
/// oneDNN chooses its kernels from the CPU's features (CPUID: AVX-512, AVX2, …) when it
/// starts, so a CPU model no table knows still gets the widest kernels its vectors allow.
/// Debian's OpenBLAS 0.3.21 chooses from a table of models instead, and fell back to its SSE3
/// kernels (5× slower) on a Xeon it did not know; docs/ARCHITECTURE.md has the comparison
/// that chose oneDNN.
///
/// Every call runs on exactly the calling thread: h5batch's parallelism is its worker pool (one
/// worker per core, each multiplying its own batch), so the library's own threads would only
/// oversubscribe the cores. It also keeps each row's result independent of how many threads
/// there are, which resume and shards rely on.
public enum GEMM {
    /// oneDNN's OpenMP thread count is a per-thread setting, and a pool's queues may run on any
    /// thread, so it is set before every call (a store to a thread-local).
    @inline(__always)
    static func singleThreaded() {
        setOpenMPThreads?(1)
    }

    private typealias SetThreads = @convention(c) (Int32) -> Void
    private static let setOpenMPThreads: SetThreads? = h5b_loaded_symbol("omp_set_num_threads").map {
        unsafeBitCast($0, to: SetThreads.self)
    }

    /// The CPU engine every primitive runs on (engines are safe to share between threads).
    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t?
        MatmulPrimitive.check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        return engine!
    }()

    /// What runs the products: library, version and the instruction set of its kernels.
    public static var kernels: GEMMKernels { GEMMKernels.current }
}

/// Which GEMM kernels this process runs, for `check`, `bench` and the `done` record.
public struct GEMMKernels: Codable, Sendable, Equatable {
    /// The library: `oneDNN`.
    public var library: String
    /// Its version, `2.6.3`.
    public var version: String
    /// oneDNN's name for the instruction set its kernels use here: `avx512_core`,
    /// `avx512_core_bf16`, `avx2`, `sse41`, … (`DNNL_MAX_CPU_ISA` can lower it).
    public var isa: String
    /// The widest vectors the CPU offers, in the same terms: `avx512_core` (AVX-512 F, BW, VL,
    /// DQ), `avx2` (with FMA) or `sse2`; the same test that picks CKernels' level.
    public var cpuVectors: String
    /// Threads inside each product: always 1 (the workers are the parallelism).
    public var threadsPerCall: Int

    /// True when the kernels use narrower vectors than the CPU has: a capped or misdetected
    /// library, worth a warning since products then run several times slower.
    public var isNarrowerThanCPU: Bool { Self.vectorLevel(isa) < Self.vectorLevel(cpuVectors) }

    /// `oneDNN 2.6.3, avx512_core_bf16 kernels, 1 thread per product`.
    public var summary: String {
        "\(library) \(version), \(isa) kernels, \(threadsPerCall) thread per product"
    }

    /// A one-line warning when the kernels are narrower than the CPU, else nil.
    public var warning: String? {
        guard isNarrowerThanCPU else { return nil }
        return "the GEMM kernels are \(isa) but this CPU offers \(cpuVectors): linear stages run slower than this CPU allows"
            + (ProcessInfo.processInfo.environment["DNNL_MAX_CPU_ISA"].map { " (DNNL_MAX_CPU_ISA=\($0) is set)" } ?? "")
    }

    static let current: GEMMKernels = {
        let version = dnnl_version().pointee
        return GEMMKernels(library: "oneDNN", version: "\(version.major).\(version.minor).\(version.patch)",
                           isa: isaName(dnnl_get_effective_cpu_isa()), cpuVectors: cpuVectorsName(ckernels_cpu_best_level()),
                           threadsPerCall: 1)
    }()

    private static func isaName(_ isa: dnnl_cpu_isa_t) -> String {
        switch isa {
        case dnnl_cpu_isa_sse41: "sse41"
        case dnnl_cpu_isa_avx: "avx"
        case dnnl_cpu_isa_avx2: "avx2"
        case dnnl_cpu_isa_avx2_vnni: "avx2_vnni"
        case dnnl_cpu_isa_avx512_mic: "avx512_mic"
        case dnnl_cpu_isa_avx512_mic_4ops: "avx512_mic_4ops"
        case dnnl_cpu_isa_avx512_core: "avx512_core"
        case dnnl_cpu_isa_avx512_core_vnni: "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core_bf16: "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_amx: "avx512_core_amx"
        default: "generic"
        }
    }

    private static func cpuVectorsName(_ level: ck_level) -> String {
        switch level {
        case .CK_LEVEL_AVX512: "avx512_core"
        case .CK_LEVEL_AVX2: "avx2"
        default: "sse2"
        }
    }

    /// 0 generic, 1 SSE2/SSE4.1/AVX, 2 AVX2, 3 AVX-512 (the families that change vector width
    /// or add FMA).
    private static func vectorLevel(_ isa: String) -> Int {
        if isa.hasPrefix("avx512") { return 3 }
        if isa.hasPrefix("avx2") { return 2 }
        if isa.hasPrefix("sse") || isa == "avx" { return 1 }
        return 0
    }
}
