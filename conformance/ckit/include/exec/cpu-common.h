/* Stand-in for QEMU's exec/cpu-common.h: ram_addr_t and qemu_map_ram_ptr (guest RAM, with
 * the 8 KiB shared area at gpa 0x820000: parameters, header at +0x800, io page at +0x1000). */
#ifndef MHKIT_EXEC_CPU_COMMON_H
#define MHKIT_EXEC_CPU_COMMON_H
#include "qemu/osdep.h"
typedef uint64_t ram_addr_t;
typedef uint64_t hwaddr;
typedef struct RAMBlock RAMBlock;
void *qemu_map_ram_ptr(RAMBlock *ram_block, ram_addr_t addr);
#endif
