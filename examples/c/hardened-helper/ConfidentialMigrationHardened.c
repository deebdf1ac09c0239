/** @file
  An EDK2-style guest migration helper for the "hardened" mailbox protocol (mhmailbox
  docs/hardened.md), written from the protocol description: an example for implementers.

  It runs on the helper vCPU with interrupts disabled and polls the mailbox for ever
  (MigrationHandlerMain never returns). Compared with the published helper:
    - go is host-owned: the helper never writes it and serves go when it is neither 0 nor the
      last sequence number served; done = that number (after ret and a write barrier);
    - a read barrier after go, before the parameters, each read once;
    - ENCRYPT/DECRYPT need an INIT since the last RESET; a gpa that is not page-aligned, past
      guest RAM, or inside the mailbox is refused (-1); every refusal is reported;
    - pages leave sealed with AES-256-GCM under a session key (HKDF-SHA256 of the transfer key,
      salt = session id, info = "mhmailbox transfer key v1" || be32 session number), with a
      68-byte response header (magic "MHG1", version 1, cmd, seq, flags 0, gpa, session id,
      nonce, tag; little-endian) whose first 40 bytes are the associated data;
    - DECRYPT reads hdr.len once, copies header and page privately, authenticates (gpa,
      session, tag) and refuses a copy not newer than the newest accepted for that gpa in the
      session (-2, AUTH) before anything reaches RAM.
  A session opens at an INIT that finds the helper uninitialized (a repeated INIT keeps it)
  and ends at RESET; its number counts the sessions opened on one provisioning.

  Check it with the mhmailbox C kit, which builds it against its EDK2 stand-ins (BaseCryptLib
  by OpenSSL's libcrypto) and runs the guest cases on it:
    mhmailbox conform --c-guest ConfidentialMigrationHardened.c --protocol hardened
**/
#include <Uefi.h>
#include <Library/BaseLib.h>
#include <Library/BaseMemoryLib.h>
#include <Library/BaseCryptLib.h>
#include <Library/DebugLib.h>
#include <Library/MemoryAllocationLib.h>
#include <Library/MigrationProvisionLib.h>
#include <Library/PcdLib.h>
#include <Library/RngLib.h>
#include <Library/UefiLib.h>

#define MH_CMD_INIT     0
#define MH_CMD_ENCRYPT  1
#define MH_CMD_DECRYPT  2
#define MH_CMD_RESET    3

#define MH_RET_OK       0
#define MH_RET_INVALID  (-1)
#define MH_RET_AUTH     (-2)

#define MH_SHARED_SIZE  0x2000
#define MH_HEADER_OFFSET 0x800
#define MH_IO_OFFSET    0x1000
#define MH_PAGE_SIZE    EFI_PAGE_SIZE

#define MH_HDR_SIZE     68
#define MH_HDR_AAD_SIZE 40
#define MH_NONCE_SIZE   12
#define MH_TAG_SIZE     16
#define MH_HDR_NONCE_AT MH_HDR_AAD_SIZE
#define MH_HDR_TAG_AT   (MH_HDR_AAD_SIZE + MH_NONCE_SIZE)
#define MH_HDR_VERSION  1
#define MH_KEY_SIZE     32

#pragma pack(1)
typedef struct {
  UINT64    CmdType;
  UINT64    Gpa;
  INT32     Prefetch;
  INT32     Ret;
  INT32     Go;
  INT32     Done;
} MH_PARAMS;

typedef struct {
  UINT32    Len;
  UINT8     Data[1];
} MH_HEADER;
#pragma pack()

STATIC CONST UINT8  mMagic[4]  = { 'M', 'H', 'G', '1' };
STATIC CONST CHAR8  mHkdfInfo[] = "mhmailbox transfer key v1";

typedef struct {
  BOOLEAN    Initialized;
  UINT32     LastSeq;           // the last go served (0: none yet)
  UINT32     SessionNumber;     // sessions opened on the current provisioning
  UINT8      SessionId[MIGRATION_SESSION_ID_SIZE];
  UINT8      Key[MH_KEY_SIZE];  // this session's key
  UINT8      NoncePrefix[4];    // random per helper instance
  UINT64     NonceCounter;
  UINT32     *Accepted;         // per RAM page: newest seq accepted this session (0: none)
  UINT64     RamSize;
  UINT64     MailboxBase;
} MH_HELPER;

STATIC MH_HELPER  mHelper;
STATIC UINT8      mPlain[MH_PAGE_SIZE];
STATIC UINT8      mCipher[MH_PAGE_SIZE];
STATIC UINT8      mHeader[MH_HDR_SIZE];

STATIC
VOID
PutLe (
  OUT UINT8   *Buffer,
  IN  UINT64  Value,
  IN  UINTN   Bytes
  )
{
  UINTN  Index;

  for (Index = 0; Index < Bytes; Index++) {
    Buffer[Index] = (UINT8)(Value >> (8 * Index));
  }
}

STATIC
UINT64
GetLe (
  IN CONST UINT8  *Buffer,
  IN UINTN        Bytes
  )
{
  UINT64  Value;
  UINTN   Index;

  Value = 0;
  for (Index = 0; Index < Bytes; Index++) {
    Value |= (UINT64)Buffer[Index] << (8 * Index);
  }

  return Value;
}

/**
  Open the next session: key from the current provisioning and the session's number, an
  empty replay window. A new provisioning (another session id) starts the count again.
**/
STATIC
BOOLEAN
OpenSession (
  VOID
  )
{
  UINT8   TransferKey[MIGRATION_TRANSFER_KEY_SIZE];
  UINT8   SessionId[MIGRATION_SESSION_ID_SIZE];
  UINT8   Info[sizeof (mHkdfInfo) - 1 + 4];
  UINTN   InfoSize;
  UINT32  Number;
  UINTN   Pages;

  if (EFI_ERROR (MigrationProvisionGet (TransferKey, SessionId))) {
    return FALSE;
  }

  if (CompareMem (SessionId, mHelper.SessionId, sizeof (SessionId)) != 0) {
    CopyMem (mHelper.SessionId, SessionId, sizeof (SessionId));
    mHelper.SessionNumber = 0;
  }

  Number   = mHelper.SessionNumber + 1;
  InfoSize = sizeof (mHkdfInfo) - 1;
  CopyMem (Info, mHkdfInfo, InfoSize);
  Info[InfoSize++] = (UINT8)(Number >> 24);
  Info[InfoSize++] = (UINT8)(Number >> 16);
  Info[InfoSize++] = (UINT8)(Number >> 8);
  Info[InfoSize++] = (UINT8)Number;
  if (!HkdfSha256ExtractAndExpand (
         TransferKey,
         sizeof (TransferKey),
         SessionId,
         sizeof (SessionId),
         Info,
         InfoSize,
         mHelper.Key,
         sizeof (mHelper.Key)
         ))
  {
    ZeroMem (TransferKey, sizeof (TransferKey));
    return FALSE;
  }

  ZeroMem (TransferKey, sizeof (TransferKey));
  Pages = (UINTN)(mHelper.RamSize / MH_PAGE_SIZE);
  if (mHelper.Accepted != NULL) {
    FreePool (mHelper.Accepted);
  }

  mHelper.Accepted = AllocateZeroPool (Pages * sizeof (UINT32));
  if (mHelper.Accepted == NULL) {
    return FALSE;
  }

  mHelper.SessionNumber = Number;
  return TRUE;
}

/** A private page of guest RAM: aligned, inside RAM, not overlapping the mailbox. */
STATIC
BOOLEAN
GpaIsPrivatePage (
  IN UINT64  Gpa
  )
{
  if ((Gpa % MH_PAGE_SIZE) != 0) {
    return FALSE;
  }

  if ((Gpa >= mHelper.RamSize) || (mHelper.RamSize - Gpa < MH_PAGE_SIZE)) {
    return FALSE;
  }

  return (Gpa + MH_PAGE_SIZE <= mHelper.MailboxBase) || (Gpa >= mHelper.MailboxBase + MH_SHARED_SIZE);
}

/** ENCRYPT: seal the page at Gpa; the response is hdr.len, the header, the io page. */
STATIC
INT32
SealPage (
  IN VOLATILE MH_HEADER  *Header,
  IN UINT8               *IoPage,
  IN UINT64              Gpa,
  IN UINT32              Seq
  )
{
  UINTN  OutSize;

  mHelper.NonceCounter++;
  ZeroMem (mHeader, sizeof (mHeader));
  CopyMem (mHeader, mMagic, sizeof (mMagic));
  PutLe (mHeader + 4, MH_HDR_VERSION, 2);
  PutLe (mHeader + 6, MH_CMD_ENCRYPT, 2);
  PutLe (mHeader + 8, Seq, 4);
  PutLe (mHeader + 12, 0, 4);
  PutLe (mHeader + 16, Gpa, 8);
  CopyMem (mHeader + 24, mHelper.SessionId, MIGRATION_SESSION_ID_SIZE);
  CopyMem (mHeader + MH_HDR_NONCE_AT, mHelper.NoncePrefix, 4);
  PutLe (mHeader + MH_HDR_NONCE_AT + 4, mHelper.NonceCounter, 8);
  OutSize = sizeof (mCipher);
  if (!AeadAesGcmEncrypt (
         mHelper.Key,
         sizeof (mHelper.Key),
         mHeader + MH_HDR_NONCE_AT,
         MH_NONCE_SIZE,
         mHeader,
         MH_HDR_AAD_SIZE,
         (CONST UINT8 *)(UINTN)Gpa,
         MH_PAGE_SIZE,
         mHeader + MH_HDR_TAG_AT,
         MH_TAG_SIZE,
         mCipher,
         &OutSize
         ))
  {
    return MH_RET_INVALID;
  }

  Header->Len = MH_HDR_SIZE;
  CopyMem ((VOID *)Header->Data, mHeader, MH_HDR_SIZE);
  CopyMem (IoPage, mCipher, MH_PAGE_SIZE);
  return MH_RET_OK;
}

/** DECRYPT: authenticate the offered page for Gpa in this session; only then write RAM. */
STATIC
INT32
OpenPage (
  IN VOLATILE MH_HEADER  *Header,
  IN UINT8               *IoPage,
  IN UINT64              Gpa
  )
{
  UINT32  Len;
  UINT32  Seq;
  UINTN   OutSize;
  UINT32  *Newest;

  Len = Header->Len;  // once: the host may keep writing the shared area
  if (Len > MH_HDR_SIZE) {
    return MH_RET_AUTH;
  }

  CopyMem (mHeader, (CONST VOID *)Header->Data, Len);
  CopyMem (mCipher, IoPage, MH_PAGE_SIZE);
  if ((Len != MH_HDR_SIZE) ||
      (CompareMem (mHeader, mMagic, sizeof (mMagic)) != 0) ||
      (GetLe (mHeader + 4, 2) != MH_HDR_VERSION) ||
      (GetLe (mHeader + 6, 2) != MH_CMD_ENCRYPT) ||
      (GetLe (mHeader + 12, 4) != 0) ||
      (GetLe (mHeader + 16, 8) != Gpa) ||
      (CompareMem (mHeader + 24, mHelper.SessionId, MIGRATION_SESSION_ID_SIZE) != 0))
  {
    return MH_RET_AUTH;
  }

  OutSize = sizeof (mPlain);
  if (!AeadAesGcmDecrypt (
         mHelper.Key,
         sizeof (mHelper.Key),
         mHeader + MH_HDR_NONCE_AT,
         MH_NONCE_SIZE,
         mHeader,
         MH_HDR_AAD_SIZE,
         mCipher,
         MH_PAGE_SIZE,
         mHeader + MH_HDR_TAG_AT,
         MH_TAG_SIZE,
         mPlain,
         &OutSize
         ))
  {
    return MH_RET_AUTH;
  }

  Seq    = (UINT32)GetLe (mHeader + 8, 4);
  Newest = &mHelper.Accepted[Gpa / MH_PAGE_SIZE];
  if (Seq <= *Newest) {
    return MH_RET_AUTH;  // a replay: not newer than a copy already accepted in this session
  }

  *Newest = Seq;
  CopyMem ((VOID *)(UINTN)Gpa, mPlain, MH_PAGE_SIZE);
  return MH_RET_OK;
}

STATIC
INT32
Execute (
  IN VOLATILE MH_HEADER  *Header,
  IN UINT8               *IoPage,
  IN UINT64              Cmd,
  IN UINT64              Gpa,
  IN UINT32              Seq
  )
{
  switch (Cmd) {
    case MH_CMD_INIT:
      if (!mHelper.Initialized) {
        if (!OpenSession ()) {
          return MH_RET_INVALID;
        }

        mHelper.Initialized = TRUE;
      }

      return MH_RET_OK;
    case MH_CMD_RESET:
      mHelper.Initialized = FALSE;
      return MH_RET_OK;
    case MH_CMD_ENCRYPT:
    case MH_CMD_DECRYPT:
      if (!mHelper.Initialized || !GpaIsPrivatePage (Gpa)) {
        DEBUG ((DEBUG_ERROR, "%a: command %lu refused for gpa 0x%lx\n", __func__, Cmd, Gpa));
        return MH_RET_INVALID;
      }

      return Cmd == MH_CMD_ENCRYPT ? SealPage (Header, IoPage, Gpa, Seq) : OpenPage (Header, IoPage, Gpa);
    default:
      return MH_RET_INVALID;
  }
}

/**
  The helper's entry: serve the mailbox for ever.
**/
EFI_STATUS
EFIAPI
MigrationHandlerMain (
  IN EFI_HANDLE        ImageHandle,
  IN EFI_SYSTEM_TABLE  *SystemTable
  )
{
  VOLATILE MH_PARAMS  *Params;
  VOLATILE MH_HEADER  *Header;
  UINT8               *IoPage;
  UINT32              Go;
  UINT64              Cmd;
  UINT64              Gpa;
  UINT32              Prefix;
  INT32               Ret;

  mHelper.MailboxBase = PcdGet32 (PcdConfidentialMigrationMailboxBase);
  mHelper.RamSize     = PcdGet64 (PcdConfidentialMigrationGuestRamSize);
  Params              = (VOLATILE MH_PARAMS *)(UINTN)mHelper.MailboxBase;
  Header              = (VOLATILE MH_HEADER *)(UINTN)(mHelper.MailboxBase + MH_HEADER_OFFSET);
  IoPage              = (UINT8 *)(UINTN)(mHelper.MailboxBase + MH_IO_OFFSET);
  if (!GetRandomNumber32 (&Prefix)) {
    Prefix = 0;
  }

  PutLe (mHelper.NoncePrefix, Prefix, 4);
  DisableInterrupts ();
  // go is the host's: never written here, not even at start (a command sent before we booted is served)
  for ( ; ;) {
    Go = (UINT32)Params->Go;
    if ((Go == 0) || (Go == mHelper.LastSeq)) {
      CpuPause ();
      continue;
    }

    MemoryFence ();  // go before the parameters
    Cmd          = Params->CmdType;
    Gpa          = Params->Gpa;
    Ret          = Execute (Header, IoPage, Cmd, Gpa, Go);
    Params->Ret  = Ret;
    MemoryFence ();  // the response and ret before done
    Params->Done = (INT32)Go;
    mHelper.LastSeq = Go;
  }
}
