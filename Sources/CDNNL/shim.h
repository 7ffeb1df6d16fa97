#ifndef H5BATCH_CDNNL_SHIM_H
#define H5BATCH_CDNNL_SHIM_H
// oneDNN (Debian's libdnnl-dev): dnnl_sgemm, which picks its kernels by the CPU's features
// (CPUID) at run time rather than from a table of CPU models.
#include <oneapi/dnnl/dnnl.h>
#include <dlfcn.h>

// Debian builds oneDNN on OpenMP (libgomp), whose thread count is a per-thread setting: a
// thread that never set it gets one OpenMP thread per core inside every call. libgomp is
// loaded with libdnnl, so its functions are looked up there (RTLD_DEFAULT) rather than linked:
// its development symlink lives in a compiler-specific folder. Null when no OpenMP runtime
// is loaded (a oneDNN built on another threading runtime).
static inline void *h5b_loaded_symbol(const char *name) { return dlsym(RTLD_DEFAULT, name); }

// The widest vector extensions this CPU and its OS offer, as oneDNN's ISA names group them:
// 3 = AVX-512 (F, BW, VL, DQ: oneDNN's avx512_core), 2 = AVX2 with FMA, 1 = SSE4.1, 0 = less.
static inline int h5b_cpu_vector_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("sse4.1")) return 1;
#endif
    return 0;
}
#endif
