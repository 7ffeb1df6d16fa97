#ifndef H5BATCH_CLZ4_SHIM_H
#define H5BATCH_CLZ4_SHIM_H
#include <lz4.h>
#endif
