/*
 * mhstress_host.c: the stress runtime for a C host (`mhmailbox stress --c-host`).
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
 * main() runs the operations MHS_OPS names ("s65536 c ..."; s: save that gpa, c: cleanup),
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

/* The next access: hand the lock over (after the random spin), take it back. */
static void next_access(void)
{
    mhs_release();
    if (mhs_acquire()) {  /* the run was stopped while we waited */
        mhs_flush();
        _exit(0);
    }
}

static void access_at(int write, const void *p, uint64_t n)
{
    int64_t off = shared_off(p);
    if (off < 0)
        return;
    if (!write && held && last_read && (repeats >= MHS_LOGGED_REPEATS || last_off == poll_off) && last_off == (uint64_t)off && last_len == n
        && (++poll_streak & (poll_streak < 65536 ? 255u : 65535u))) {
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
void __tsan_init(void) {}
void __tsan_func_entry(void *pc) { (void)pc; }
void __tsan_func_exit(void) {}
void __tsan_vptr_update(void **p, void *v) { (void)p; (void)v; }
void __tsan_vptr_read(void **p) { (void)p; }
void __tsan_read_range(void *p, unsigned long n) { access_at(0, p, n); }
void __tsan_write_range(void *p, unsigned long n) { access_at(1, p, n); }

#define SIZED(N)                                                                      \
    void __tsan_read##N(void *p) { access_at(0, p, N); }                             \
    void __tsan_write##N(void *p) { access_at(1, p, N); }                            \
    void __tsan_unaligned_read##N(void *p) { access_at(0, p, N); }                   \
    void __tsan_unaligned_write##N(void *p) { access_at(1, p, N); }                  \
    void __tsan_volatile_read##N(void *p) { access_at(0, p, N); }                    \
    void __tsan_volatile_write##N(void *p) { access_at(1, p, N); }                   \
    void __tsan_unaligned_volatile_read##N(void *p) { access_at(0, p, N); }          \
    void __tsan_unaligned_volatile_write##N(void *p) { access_at(1, p, N); }         \
    void __tsan_read##N##_pc(void *p, void *pc) { (void)pc; access_at(0, p, N); }    \
    void __tsan_write##N##_pc(void *p, void *pc) { (void)pc; access_at(1, p, N); }
SIZED(1)
SIZED(2)
SIZED(4)
SIZED(8)
SIZED(16)

void mhkit_barrier(int kind)
{
    next_access();
    mhs_barrier_locked((uint32_t)kind);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void __tsan_atomic_thread_fence(int mo)
{
    if (mo != 0)  /* 3 release: wmb; 1, 2 consume/acquire: rmb; else mb */
        mhkit_barrier(mo == 3 ? 1 : (mo == 1 || mo == 2) ? 2 : 3);
}
void __tsan_atomic_signal_fence(int mo) { (void)mo; }

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

void *memcpy(void *dst, const void *src, size_t n) { return memmove(dst, src, n); }

void *memset(void *dst, int c, size_t n)
{
    access_at(1, dst, n);
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    access_at(0, a, n);
    access_at(0, b, n);
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

int bcmp(const void *a, const void *b, size_t n) { return memcmp(a, b, n); }

/* ------------------------------------------------------------------ QEMU stand-ins */
typedef struct QEMUFile QEMUFile;
typedef struct RAMBlock RAMBlock;

void *mhkit_map_gpa(uint64_t gpa) { return gpa < RAM_SIZE ? ram + gpa : NULL; }
void *qemu_map_ram_ptr(RAMBlock *block, uint64_t addr) { (void)block; return mhkit_map_gpa(addr); }

int64_t mhkit_clock_ns(void)
{
    uint64_t t = mhs_now_ns();
    mhs_mark(MHS_CLOCK, 0, t, 0, NULL, 0);
    return (int64_t)t;
}
int64_t qemu_clock_get_ns(int type) { (void)type; return mhkit_clock_ns(); }

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
void warn_report(const char *fmt, ...) { (void)fmt; }
void info_report(const char *fmt, ...) { (void)fmt; }

static void put_private(uint32_t kind, const void *p, size_t n) { mhs_mark(MHS_PUT, kind, 0, n, p, n); }

#include "mhkit_qemu_put.c"

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

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    return s ? strtoull(s, NULL, 0) : dflt;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--entries") == 0) {  /* what the file defines (the kit's build asks) */
        printf("%s%s%s%s\n", cgs_mh_init ? "init " : "", cgs_mh_save_encrypted_page ? "save " : "",
               cgs_mh_load_encrypted_page ? "load " : "", cgs_mh_cleanup ? "cleanup" : "");
        return 0;
    }
    const char *ops = getenv("MHS_OPS");
    if (!ops || !getenv("MHS_MAP_FD") || !getenv("MHS_LOG_FD")) {
        fprintf(stderr, "mhstress: run by `mhmailbox stress` only (MHS_* unset)\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    size_t span = RAM_SIZE + GUARD_SIZE;
    ram = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        return 3;
    if (!mhs_attach((int)env_u64("MHS_MAP_FD", 0), ram + SHARED_GPA, (int)env_u64("MHS_LOG_FD", 0), 0,
                    env_u64("MHS_SEED", 1), (uint32_t)env_u64("MHS_DELAY_PCT", 0),
                    (uint32_t)env_u64("MHS_DELAY_NS", 0)))
        return 3;
    mprotect(ram + RAM_SIZE, GUARD_SIZE, PROT_NONE);
    signal(SIGTERM, on_term);
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
