"""What the C kit tests share: where the published host file is, and skips with a reason."""
from __future__ import annotations

import os
import shutil

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLISHED_DIR = os.path.join(os.path.dirname(REPO), "shared", "reference", "qemu-rfc")
PUBLISHED = os.path.join(PUBLISHED_DIR, "confidential-ram.c")

needs_cc = pytest.mark.skipif(shutil.which(os.environ.get("CC") or "gcc") is None and shutil.which("clang") is None,
                              reason="no C compiler (gcc or clang) on PATH: the C kit cannot build anything here")
needs_published = pytest.mark.skipif(
    not os.path.isfile(PUBLISHED),
    reason=f"the published QEMU host file is not at {PUBLISHED} (the reference files beside the repository, "
           "../shared/reference/qemu-rfc/, are absent here); it is never copied into the repository")

#: A small QEMU-style host of the published protocol (written for these tests), with one fault
#: chosen by ``#define FAULT``: 0 none, 1 a wild store (SIGSEGV), 2 abort(), 3 a wait for a done
#: value the helper never writes (no clock read: never ends), 4 a wait that reads the clock and
#: ignores it, 5 a loop that touches nothing shared. The fault strikes in a save, after INIT.
#: ``COPY_WITH_MEMCPY 1`` copies the io page with memcpy before emitting it.
TINY_HOST = r"""
#include "qemu/osdep.h"
#include "exec/cpu-common.h"
#include "qemu/timer.h"
#include "qemu/error-report.h"
#include "qemu-file.h"

#define FAULT 0
#define COPY_WITH_MEMCPY 0

struct QEMU_PACKED params { uint64_t cmd_type, gpa; int32_t prefetch, ret, go, done; };
struct QEMU_PACKED header { uint32_t len; uint8_t data[]; };
static volatile struct params *p;
static struct header *hdr;
static uint8_t *io;
static bool initialized;

void cgs_mh_init(void)
{
    p = qemu_map_ram_ptr(NULL, 0x820000);
    hdr = qemu_map_ram_ptr(NULL, 0x820800);
    io = qemu_map_ram_ptr(NULL, 0x821000);
}

static int send(uint64_t cmd, uint64_t gpa)
{
    p->cmd_type = cmd;
    p->gpa = gpa;
    p->prefetch = 0;
    p->ret = -1;
    p->done = 0;
    smp_wmb();
    p->go = 1;
    int64_t end = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + 100000000;
    do {
        for (int i = 0; i < 1000 && !p->done; i++) {
        }
    } while (!p->done && qemu_clock_get_ns(QEMU_CLOCK_REALTIME) < end);
    if (!p->done) {
        error_report("timed out");
        return -5;
    }
    return p->ret;
}

int cgs_mh_save_encrypted_page(QEMUFile *f, ram_addr_t gpa, uint32_t size, uint64_t *sent)
{
    if (!initialized && send(0, 0) == 0)
        initialized = true;
    if (FAULT == 1)
        *(volatile int *)16 = 1;
    if (FAULT == 2) {
        fprintf(stderr, "tiny-host: giving up\n");
        abort();
    }
    if (FAULT == 3)
        while (p->done != 2) {
        }
    if (FAULT == 4)
        while (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) > 0 && p->done != 2) {
        }
    if (FAULT == 5)
        for (volatile int i = 0;; i++) {
        }
    if (send(1, gpa))
        return -1;
    uint32_t n = hdr->len;
    if (n > 1024)
        return -22;
    qemu_put_be32(f, n);
    qemu_put_buffer(f, hdr->data, n);
    qemu_put_be32(f, size);
    if (COPY_WITH_MEMCPY) {
        static uint8_t page[4096];
        memcpy(page, io, size);
        qemu_put_buffer(f, page, size);
    } else {
        qemu_put_buffer(f, io, size);
    }
    *sent = 8 + n + size;
    return 0;
}

void cgs_mh_cleanup(void)
{
    send(3, 0);
}
"""


def write_tiny_host(tmp_path) -> str:
    path = tmp_path / "tiny-host.c"
    path.write_text(TINY_HOST)
    return str(path)


def _crypto_missing() -> str | None:
    """Why the kit cannot give a helper BaseCryptLib here (no C compiler, or no libcrypto headers)."""
    from mhmailbox.conformance.ckit.build import crypto_missing
    from mhmailbox.errors import UsageError

    try:
        return crypto_missing()
    except UsageError as e:
        return str(e)


needs_crypto = pytest.mark.skipif(
    _crypto_missing() is not None,
    reason=f"the C kit cannot build BaseCryptLib for a helper here (OpenSSL's libcrypto development files, "
           f"libssl-dev, are missing: {_crypto_missing()})")
HARDENED_HELPER = os.path.join(REPO, "examples", "c", "hardened-helper", "ConfidentialMigrationHardened.c")
RFC_HELPER = os.path.join(REPO, "examples", "c", "rfc-helper", "ConfidentialMigrationRfc.c")
