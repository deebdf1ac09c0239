/*
 * confidential-ram.h: the host side of the guest migration helper's mailbox (hardened protocol).
 * The entry points a QEMU-style migration calls; mhmailbox's C kit calls the same ones.
 */
#ifndef CONFIDENTIAL_RAM_H
#define CONFIDENTIAL_RAM_H

#include "exec/cpu-common.h"
#include "qemu-file.h"

void cgs_mh_init(void);
int cgs_mh_save_encrypted_page(QEMUFile *f, ram_addr_t src_gpa, uint32_t size, uint64_t *bytes_sent);
int cgs_mh_load_encrypted_page(QEMUFile *f, ram_addr_t dst_gpa);
void cgs_mh_cleanup(void);

#endif
