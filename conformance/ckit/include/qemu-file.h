/* Stand-in for QEMU's migration/qemu-file.h: the stream is the record the suite reads
 * (save: be32 header length, header, be32 page size, page; load: the same, read back). */
#ifndef MHKIT_QEMU_FILE_H
#define MHKIT_QEMU_FILE_H
#include "qemu/osdep.h"
typedef struct QEMUFile QEMUFile;
void qemu_put_be32(QEMUFile *f, unsigned int v);
void qemu_put_be64(QEMUFile *f, uint64_t v);
void qemu_put_byte(QEMUFile *f, int v);
void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size);
unsigned int qemu_get_be32(QEMUFile *f);
uint64_t qemu_get_be64(QEMUFile *f);
int qemu_get_byte(QEMUFile *f);
size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size);
int qemu_file_get_error(QEMUFile *f);
#endif
