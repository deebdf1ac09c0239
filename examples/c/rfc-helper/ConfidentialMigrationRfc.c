/** @file
  The published (2021) guest migration helper's loop, rendered in EDK2-style C from mhmailbox
  docs/protocol.md ("The helper's loop (OVMF), in program order"), weaknesses included, so that
  the conformance suite has a C helper of the `rfc` protocol to fail:
    - it writes go = 0 when it starts (a go the host wrote before that is lost);
    - no fences; volatile accesses only;
    - SAVE_PAGE (ENCRYPT) copies the page at gpa to the io page in plaintext, address unchecked;
    - RESTORE_PAGE (DECRYPT) copies the io page to gpa unless gpa is in the mailbox, in which
      case it does nothing and still reports success;
    - INIT and RESET do nothing; any other command answers -1;
    - then ret, go = 0, done = 1;
    - no response header is ever written.
  Written here, not copied from OVMF. The mhmailbox C kit runs it through the guest cases:
    mhmailbox conform --c-guest ConfidentialMigrationRfc.c --protocol rfc
  (it fails the cases the Python rfc helper fails, each with the same property).
**/
#include <Uefi.h>
#include <Library/BaseLib.h>
#include <Library/BaseMemoryLib.h>
#include <Library/DebugLib.h>
#include <Library/PcdLib.h>
#include <Library/UefiLib.h>

#define SAVE_PAGE     1
#define RESTORE_PAGE  2
#define INIT          0
#define RESET         3

#define MAILBOX_SIZE  0x2000
#define IO_PAGE_OFFSET 0x1000

#pragma pack(1)
typedef struct {
  UINT64    CmdType;
  UINT64    Gpa;
  INT32     Prefetch;
  INT32     Ret;
  INT32     Go;
  INT32     Done;
} MIGRATION_PARAMS;
#pragma pack()

EFI_STATUS
EFIAPI
MigrationHandlerMain (
  IN EFI_HANDLE        ImageHandle,
  IN EFI_SYSTEM_TABLE  *SystemTable
  )
{
  UINT64                      MailboxBase;
  VOLATILE MIGRATION_PARAMS   *Params;
  UINT8                       *IoPage;
  UINT64                      Cmd;
  UINT64                      Gpa;
  INT32                       Ret;

  MailboxBase = PcdGet32 (PcdConfidentialMigrationMailboxBase);
  Params      = (VOLATILE MIGRATION_PARAMS *)(UINTN)MailboxBase;
  IoPage      = (UINT8 *)(UINTN)(MailboxBase + IO_PAGE_OFFSET);

  DisableInterrupts ();
  Params->Go = 0;

  for ( ; ;) {
    while (!Params->Go) {
      CpuPause ();
    }

    Params->Done = 0;
    Cmd = Params->CmdType;
    Gpa = Params->Gpa;
    Ret = 0;
    switch (Cmd) {
      case SAVE_PAGE:
        CopyMem (IoPage, (VOID *)(UINTN)Gpa, EFI_PAGE_SIZE);
        break;
      case RESTORE_PAGE:
        if ((Gpa + EFI_PAGE_SIZE <= MailboxBase) || (Gpa >= MailboxBase + MAILBOX_SIZE)) {
          CopyMem ((VOID *)(UINTN)Gpa, IoPage, EFI_PAGE_SIZE);
        }

        break;
      case INIT:
      case RESET:
        break;
      default:
        Ret = -1;
        break;
    }

    Params->Ret  = Ret;
    Params->Go   = 0;
    Params->Done = 1;
  }
}
