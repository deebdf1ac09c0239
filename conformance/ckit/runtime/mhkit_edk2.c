/*
 * mhkit_edk2.c: the C kit's EDK2 stand-ins for a helper under test (the code behind the
 * headers of include/Uefi.h and include/Library/). Built like the runtime (no sanitizer, no
 * builtins) and linked only into helper builds.
 *
 * BaseMemoryLib copies and compares through the runtime's memmove/memset/memcmp, which report
 * the ranges they touch in the mailbox and note writes to guest RAM. MemoryFence is a full
 * barrier event. MigrationProvisionGet asks the suite for the provisioning it gave last.
 * ASSERT prints "ASSERT file(line): expression" and aborts, as a debug build of EDK2 stops;
 * CpuDeadLoop aborts too (a helper that gave up). DebugPrint writes to stderr (the last line
 * goes in a crash report), EDK2's conversions turned into C's.
 * BaseCryptLib (AES-256-GCM, HKDF-SHA256) is in mhkit_crypto.c (OpenSSL's libcrypto).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <Uefi.h>
#include <Library/BaseLib.h>
#include <Library/BaseMemoryLib.h>
#include <Library/DebugLib.h>
#include <Library/MemoryAllocationLib.h>
#include <Library/MigrationProvisionLib.h>
#include <Library/PcdLib.h>
#include <Library/RngLib.h>

#include "mhkit.h"

int mhkit_provision(uint8_t *key, uint8_t *sid);

/* The PCDs: the mailbox's gpa here; guest RAM's size in the runtime (it sets it before the entry runs). */
UINT32 _gPcd_PcdConfidentialMigrationMailboxBase = 0x820000;

VOID *EFIAPI CopyMem(OUT VOID *D, IN CONST VOID *S, IN UINTN N) { return memmove(D, S, N); }
VOID *EFIAPI SetMem(OUT VOID *B, IN UINTN N, IN UINT8 V) { return memset(B, V, N); }
VOID *EFIAPI ZeroMem(OUT VOID *B, IN UINTN N) { return memset(B, 0, N); }
INTN EFIAPI CompareMem(IN CONST VOID *A, IN CONST VOID *B, IN UINTN N) { return memcmp(A, B, N); }

VOID EFIAPI CpuPause(VOID) {}
VOID EFIAPI DisableInterrupts(VOID) {}
VOID EFIAPI EnableInterrupts(VOID) {}
VOID EFIAPI MemoryFence(VOID) { mhkit_barrier(MHKIT_MB); }
VOID EFIAPI CpuDeadLoop(VOID)
{
    fprintf(stderr, "CpuDeadLoop ()\n");
    abort();
}

/* EDK2's conversions in C's: %a (an ASCII string) is %s; %r (an EFI_STATUS) is printed in hex;
 * %s and %S (UCS-2 strings) and %g (a GUID) are printed as pointers (C's %s would misread them). */
VOID EFIAPI DebugPrint(IN UINTN ErrorLevel, IN CONST CHAR8 *Format, ...)
{
    char fmt[512];
    size_t j = 0;
    (void)ErrorLevel;
    for (size_t i = 0; Format[i] && j + 4 < sizeof fmt; i++) {
        fmt[j++] = Format[i];
        if (Format[i] != '%')
            continue;
        while (Format[i + 1] && strchr("-+ #0123456789.*lLhz", Format[i + 1]) && j + 4 < sizeof fmt)
            fmt[j++] = Format[++i];
        char c = Format[i + 1];
        if (c == 'a') {
            fmt[j++] = 's';
            i++;
        } else if (c == 'r') {
            fmt[j++] = 'l';
            fmt[j++] = 'x';
            i++;
        } else if (c == 's' || c == 'S' || c == 'g') {
            fmt[j++] = 'p';
            i++;
        }
    }
    fmt[j] = 0;
    va_list ap;
    va_start(ap, Format);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

VOID EFIAPI DebugAssert(IN CONST CHAR8 *FileName, IN UINTN LineNumber, IN CONST CHAR8 *Description)
{
    fprintf(stderr, "ASSERT %s(%lu): %s\n", FileName, (unsigned long)LineNumber, Description);
    abort();
}

VOID *EFIAPI AllocatePool(IN UINTN N) { return malloc(N ? N : 1); }
VOID *EFIAPI AllocateZeroPool(IN UINTN N) { return calloc(1, N ? N : 1); }
VOID EFIAPI FreePool(IN VOID *B) { free(B); }

BOOLEAN EFIAPI GetRandomNumber32(OUT UINT32 *Rand)
{
    return getrandom(Rand, sizeof *Rand, 0) == (ssize_t)sizeof *Rand ? TRUE : FALSE;
}

EFI_STATUS EFIAPI MigrationProvisionGet(OUT UINT8 *TransferKey, OUT UINT8 *SessionId)
{
    return mhkit_provision(TransferKey, SessionId) == 0 ? EFI_SUCCESS : EFI_NOT_READY;
}
