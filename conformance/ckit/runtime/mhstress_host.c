/*
 * mhstress_host.c: the stress runtime for C code (`mhmailbox stress --c-host`, `--c-guest`).
 *
 * The same instrumentation as the kit's runtime (mhkit_runtime.c: the file is compiled with
 * -fsanitize=thread -fno-builtin and linked against this file instead of the sanitizer's
 * library), but no suite in the loop: an access to the shared area takes the run's lock,
 * is numbered and logged (mhstress_core.c), and the C code goes straight on, against a peer
 * that runs at the same time in another process on the same mapping. The lock is held from
 * an access to this process's next one (so the value logged for a write is the value it
 * wrote, and the value logged for a read the value the code read) and handed over at each
 * access, after a random short spin: the windows a peer can act in. A run of polls (the
 * same read again, finding what it found) hands it over every 256th read only, and past
 * 65536 reads every 65536th (a handover waits for the peer, which may be waiting for a CPU),
 * so that a busy loop of 10^8 polls costs a fraction of a second, and is logged once.
 *
 * A helper (MHS_RAM_TOP set: guest_main below) runs its loop until the run is stopped.
 * A host's main() runs the operations MHS_OPS names ("s65536 c ..."; s: save that gpa, c: cleanup),
 * each between an OP and a RESULT record, then exits. The clock is the real one
 * (CLOCK_MONOTONIC). The stream items (qemu_put_*) are logged as PUT records: the record
 * the host emitted. A read reaching more than 1 MiB past the shared area is logged as a
 * fault and the process kills itself with SIGSEGV, as a real host would die.
 */
#include "mhstress_core.c"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#define SHARED_GPA 0x820000ULL
#define GUARD_SIZE (1ULL << 20)
#define RAM_SIZE (SHARED_GPA + MHS_SHARED_SIZE)
enum { PUT_BUFFER = 0, PUT_BE32 = 1, PUT_BE64 = 2, PUT_BYTE = 3 };
enum { OP_INIT = 1, OP_SAVE = 2, OP_LOAD = 3, OP_CLEANUP = 4 };
enum { EV_READ = 1, EV_WRITE = 2 };  /* access_at's kinds (mhkit_tsan.c) */

static uint8_t *ram;
static uint32_t poll_streak;  /* polls since the lock was last handed over */

static inline int64_t shared_off(const void *p)
{
    uint64_t d = (uintptr_t)p - (uintptr_t)mb;
    return mb && d < MHS_SHARED_SIZE + GUARD_SIZE ? (int64_t)d : -1;
}

static void die_faulted(void)
{
    mhs_release();
    mhs_flush();
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);  /* a real host would have read unmapped memory */
}

/* The next access: hand the lock over (after the random spin), take it back. A helper's loop
 * never ends by itself: it ends here once the run is stopped. */
static void next_access(void)
{
    if (mhs_stopped()) {
        mhs_release();
        mhs_flush();
        _exit(0);
    }
    mhs_release();
    if (mhs_acquire()) {  /* the run was stopped while we waited */
        mhs_flush();
        _exit(0);
    }
}

/* A poll with the lock held: keep it, but for every 256th (past 65536 polls, every 65536th). */
static inline int keep_holding(void)
{
    poll_streak++;
    return (poll_streak & (poll_streak < 65536 ? 255u : 65535u)) != 0;
}

static void access_at(int kind, const void *p, uint64_t n)
{
    int64_t off = shared_off(p);
    if (off < 0)
        return;
    int write = kind == EV_WRITE;
    if (!write && held && last_read && (repeats >= MHS_LOGGED_REPEATS || last_off == poll_off) && last_off == (uint64_t)off && last_len == n
        && keep_holding()) {
        folded++;  /* a poll, with the lock held since the last one: nothing can have changed */
        return;
    }
    next_access();
    if (write) {
        mhs_write_locked((uint64_t)off, n);
        return;
    }
    uint8_t small[8], *d = n <= sizeof small ? small : malloc(n);
    if (!d)
        abort();
    if (mhs_read_locked((uint64_t)off, n, d) < 0)
        die_faulted();
    if (d != small)
        free(d);
}

/* ------------------------------------------------------------------ -fsanitize=thread entry points */
#include "mhkit_tsan.c"

void mhkit_barrier(int kind)
{
    next_access();
    mhs_barrier_locked((uint32_t)kind);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}


/* ------------------------------------------------------------------ copies that log shared ranges */
static void copy_bytes(uint8_t *d, const uint8_t *s, size_t n)
{
    if (d <= s || d >= s + n) {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    } else {
        for (size_t i = n; i-- > 0;)
            d[i] = s[i];
    }
}

void *memmove(void *dst, const void *src, size_t n)
{
    int64_t so = shared_off(src), dof = shared_off(dst);
    if (so < 0 && dof < 0) {
        copy_bytes(dst, src, n);
        return dst;
    }
    next_access();
    if (so >= 0) {
        uint8_t *tmp = dof >= 0 ? malloc(n ? n : 1) : dst;
        if (!tmp)
            abort();
        if (mhs_read_locked((uint64_t)so, n, tmp) < 0)
            die_faulted();
        if (dof >= 0) {
            mhs_write_locked((uint64_t)dof, n);
            copy_bytes(dst, tmp, n);
            free(tmp);
        }
        return dst;
    }
    mhs_write_locked((uint64_t)dof, n);
    copy_bytes(dst, src, n);
    return dst;
}


/* ------------------------------------------------------------------ QEMU stand-ins (and mhkit_qemu_standins.c) */
int64_t mhkit_clock_ns(void)
{
    uint64_t t = mhs_now_ns();
    mhs_mark(MHS_CLOCK, 0, t, 0, NULL, 0);
    return (int64_t)t;
}

void error_report(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    mhs_mark(MHS_ERROR, 0, 0, (uint64_t)n, (const uint8_t *)msg, (uint64_t)n);
}

static void put_private(uint32_t kind, const void *p, size_t n) { mhs_mark(MHS_PUT, kind, 0, n, p, n); }

#include "mhkit_qemu_standins.c"

void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size)
{
    (void)f;
    int64_t off = shared_off(buf);
    if (off < 0) {
        put_private(PUT_BUFFER, buf, size);
        return;
    }
    uint8_t *tmp = malloc(size ? size : 1);
    if (!tmp)
        abort();
    next_access();
    if (mhs_read_locked((uint64_t)off, size, tmp) < 0)
        die_faulted();
    put_private(PUT_BUFFER, tmp, size);
    free(tmp);
}

/* No stream to load from in a stress run: loads are not drawn (gets read zeros). */
size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size) { (void)f; (void)buf; (void)size; return 0; }
unsigned int qemu_get_be32(QEMUFile *f) { (void)f; return 0; }
uint64_t qemu_get_be64(QEMUFile *f) { (void)f; return 0; }
int qemu_get_byte(QEMUFile *f) { (void)f; return 0; }
int qemu_file_get_error(QEMUFile *f) { (void)f; return 0; }

/* ------------------------------------------------------------------ the operations */
void cgs_mh_init(void) __attribute__((weak));
void cgs_mh_cleanup(void) __attribute__((weak));
int cgs_mh_save_encrypted_page(QEMUFile *f, uint64_t gpa, uint32_t size, uint64_t *bytes_sent) __attribute__((weak));
int cgs_mh_load_encrypted_page(QEMUFile *f, uint64_t gpa) __attribute__((weak));

static QEMUFile *const the_stream = (QEMUFile *)&ram;  /* any non-NULL handle */

/* Stopped from outside (a run that took too long): what was logged is kept. */
static void on_term(int sig)
{
    (void)sig;
    mhs_flush();
    _exit(124);
}

/* A crash (a wild pointer, a failed assert): what was logged up to it is kept, then the
 * process dies of the same signal. Records are appended whole, so the flush is consistent. */
static void on_crash(int sig)
{
    mhs_flush();
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    return s ? strtoull(s, NULL, 0) : dflt;
}

/* ------------------------------------------------------------------ a helper (MHS_RAM_TOP set) */
/* Guest RAM at its own gpas (MHS_RAM_LO to MHS_RAM_TOP, private: no host can touch it), filled
 * from the run's seed; the gpas up to the mailbox unbacked (zeros); the mailbox at SHARED_GPA.
 * The pages a save reads are logged (RAM records) so that a plaintext copy is recognised. The
 * control page's ready word is set at the helper's first shared access (the host waits for it:
 * an rfc helper clears go when it boots). */
uint64_t _gPcd_PcdConfidentialMigrationGuestRamSize;  /* PcdGet64 of the EDK2 stand-ins */
int mhkit_guest_entry(void) __attribute__((weak));
static uint8_t provision[48];
static int provisioned;

int mhkit_provision(uint8_t *key, uint8_t *sid)
{
    if (!provisioned)
        return -1;
    copy_bytes(key, provision, 32);
    copy_bytes(sid, provision + 32, 16);
    return 0;
}

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

static int guest_main(uint64_t seed, const char *log_pages)
{
    uint64_t lo = strtoull(getenv("MHS_RAM_LO"), NULL, 0), top = strtoull(getenv("MHS_RAM_TOP"), NULL, 0);
    const char *prov = getenv("MHS_PROVISION");
    if (!mhkit_guest_entry) {
        fprintf(stderr, "mhstress: not a helper build\n");
        return 2;
    }
    if (prov && strlen(prov) == 96) {
        for (int i = 0; i < 48; i++)
            provision[i] = (uint8_t)(hexval(prov[2 * i]) << 4 | hexval(prov[2 * i + 1]));
        provisioned = 1;
    }
    void *r = mmap((void *)(uintptr_t)lo, top - lo, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    void *u = mmap((void *)(uintptr_t)top, SHARED_GPA - top, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (r != (void *)(uintptr_t)lo || u != (void *)(uintptr_t)top) {
        fprintf(stderr, "mhstress: cannot map guest memory at its gpas\n");
        return 3;
    }
    if (!mhs_attach((int)env_u64("MHS_MAP_FD", 0), (void *)(uintptr_t)SHARED_GPA, (int)env_u64("MHS_LOG_FD", 0), 1,
                    seed, (uint32_t)env_u64("MHS_DELAY_PCT", 0), (uint32_t)env_u64("MHS_DELAY_NS", 0)))
        return 3;
    for (uint8_t *b = r; b < (uint8_t *)(uintptr_t)top; b++)
        *b = (uint8_t)rng();
    for (const char *p = log_pages; p && *p;) {
        uint64_t gpa = strtoull(p, (char **)&p, 0);
        while (*p == ' ')
            p++;
        if (gpa >= lo && gpa + 4096 <= top)
            mhs_mark(MHS_RAM, 0, gpa, 4096, (const uint8_t *)(uintptr_t)gpa, 4096);
    }
    _gPcd_PcdConfidentialMigrationGuestRamSize = top;
    int ret = mhkit_guest_entry();  /* a helper's loop never returns */
    mhs_release();
    mhs_mark(MHS_RESULT, (uint32_t)ret, 0, 0, NULL, 0);
    mhs_flush();
    return 5;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--entries") == 0) {  /* what the file defines (the kit's build asks) */
        printf("%s%s%s%s\n", cgs_mh_init ? "init " : "", cgs_mh_save_encrypted_page ? "save " : "",
               cgs_mh_load_encrypted_page ? "load " : "", cgs_mh_cleanup ? "cleanup" : "");
        return 0;
    }
    const char *ops = getenv("MHS_OPS");
    if ((!ops && !getenv("MHS_RAM_TOP")) || !getenv("MHS_MAP_FD") || !getenv("MHS_LOG_FD")) {
        fprintf(stderr, "mhstress: run by `mhmailbox stress` only (MHS_* unset)\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGTERM, on_term);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGABRT, on_crash);
    if (getenv("MHS_RAM_TOP"))
        return guest_main(env_u64("MHS_SEED", 1), getenv("MHS_RAM_PAGES"));
    size_t span = RAM_SIZE + GUARD_SIZE;
    ram = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        return 3;
    if (!mhs_attach((int)env_u64("MHS_MAP_FD", 0), ram + SHARED_GPA, (int)env_u64("MHS_LOG_FD", 0), 0,
                    env_u64("MHS_SEED", 1), (uint32_t)env_u64("MHS_DELAY_PCT", 0),
                    (uint32_t)env_u64("MHS_DELAY_NS", 0)))
        return 3;
    mprotect(ram + RAM_SIZE, GUARD_SIZE, PROT_NONE);
    if (cgs_mh_init)
        cgs_mh_init();
    for (const char *p = ops; *p && !mhs_stopped();) {
        char op = *p++;
        uint64_t gpa = strtoull(p, (char **)&p, 0);
        while (*p == ' ' || *p == ',')
            p++;
        int64_t ret = 0;
        uint64_t sent = 0;
        uint32_t code = op == 's' ? OP_SAVE : op == 'c' ? OP_CLEANUP : 0;
        if (!code || (code == OP_SAVE && !cgs_mh_save_encrypted_page) || (code == OP_CLEANUP && !cgs_mh_cleanup))
            continue;
        mhs_mark(MHS_OP, code, gpa, 0, NULL, 0);
        if (code == OP_SAVE)
            ret = cgs_mh_save_encrypted_page(the_stream, gpa, 4096, &sent);
        else
            cgs_mh_cleanup();
        mhs_release();
        mhs_mark(MHS_RESULT, (uint32_t)ret, sent, 0, NULL, 0);
    }
    mhs_release();
    mhs_flush();
    return 0;
}
