#ifndef H5BATCH_CZSTD_SHIM_H
#define H5BATCH_CZSTD_SHIM_H
// The context-size estimates (ZSTD_estimateCCtxSize_usingCParams, …) are in the static section.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#endif
