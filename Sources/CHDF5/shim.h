#ifndef H5BATCH_CHDF5_SHIM_H
#define H5BATCH_CHDF5_SHIM_H
// HDF5's public constants are macros that expand to function calls or casts, which Swift cannot
// import. These static inline getters re-export the ones h5batch uses.
#include <hdf5.h>

// glibc declares sync_file_range only under _GNU_SOURCE, and defining that here would change
// system headers (fd_set) that other modules (Dispatch) import too; so it is declared directly.
extern int sync_file_range(int fd, long long offset, long long count, unsigned int flags);
#define H5B_SYNC_FILE_RANGE_WRITE 2u
// WAIT_BEFORE | WRITE | WAIT_AFTER: the range is on disk when the call returns.
#define H5B_SYNC_FILE_RANGE_WAIT_ALL 7u

// MARK: - property lists, selections, error stack
static inline hid_t h5b_P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t h5b_P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t h5b_P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t h5b_P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t h5b_P_DATASET_ACCESS(void) { return H5P_DATASET_ACCESS; }
static inline hid_t h5b_P_DATASET_XFER(void) { return H5P_DATASET_XFER; }
static inline hid_t h5b_P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t h5b_S_ALL(void) { return H5S_ALL; }
static inline hid_t h5b_E_DEFAULT(void) { return H5E_DEFAULT; }
static inline unsigned h5b_F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned h5b_F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned h5b_F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned h5b_F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline hsize_t h5b_S_UNLIMITED(void) { return H5S_UNLIMITED; }

// MARK: - types
static inline hid_t h5b_T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t h5b_T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t h5b_T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t h5b_T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t h5b_T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t h5b_T_C_S1(void) { return H5T_C_S1; }
static inline hid_t h5b_T_STD_I8LE(void) { return H5T_STD_I8LE; }
static inline hid_t h5b_T_STD_I16LE(void) { return H5T_STD_I16LE; }
static inline hid_t h5b_T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t h5b_T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t h5b_T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t h5b_T_STD_U16LE(void) { return H5T_STD_U16LE; }
static inline hid_t h5b_T_STD_U32LE(void) { return H5T_STD_U32LE; }
static inline hid_t h5b_T_STD_U64LE(void) { return H5T_STD_U64LE; }

// H5Epush2 is variadic, which Swift cannot call. A codec filter's own reason for a chunk it
// could not decode, under the frame libhdf5 pushes ("filter returned failure during read").
static inline herr_t h5b_push_filter_failure(const char *reason) {
    return H5Epush2(H5E_DEFAULT, __FILE__, "h5batch codec filter", __LINE__, H5E_ERR_CLS, H5E_PLINE, H5E_CANTFILTER, "%s", reason);
}

// MARK: - error classes h5batch tells apart
static inline hid_t h5b_E_ERR_CLS(void) { return H5E_ERR_CLS; }
static inline hid_t h5b_E_IO(void) { return H5E_IO; }
static inline hid_t h5b_E_PLINE(void) { return H5E_PLINE; }
static inline hid_t h5b_E_NOTFOUND(void) { return H5E_NOTFOUND; }
static inline hid_t h5b_E_EXISTS(void) { return H5E_EXISTS; }
static inline hid_t h5b_E_NOTHDF5(void) { return H5E_NOTHDF5; }
static inline hid_t h5b_E_TRUNCATED(void) { return H5E_TRUNCATED; }
static inline hid_t h5b_E_BADFILE(void) { return H5E_BADFILE; }
static inline hid_t h5b_E_CANTOPENFILE(void) { return H5E_CANTOPENFILE; }
static inline hid_t h5b_E_CANTCREATE(void) { return H5E_CANTCREATE; }
static inline hid_t h5b_E_FILEEXISTS(void) { return H5E_FILEEXISTS; }
static inline hid_t h5b_E_READERROR(void) { return H5E_READERROR; }
static inline hid_t h5b_E_WRITEERROR(void) { return H5E_WRITEERROR; }
static inline hid_t h5b_E_SEEKERROR(void) { return H5E_SEEKERROR; }
static inline hid_t h5b_E_CLOSEERROR(void) { return H5E_CLOSEERROR; }
static inline hid_t h5b_E_CANTFILTER(void) { return H5E_CANTFILTER; }
static inline hid_t h5b_E_CANTDECODE(void) { return H5E_CANTDECODE; }
static inline hid_t h5b_E_CANTCONVERT(void) { return H5E_CANTCONVERT; }
static inline hid_t h5b_E_BADTYPE(void) { return H5E_BADTYPE; }
static inline hid_t h5b_E_NOSPACE(void) { return H5E_NOSPACE; }

// The file descriptor of a file opened with the default (sec2) driver, or -1 for another driver.
static inline int h5b_file_descriptor(hid_t file) {
    void *handle = NULL;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || handle == NULL) return -1;
    return *(int *)handle;
}

// Sets a file access property list so that the metadata cache never evicts (and so never
// writes) an entry on its own: metadata reaches the file only when the file is flushed. Between
// two flushes only raw data is written, past the end the last flush left, which is what makes a
// flushed file a checkpoint that later writes cannot damage. Automatic resizing must be off for
// evictions to be disabled; the cache then grows with the file's metadata.
static inline herr_t h5b_postpone_metadata_writes(hid_t fapl) {
    H5AC_cache_config_t config;
    config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    if (H5Pget_mdc_config(fapl, &config) < 0) return -1;
    config.incr_mode = H5C_incr__off;
    config.flash_incr_mode = H5C_flash_incr__off;
    config.decr_mode = H5C_decr__off;
    config.evictions_enabled = 0;
    return H5Pset_mdc_config(fapl, &config);
}

// In the thread-safe build the automatic error printer is a per-thread setting, so every thread
// that calls HDF5 must switch it off once; the thread-local flag makes repeat calls free.
static inline void h5b_silence_errors_on_this_thread(void) {
    static __thread int silenced = 0;
    if (!silenced) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        silenced = 1;
    }
}
#endif
