/*
 * mhkit_qemu_standins.c: the QEMU stand-ins both runtimes share (the kit's, mhkit_runtime.c, and
 * the stress runtime, mhstress_host.c): the QEMUFile and RAMBlock types, guest RAM by gpa
 * (qemu_map_ram_ptr), the clock, the quiet reports, and qemu_put_be32 / qemu_put_be64 /
 * qemu_put_byte. Each runtime includes it after defining `ram` and RAM_SIZE, `int64_t
 * mhkit_clock_ns(void)` (its clock), `static void put_private(uint32_t kind, const void *p,
 * size_t n)` (where a stream item goes) and the PUT_* kinds. Not compiled on its own.
 */
typedef struct QEMUFile QEMUFile;
typedef struct RAMBlock RAMBlock;

void *mhkit_map_gpa(uint64_t gpa) { return gpa < RAM_SIZE ? ram + gpa : NULL; }
void *qemu_map_ram_ptr(RAMBlock *block, uint64_t addr) { (void)block; return mhkit_map_gpa(addr); }

int64_t qemu_clock_get_ns(int type) { (void)type; return mhkit_clock_ns(); }

void warn_report(const char *fmt, ...) { (void)fmt; }
void info_report(const char *fmt, ...) { (void)fmt; }

void qemu_put_be32(QEMUFile *f, unsigned int v)
{
    (void)f;
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    put_private(PUT_BE32, b, 4);
}

void qemu_put_be64(QEMUFile *f, uint64_t v)
{
    (void)f;
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    put_private(PUT_BE64, b, 8);
}

void qemu_put_byte(QEMUFile *f, int v)
{
    (void)f;
    uint8_t b = (uint8_t)v;
    put_private(PUT_BYTE, &b, 1);
}
