/* Stand-in for QEMU's cpu.h (mhmailbox conformance kit). */
#ifndef MHKIT_CPU_H
#define MHKIT_CPU_H
#include "qemu/osdep.h"
#include "exec/cpu-common.h"
#endif
