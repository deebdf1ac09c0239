/*
 * mhkit_runtime.c: the conformance kit's runtime for C code under test.
 *
 * The user's file is compiled with -fsanitize=thread, which puts a call before every load
 * and store (packed and volatile ones included), and linked against this file instead of
 * the sanitizer's library. Accesses that fall in the shared area (and up to 1 MiB past it,
 * so an overrun is reported with its true offset) become scheduling points: the access is
 * sent to the suite as an event; every other access returns at once. A read (and a clock
 * read, a record read from the stream) blocks until the suite answers, and the suite puts
 * its mailbox bytes into the shared mapping before it answers. A write or a barrier does
 * not wait: nothing the process can see changes before its next read, which waits for the
 * suite to have run every event before it in order; a write's value (known once it is
 * done) goes with the next event. Nor does a read the suite lets run ahead: its answer to
 * the last read waited on says how many accesses no peer action comes before (a helper's
 * scripted host acts only at given access numbers); those reads see the bytes the suite
 * will replay them on, since only this process's own writes change them in between.
 *
 * A fork server (MHKIT_ZYGOTE_FD, fork_server below) forks each process the suite runs,
 * so that the dynamic linking (and OpenSSL's start-up, for a helper) is done once.
 *
 * Polls: in a run of reads of one shared location (offset and length) with nothing else in
 * between, only the first read of the polled field (MHKIT_POLL_OFF, the host's `done`), and
 * the first two of any other location (so that a peer can act between a check and a
 * re-fetch written back to back), are sent to the suite; the rest are not: nothing can change
 * the shared bytes while the process runs between two answers, so they read what the last
 * read sent did. A run of polls (e.g. a 10^8-iteration busy loop) is one access. A run of
 * MHKIT_POLL_LIMIT (10^9) polls is a wait that never ends (nothing can end it): the process
 * says so and the suite stops it.
 *
 * Also here: the QEMU stand-ins' functions (qemu_map_ram_ptr, qemu_clock_get_ns, the
 * record's qemu_put_* / qemu_get_*, error_report), memcpy/memmove/memset/memcmp that
 * report the ranges they touch in the shared area (the user's file is built with
 * -fno-builtin so that its copies call them), and main(): a loop that serves the suite's
 * requests (init, save, load, cleanup) by calling the file's entry points.
 *
 * Built without -fsanitize, with -fno-builtin -fno-tree-loop-distribute-patterns, so that
 * the copies below are not turned back into calls to themselves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ wire with the suite */
enum {
    EV_READ = 1, EV_WRITE = 2, EV_BARRIER = 3, EV_CLOCK = 4, EV_PUT = 5, EV_PUT_SHARED = 6,
    EV_GET = 7, EV_ERROR = 8, EV_RESULT = 9, EV_POLLS = 10, EV_WROTE = 11, EV_SPIN = 12,
    EV_RAM = 13, EV_PROVISION = 14,
};
enum { REQ_INIT = 1, REQ_SAVE = 2, REQ_LOAD = 3, REQ_CLEANUP = 4 };
enum { PUT_BUFFER = 0, PUT_BE32 = 1, PUT_BE64 = 2, PUT_BYTE = 3 };

struct event { uint32_t type, aux; uint64_t off, len, val; };
struct request { uint32_t op, pad; uint64_t gpa, size, pad2; };

#define SHARED_GPA 0x820000ULL
#define SHARED_SIZE 0x2000ULL
#define GUARD_SIZE (1ULL << 20)            /* reported with its true offset, never mapped */
#define RAM_SIZE (SHARED_GPA + SHARED_SIZE) /* guest RAM as the host maps it */
#define HOST_MEMORY_PATTERN "HOSTMEM!"

static int ev_fd = -1, ans_fd = -1;
static uint8_t *ram;             /* gpa 0 .. RAM_SIZE; the shared area is a shared mapping */
static uintptr_t mb_lo;          /* the shared area's first byte */
static uint32_t last_type;       /* the last event sent, for collapsing polls */
static uint64_t last_off, last_len;
static int fold;                 /* the last event was a read whose repeats are not sent */
static uint64_t poll_off = 0x1c;  /* MHKIT_POLL_OFF: the field this side polls (host: done) */
static uint64_t repeats;         /* reads not sent again since the last event sent */
static uint64_t poll_limit = 1000000000ULL;  /* MHKIT_POLL_LIMIT: a longer run never ends */
static int wrote;                /* the last event was a write: its bytes go with the next event */
static uint64_t wrote_off, wrote_len;
static uint64_t nofold_off = ~0ULL;  /* MHKIT_NOFOLD_OFF: never folded (helper: go, where each pass starts) */
static uintptr_t ram_lo;         /* helper: guest RAM the suite mirrors (0 length for a host) */
static uint64_t ram_len;
static int ram_dirty;            /* helper: RAM written since the last event: the suite copies it first */
static uint64_t ahead;           /* accesses the suite lets run without waiting: no scripted peer action
                                    comes before them (its answer to the last read waited on) */

static void die_quietly(void) { _exit(0); }  /* the suite has gone: nothing to report to */

/* All of n bytes to the suite (out) or from it; the suite gone: exit quietly. */
static void xfer(int out, void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        ssize_t k = out ? write(ev_fd, b, n) : read(ans_fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            die_quietly();
        b += k;
        n -= (size_t)k;
    }
}
#define xwrite(p, n) xfer(1, (void *)(p), (n))
#define xread(p, n) xfer(0, (p), (n))

static void send_event(uint32_t type, uint32_t aux, uint64_t off, uint64_t len, uint64_t val,
                       const void *payload, size_t plen)
{
    if (repeats) {  /* say how many polls were folded into the last read (for the report) */
        struct event r = { EV_POLLS, 0, last_off, last_len, repeats };
        repeats = 0;
        xwrite(&r, sizeof r);
    }
    if (wrote) {  /* the value the last write left: known only now that it is done */
        struct event w = { EV_WROTE, 0, wrote_off, wrote_len, 0 };
        wrote = 0;
        xwrite(&w, sizeof w);
        xwrite((const void *)(mb_lo + wrote_off), wrote_len);
    }
    if (ram_dirty) {  /* guest RAM was written: the suite copies it, then answers */
        struct event r = { EV_RAM, 0, 0, 0, 0 };
        uint64_t ok;
        ram_dirty = 0;
        xwrite(&r, sizeof r);
        xread(&ok, sizeof ok);
    }
    if (ahead && (type == EV_READ || type == EV_WRITE || type == EV_BARRIER))
        ahead--;  /* one of the accesses the suite let run */
    struct event e = { type, aux, off, len, val };
    xwrite(&e, sizeof e);
    if (plen)
        xwrite(payload, plen);
    fold = type == EV_READ && !(off == nofold_off && len == 4)
           && ((off == poll_off && len == 4) || (last_type == EV_READ && last_off == off && last_len == len));
    last_type = type;
    last_off = off;
    last_len = len;
}

static uint64_t answer(void)
{
    uint64_t v;
    xread(&v, sizeof v);
    return v;
}

/* Offset of p in the shared area (up to GUARD_SIZE past its end), or -1 for private memory. */
static inline int64_t shared_off(const void *p)
{
    uint64_t d = (uintptr_t)p - mb_lo;
    return d < SHARED_SIZE + GUARD_SIZE ? (int64_t)d : -1;
}

static inline __attribute__((always_inline)) void access_at(uint32_t type, const void *p, uint64_t n)
{
    if (type == EV_READ && fold && (uintptr_t)p == mb_lo + last_off && n == last_len) {
        if (++repeats >= poll_limit) {  /* nothing can change it: this wait never ends */
            send_event(EV_SPIN, 0, last_off, last_len, repeats, NULL, 0);
            answer();  /* the suite stops the process */
        }
        return;  /* a poll: the same read again, nothing in between */
    }
    int64_t off = shared_off(p);
    if (off < 0) {
        if (type == EV_WRITE && (uint64_t)((uintptr_t)p - ram_lo) < ram_len)
            ram_dirty = 1;  /* private to the helper; the suite's copy of RAM follows at the next event */
        return;
    }
    /* A read need not wait when the suite said no peer action comes before it (it replays the
     * read in order, on the same bytes); aux 1 says so. A read of the field where each pass
     * starts (nofold_off), of the polled field (poll_off: a host's done, where its peer runs),
     * or reaching past the shared area, always waits. */
    uint32_t run_on = type == EV_READ && ahead && (uint64_t)off + n <= SHARED_SIZE
                      && !((uint64_t)off == nofold_off && n == 4) && !((uint64_t)off == poll_off && n == 4);
    send_event(type, run_on, (uint64_t)off, n, 0, NULL, 0);
    if (type == EV_WRITE) {  /* no wait: nothing the process reads can change before its next read */
        wrote = 1;
        wrote_off = (uint64_t)off;
        wrote_len = n;
        return;
    }
    if (!run_on)
        ahead = answer();  /* how many accesses from here on may run without waiting */
}

/* ------------------------------------------------------------------ -fsanitize=thread entry points */
#include "mhkit_tsan.c"

void mhkit_barrier(int kind)
{
    send_event(EV_BARRIER, (uint32_t)kind, 0, 0, 0, NULL, 0);  /* no wait, as for a write */
}


/* Atomics: a load is a read, a store a write, a read-modify-write a read then a write. */
#define ATOMICS(N, T)                                                                              \
    T __tsan_atomic##N##_load(const volatile T *a, int mo)                                         \
    { (void)mo; access_at(EV_READ, (const void *)a, N / 8); return __atomic_load_n(a, __ATOMIC_SEQ_CST); } \
    void __tsan_atomic##N##_store(volatile T *a, T v, int mo)                                      \
    { (void)mo; access_at(EV_WRITE, (void *)a, N / 8); __atomic_store_n(a, v, __ATOMIC_SEQ_CST); } \
    static inline void rmw##N(volatile T *a)                                                       \
    { access_at(EV_READ, (void *)a, N / 8); access_at(EV_WRITE, (void *)a, N / 8); }                \
    T __tsan_atomic##N##_exchange(volatile T *a, T v, int mo)                                      \
    { (void)mo; rmw##N(a); return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }                   \
    T __tsan_atomic##N##_fetch_add(volatile T *a, T v, int mo)                                     \
    { (void)mo; rmw##N(a); return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }                    \
    T __tsan_atomic##N##_fetch_sub(volatile T *a, T v, int mo)                                     \
    { (void)mo; rmw##N(a); return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }                    \
    T __tsan_atomic##N##_fetch_and(volatile T *a, T v, int mo)                                     \
    { (void)mo; rmw##N(a); return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }                    \
    T __tsan_atomic##N##_fetch_or(volatile T *a, T v, int mo)                                      \
    { (void)mo; rmw##N(a); return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }                     \
    T __tsan_atomic##N##_fetch_xor(volatile T *a, T v, int mo)                                     \
    { (void)mo; rmw##N(a); return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }                    \
    T __tsan_atomic##N##_fetch_nand(volatile T *a, T v, int mo)                                    \
    { (void)mo; rmw##N(a); return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST); }                   \
    int __tsan_atomic##N##_compare_exchange_strong(volatile T *a, T *c, T v, int mo, int fmo)      \
    { (void)mo; (void)fmo; rmw##N(a);                                                               \
      return __atomic_compare_exchange_n(a, c, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); }        \
    int __tsan_atomic##N##_compare_exchange_weak(volatile T *a, T *c, T v, int mo, int fmo)        \
    { (void)mo; (void)fmo; rmw##N(a);                                                               \
      return __atomic_compare_exchange_n(a, c, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); }        \
    T __tsan_atomic##N##_compare_exchange_val(volatile T *a, T c, T v, int mo, int fmo)            \
    { (void)mo; (void)fmo; rmw##N(a);                                                               \
      __atomic_compare_exchange_n(a, &c, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return c; }
ATOMICS(8, uint8_t)
ATOMICS(16, uint16_t)
ATOMICS(32, uint32_t)
ATOMICS(64, uint64_t)

/* ------------------------------------------------------------------ copies that report shared ranges */
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

/* Read n shared bytes at off into d: what lies past the shared area reads as the pattern
 * that stands for host memory (as in the suite's Python port); the suite was told first. */
static void shared_read_into(uint8_t *d, uint64_t off, size_t n)
{
    size_t inside = off < SHARED_SIZE ? (size_t)(SHARED_SIZE - off) : 0;
    if (inside > n)
        inside = n;
    copy_bytes(d, (const uint8_t *)(mb_lo + off), inside);
    for (size_t i = inside; i < n; i++)
        d[i] = (uint8_t)HOST_MEMORY_PATTERN[(off + i - SHARED_SIZE) % 8];
}

void *memmove(void *dst, const void *src, size_t n)
{
    int64_t so = shared_off(src), dof = shared_off(dst);
    if (so >= 0)
        access_at(EV_READ, src, n);
    if (dof >= 0)
        access_at(EV_WRITE, dst, n);
    else if (n && (uint64_t)((uintptr_t)dst - ram_lo) < ram_len)
        ram_dirty = 1;
    if (so >= 0 && (uint64_t)so + n > SHARED_SIZE && dof < 0)
        shared_read_into(dst, (uint64_t)so, n);
    else
        copy_bytes(dst, src, n);
    return dst;
}


/* ------------------------------------------------------------------ QEMU stand-ins (and mhkit_qemu_standins.c) */
int64_t mhkit_clock_ns(void)
{
    send_event(EV_CLOCK, 0, 0, 0, 0, NULL, 0);
    return (int64_t)answer();
}

static void report(const char *fmt, va_list ap)
{
    char msg[512];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    send_event(EV_ERROR, 0, 0, (uint64_t)n, 0, msg, (size_t)n);
}
void error_report(const char *fmt, ...) { va_list ap; va_start(ap, fmt); report(fmt, ap); va_end(ap); }

static void put_private(uint32_t kind, const void *p, size_t n)
{
    send_event(EV_PUT, kind, 0, n, 0, p, n);
}

#include "mhkit_qemu_standins.c"

void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size)
{
    (void)f;
    int64_t off = shared_off(buf);
    if (off < 0) {
        put_private(PUT_BUFFER, buf, size);
        return;
    }
    /* a read of the shared area: the suite reads the bytes itself (its own bounds rules) */
    send_event(EV_PUT_SHARED, 0, (uint64_t)off, size, 0, NULL, 0);
    answer();
}

/* The suite answers with the number of bytes it has, then the bytes (read whole, before a
 * shared destination's write is reported, so answers and data never interleave). */
static size_t get_from_stream(uint8_t *dst, size_t size)
{
    send_event(EV_GET, 0, 0, size, 0, NULL, 0);
    uint64_t n = answer();
    if (n > size)
        n = size;
    uint8_t small[8], *tmp = n <= sizeof small ? small : malloc(n);
    if (!tmp)
        abort();
    xread(tmp, n);
    access_at(EV_WRITE, dst, n);
    copy_bytes(dst, tmp, n);
    if (tmp != small)
        free(tmp);
    return (size_t)n;
}

size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size) { (void)f; return get_from_stream(buf, size); }

unsigned int qemu_get_be32(QEMUFile *f)
{
    (void)f;
    uint8_t b[4] = { 0, 0, 0, 0 };
    get_from_stream(b, 4);
    return (unsigned int)b[0] << 24 | (unsigned int)b[1] << 16 | (unsigned int)b[2] << 8 | b[3];
}

uint64_t qemu_get_be64(QEMUFile *f)
{
    uint64_t hi = qemu_get_be32(f);
    return hi << 32 | qemu_get_be32(f);
}

int qemu_get_byte(QEMUFile *f)
{
    (void)f;
    uint8_t b = 0;
    get_from_stream(&b, 1);
    return b;
}

int qemu_file_get_error(QEMUFile *f) { (void)f; return 0; }

/* ------------------------------------------------------------------ a helper's provisioning */
/* The suite answers 0 and the 32-byte transfer key and 16-byte session id it gave last, or
 * nonzero when it gave none. */
int mhkit_provision(uint8_t *key, uint8_t *sid)
{
    send_event(EV_PROVISION, 0, 0, 48, 0, NULL, 0);
    if (answer() != 0)
        return -1;
    uint8_t both[48];
    xread(both, sizeof both);
    copy_bytes(key, both, 32);
    copy_bytes(sid, both + 32, 16);
    return 0;
}

/* The helper's guest RAM from MHKIT_RAM_LO (the suite's memfd MHKIT_RAM_FD), the gpas
 * between its end and the mailbox (unbacked: zeros, writes lost, as the Python helper's
 * memory), the mailbox at SHARED_GPA; all at their own addresses. Anything else faults. */
uint64_t _gPcd_PcdConfidentialMigrationGuestRamSize;  /* PcdGet64 of the EDK2 stand-ins */
int mhkit_guest_entry(void) __attribute__((weak));

static int guest_main(int mfd)
{
    const char *lo_s = getenv("MHKIT_RAM_LO"), *top_s = getenv("MHKIT_RAM_TOP"), *fd_s = getenv("MHKIT_RAM_FD");
    const char *nofold = getenv("MHKIT_NOFOLD_OFF");
    if (!lo_s || !top_s || !fd_s || !mhkit_guest_entry) {
        fprintf(stderr, "mhkit: not a helper build, or MHKIT_RAM_* unset\n");
        return 2;
    }
    uint64_t lo = strtoull(lo_s, NULL, 0), top = strtoull(top_s, NULL, 0);
    if (nofold)
        nofold_off = strtoull(nofold, NULL, 0);
    void *want[3] = { (void *)(uintptr_t)lo, (void *)(uintptr_t)top, (void *)(uintptr_t)SHARED_GPA };
    void *got[3] = {
        mmap(want[0], top - lo, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, atoi(fd_s), 0),
        mmap(want[1], SHARED_GPA - top, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0),
        mmap(want[2], SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, mfd, 0),
    };
    for (int i = 0; i < 3; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "mhkit: cannot map guest memory at gpa %p (something else is mapped there)\n", want[i]);
            return 3;
        }
    mb_lo = SHARED_GPA;
    ram_lo = (uintptr_t)lo;
    ram_len = top - lo;
    _gPcd_PcdConfidentialMigrationGuestRamSize = top;
    int ret = mhkit_guest_entry();  /* a helper's loop never returns */
    send_event(EV_RESULT, 0, 0, 0, (uint64_t)(int64_t)ret, NULL, 0);
    answer();
    return 0;
}

/* ------------------------------------------------------------------ the fork server */
/* MHKIT_ZYGOTE_FD: this process has done its dynamic linking (libcrypto for a helper) and
 * nothing else, and serves the suite on a SOCK_SEQPACKET socket, one request a message:
 *   "S" then "NAME=VALUE\n" lines, with the fds stderr, events, answers, mailbox [, RAM]:
 *       fork; the child takes the fds and variables and runs as a freshly started process
 *       would (its static state is the file's initial one); the answer is its pid;
 *   "W<pid>": wait for that child to end; "K<pid>": kill it, then wait; the answer is its
 *       status as Python's subprocess gives it (the exit status, or minus the signal);
 *   "R<pid>": reap that child, which the suite has killed; no answer.
 * Children are reaped only when asked, so a pid the suite holds is never reused under it. */
static int recv_request(int sock, char *buf, size_t cap, int *fds, int *nfd)
{
    char ctl[CMSG_SPACE(8 * sizeof(int))];
    struct iovec iov = { buf, cap - 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
    ssize_t k;
    do
        k = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    while (k < 0 && errno == EINTR);
    if (k <= 0)
        return -1;
    buf[k] = 0;
    *nfd = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds + *nfd, CMSG_DATA(c), (size_t)n * sizeof(int));  /* before any user code: not observed */
            *nfd += n;
        }
    return 0;
}

static void reply(int sock, long long v)
{
    char out[32];
    int n = snprintf(out, sizeof out, "%lld", v);
    if (send(sock, out, (size_t)n, 0) < 0)
        _exit(0);  /* the suite has gone */
}

void mhkit_warm_up(void) __attribute__((weak));  /* a helper's BaseCryptLib (mhkit_crypto.c) */

/* Returns only in a forked child, with MHKIT_FDS (and MHKIT_RAM_FD) and its variables set. */
static void fork_server(int sock)
{
    static char buf[4096];
    int fds[8], nfd;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    unsetenv("MHKIT_ZYGOTE_FD");
    if (mhkit_warm_up)
        mhkit_warm_up();
    for (;;) {
        if (recv_request(sock, buf, sizeof buf, fds, &nfd) < 0)
            _exit(0);
        if (buf[0] == 'R') {
            while (waitpid((pid_t)atoll(buf + 1), NULL, 0) < 0 && errno == EINTR)
                ;
            continue;
        }
        if (buf[0] == 'W' || buf[0] == 'K') {
            pid_t pid = (pid_t)atoll(buf + 1);
            int st = 0;
            if (buf[0] == 'K')
                kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            reply(sock, WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st));
            continue;
        }
        if (buf[0] != 'S' || nfd < 4) {
            for (int i = 0; i < nfd; i++)
                close(fds[i]);
            reply(sock, -1000);
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            char v[64];
            close(sock);
            dup2(fds[0], 2);
            for (int i = 1; i < nfd; i++)
                fcntl(fds[i], F_SETFD, 0);  /* as a started process has them: inherited, not close-on-exec */
            for (char *line = buf + 1, *nl; *line; line = nl + 1) {
                nl = strchr(line, '\n');
                if (!nl)
                    break;
                *nl = 0;
                char *eq = strchr(line, '=');
                if (eq) {
                    *eq = 0;
                    setenv(line, eq + 1, 1);
                }
            }
            /* the fds as numbered here (the suite's numbers are its own) */
            snprintf(v, sizeof v, "%d,%d,%d", fds[1], fds[2], fds[3]);
            setenv("MHKIT_FDS", v, 1);
            if (nfd > 4) {
                snprintf(v, sizeof v, "%d", fds[4]);
                setenv("MHKIT_RAM_FD", v, 1);
            }
            return;
        }
        for (int i = 0; i < nfd; i++)
            close(fds[i]);
        reply(sock, pid > 0 ? pid : -1001);
    }
}

/* ------------------------------------------------------------------ the request loop */
void cgs_mh_init(void) __attribute__((weak));
void cgs_mh_cleanup(void) __attribute__((weak));
int cgs_mh_save_encrypted_page(QEMUFile *f, uint64_t gpa, uint32_t size, uint64_t *bytes_sent) __attribute__((weak));
int cgs_mh_load_encrypted_page(QEMUFile *f, uint64_t gpa) __attribute__((weak));

static QEMUFile *const the_stream = (QEMUFile *)&ram;  /* any non-NULL handle */

int main(int argc, char **argv)
{
    if (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-' && argv[1][2] == 'e') {  /* --entries: what the file defines */
        printf("%s%s%s%s\n", cgs_mh_init ? "init " : "", cgs_mh_save_encrypted_page ? "save " : "",
               cgs_mh_load_encrypted_page ? "load " : "", cgs_mh_cleanup ? "cleanup" : "");
        return 0;
    }
    const char *zygote = getenv("MHKIT_ZYGOTE_FD");
    if (zygote)
        fork_server(atoi(zygote));  /* returns in each child it forks */
    const char *fds = getenv("MHKIT_FDS");
    int mfd;
    if (!fds || sscanf(fds, "%d,%d,%d", &ev_fd, &ans_fd, &mfd) != 3) {
        fprintf(stderr, "mhkit: run by the conformance suite only (MHKIT_FDS unset)\n");
        return 2;
    }
    const char *poll = getenv("MHKIT_POLL_OFF");
    if (poll)
        poll_off = strtoull(poll, NULL, 0);
    const char *limit = getenv("MHKIT_POLL_LIMIT");
    if (limit)
        poll_limit = strtoull(limit, NULL, 10);
    signal(SIGPIPE, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  /* a wait that never ends must not outlive the suite */
    if (getenv("MHKIT_RAM_TOP"))
        return guest_main(mfd);
    /* guest RAM, the shared area at its gpa, then an unmapped guard */
    size_t span = RAM_SIZE + GUARD_SIZE;
    ram = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        return 3;
    if (mmap(ram + SHARED_GPA, SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mfd, 0) == MAP_FAILED)
        return 3;
    mprotect(ram + RAM_SIZE, GUARD_SIZE, PROT_NONE);
    mb_lo = (uintptr_t)(ram + SHARED_GPA);
    for (;;) {
        struct request r;
        xread(&r, sizeof r);
        ahead = 0;  /* a new operation: the suite's script for it is not the last one's */
        int64_t ret = 0;
        uint64_t sent = 0;
        if (r.op == REQ_INIT && cgs_mh_init)
            cgs_mh_init();
        else if (r.op == REQ_SAVE && cgs_mh_save_encrypted_page)
            ret = cgs_mh_save_encrypted_page(the_stream, r.gpa, (uint32_t)r.size, &sent);
        else if (r.op == REQ_LOAD && cgs_mh_load_encrypted_page)
            ret = cgs_mh_load_encrypted_page(the_stream, r.gpa);
        else if (r.op == REQ_CLEANUP && cgs_mh_cleanup)
            cgs_mh_cleanup();
        send_event(EV_RESULT, 0, 0, sent, (uint64_t)ret, NULL, 0);
    }
}
