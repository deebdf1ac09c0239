/*
 * mhkit_qemu_put.c: QEMU's qemu_put_be32 / qemu_put_be64 / qemu_put_byte, for both runtimes
 * (the kit's, mhkit_runtime.c, and the stress runtime, mhstress_host.c), which include it after
 * defining `static void put_private(uint32_t kind, const void *p, size_t n)` (where a stream
 * item goes) and the PUT_* kinds. Not compiled on its own.
 */
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
