/* Stand-in for QEMU's qemu/osdep.h (mhmailbox conformance kit): the usual C headers,
 * QEMU_PACKED, and the barriers as events the suite sees. */
#ifndef MHKIT_QEMU_OSDEP_H
#define MHKIT_QEMU_OSDEP_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "mhkit.h"

#ifndef QEMU_PACKED
#define QEMU_PACKED __attribute__((packed))
#endif
#define QEMU_ALIGNED(x) __attribute__((aligned(x)))
#define QEMU_NORETURN __attribute__((noreturn))
#define G_GNUC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" ::: "memory")
#define smp_wmb() mhkit_barrier(MHKIT_WMB)
#define smp_rmb() mhkit_barrier(MHKIT_RMB)
#define smp_mb() mhkit_barrier(MHKIT_MB)
#define smp_mb_release() mhkit_barrier(MHKIT_WMB)
#define smp_mb_acquire() mhkit_barrier(MHKIT_RMB)
#define qatomic_read(p) (*(volatile __typeof__(*(p)) *)(p))
#define qatomic_set(p, v) ((*(volatile __typeof__(*(p)) *)(p)) = (v))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

#endif
