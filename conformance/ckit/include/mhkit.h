/*
 * mhkit.h: what the conformance kit's runtime gives C code under test.
 *
 * The stand-in QEMU headers map QEMU's names onto these. Every call here is an event the
 * conformance suite sees (a barrier, a clock read, a record item, an error report); loads
 * and stores to the shared area are seen through the compiler's -fsanitize=thread calls.
 */
#ifndef MHKIT_H
#define MHKIT_H

#include <stddef.h>
#include <stdint.h>

enum mhkit_barrier_kind { MHKIT_WMB = 1, MHKIT_RMB = 2, MHKIT_MB = 3 };

/* A memory barrier: an event the suite checks the placement of (host/barriers). */
void mhkit_barrier(int kind);
/* The suite's virtual clock, in nanoseconds. */
int64_t mhkit_clock_ns(void);
/* Guest RAM as the host maps it: the shared area sits at its own gpa (0x820000). */
void *mhkit_map_gpa(uint64_t gpa);

#endif
