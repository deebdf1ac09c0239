/*
 * confidential-ram.c: a QEMU-style host of the guest migration helper's mailbox, protocol
 * "hardened" (mhmailbox docs/hardened.md). An example for implementers and a test of the
 * mhmailbox C kit: `mhmailbox conform --c-host confidential-ram.c --protocol hardened`.
 *
 * Same shared area, fields and commands as the published protocol (docs/protocol.md); what
 * differs, and why:
 *   - go carries a sequence number (u32, never 0, kept across migrations) and the host
 *     accepts only done == that number: a late completion of an older command, or one
 *     nobody asked for, is never taken for this one;
 *   - after a timeout nothing is written to the shared area (parameters, or a load's
 *     header and page) until done shows the timed-out number, waited for within the next
 *     operation's own deadline: a helper still serving the old command is never handed
 *     torn parameters or a page it is about to overwrite;
 *   - a read barrier after done == seq, before ret and the response (weakly ordered CPUs);
 *   - hdr.len is read once into private memory, checked, and that copy used for the
 *     copy and the emitted length; the header echoes the command (magic, version, cmd,
 *     seq, gpa) and is checked before anything is emitted;
 *   - INIT must succeed before ENCRYPT/DECRYPT, and cleanup forgets it, so the next
 *     migration starts with INIT again.
 * The host never sees plaintext: pages cross sealed by the helpers (AES-256-GCM); the
 * host moves the sealed page and its header and needs no cryptography.
 */
#include "qemu/osdep.h"
#include "cpu.h"
#include "qemu/error-report.h"
#include "qemu/rcu.h"
#include "qemu/timer.h"
#include "exec/memory.h"
#include "migration/qemu-file.h"
#include "confidential-ram.h"

enum mh_cmd { MH_CMD_INIT = 0, MH_CMD_ENCRYPT = 1, MH_CMD_DECRYPT = 2, MH_CMD_RESET = 3 };

/* The shared area: two guest pages at a fixed gpa (published layout, little-endian). */
#define MH_SHARED_GPA 0x820000
#define MH_HEADER_GPA (MH_SHARED_GPA + 0x800)
#define MH_IO_PAGE_GPA (MH_SHARED_GPA + 0x1000)
#define MH_PAGE_SIZE 4096
#define MH_HEADER_MAX 1024

/* How long one command may take, and how many reads of done between two clock reads. */
#define MH_REQUEST_TIMEOUT_NS (100 * 1000 * 1000LL)
#define MH_POLLS_PER_CLOCK_READ 1000

/* The response header the hardened helper writes: magic, version, cmd, seq, flags, gpa,
 * session id, nonce, tag (68 bytes, little-endian); the host checks the echoed part. */
#define MH_RESPONSE_HEADER_LEN 68
#define MH_HDR_MAGIC "MHG1"
#define MH_HDR_VERSION 1

#define MH_TIMED_OUT (-EIO)

typedef struct QEMU_PACKED MhParams {
    uint64_t cmd_type;
    uint64_t gpa;
    int32_t prefetch;
    int32_t ret;
    int32_t go;
    int32_t done;
} MhParams;

typedef struct QEMU_PACKED MhHeader {
    uint32_t len;
    uint8_t data[];
} MhHeader;

typedef struct MhHost {
    volatile MhParams *params;
    volatile MhHeader *header;
    volatile uint8_t *io_page;
    bool initialized;
    uint32_t seq;          /* the last sequence number published (0: none yet) */
    bool pending;          /* a command timed out and has not been seen done since */
    uint32_t pending_seq;
} MhHost;

/* Process-wide: the sequence numbers go on across migrations of the same QEMU process. */
static MhHost mh;

void cgs_mh_init(void)
{
    RCU_READ_LOCK_GUARD();
    mh.params = qemu_map_ram_ptr(NULL, MH_SHARED_GPA);
    mh.header = qemu_map_ram_ptr(NULL, MH_HEADER_GPA);
    mh.io_page = qemu_map_ram_ptr(NULL, MH_IO_PAGE_GPA);
}

static int64_t mh_deadline(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + MH_REQUEST_TIMEOUT_NS;
}

/* Poll done until it is want or the deadline passes; the clock is read after each burst,
 * and once past the deadline done is read one last time. */
static bool mh_wait_done(uint32_t want, int64_t deadline)
{
    for (;;) {
        for (int i = 0; i < MH_POLLS_PER_CLOCK_READ; i++) {
            if ((uint32_t)mh.params->done == want) {
                return true;
            }
        }
        if (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) >= deadline) {
            return (uint32_t)mh.params->done == want;
        }
    }
}

/* Before the host writes anything to the shared area: wait out a timed-out command. */
static bool mh_quiesce(int64_t deadline)
{
    if (!mh.pending) {
        return true;
    }
    if (!mh_wait_done(mh.pending_seq, deadline)) {
        error_report("confidential-ram: the helper is still serving command %" PRIu32
                     " that timed out; nothing written", mh.pending_seq);
        return false;
    }
    mh.pending = false;
    return true;
}

/* Publish one command and wait for its completion: its ret, or MH_TIMED_OUT. */
static int mh_send(uint64_t cmd, uint64_t gpa, int64_t deadline, uint32_t *seq_out)
{
    volatile MhParams *p = mh.params;

    if (!mh_quiesce(deadline)) {
        return MH_TIMED_OUT;
    }
    mh.seq = mh.seq == UINT32_MAX ? 1 : mh.seq + 1;
    p->cmd_type = cmd;
    p->gpa = gpa;
    p->prefetch = 0;
    p->ret = -1;
    smp_wmb(); /* the parameters before go */
    p->go = (int32_t)mh.seq;
    if (seq_out) {
        *seq_out = mh.seq;
    }
    if (!mh_wait_done(mh.seq, deadline)) {
        mh.pending = true;
        mh.pending_seq = mh.seq;
        error_report("confidential-ram: command %" PRIu64 " (seq %" PRIu32 ") timed out for gpa 0x%" PRIx64,
                     cmd, mh.seq, gpa);
        return MH_TIMED_OUT;
    }
    smp_rmb(); /* done == seq before ret and the response */
    return p->ret;
}

/* INIT unless this migration has had one that succeeded; false (nothing else to do) if it fails. */
static bool mh_init_if_needed(void)
{
    if (mh.initialized) {
        return true;
    }
    int ret = mh_send(MH_CMD_INIT, 0, mh_deadline(), NULL);
    if (ret != 0) {
        error_report("confidential-ram: migration helper INIT failed (ret %d)", ret);
        return false;
    }
    mh.initialized = true;
    return true;
}

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t le64(const uint8_t *b)
{
    return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

/* Does the (private copy of the) header answer ENCRYPT seq of gpa? */
static bool mh_header_echoes(const uint8_t *h, uint32_t len, uint32_t seq, uint64_t gpa)
{
    return len == MH_RESPONSE_HEADER_LEN && memcmp(h, MH_HDR_MAGIC, 4) == 0 &&
           (h[4] | h[5] << 8) == MH_HDR_VERSION && (h[6] | h[7] << 8) == MH_CMD_ENCRYPT &&
           le32(h + 8) == seq && le32(h + 12) == 0 && le64(h + 16) == gpa;
}

int cgs_mh_save_encrypted_page(QEMUFile *f, ram_addr_t src_gpa, uint32_t size, uint64_t *bytes_sent)
{
    uint8_t header[MH_HEADER_MAX];
    uint8_t page[MH_PAGE_SIZE];
    uint32_t seq = 0;

    if (size != MH_PAGE_SIZE) {
        error_report("confidential-ram: page size %" PRIu32 ", expected %d", size, MH_PAGE_SIZE);
        return -EINVAL;
    }
    if (!mh_init_if_needed()) {
        return -1;
    }
    int ret = mh_send(MH_CMD_ENCRYPT, src_gpa, mh_deadline(), &seq);
    if (ret != 0) {
        error_report("confidential-ram: ENCRYPT of gpa 0x%" PRIx64 " failed (ret %d)", (uint64_t)src_gpa, ret);
        return -1;
    }

    /* One read of the length; everything after uses this private copy. */
    uint32_t len = mh.header->len;
    if (len > MH_HEADER_MAX) {
        error_report("confidential-ram: response header too large (len=%" PRIu32 ")", len);
        return -EINVAL;
    }
    memcpy(header, (const uint8_t *)mh.header->data, len);
    memcpy(page, (const uint8_t *)mh.io_page, MH_PAGE_SIZE);
    if (!mh_header_echoes(header, len, seq, src_gpa)) {
        error_report("confidential-ram: response header (len %" PRIu32 ") does not answer ENCRYPT seq %" PRIu32
                     " of gpa 0x%" PRIx64, len, seq, (uint64_t)src_gpa);
        return -EINVAL;
    }

    qemu_put_be32(f, len);
    qemu_put_buffer(f, header, len);
    qemu_put_be32(f, MH_PAGE_SIZE);
    qemu_put_buffer(f, page, MH_PAGE_SIZE);
    *bytes_sent = 4 + len + 4 + MH_PAGE_SIZE;
    return 0;
}

int cgs_mh_load_encrypted_page(QEMUFile *f, ram_addr_t dst_gpa)
{
    uint8_t header[MH_HEADER_MAX];
    uint8_t page[MH_PAGE_SIZE];

    if (!mh_init_if_needed()) {
        return -1;
    }
    int64_t deadline = mh_deadline(); /* shared by the wait for a timed-out command and DECRYPT */

    uint32_t len = qemu_get_be32(f);
    if (len > MH_HEADER_MAX) {
        error_report("confidential-ram: header length %" PRIu32 " in the stream is over %d", len, MH_HEADER_MAX);
        return -EINVAL;
    }
    if (qemu_get_buffer(f, header, len) != len) {
        error_report("confidential-ram: the stream ends inside a page header");
        return -EINVAL;
    }
    uint32_t size = qemu_get_be32(f);
    if (size != MH_PAGE_SIZE || qemu_get_buffer(f, page, MH_PAGE_SIZE) != MH_PAGE_SIZE) {
        error_report("confidential-ram: bad page in the stream (length %" PRIu32 ")", size);
        return -EINVAL;
    }

    if (!mh_quiesce(deadline)) {
        return MH_TIMED_OUT;
    }
    mh.header->len = len;
    if (len) {
        memcpy((uint8_t *)mh.header->data, header, len);
    }
    memcpy((uint8_t *)mh.io_page, page, MH_PAGE_SIZE);

    int ret = mh_send(MH_CMD_DECRYPT, dst_gpa, deadline, NULL);
    if (ret != 0) {
        error_report("confidential-ram: DECRYPT to gpa 0x%" PRIx64 " failed (ret %d%s)", (uint64_t)dst_gpa, ret,
                     ret == -2 ? ": authentication" : "");
        return -1;
    }
    return 0;
}

void cgs_mh_cleanup(void)
{
    int ret = mh_send(MH_CMD_RESET, 0, mh_deadline(), NULL);
    mh.initialized = false; /* the next migration sends INIT again */
    if (ret != 0) {
        error_report("confidential-ram: migration helper RESET failed (ret %d)", ret);
    }
}
