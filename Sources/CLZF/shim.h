#ifndef H5BATCH_CLZF_SHIM_H
#define H5BATCH_CLZF_SHIM_H
#include <lzf.h>
#endif
