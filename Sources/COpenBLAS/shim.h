#ifndef FEDSHARE_COPENBLAS_SHIM_H
#define FEDSHARE_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
