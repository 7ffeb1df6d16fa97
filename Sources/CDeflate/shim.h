#ifndef H5BATCH_CDEFLATE_SHIM_H
#define H5BATCH_CDEFLATE_SHIM_H
#include <libdeflate.h>
#endif
