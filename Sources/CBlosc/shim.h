#ifndef H5BATCH_CBLOSC_SHIM_H
#define H5BATCH_CBLOSC_SHIM_H
#include <blosc.h>
#endif
