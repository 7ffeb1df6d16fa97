#ifndef H5BATCH_CZSTD_SHIM_H
#define H5BATCH_CZSTD_SHIM_H
#include <zstd.h>
#endif
