// Chooses, once, which build of the kernels runs (see kernels.inc): the best level the CPU
// offers (__builtin_cpu_supports, which also checks that the OS saves the wider registers),
// capped by the environment variable H5BATCH_MAX_ISA = avx512 | avx2 | baseline (or sse2). An
// unknown value is ignored. The choice is made on first use, without a constructor: a race
// between two first uses computes the same table twice.
#include "ckernels.h"

#include <stdlib.h>
#include <string.h>

extern const ck_kernels ck_kernels_baseline;
#if defined(__x86_64__)
extern const ck_kernels ck_kernels_avx2, ck_kernels_avx512;
#endif

ck_level ckernels_cpu_best_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")
        && __builtin_cpu_supports("bmi2");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    return avx512 ? CK_LEVEL_AVX512 : (avx2 ? CK_LEVEL_AVX2 : CK_LEVEL_BASELINE);
#else
    return CK_LEVEL_BASELINE;
#endif
}

ck_level ckernels_level_for_cap(const char *cap) {
    ck_level best = ckernels_cpu_best_level(), limit = best;  // no cap, or one not recognised
    if (cap != NULL && strcmp(cap, "avx512") == 0) limit = CK_LEVEL_AVX512;
    if (cap != NULL && strcmp(cap, "avx2") == 0) limit = CK_LEVEL_AVX2;
    if (cap != NULL && (strcmp(cap, "baseline") == 0 || strcmp(cap, "sse2") == 0)) limit = CK_LEVEL_BASELINE;
    return limit < best ? limit : best;
}

const ck_kernels *ckernels_table_for(ck_level level) {
    if (level > ckernels_cpu_best_level()) return NULL;
    switch (level) {
    case CK_LEVEL_BASELINE: return &ck_kernels_baseline;
#if defined(__x86_64__)
    case CK_LEVEL_AVX2: return &ck_kernels_avx2;
    case CK_LEVEL_AVX512: return &ck_kernels_avx512;
#endif
    default: return NULL;
    }
}

static const ck_kernels *ck_chosen;

const ck_kernels *ckernels_active(void) {
    const ck_kernels *table = __atomic_load_n(&ck_chosen, __ATOMIC_ACQUIRE);
    if (table == NULL) {
        table = ckernels_table_for(ckernels_level_for_cap(getenv("H5BATCH_MAX_ISA")));
        __atomic_store_n(&ck_chosen, table, __ATOMIC_RELEASE);
    }
    return table;
}

const char *ckernels_isa_name(void) { return ckernels_active()->name; }

const char *ckernels_cpu_best_isa_name(void) { return ckernels_table_for(ckernels_cpu_best_level())->name; }

void ck_relu(float *x, size_t n) { ckernels_active()->relu(x, n); }
void ck_leaky_relu(float *x, size_t n, float negative_slope) { ckernels_active()->leaky_relu(x, n, negative_slope); }
void ck_prelu(float *x, size_t rows, size_t width, const float *weight) { ckernels_active()->prelu(x, rows, width, weight); }
void ck_elu(float *x, size_t n, float alpha) { ckernels_active()->elu(x, n, alpha); }
void ck_sigmoid(float *x, size_t n) { ckernels_active()->sigmoid(x, n); }
void ck_tanh(float *x, size_t n) { ckernels_active()->tanh(x, n); }
void ck_silu(float *x, size_t n) { ckernels_active()->silu(x, n); }
void ck_gelu(float *x, size_t n) { ckernels_active()->gelu(x, n); }
void ck_gelu_tanh(float *x, size_t n) { ckernels_active()->gelu_tanh(x, n); }
void ck_softplus(float *x, size_t n, float beta, float threshold) { ckernels_active()->softplus(x, n, beta, threshold); }
void ck_hardtanh(float *x, size_t n, float min_val, float max_val) { ckernels_active()->hardtanh(x, n, min_val, max_val); }
void ck_softmax(float *x, size_t rows, size_t width) { ckernels_active()->softmax(x, rows, width); }
void ck_layer_norm(float *x, size_t rows, size_t width, double eps, const float *weight, const float *bias) {
    ckernels_active()->layer_norm(x, rows, width, eps, weight, bias);
}
void ck_scale_shift(size_t rows, size_t width, const float *scale, const float *shift, float *y) {
    ckernels_active()->scale_shift(rows, width, scale, shift, y);
}
int ck_decode(int kind, size_t size, int big_endian, const void *src, size_t n, float *out) {
    return ckernels_active()->decode(kind, size, big_endian, src, n, out);
}
int ck_encode(size_t size, const float *src, size_t n, void *out) { return ckernels_active()->encode(size, src, n, out); }
void ck_shuffle(const void *src, void *dst, size_t count, size_t size) { ckernels_active()->shuffle(src, dst, count, size); }
void ck_unshuffle(const void *src, void *dst, size_t count, size_t size) { ckernels_active()->unshuffle(src, dst, count, size); }
void ck_bitshuffle(const void *src, void *dst, void *scratch, size_t count, size_t size) {
    ckernels_active()->bitshuffle(src, dst, scratch, count, size);
}
void ck_bitunshuffle(const void *src, void *dst, void *scratch, size_t count, size_t size) {
    ckernels_active()->bitunshuffle(src, dst, scratch, count, size);
}
void ck_stats_count(const float *values, size_t rows, size_t width, const float *shift, const ck_stats_out *out) {
    ckernels_active()->stats_count(values, rows, width, shift, out);
}
