/*
 * A small EDK2-style helper of the published (rfc) protocol, written for tests/test_ckit_guest.py,
 * with one fault chosen by `#define FAULT`, striking at the first RESTORE_PAGE (DECRYPT):
 *   0 none; 1 a wild pointer (a copy from an address nothing is mapped at: SIGSEGV);
 *   2 a failed ASSERT (abort, with EDK2's message); 3 a wait for a ret value nobody writes
 *   (polls of one mailbox field: never ends); 4 a loop that touches nothing shared;
 *   5 the entry returns.
 */
#include <Uefi.h>
#include <Library/BaseLib.h>
#include <Library/BaseMemoryLib.h>
#include <Library/DebugLib.h>
#include <Library/PcdLib.h>

#define FAULT 0

#pragma pack(1)
typedef struct {
  UINT64    CmdType;
  UINT64    Gpa;
  INT32     Prefetch;
  INT32     Ret;
  INT32     Go;
  INT32     Done;
} PARAMS;
#pragma pack()

EFI_STATUS
EFIAPI
MigrationHandlerMain (
  IN EFI_HANDLE        ImageHandle,
  IN EFI_SYSTEM_TABLE  *SystemTable
  )
{
  UINT64           Base   = PcdGet32 (PcdConfidentialMigrationMailboxBase);
  VOLATILE PARAMS  *Params = (VOLATILE PARAMS *)(UINTN)Base;
  UINT8            *IoPage = (UINT8 *)(UINTN)(Base + 0x1000);
  UINT64           Cmd;
  UINT64           Gpa;

  Params->Go = 0;
  for ( ; ;) {
    while (!Params->Go) {
      CpuPause ();
    }

    Params->Done = 0;
    Cmd = Params->CmdType;
    Gpa = Params->Gpa;
    if (Cmd == 1) {
      CopyMem (IoPage, (VOID *)(UINTN)Gpa, EFI_PAGE_SIZE);
    } else if (Cmd == 2) {
#if FAULT == 1
      CopyMem ((VOID *)(UINTN)Gpa, (VOID *)(UINTN)0xdead0000, EFI_PAGE_SIZE);
#elif FAULT == 2
      ASSERT (Gpa == 0);
#elif FAULT == 3
      while (Params->Ret != 12345) {
        CpuPause ();
      }
#elif FAULT == 4
      for ( ; ;) {
        CpuPause ();
      }
#elif FAULT == 5
      return EFI_UNSUPPORTED;
#endif
      CopyMem ((VOID *)(UINTN)Gpa, IoPage, EFI_PAGE_SIZE);
    }

    Params->Ret  = 0;
    Params->Go   = 0;
    Params->Done = 1;
  }
}
