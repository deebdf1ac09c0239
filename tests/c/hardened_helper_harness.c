/*
 * Test harness for examples/c/hardened-helper/ConfidentialMigrationHardened.c (tests/test_c_examples.py):
 * the helper's own command code (its file is included as it is, so its static functions are
 * reachable) with the C kit's EDK2 stand-ins and BaseCryptLib (conformance/ckit/runtime/
 * mhkit_edk2.c, mhkit_crypto.c: OpenSSL's libcrypto) compiled in beside it; the two runtime calls
 * those make (a barrier, the provisioning) are answered here. Guest RAM is mapped at its own
 * gpas, as a firmware helper sees it: pages from RAM_GPA, the mailbox at MAILBOX_GPA (the PCD's).
 *
 *   harness KEYHEX SIDHEX < script
 * Script lines (stdin), one command each, answered with one line "ret HEX(header) HEX(io page)":
 *   init | reset | encrypt SEQ GPA | decrypt SEQ GPA HEXHEADER HEXPAGE | fill BYTE | ram
 * ("fill" sets the RAM page to one byte value; "ram" answers "ram HEX(page)").
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ConfidentialMigrationHardened.c"

#define RAM_GPA 0x10000000ULL
#define RAM_TOP 0x10020000ULL
#define MAILBOX_GPA 0x820000ULL /* PcdConfidentialMigrationMailboxBase of the stand-ins */

UINT64 _gPcd_PcdConfidentialMigrationGuestRamSize = RAM_TOP;
static UINT8 gKey[32], gSid[16];

void mhkit_barrier(int kind) { (void)kind; __atomic_thread_fence(__ATOMIC_SEQ_CST); }
int mhkit_provision(uint8_t *key, uint8_t *sid) { memcpy(key, gKey, 32); memcpy(sid, gSid, 16); return 0; }

static void unhex(const char *s, UINT8 *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sscanf(s + 2 * i, "%2hhx", &out[i]);
}

static void hex(const UINT8 *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static void answer(INT32 ret)
{
    VOLATILE MH_HEADER *h = (VOLATILE MH_HEADER *)(UINTN)(MAILBOX_GPA + MH_HEADER_OFFSET);
    UINT32 len = h->Len > 1024 ? 0 : h->Len;
    printf("%d ", ret);
    hex((const UINT8 *)h->Data, len);
    printf(" ");
    hex((const UINT8 *)(UINTN)(MAILBOX_GPA + MH_IO_OFFSET), MH_PAGE_SIZE);
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static char line[3 * 8192];
    if (argc != 3)
        return 2;
    unhex(argv[1], gKey, 32);
    unhex(argv[2], gSid, 16);
    if (mmap((void *)RAM_GPA, RAM_TOP - RAM_GPA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
             -1, 0) != (void *)RAM_GPA ||
        mmap((void *)MAILBOX_GPA, MH_SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
             -1, 0) != (void *)MAILBOX_GPA)
        return 3;
    mHelper.MailboxBase = PcdGet32(PcdConfidentialMigrationMailboxBase);
    mHelper.RamSize = PcdGet64(PcdConfidentialMigrationGuestRamSize);
    PutLe(mHelper.NoncePrefix, 0x01020304, 4);
    VOLATILE MH_HEADER *hdr = (VOLATILE MH_HEADER *)(UINTN)(MAILBOX_GPA + MH_HEADER_OFFSET);
    UINT8 *io = (UINT8 *)(UINTN)(MAILBOX_GPA + MH_IO_OFFSET);
    while (fgets(line, sizeof line, stdin)) {
        char cmd[16], h[2 * 1024 + 1], p[2 * MH_PAGE_SIZE + 1];
        unsigned long long seq = 0, gpa = 0;
        int k = sscanf(line, "%15s %llu %llx %2048s %8192s", cmd, &seq, &gpa, h, p);
        if (!strcmp(cmd, "init"))
            answer(Execute(hdr, io, MH_CMD_INIT, 0, (UINT32)seq));
        else if (!strcmp(cmd, "reset"))
            answer(Execute(hdr, io, MH_CMD_RESET, 0, (UINT32)seq));
        else if (!strcmp(cmd, "encrypt") && k == 3)
            answer(Execute(hdr, io, MH_CMD_ENCRYPT, gpa, (UINT32)seq));
        else if (!strcmp(cmd, "decrypt") && k == 5) {
            hdr->Len = (UINT32)(strlen(h) / 2);
            unhex(h, (UINT8 *)hdr->Data, strlen(h) / 2);
            unhex(p, io, MH_PAGE_SIZE);
            answer(Execute(hdr, io, MH_CMD_DECRYPT, gpa, (UINT32)seq));
        } else if (!strcmp(cmd, "fill")) {
            memset((void *)(UINTN)RAM_GPA, (int)seq, MH_PAGE_SIZE);
            printf("ok\n");
            fflush(stdout);
        } else if (!strcmp(cmd, "ram")) {
            printf("ram ");
            hex((const UINT8 *)(UINTN)RAM_GPA, MH_PAGE_SIZE);
            printf("\n");
            fflush(stdout);
        } else
            return 4;
    }
    return 0;
}
