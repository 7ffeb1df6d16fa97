#ifndef H5BATCH_CDNNL_SHIM_H
#define H5BATCH_CDNNL_SHIM_H
// oneDNN (Debian's libdnnl-dev): the matmul primitive and dnnl_sgemm, which pick their kernels by the
// CPU's features (CPUID) at run time rather than from a table of CPU models.

#include <oneapi/dnnl/dnnl.h>
#include <dlfcn.h>

// Debian builds oneDNN on OpenMP (libgomp), whose thread count is a per-thread setting: a
// thread that never set it gets one OpenMP thread per core inside every call. libgomp is
// loaded with libdnnl, so its functions are looked up there (RTLD_DEFAULT) rather than linked:
// its development symlink lives in a compiler-specific folder. Null when no OpenMP runtime
// is loaded (a oneDNN built on another threading runtime).
static inline void *h5b_loaded_symbol(const char *name) { return dlsym(RTLD_DEFAULT, name); }

#endif
