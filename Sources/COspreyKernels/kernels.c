#include "osprey_kernels.h"
