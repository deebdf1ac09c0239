/*
 * mhstress_core.c: logged accesses to one real shared mapping, for `mhmailbox stress`.
 *
 * Both sides of a stress run (a C file built with the stress runtime, a Python host or
 * helper through ctypes) map one file: the 8 KiB mailbox, then a control page holding a
 * ticket lock, the global access counter and the stop flag. Every access to the mailbox
 * takes the lock, takes the next number from the counter (__atomic_fetch_add), makes the
 * access and logs it (number, kind, offset, length, the bytes) to this process's own log
 * file; so the numbers are the order in which the accesses really hit the shared bytes,
 * and the value logged for a read is the value read. The lock serializes accesses, not the
 * code between them: both processes run at once, on their own cores, and which access
 * comes first is decided by real timing. Weak-memory reorderings are not observed (each
 * lock handover is a full barrier). The ticket lock is fair: a side that releases and asks
 * again queues behind a waiting peer.
 *
 * Before taking the lock an access may spin a random short time (MHS delay: a chance in
 * percent, up to a number of ns), which widens the windows between a side's accesses.
 *
 * Polls: in a run of reads of one location that find the same bytes, with nothing else of
 * this process in between, only the first of the field this side polls is logged (a host's
 * done, a helper's go: a busy loop of 10^8 reads is one log line); of any other location
 * the first 16 (a re-fetch right after a check is a read of its own), the rest are not.
 *
 * Log records: struct mhs_rec, then `len` bytes for the kinds that carry data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MHS_SHARED_SIZE 0x2000ULL
#define MHS_FAULT_LIMIT (1ULL << 20)
#define MHS_PATTERN "HOSTMEM!"
#define MHS_LOGGED_REPEATS 15      /* repeats of a read (not of the polled field) logged before folding */

enum {
    MHS_READ = 1, MHS_WRITE = 2, MHS_BARRIER = 3, MHS_CLOCK = 4, MHS_PUT = 5, MHS_OP = 6, MHS_RESULT = 7,
    MHS_ERROR = 8, MHS_FAULT = 9, MHS_RAM = 10,
};

struct mhs_rec { uint64_t i; uint32_t kind, aux; uint64_t off, len; };

struct mhs_ctl {
    uint32_t next, serving;  /* ticket lock */
    uint32_t stop, ready;    /* ready: a helper made its first access (it has booted) */
    uint64_t counter;        /* the global order: the next access's number */
};

static uint8_t *mb;               /* the mailbox, as mapped here */
static struct mhs_ctl *ctl;
static int log_fd = -1;
static uint32_t side;
static uint64_t rng_state = 88172645463325252ULL;
static uint32_t delay_pct, delay_max_ns;
static int held;                  /* this process holds the lock */
static int ready_said;
static uint64_t held_ticket;
static int pending;               /* a write announced under the lock, its value logged when it is done */
static uint64_t pending_i, pending_off, pending_len;
static int last_read;             /* the previous access was a read of last_off/last_len that found last_val */
static uint64_t last_off, last_len;
static uint8_t last_val[8];
static int repeats;               /* logged repeats of that read so far */
static uint64_t poll_off;         /* the field this side polls (host: done, helper: go): folded from its first repeat */
static uint64_t folded;           /* reads not logged again (polls), for the figures */
static uint8_t logbuf[1 << 20];
static size_t logn;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

int mhs_stopped(void) { return ctl && __atomic_load_n(&ctl->stop, __ATOMIC_ACQUIRE) != 0; }

void mhs_flush(void)
{
    size_t k = 0;
    while (k < logn) {
        ssize_t w = write(log_fd, logbuf + k, logn - k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        k += (size_t)w;
    }
    logn = 0;
}

static void bytes_copy(void *dst, const void *src, uint64_t n);

static void log_rec(uint64_t i, uint32_t kind, uint32_t aux, uint64_t off, uint64_t len, const void *data, uint64_t dlen)
{
    struct mhs_rec r = { i, kind, aux, off, len };
    if (logn + sizeof r + dlen > sizeof logbuf)
        mhs_flush();
    if (sizeof r + dlen > sizeof logbuf) {  /* a huge record: straight out */
        bytes_copy(logbuf + logn, &r, sizeof r);
        logn += sizeof r;
        mhs_flush();
        for (uint64_t k = 0; k < dlen;) {
            ssize_t w = write(log_fd, (const uint8_t *)data + k, dlen - k);
            if (w <= 0 && errno != EINTR)
                return;
            if (w > 0)
                k += (uint64_t)w;
        }
        return;
    }
    bytes_copy(logbuf + logn, &r, sizeof r);
    bytes_copy(logbuf + logn + sizeof r, data, dlen);
    logn += sizeof r + dlen;
}

/* Byte copies and compares of our own: in a C host's process memcpy and memcmp are the
 * runtime's, which log shared ranges (and this file copies out of the shared area). */
static void bytes_copy(void *dst, const void *src, uint64_t n)
{
    volatile uint8_t *d = dst;
    const volatile uint8_t *s = src;
    for (uint64_t k = 0; k < n; k++)
        d[k] = s[k];
}

static int bytes_same(const uint8_t *a, const uint8_t *b, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++)
        if (a[k] != b[k])
            return 0;
    return 1;
}

static uint64_t take(void) { return __atomic_fetch_add(&ctl->counter, 1, __ATOMIC_SEQ_CST); }

/* Close the write announced last: its bytes are in the mapping now, and no one else has
 * touched them (the lock was held since). */
static void close_pending(void)
{
    if (!pending)
        return;
    pending = 0;
    uint64_t inside = pending_off < MHS_SHARED_SIZE ? MHS_SHARED_SIZE - pending_off : 0;
    log_rec(pending_i, MHS_WRITE, 0, pending_off, pending_len, mb + pending_off,
            pending_len < inside ? pending_len : inside);
}

void mhs_release(void)
{
    if (!held)
        return;
    close_pending();
    held = 0;
    __atomic_store_n(&ctl->serving, (uint32_t)(held_ticket + 1), __ATOMIC_RELEASE);
}

/* Spin a random short time (the delay that widens windows), then take the lock. Returns
 * nonzero when the run was stopped while waiting (the lock is not held then). */
int mhs_acquire(void)
{
    if (held)
        return 0;
    if (delay_max_ns && rng() % 100 < delay_pct) {
        uint64_t until = now_ns() + rng() % delay_max_ns;
        while (now_ns() < until)
            __builtin_ia32_pause();
    }
    uint32_t t = __atomic_fetch_add(&ctl->next, 1, __ATOMIC_ACQ_REL);
    for (uint64_t spins = 0; __atomic_load_n(&ctl->serving, __ATOMIC_ACQUIRE) != t; spins++) {
        __builtin_ia32_pause();
        if ((spins & 1023) == 1023) {
            if (mhs_stopped())
                return 1;
            sched_yield();  /* the holder may be waiting for a CPU */
        }
    }
    held = 1;
    held_ticket = t;
    if (!ready_said) {
        ready_said = 1;
        __atomic_store_n(&ctl->ready, 1, __ATOMIC_RELEASE);
    }
    return 0;
}

/* Copy n bytes at off out of the mailbox; past its end, what a real host would leak. */
static void read_padded(uint8_t *dst, uint64_t off, uint64_t n)
{
    uint64_t inside = off < MHS_SHARED_SIZE ? MHS_SHARED_SIZE - off : 0;
    if (inside > n)
        inside = n;
    for (uint64_t k = 0; k < inside; k++)
        dst[k] = ((volatile uint8_t *)mb)[off + k];
    for (uint64_t k = inside; k < n; k++)
        dst[k] = (uint8_t)MHS_PATTERN[(off + k - MHS_SHARED_SIZE) % 8];
}

/* A read, under the lock (held on return): logged unless it is a poll that found nothing
 * new. `out` (may be NULL) receives the bytes. Returns 0, or -1 for a read reaching more
 * than 1 MiB past the mailbox (a real host would fault: logged as a fault, nothing read). */
int mhs_read_locked(uint64_t off, uint64_t n, uint8_t *out)
{
    close_pending();
    if (off + n > MHS_SHARED_SIZE + MHS_FAULT_LIMIT) {
        log_rec(take(), MHS_FAULT, 0, off, n, NULL, 0);
        last_read = 0;
        return -1;
    }
    uint8_t small[8], *d = out ? out : small;
    if (n <= 8 && off + n <= MHS_SHARED_SIZE) {
        read_padded(d, off, n);
        if (last_read && last_off == off && last_len == n && bytes_same(last_val, d, n)) {
            if (repeats >= MHS_LOGGED_REPEATS || off == poll_off) {
                folded++;
                return 0;
            }
            repeats++;  /* logged: a re-fetch right after a check is a read of its own */
            log_rec(take(), MHS_READ, 0, off, n, d, n);
            return 0;
        }
        repeats = 0;
        last_read = 1;
        last_off = off;
        last_len = n;
        bytes_copy(last_val, d, n);
        log_rec(take(), MHS_READ, 0, off, n, d, n);
        return 0;
    }
    last_read = 0;
    if (!out)
        return -1;  /* a range needs somewhere to go */
    read_padded(out, off, n);
    log_rec(take(), MHS_READ, 0, off, n, out, n);
    return 0;
}

/* A write announced under the lock (held on return); its bytes are logged when the lock
 * changes hands or at this process's next access. */
void mhs_write_locked(uint64_t off, uint64_t n)
{
    close_pending();
    last_read = 0;
    pending = 1;
    pending_i = take();
    pending_off = off;
    pending_len = n;
}

void mhs_barrier_locked(uint32_t kind)
{
    close_pending();
    last_read = 0;
    log_rec(take(), MHS_BARRIER, kind, 0, 0, NULL, 0);
}

/* ---- one access at a time (Python: lock, access, log, unlock) ---------------------- */
int mhs_read(uint64_t off, uint64_t n, uint8_t *out)
{
    if (mhs_acquire())
        return -2;
    int r = mhs_read_locked(off, n, out);
    mhs_release();
    return r;
}

static int armed;                 /* a burst to start right after this process's next write at arm_trigger */
static uint64_t arm_trigger, arm_off;
static uint32_t arm_bad, arm_n, arm_gap;
int mhs_flip_burst(uint64_t off, uint64_t n_bytes, const uint8_t *bad, const uint8_t *good, uint32_t n, uint32_t gap_ns);

/* A read, and a copy of the whole mailbox as it is at that moment (for a process that reads
 * its own copy of the mailbox: the process wire's file). */
int mhs_read_snapshot(uint64_t off, uint64_t n, uint8_t *out, uint8_t *snapshot)
{
    if (mhs_acquire())
        return -2;
    int r = mhs_read_locked(off, n, out);
    bytes_copy(snapshot, mb, MHS_SHARED_SIZE);
    mhs_release();
    return r;
}

int mhs_write(uint64_t off, uint64_t n, const uint8_t *data)
{
    if (off + n > MHS_SHARED_SIZE)
        return -1;
    if (mhs_acquire())
        return -2;
    mhs_write_locked(off, n);
    bytes_copy(mb + off, data, n);
    mhs_release();
    if (armed && off == arm_trigger && n == 4 && (data[0] | data[1] | data[2] | data[3])) {  /* a nonzero done: at native speed, right after */
        uint8_t good[4], bad[4];
        armed = 0;
        if (mhs_read(arm_off, 4, good) < 0)
            return -2;
        bytes_copy(bad, &arm_bad, 4);
        return mhs_flip_burst(arm_off, 4, bad, good, arm_n, arm_gap);
    }
    return 0;
}

/* An adversary's move at native speed: right after its next nonzero write at `trigger` (its done),
 * n writes of a u32 at off alternating `bad` and the value found there (read first). */
void mhs_arm_flip(uint64_t trigger, uint64_t off, uint32_t bad, uint32_t n, uint32_t gap_ns)
{
    armed = 1;
    arm_trigger = trigger;
    arm_off = off;
    arm_bad = bad;
    arm_n = n;
    arm_gap = gap_ns;
}

int mhs_barrier(uint32_t kind)
{
    if (mhs_acquire())
        return -2;
    mhs_barrier_locked(kind);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    mhs_release();
    return 0;
}

/* An adversary's burst: n writes of `len` bytes at off, alternating bad and good from a
 * random first one, and a good one last (the honest value stays), each its own access (the
 * peer may run between any two), with up to gap_ns between them. */
int mhs_flip_burst(uint64_t off, uint64_t n_bytes, const uint8_t *bad, const uint8_t *good, uint32_t n, uint32_t gap_ns)
{
    uint32_t phase = (uint32_t)(rng() & 1);
    for (uint32_t k = 0; k <= n; k++) {
        if (mhs_write(off, n_bytes, (k == n || ((k + phase) & 1)) ? good : bad) < 0)
            return -2;
        if (gap_ns) {
            uint64_t until = now_ns() + rng() % gap_ns;
            while (now_ns() < until)
                __builtin_ia32_pause();
        }
    }
    return 0;
}

/* Something that is not a shared access (an operation, its result, a stream item, a clock
 * read, an error): numbered in the same order, logged without the lock. */
void mhs_mark(uint32_t kind, uint32_t aux, uint64_t off, uint64_t len, const uint8_t *data, uint64_t dlen)
{
    last_read = 0;  /* an event in between ends a run of polls */
    log_rec(take(), kind, aux, off, len, data, dlen);
}

uint64_t mhs_folded(void) { return folded; }

uint64_t mhs_now_ns(void) { return now_ns(); }

/* Map the run's file (mailbox at `at` if not NULL, else anywhere; the control page after
 * it) and start logging to log fd. Returns the mailbox, or NULL. */
uint8_t *mhs_attach(int map_fd, void *at, int logfd, uint32_t who, uint64_t seed, uint32_t pct, uint32_t max_ns)
{
    void *m = mmap(at, MHS_SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | (at ? MAP_FIXED : 0), map_fd, 0);
    void *c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, MHS_SHARED_SIZE);
    if (m == MAP_FAILED || c == MAP_FAILED)
        return NULL;
    mb = m;
    ctl = c;
    log_fd = logfd;
    side = who;
    poll_off = who ? 0x18 : 0x1c;
    rng_state = seed * 2654435761ULL + 0x9E3779B97F4A7C15ULL + who;
    if (!rng_state)
        rng_state = 1;
    delay_pct = pct;
    delay_max_ns = max_ns;
    held = pending = last_read = ready_said = 0;
    logn = 0;
    folded = 0;
    return mb;
}
