// The kernels for AVX-512 (F, BW, VL, DQ) with AVX2, FMA, F16C and BMI2: vectors of 16 floats.
// See kernels.inc.
#include "ckernels.h"

#if defined(__x86_64__)
#define CK_SUFFIX avx512
#define CK_LEVEL CK_LEVEL_AVX512
#define CK_LEVEL_NAME "avx512"
#define CK_HAS_F16C 1
#define CK_GROUP 16
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi2"))), apply_to = function)
#include "kernels.inc"
#pragma clang attribute pop
#endif
