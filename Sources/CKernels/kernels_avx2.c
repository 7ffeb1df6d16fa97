// The kernels for AVX2 with FMA, F16C and BMI2: vectors of 8 floats. See kernels.inc.
#include "ckernels.h"

#if defined(__x86_64__)
#define CK_SUFFIX avx2
#define CK_LEVEL CK_LEVEL_AVX2
#define CK_LEVEL_NAME "avx2"
#define CK_HAS_F16C 1
#define CK_GROUP 8
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2"))), apply_to = function)
#include "kernels.inc"
#pragma clang attribute pop
#endif
