// The kernels for the build's own target: on x86-64 its baseline, SSE2 (vectors of 4 floats),
// without F16C. See kernels.inc.
#include "ckernels.h"

#define CK_SUFFIX baseline
#define CK_LEVEL CK_LEVEL_BASELINE
#if defined(__x86_64__)
#define CK_LEVEL_NAME "sse2"
#else
#define CK_LEVEL_NAME "baseline"
#endif
#define CK_HAS_F16C 0
#define CK_GROUP 4
#include "kernels.inc"
