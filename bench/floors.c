/*
 * floors.c - hardware floors for the h5batch benchmark (bench/compare.py).
 *
 *   floors copy IN DATASET OUT
 *       The raw-chunk copy floor. Creates OUT with DATASET's shape, type and creation
 *       property list, then moves every chunk with H5Dread_chunk / H5Dwrite_chunk (same
 *       filter mask), so nothing is decoded, converted or compressed. Closes OUT and
 *       fsyncs it, as h5batch does with its output. This is the least any tool that reads
 *       the input and writes an output of the same layout has to spend on I/O.
 *
 *   floors sgemm ROWS IN HIDDEN OUT
 *       The compute floor of a two-layer MLP: one GEMM library alone on
 *       [ROWS,IN] x [IN,HIDDEN] then [ROWS,HIDDEN] x [HIDDEN,OUT], row-major, weights stored
 *       [out,in] like PyTorch (B transposed), in batches of 8192 rows, no I/O, no bias,
 *       no activation. Buffers are allocated and touched before timing. Two ways:
 *         (a) "library-threads": the library runs on ncores threads, batches one after another;
 *         (b) "worker-threads": the library runs on one thread, ncores pthreads each take
 *             their share of the batches with their own buffers.
 *       Prints one JSON line naming the library, its version and the kernels it picked;
 *       "seconds" and "gflops" are those of the faster way, named by "best".
 *
 *   floors-onednn matmul ROWS IN HIDDEN OUT
 *       The same products on oneDNN's matmul primitive, called the way h5batch's linear
 *       stages call it (Sources/H5Batch/Stages/MatmulPrimitive.swift): each 8192-row batch
 *       in tiles of 256 rows (StageChain's tile for the MLP's 1024-wide layer), both layers
 *       tile by tile; the weights reordered once, before timing, into the blocked layout the
 *       kernels ask for (else kept [out,in]); one primitive per tile height, with the bias
 *       added in the kernels and a scratchpad per thread. The bias is work the sgemm
 *       candidates do not do (ROWS x (HIDDEN + OUT) additions), so it can only slow this
 *       one down. Same two threading schemes, same JSON line; "kernels" is the primitive's
 *       implementation (e.g. "brg:avx512_core"), "api" tells it from dnnl_sgemm.
 *
 * The GEMM library is chosen when building, one binary per library, so that their CBLAS
 * symbols and thread pools never meet in one process:
 *
 *   OpenBLAS (cblas_sgemm):  gcc -O2 floors.c $(pkg-config --cflags --libs hdf5 openblas) -lpthread -o floors
 *   oneDNN (dnnl_sgemm):     gcc -O2 -DFLOORS_ONEDNN -fopenmp floors.c $(pkg-config --cflags --libs hdf5) \
 *                                -ldnnl -lpthread -o floors-onednn
 *   BLIS (bli_sgemm):        gcc -O2 -DFLOORS_BLIS floors.c $(pkg-config --cflags --libs hdf5) \
 *                                -lblis -lm -lpthread -o floors-blis
 *
 * oneDNN runs on OpenMP, whose thread count is a setting of each calling thread, so every
 * worker sets its own; OpenBLAS and BLIS keep one setting for the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(FLOORS_ONEDNN)
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#elif defined(FLOORS_BLIS)
#include <blis.h>
#else
#include <cblas.h>
#endif

#define BATCH_ROWS 8192
#define TILE_ROWS 256 /* the matmul candidate's tile: h5batch's for the MLP (see the top) */

static void die(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("floors: error: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

/* HDF5 returns a negative value (herr_t or hid_t) on failure. */
#define H5_TRY(expr)                                                    \
    ({                                                                  \
        __typeof__(expr) h5_try_value_ = (expr);                       \
        if (h5_try_value_ < 0) die("%s failed (%s:%d)", #expr, __FILE__, __LINE__); \
        h5_try_value_;                                                 \
    })

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int active_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void *checked_malloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 1) != 0) die("out of memory (%zu bytes)", bytes);
    return p;
}

/* ------------------------------------------------------------------ copy floor */

static int copy_floor(const char *in_path, const char *dataset, const char *out_path) {
    H5_TRY(H5Eset_auto2(H5E_DEFAULT, NULL, NULL)); /* our own messages only */

    hid_t in_file = H5Fopen(in_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (in_file < 0) die("cannot open %s", in_path);
    hid_t in_dset = H5Dopen2(in_file, dataset, H5P_DEFAULT);
    if (in_dset < 0) die("cannot open dataset %s in %s", dataset, in_path);

    hid_t space = H5_TRY(H5Dget_space(in_dset));
    hid_t type = H5_TRY(H5Dget_type(in_dset));
    hid_t dcpl = H5_TRY(H5Dget_create_plist(in_dset));
    if (H5_TRY(H5Pget_layout(dcpl)) != H5D_CHUNKED) die("%s:%s is not chunked", in_path, dataset);

    int rank = H5_TRY(H5Sget_simple_extent_ndims(space));
    if (rank < 1) die("%s:%s is a scalar dataset", in_path, dataset);
    hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK], offset[H5S_MAX_RANK];
    H5_TRY(H5Sget_simple_extent_dims(space, dims, NULL));
    if (H5_TRY(H5Pget_chunk(dcpl, rank, chunk)) != rank) die("unexpected chunk rank");

    /* Largest stored chunk: the uncompressed size, or more if a filter expanded it. */
    size_t element = H5Tget_size(type);
    if (element == 0) die("H5Tget_size failed");
    size_t capacity = element;
    for (int d = 0; d < rank; d++) capacity *= chunk[d];
    capacity += capacity / 8 + 4096;
    unsigned char *buffer = checked_malloc(capacity);
    memset(buffer, 0, capacity);

    hid_t out_file = H5Fcreate(out_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (out_file < 0) die("cannot create %s", out_path);
    hid_t lcpl = H5_TRY(H5Pcreate(H5P_LINK_CREATE));
    H5_TRY(H5Pset_create_intermediate_group(lcpl, 1));
    hid_t out_dset = H5Dcreate2(out_file, dataset, type, space, lcpl, dcpl, H5P_DEFAULT);
    if (out_dset < 0) die("cannot create dataset %s in %s", dataset, out_path);

    int empty = 0;
    for (int d = 0; d < rank; d++) {
        offset[d] = 0;
        if (dims[d] == 0) empty = 1;
    }
    unsigned long long chunks = 0, bytes = 0;
    while (!empty) {
        hsize_t stored = 0;
        H5_TRY(H5Dget_chunk_storage_size(in_dset, offset, &stored));
        if (stored > 0) { /* 0: never written (fill value), nothing to copy */
            if (stored > capacity) {
                free(buffer);
                capacity = stored;
                buffer = checked_malloc(capacity);
            }
            uint32_t filter_mask = 0;
            H5_TRY(H5Dread_chunk(in_dset, H5P_DEFAULT, offset, &filter_mask, buffer));
            H5_TRY(H5Dwrite_chunk(out_dset, H5P_DEFAULT, filter_mask, offset, (size_t)stored, buffer));
            chunks++;
            bytes += stored;
        }
        /* Next chunk offset in row-major order over the chunk grid. */
        int d = rank - 1;
        for (; d >= 0; d--) {
            offset[d] += chunk[d];
            if (offset[d] < dims[d]) break;
            offset[d] = 0;
        }
        if (d < 0) break;
    }

    H5_TRY(H5Dclose(out_dset));
    H5_TRY(H5Pclose(lcpl));
    H5_TRY(H5Fclose(out_file));
    H5_TRY(H5Dclose(in_dset));
    H5_TRY(H5Pclose(dcpl));
    H5_TRY(H5Tclose(type));
    H5_TRY(H5Sclose(space));
    H5_TRY(H5Fclose(in_file));
    free(buffer);

    int fd = open(out_path, O_RDONLY);
    if (fd < 0) die("cannot reopen %s for fsync: %s", out_path, strerror(errno));
    if (fsync(fd) != 0) die("fsync %s: %s", out_path, strerror(errno));
    close(fd);

    printf("{\"floor\": \"copy\", \"chunks\": %llu, \"stored_bytes\": %llu}\n", chunks, bytes);
    return 0;
}

/* ----------------------------------------------------------------- sgemm floor */

/* C[m,n] = A[m,k] x B[n,k]^T, all row-major, with the library this binary was built for. */
static void sgemm_nt(long m, long n, long k, const float *a, const float *b, float *c) {
#if defined(FLOORS_ONEDNN)
    if (dnnl_sgemm('N', 'T', m, n, k, 1.0f, a, k, b, k, 0.0f, c, n) != dnnl_success) die("dnnl_sgemm failed");
#elif defined(FLOORS_BLIS)
    float one = 1.0f, zero = 0.0f; /* BLIS takes no const: it reads a and b only */
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, m, n, k, &one, (float *)a, k, 1, (float *)b, k, 1, &zero, c,
              n, 1);
#else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, a, (int)k, b, (int)k,
                0.0f, c, (int)n);
#endif
}

/* Threads the library uses for the calls the calling thread makes (see the top of the file). */
static void set_library_threads(int n) {
#if defined(FLOORS_ONEDNN)
    omp_set_num_threads(n);
#elif defined(FLOORS_BLIS)
    bli_thread_set_num_threads(n);
#else
    openblas_set_num_threads(n);
#endif
}

#if defined(FLOORS_ONEDNN)
static int g_use_matmul;            /* this run times the matmul candidate (floors-onednn matmul) */
static char g_matmul_kernels[160]; /* the implementations its primitives chose */

static const char *onednn_isa(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "?";
    }
}
#endif

/* The library's name, version and the kernels it picked for this CPU, as a JSON fragment. */
static void print_library(void) {
#if defined(FLOORS_ONEDNN)
    const dnnl_version_t *v = dnnl_version();
    if (g_use_matmul) {
        printf("\"library\": \"onednn\", \"api\": \"matmul\", \"version\": \"%d.%d.%d\", \"kernels\": \"%s\", "
               "\"tile_rows\": %d, \"bias\": true",
               v->major, v->minor, v->patch, g_matmul_kernels, TILE_ROWS);
        return;
    }
    printf("\"library\": \"onednn\", \"api\": \"dnnl_sgemm\", \"version\": \"%d.%d.%d\", \"kernels\": \"%s\"",
           v->major, v->minor, v->patch, onednn_isa(dnnl_get_effective_cpu_isa()));
#elif defined(FLOORS_BLIS)
    printf("\"library\": \"blis\", \"version\": \"%s\", \"kernels\": \"%s\"", bli_info_get_version_str(),
           bli_arch_string(bli_arch_query_id()));
#else
    char version[32] = "?"; /* openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
    sscanf(openblas_get_config(), "OpenBLAS %31s", version);
    printf("\"library\": \"openblas\", \"version\": \"%s\", \"kernels\": \"%s\"", version,
           openblas_get_corename());
#endif
}

typedef struct {
    long rows, in, hidden, out;
} Shape;

typedef struct {
    float *x, *h, *y; /* one batch: [B,in], [B,hidden], [B,out] */
#if defined(FLOORS_ONEDNN)
    void *scratchpad;     /* the matmul candidate's, one per thread as in h5batch */
    dnnl_stream_t stream; /* the matmul candidate's */
#endif
} Buffers;

static const float *g_w1, *g_w2; /* [hidden,in], [out,hidden], shared read-only */

static void fill(float *p, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) p[i] = scale * (float)((long)(i * 2654435761u % 2001) - 1000) / 1000.0f;
}

static long batch_count(const Shape *s) { return (s->rows + BATCH_ROWS - 1) / BATCH_ROWS; }

static long batch_rows(const Shape *s, long k) {
    long left = s->rows - k * BATCH_ROWS;
    return left < BATCH_ROWS ? left : BATCH_ROWS;
}

#if defined(FLOORS_ONEDNN)
/* ------------------------------------------------- oneDNN's matmul primitive */

#define DNNL_TRY(expr, what)                                                         \
    do {                                                                             \
        dnnl_status_t dnnl_try_status_ = (expr);                                     \
        if (dnnl_try_status_ != dnnl_success)                                        \
            die("oneDNN failed %s: status %d (%s:%d)", what, (int)dnnl_try_status_, __FILE__, __LINE__); \
    } while (0)

static dnnl_engine_t g_engine;

/* One tile height's primitive and its scratchpad's size. */
typedef struct {
    dnnl_primitive_t primitive;
    dnnl_memory_desc_t scratchpad;
    size_t scratchpad_bytes;
    char kernels[64]; /* the implementation oneDNN chose, e.g. "brg:avx512_core" */
} Compiled;

/* One linear layer: [rows,in] x W + b, W stored [out,in] like PyTorch. */
typedef struct {
    long in, out;
    void *weight_storage; /* the packed weights */
    float *bias_values;
    dnnl_memory_t weights, bias;
    Compiled tile, tail; /* TILE_ROWS rows; the last batch's shorter last tile (tail_rows, 0: none) */
    long tail_rows;
} Layer;

typedef struct {
    Layer layers[2];
} MatmulPlan;

static MatmulPlan *g_matmul; /* the matmul candidate's layers while a scheme is timed */

static dnnl_memory_desc_t matrix_md(long rows, long columns, dnnl_format_tag_t tag) {
    dnnl_dims_t dims = {rows, columns};
    dnnl_memory_desc_t md;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, tag), "describing a matrix");
    return md;
}

/* A matmul [rows,in] x [in,out] + bias[1,out]: weights in `weights`' layout, or the one the
 * kernels prefer when NULL; the scratchpad is the caller's, as in h5batch. */
static dnnl_primitive_desc_t matmul_pd(long rows, long in, long out, const dnnl_memory_desc_t *weights) {
    dnnl_memory_desc_t src = matrix_md(rows, in, dnnl_ab), dst = matrix_md(rows, out, dnnl_ab);
    dnnl_memory_desc_t bias = matrix_md(1, out, dnnl_ab);
    dnnl_memory_desc_t w = weights ? *weights : matrix_md(in, out, dnnl_format_tag_any);
    dnnl_matmul_desc_t op;
    DNNL_TRY(dnnl_matmul_desc_init(&op, &src, &w, &bias, &dst), "describing a matmul");
    dnnl_primitive_attr_t attr;
    DNNL_TRY(dnnl_primitive_attr_create(&attr), "creating matmul attributes");
    DNNL_TRY(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "choosing the scratchpad");
    dnnl_primitive_desc_t pd;
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &op, attr, g_engine, NULL), "planning a matmul");
    DNNL_TRY(dnnl_primitive_attr_destroy(attr), "destroying matmul attributes");
    return pd;
}

static Compiled compile(long rows, long in, long out, const dnnl_memory_desc_t *weights) {
    Compiled c;
    dnnl_primitive_desc_t pd = matmul_pd(rows, in, out, weights);
    const char *impl = NULL;
    DNNL_TRY(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl), "naming the matmul's kernels");
    snprintf(c.kernels, sizeof c.kernels, "%s", impl ? impl : "?");
    c.scratchpad = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    c.scratchpad_bytes = dnnl_memory_desc_get_size(&c.scratchpad);
    DNNL_TRY(dnnl_primitive_create(&c.primitive, pd), "compiling a matmul");
    DNNL_TRY(dnnl_primitive_desc_destroy(pd), "destroying a matmul's plan");
    return c;
}

/* Packs `w` ([out,in]) once into the layout the TILE_ROWS primitive asks for when it is
 * blocked (brgemm, AVX-512), else keeps it as stored: MatmulPrimitive.packedLayout(). */
static void make_layer(Layer *layer, long in, long out, const float *w, long tail_rows) {
    layer->in = in;
    layer->out = out;
    dnnl_memory_desc_t stored = matrix_md(in, out, dnnl_ba);
    dnnl_primitive_desc_t any = matmul_pd(TILE_ROWS, in, out, NULL);
    dnnl_memory_desc_t packed = *dnnl_primitive_desc_query_md(any, dnnl_query_weights_md, 0);
    DNNL_TRY(dnnl_primitive_desc_destroy(any), "destroying a matmul's plan");
    if (!(packed.format_kind == dnnl_blocked && packed.format_desc.blocking.inner_nblks > 0)) packed = stored;

    layer->weight_storage = checked_malloc(dnnl_memory_desc_get_size(&packed));
    DNNL_TRY(dnnl_memory_create(&layer->weights, &packed, g_engine, layer->weight_storage), "creating the packed weights");
    dnnl_memory_t source;
    DNNL_TRY(dnnl_memory_create(&source, &stored, g_engine, (void *)w), "creating the stored weights");
    dnnl_primitive_desc_t reorder_pd;
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&reorder_pd, &stored, g_engine, &packed, g_engine, NULL),
             "planning the weights' reorder");
    dnnl_primitive_t reorder;
    DNNL_TRY(dnnl_primitive_create(&reorder, reorder_pd), "creating the weights' reorder");
    dnnl_stream_t stream;
    DNNL_TRY(dnnl_stream_create(&stream, g_engine, dnnl_stream_default_flags), "creating a stream");
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, source}, {DNNL_ARG_TO, layer->weights}};
    DNNL_TRY(dnnl_primitive_execute(reorder, stream, 2, args), "reordering the weights");
    DNNL_TRY(dnnl_stream_wait(stream), "waiting for the weights' reorder");
    DNNL_TRY(dnnl_stream_destroy(stream), "destroying a stream");
    DNNL_TRY(dnnl_primitive_destroy(reorder), "destroying the weights' reorder");
    DNNL_TRY(dnnl_primitive_desc_destroy(reorder_pd), "destroying the reorder's plan");
    DNNL_TRY(dnnl_memory_destroy(source), "destroying the stored weights' memory");

    layer->bias_values = checked_malloc(sizeof(float) * out);
    fill(layer->bias_values, (size_t)out, 0.01f);
    dnnl_memory_desc_t bias = matrix_md(1, out, dnnl_ab);
    DNNL_TRY(dnnl_memory_create(&layer->bias, &bias, g_engine, layer->bias_values), "creating the bias");

    layer->tile = compile(TILE_ROWS, in, out, &packed);
    layer->tail_rows = tail_rows;
    if (tail_rows > 0) layer->tail = compile(tail_rows, in, out, &packed);
}

static void free_layer(Layer *layer) {
    DNNL_TRY(dnnl_primitive_destroy(layer->tile.primitive), "destroying a matmul");
    if (layer->tail_rows > 0) DNNL_TRY(dnnl_primitive_destroy(layer->tail.primitive), "destroying a matmul");
    DNNL_TRY(dnnl_memory_destroy(layer->weights), "destroying the packed weights' memory");
    DNNL_TRY(dnnl_memory_destroy(layer->bias), "destroying the bias' memory");
    free(layer->weight_storage);
    free(layer->bias_values);
}

/* The MLP's two layers, made with the calling thread's OpenMP setting: a primitive plans its
 * work (and its scratchpad) for the threads it will run on. */
static MatmulPlan *make_matmul_plan(const Shape *s) {
    if (!g_engine) DNNL_TRY(dnnl_engine_create(&g_engine, dnnl_cpu, 0), "creating the CPU engine");
    MatmulPlan *plan = checked_malloc(sizeof *plan);
    long tail = batch_rows(s, batch_count(s) - 1) % TILE_ROWS; /* batches are whole tiles but the last */
    make_layer(&plan->layers[0], s->in, s->hidden, g_w1, tail);
    make_layer(&plan->layers[1], s->hidden, s->out, g_w2, tail);
    const char *k1 = plan->layers[0].tile.kernels, *k2 = plan->layers[1].tile.kernels;
    if (strcmp(k1, k2) == 0) snprintf(g_matmul_kernels, sizeof g_matmul_kernels, "%s", k1);
    else snprintf(g_matmul_kernels, sizeof g_matmul_kernels, "%s, %s", k1, k2);
    return plan;
}

static void free_matmul_plan(MatmulPlan *plan) {
    free_layer(&plan->layers[0]);
    free_layer(&plan->layers[1]);
    free(plan);
}

static size_t matmul_scratchpad_bytes(const MatmulPlan *plan) {
    size_t most = 0;
    for (int i = 0; i < 2; i++) {
        const Layer *l = &plan->layers[i];
        if (l->tile.scratchpad_bytes > most) most = l->tile.scratchpad_bytes;
        if (l->tail_rows > 0 && l->tail.scratchpad_bytes > most) most = l->tail.scratchpad_bytes;
    }
    return most;
}

/* dst[rows,out] = src[rows,in] x W + b on the calling thread's stream and scratchpad; the
 * memory objects only name this call's buffers, made per call as h5batch does. */
static void run_layer(const Layer *layer, const Buffers *b, const float *src, long rows, float *dst) {
    const Compiled *c = rows == TILE_ROWS ? &layer->tile : &layer->tail;
    if (rows != TILE_ROWS && rows != layer->tail_rows) die("no matmul compiled for %ld rows", rows);
    dnnl_memory_desc_t src_md = matrix_md(rows, layer->in, dnnl_ab), dst_md = matrix_md(rows, layer->out, dnnl_ab);
    dnnl_memory_t source, destination, scratch = NULL;
    DNNL_TRY(dnnl_memory_create(&source, &src_md, g_engine, (void *)src), "creating the source memory");
    DNNL_TRY(dnnl_memory_create(&destination, &dst_md, g_engine, dst), "creating the destination memory");
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, source}, {DNNL_ARG_WEIGHTS, layer->weights},
                               {DNNL_ARG_BIAS, layer->bias}, {DNNL_ARG_DST, destination}};
    int count = 4;
    if (c->scratchpad_bytes > 0) {
        DNNL_TRY(dnnl_memory_create(&scratch, &c->scratchpad, g_engine, b->scratchpad), "creating the scratchpad memory");
        args[count++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratch};
    }
    DNNL_TRY(dnnl_primitive_execute(c->primitive, b->stream, count, args), "running a matmul");
    DNNL_TRY(dnnl_memory_destroy(source), "destroying the source memory");
    DNNL_TRY(dnnl_memory_destroy(destination), "destroying the destination memory");
    if (scratch) DNNL_TRY(dnnl_memory_destroy(scratch), "destroying the scratchpad memory");
}

/* One batch through both layers tile by tile, as h5batch's chain runs it. */
static void matmul_batch(const Shape *s, const Buffers *b, long rows) {
    for (long t = 0; t < rows; t += TILE_ROWS) {
        long n = rows - t < TILE_ROWS ? rows - t : TILE_ROWS;
        run_layer(&g_matmul->layers[0], b, b->x + t * s->in, n, b->h + t * s->hidden);
        run_layer(&g_matmul->layers[1], b, b->h + t * s->hidden, n, b->y + t * s->out);
    }
    DNNL_TRY(dnnl_stream_wait(b->stream), "waiting for the matmuls");
}
#endif

/* Before a scheme is timed, with its library threads set: what the candidate prepares once
 * (the matmul candidate's packed weights and primitives); end_scheme undoes it. */
static void begin_scheme(const Shape *s) {
#if defined(FLOORS_ONEDNN)
    if (g_use_matmul) g_matmul = make_matmul_plan(s);
#else
    (void)s;
#endif
}

static void end_scheme(void) {
#if defined(FLOORS_ONEDNN)
    if (g_matmul) free_matmul_plan(g_matmul);
    g_matmul = NULL;
#endif
}

static Buffers make_buffers(const Shape *s) {
    Buffers b;
    b.x = checked_malloc(sizeof(float) * BATCH_ROWS * s->in);
    b.h = checked_malloc(sizeof(float) * BATCH_ROWS * s->hidden);
    b.y = checked_malloc(sizeof(float) * BATCH_ROWS * s->out);
    fill(b.x, (size_t)BATCH_ROWS * s->in, 1.0f);
    memset(b.h, 0, sizeof(float) * BATCH_ROWS * s->hidden);
    memset(b.y, 0, sizeof(float) * BATCH_ROWS * s->out);
#if defined(FLOORS_ONEDNN)
    b.scratchpad = NULL;
    b.stream = NULL;
    if (g_matmul) {
        size_t bytes = matmul_scratchpad_bytes(g_matmul);
        b.scratchpad = checked_malloc(bytes);
        memset(b.scratchpad, 0, bytes ? bytes : 1);
        DNNL_TRY(dnnl_stream_create(&b.stream, g_engine, dnnl_stream_default_flags), "creating a stream");
    }
#endif
    return b;
}

static void free_buffers(Buffers *b) {
    free(b->x);
    free(b->h);
    free(b->y);
#if defined(FLOORS_ONEDNN)
    free(b->scratchpad);
    if (b->stream) DNNL_TRY(dnnl_stream_destroy(b->stream), "destroying a stream");
#endif
}

static void mlp_batch(const Shape *s, const Buffers *b, long rows) {
#if defined(FLOORS_ONEDNN)
    if (g_matmul) {
        matmul_batch(s, b, rows);
        return;
    }
#endif
    sgemm_nt(rows, s->hidden, s->in, b->x, g_w1, b->h);
    sgemm_nt(rows, s->out, s->hidden, b->h, g_w2, b->y);
}

/* (a) all cores inside the library, batches in sequence. */
static double time_library_threads(const Shape *s, int cores) {
    set_library_threads(cores);
    begin_scheme(s);
    Buffers b = make_buffers(s);
    mlp_batch(s, &b, batch_rows(s, 0)); /* warm-up: BLAS thread pool, page faults */
    double start = now_seconds();
    for (long k = 0; k < batch_count(s); k++) mlp_batch(s, &b, batch_rows(s, k));
    double seconds = now_seconds() - start;
    free_buffers(&b);
    end_scheme();
    return seconds;
}

/* (b) one library thread per worker, ncores workers sharing the batches. */
typedef struct {
    const Shape *shape;
    Buffers buffers;
    long first, step; /* batches first, first + step, ... */
    pthread_barrier_t *barrier;
    double started, finished; /* read by each worker itself (see time_worker_threads) */
} Worker;

static void *worker_main(void *arg) {
    Worker *w = arg;
    set_library_threads(1);                                   /* OpenMP: a setting per thread */
    mlp_batch(w->shape, &w->buffers, batch_rows(w->shape, 0)); /* warm-up */
    pthread_barrier_wait(w->barrier);                         /* all ready: timing starts */
    w->started = now_seconds();
    for (long k = w->first; k < batch_count(w->shape); k += w->step)
        mlp_batch(w->shape, &w->buffers, batch_rows(w->shape, k));
    w->finished = now_seconds();
    return NULL;
}

static double time_worker_threads(const Shape *s, int cores) {
    set_library_threads(1);
    begin_scheme(s); /* made here, run on the workers: one OpenMP thread each */
    pthread_barrier_t barrier;
    if (pthread_barrier_init(&barrier, NULL, (unsigned)cores + 1) != 0) die("pthread_barrier_init");
    Worker *workers = calloc((size_t)cores, sizeof *workers);
    pthread_t *threads = calloc((size_t)cores, sizeof *threads);
    if (!workers || !threads) die("out of memory");
    for (int i = 0; i < cores; i++) {
        workers[i] = (Worker){s, make_buffers(s), i, cores, &barrier, 0, 0};
        if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0) die("pthread_create");
    }
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < cores; i++) pthread_join(threads[i], NULL);
    /* From the first worker's start to the last one's end, as the workers read the clock: with
     * as many workers as cores, this thread may not run again until a worker is done, so a
     * clock started here after the barrier could miss the start of the work. */
    double start = workers[0].started, end = workers[0].finished;
    for (int i = 1; i < cores; i++) {
        if (workers[i].started < start) start = workers[i].started;
        if (workers[i].finished > end) end = workers[i].finished;
    }
    double seconds = end - start;
    for (int i = 0; i < cores; i++) free_buffers(&workers[i].buffers);
    end_scheme();
    pthread_barrier_destroy(&barrier);
    free(workers);
    free(threads);
    return seconds;
}

static long parse_positive(const char *text, const char *what) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v <= 0) die("%s must be a positive integer, got '%s'", what, text);
    return v;
}

static int sgemm_floor(const char *rows, const char *in, const char *hidden, const char *out) {
    Shape s = {parse_positive(rows, "ROWS"), parse_positive(in, "IN"), parse_positive(hidden, "HIDDEN"),
               parse_positive(out, "OUT")};
    int cores = active_cores();

    float *w1 = checked_malloc(sizeof(float) * s.hidden * s.in);
    float *w2 = checked_malloc(sizeof(float) * s.out * s.hidden);
    fill(w1, (size_t)(s.hidden * s.in), 0.0625f);
    fill(w2, (size_t)(s.out * s.hidden), 0.03125f);
    g_w1 = w1;
    g_w2 = w2;

    double a = time_library_threads(&s, cores);
    double b = time_worker_threads(&s, cores);
    double best = a < b ? a : b;
    double flops = 2.0 * (double)s.rows * (double)(s.in * s.hidden + s.hidden * s.out);

    printf("{\"floor\": \"sgemm\", ");
    print_library();
    printf(", \"rows\": %ld, \"in\": %ld, \"hidden\": %ld, \"out\": %ld, "
           "\"cores\": %d, \"batch_rows\": %d, \"seconds\": %.6f, \"gflops\": %.2f, \"best\": \"%s\", "
           "\"library_threads_seconds\": %.6f, \"worker_threads_seconds\": %.6f}\n",
           s.rows, s.in, s.hidden, s.out, cores, BATCH_ROWS, best, flops / best / 1e9,
           a <= b ? "library-threads" : "worker-threads", a, b);
    free(w1);
    free(w2);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "copy") == 0) return copy_floor(argv[2], argv[3], argv[4]);
    if (argc == 6 && strcmp(argv[1], "sgemm") == 0) return sgemm_floor(argv[2], argv[3], argv[4], argv[5]);
#if defined(FLOORS_ONEDNN)
    if (argc == 6 && strcmp(argv[1], "matmul") == 0) {
        g_use_matmul = 1;
        return sgemm_floor(argv[2], argv[3], argv[4], argv[5]);
    }
#endif
    fprintf(stderr,
            "usage: floors copy IN DATASET OUT\n"
            "       floors sgemm ROWS IN HIDDEN OUT\n"
#if defined(FLOORS_ONEDNN)
            "       floors matmul ROWS IN HIDDEN OUT\n"
#endif
    );
    return 2;
}
