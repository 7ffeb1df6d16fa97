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
    printf("\"library\": \"onednn\", \"version\": \"%d.%d.%d\", \"kernels\": \"%s\"", v->major, v->minor,
           v->patch, onednn_isa(dnnl_get_effective_cpu_isa()));
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
} Buffers;

static const float *g_w1, *g_w2; /* [hidden,in], [out,hidden], shared read-only */

static void fill(float *p, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) p[i] = scale * (float)((long)(i * 2654435761u % 2001) - 1000) / 1000.0f;
}

static Buffers make_buffers(const Shape *s) {
    Buffers b;
    b.x = checked_malloc(sizeof(float) * BATCH_ROWS * s->in);
    b.h = checked_malloc(sizeof(float) * BATCH_ROWS * s->hidden);
    b.y = checked_malloc(sizeof(float) * BATCH_ROWS * s->out);
    fill(b.x, (size_t)BATCH_ROWS * s->in, 1.0f);
    memset(b.h, 0, sizeof(float) * BATCH_ROWS * s->hidden);
    memset(b.y, 0, sizeof(float) * BATCH_ROWS * s->out);
    return b;
}

static void free_buffers(Buffers *b) {
    free(b->x);
    free(b->h);
    free(b->y);
}

static void mlp_batch(const Shape *s, const Buffers *b, long rows) {
    sgemm_nt(rows, s->hidden, s->in, b->x, g_w1, b->h);
    sgemm_nt(rows, s->out, s->hidden, b->h, g_w2, b->y);
}

static long batch_count(const Shape *s) { return (s->rows + BATCH_ROWS - 1) / BATCH_ROWS; }

static long batch_rows(const Shape *s, long k) {
    long left = s->rows - k * BATCH_ROWS;
    return left < BATCH_ROWS ? left : BATCH_ROWS;
}

/* (a) all cores inside the library, batches in sequence. */
static double time_library_threads(const Shape *s, int cores) {
    set_library_threads(cores);
    Buffers b = make_buffers(s);
    mlp_batch(s, &b, batch_rows(s, 0)); /* warm-up: BLAS thread pool, page faults */
    double start = now_seconds();
    for (long k = 0; k < batch_count(s); k++) mlp_batch(s, &b, batch_rows(s, k));
    double seconds = now_seconds() - start;
    free_buffers(&b);
    return seconds;
}

/* (b) one library thread per worker, ncores workers sharing the batches. */
typedef struct {
    const Shape *shape;
    Buffers buffers;
    long first, step; /* batches first, first + step, ... */
    pthread_barrier_t *barrier;
} Worker;

static void *worker_main(void *arg) {
    Worker *w = arg;
    set_library_threads(1);                                   /* OpenMP: a setting per thread */
    mlp_batch(w->shape, &w->buffers, batch_rows(w->shape, 0)); /* warm-up */
    pthread_barrier_wait(w->barrier);                         /* all ready: timing starts */
    for (long k = w->first; k < batch_count(w->shape); k += w->step)
        mlp_batch(w->shape, &w->buffers, batch_rows(w->shape, k));
    return NULL;
}

static double time_worker_threads(const Shape *s, int cores) {
    set_library_threads(1);
    pthread_barrier_t barrier;
    if (pthread_barrier_init(&barrier, NULL, (unsigned)cores + 1) != 0) die("pthread_barrier_init");
    Worker *workers = calloc((size_t)cores, sizeof *workers);
    pthread_t *threads = calloc((size_t)cores, sizeof *threads);
    if (!workers || !threads) die("out of memory");
    for (int i = 0; i < cores; i++) {
        workers[i] = (Worker){s, make_buffers(s), i, cores, &barrier};
        if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0) die("pthread_create");
    }
    pthread_barrier_wait(&barrier);
    double start = now_seconds();
    for (int i = 0; i < cores; i++) pthread_join(threads[i], NULL);
    double seconds = now_seconds() - start;
    for (int i = 0; i < cores; i++) free_buffers(&workers[i].buffers);
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
    fprintf(stderr,
            "usage: floors copy IN DATASET OUT\n"
            "       floors sgemm ROWS IN HIDDEN OUT\n");
    return 2;
}
