// CKernels: h5batch's hot loops (activations, layer_norm, batch_norm, element conversion, byte shuffle,
// statistics counting), compiled for several x86-64 ISA levels and chosen at run time.
// See kernels.inc for the design.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The ISA levels the kernels are compiled for, lowest first.
typedef enum __attribute__((enum_extensibility(closed))) ck_level {
    /// x86-64 baseline (SSE2); also the level on any other architecture.
    CK_LEVEL_BASELINE = 0,
    /// AVX2, FMA, F16C, BMI2 (Haswell, Zen 1 and later).
    CK_LEVEL_AVX2 = 1,
    /// AVX-512 F, BW, VL, DQ on top of the AVX2 level (Skylake-SP, Zen 4 and later).
    CK_LEVEL_AVX512 = 2,
} ck_level;

/// Element kinds for `decode`.
enum { CK_KIND_FLOAT = 0, CK_KIND_SIGNED = 1, CK_KIND_UNSIGNED = 2 };

/// The outputs of `stats_count`, one value per feature in each array.
typedef struct ck_stats_out {
    int32_t *zeros;      ///< values == 0 (either sign)
    int32_t *negatives;  ///< values < 0 (−∞ included)
    int32_t *finite;     ///< finite values
    float *minimum;      ///< smallest finite value (+∞ if none)
    float *maximum;      ///< largest finite value (−∞ if none)
    float *sum;          ///< Σ (x − shift) over finite x, in float32, row by row
    float *squares;      ///< Σ (x − shift)² over finite x, in float32, row by row
} ck_stats_out;

/// One level's kernels. Every buffer is rows stored contiguously; counts are elements.
typedef struct ck_kernels {
    ck_level level;
    const char *name;  ///< "avx512", "avx2" or "sse2"

    // Activations, in place, with the formulas of Functional.swift.
    void (*relu)(float *x, size_t n);
    void (*leaky_relu)(float *x, size_t n, float negative_slope);
    void (*prelu)(float *x, size_t rows, size_t width, const float *weight);
    void (*elu)(float *x, size_t n, float alpha);
    void (*sigmoid)(float *x, size_t n);
    void (*tanh)(float *x, size_t n);
    void (*silu)(float *x, size_t n);
    void (*gelu)(float *x, size_t n);
    void (*gelu_tanh)(float *x, size_t n);
    void (*softplus)(float *x, size_t n, float beta, float threshold);
    void (*hardtanh)(float *x, size_t n, float min_val, float max_val);
    void (*softmax)(float *x, size_t rows, size_t width);
    /// Each row becomes (x − mean) / √(var + eps), then · weight[j] and + bias[j] where they are
    /// not NULL (the mean and the biased variance in double, summed in a fixed order).
    void (*layer_norm)(float *x, size_t rows, size_t width, double eps, const float *weight, const float *bias);
    /// y[row·width + j] = y[row·width + j] · scale[j] + shift[j] (batch_norm in eval mode).
    void (*scale_shift)(size_t rows, size_t width, const float *scale, const float *shift, float *y);

    /// Decodes `n` elements of `kind` (CK_KIND_*) and `size` bytes, big-endian when
    /// `big_endian`, into float32. `out` is `src` itself or does not overlap it. Returns 0 for a
    /// type it does not decode.
    int (*decode)(int kind, size_t size, int big_endian, const void *src, size_t n, float *out);
    /// Encodes `n` floats as little-endian IEEE floats of `size` bytes (2, 4 or 8); `out` is
    /// `src` itself (size 4 only) or does not overlap it. Returns 0 for another size.
    int (*encode)(size_t size, const float *src, size_t n, void *out);
    /// HDF5's shuffle filter (byte j of element i goes to j·count + i) and its inverse.
    void (*shuffle)(const void *src, void *dst, size_t count, size_t size);
    void (*unshuffle)(const void *src, void *dst, size_t count, size_t size);
    /// The Bitshuffle filter's bit transpose of one block of `count` elements (a multiple of 8)
    /// of `size` bytes, and its inverse; `scratch` holds count·size bytes.
    void (*bitshuffle)(const void *src, void *dst, void *scratch, size_t count, size_t size);
    void (*bitunshuffle)(const void *src, void *dst, void *scratch, size_t count, size_t size);

    /// Counts `rows` rows of `width` features (see ck_stats_out) around `shift`. Overwrites
    /// every output.
    void (*stats_count)(const float *values, size_t rows, size_t width, const float *shift, const ck_stats_out *out);
} ck_kernels;

/// The kernels in use: the best level the CPU offers, capped by H5BATCH_MAX_ISA
/// (`avx512`, `avx2`, `baseline` or `sse2`; another value is ignored). Chosen on first use.
const ck_kernels *ckernels_active(void);
/// The kernels of `level`, or NULL when this CPU cannot run them.
const ck_kernels *ckernels_table_for(ck_level level);
/// The best level this CPU offers, ignoring H5BATCH_MAX_ISA.
ck_level ckernels_cpu_best_level(void);
/// The level chosen for the cap `cap` (a H5BATCH_MAX_ISA value; NULL or unknown: no cap).
ck_level ckernels_level_for_cap(const char *cap);
/// The name of the level in use: "avx512", "avx2" or "sse2".
const char *ckernels_isa_name(void);
/// The name of the best level the CPU offers, ignoring the cap.
const char *ckernels_cpu_best_isa_name(void);

// The active level's kernels (see ck_kernels).
void ck_relu(float *x, size_t n);
void ck_leaky_relu(float *x, size_t n, float negative_slope);
void ck_prelu(float *x, size_t rows, size_t width, const float *weight);
void ck_elu(float *x, size_t n, float alpha);
void ck_sigmoid(float *x, size_t n);
void ck_tanh(float *x, size_t n);
void ck_silu(float *x, size_t n);
void ck_gelu(float *x, size_t n);
void ck_gelu_tanh(float *x, size_t n);
void ck_softplus(float *x, size_t n, float beta, float threshold);
void ck_hardtanh(float *x, size_t n, float min_val, float max_val);
void ck_softmax(float *x, size_t rows, size_t width);
void ck_layer_norm(float *x, size_t rows, size_t width, double eps, const float *weight, const float *bias);
void ck_scale_shift(size_t rows, size_t width, const float *scale, const float *shift, float *y);
int ck_decode(int kind, size_t size, int big_endian, const void *src, size_t n, float *out);
int ck_encode(size_t size, const float *src, size_t n, void *out);
void ck_shuffle(const void *src, void *dst, size_t count, size_t size);
void ck_unshuffle(const void *src, void *dst, size_t count, size_t size);
void ck_bitshuffle(const void *src, void *dst, void *scratch, size_t count, size_t size);
void ck_bitunshuffle(const void *src, void *dst, void *scratch, size_t count, size_t size);
void ck_stats_count(const float *values, size_t rows, size_t width, const float *shift, const ck_stats_out *out);

#ifdef __cplusplus
}
#endif
#endif
