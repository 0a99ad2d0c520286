#ifndef OSPREY_KERNELS_H
#define OSPREY_KERNELS_H
#include <stddef.h>
#include <stdint.h>
/* Distance kernels; see docs/design.md "Kernels". */
#endif
