/*
 * mhkit_tsan.c: the -fsanitize=thread entry points and the copies C code under test calls
 * (memcpy, memset, memcmp, bcmp), for both runtimes (the kit's, mhkit_runtime.c, and the stress
 * runtime, mhstress_host.c), which include it after defining EV_READ, EV_WRITE and
 * `access_at(kind, p, n)` (an access the runtime observes if it falls in the shared area); they
 * define memmove and mhkit_barrier themselves. Not compiled on its own.
 */
void mhkit_barrier(int kind);

void __tsan_init(void) {}
void __tsan_func_entry(void *pc) { (void)pc; }
void __tsan_func_exit(void) {}
void __tsan_vptr_update(void **p, void *v) { (void)p; (void)v; }
void __tsan_vptr_read(void **p) { (void)p; }
void __tsan_read_range(void *p, unsigned long n) { access_at(EV_READ, p, n); }
void __tsan_write_range(void *p, unsigned long n) { access_at(EV_WRITE, p, n); }

#define SIZED(N)                                                                              \
    void __tsan_read##N(void *p) { access_at(EV_READ, p, N); }                              \
    void __tsan_write##N(void *p) { access_at(EV_WRITE, p, N); }                            \
    void __tsan_unaligned_read##N(void *p) { access_at(EV_READ, p, N); }                    \
    void __tsan_unaligned_write##N(void *p) { access_at(EV_WRITE, p, N); }                  \
    void __tsan_volatile_read##N(void *p) { access_at(EV_READ, p, N); }                     \
    void __tsan_volatile_write##N(void *p) { access_at(EV_WRITE, p, N); }                   \
    void __tsan_unaligned_volatile_read##N(void *p) { access_at(EV_READ, p, N); }           \
    void __tsan_unaligned_volatile_write##N(void *p) { access_at(EV_WRITE, p, N); }         \
    void __tsan_read##N##_pc(void *p, void *pc) { (void)pc; access_at(EV_READ, p, N); }     \
    void __tsan_write##N##_pc(void *p, void *pc) { (void)pc; access_at(EV_WRITE, p, N); }
SIZED(1)
SIZED(2)
SIZED(4)
SIZED(8)
SIZED(16)

static int fence_kind(int mo)
{
    /* memory orders: 0 relaxed, 1 consume, 2 acquire, 3 release, 4 acq_rel, 5 seq_cst */
    return mo == 3 ? 1 : (mo == 1 || mo == 2) ? 2 : 3;
}

void __tsan_atomic_thread_fence(int mo)
{
    if (mo != 0)
        mhkit_barrier(fence_kind(mo));
}
void __tsan_atomic_signal_fence(int mo) { (void)mo; }

void *memcpy(void *dst, const void *src, size_t n) { return memmove(dst, src, n); }

void *memset(void *dst, int c, size_t n)
{
    access_at(EV_WRITE, dst, n);
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    access_at(EV_READ, a, n);
    access_at(EV_READ, b, n);
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

int bcmp(const void *a, const void *b, size_t n) { return memcmp(a, b, n); }
