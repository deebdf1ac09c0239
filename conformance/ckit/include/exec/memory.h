/* Stand-in for QEMU's exec/memory.h. */
#ifndef MHKIT_EXEC_MEMORY_H
#define MHKIT_EXEC_MEMORY_H
#include "exec/cpu-common.h"
typedef struct MemoryRegion MemoryRegion;
#endif
