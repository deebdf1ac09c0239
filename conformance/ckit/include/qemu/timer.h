/* Stand-in for QEMU's qemu/timer.h: every clock is the suite's virtual clock. */
#ifndef MHKIT_QEMU_TIMER_H
#define MHKIT_QEMU_TIMER_H
#include "qemu/osdep.h"
typedef enum {
    QEMU_CLOCK_REALTIME = 0,
    QEMU_CLOCK_VIRTUAL = 1,
    QEMU_CLOCK_HOST = 2,
    QEMU_CLOCK_VIRTUAL_RT = 3,
    QEMU_CLOCK_MAX
} QEMUClockType;
int64_t qemu_clock_get_ns(QEMUClockType type);
static inline int64_t qemu_clock_get_ms(QEMUClockType type) { return qemu_clock_get_ns(type) / 1000000; }
static inline int64_t qemu_clock_get_us(QEMUClockType type) { return qemu_clock_get_ns(type) / 1000; }
#endif
