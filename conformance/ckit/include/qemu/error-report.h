/* Stand-in for QEMU's qemu/error-report.h: each report is an event the suite records
 * (a void operation that reports an error is taken as failed). */
#ifndef MHKIT_QEMU_ERROR_REPORT_H
#define MHKIT_QEMU_ERROR_REPORT_H
#include "qemu/osdep.h"
void error_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void info_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
