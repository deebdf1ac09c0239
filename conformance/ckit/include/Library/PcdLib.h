/*
 * EDK2 stand-in of the mhmailbox C kit: PcdGet32/PcdGet64/PcdGetBool read a platform
 * constant by token name. The helpers use:
 *   PcdConfidentialMigrationMailboxBase  (32 bits) the mailbox's gpa (0x820000 on OVMF)
 *   PcdConfidentialMigrationGuestRamSize (64 bits) bytes of guest RAM from gpa 0 (ours: a
 *                                        hardened helper refuses a gpa past it)
 * Under the kit both are the suite's: the mailbox at 0x820000, RAM as the rig has it.
 */
#ifndef MH_EDK2_STUB_PCD_LIB_H
#define MH_EDK2_STUB_PCD_LIB_H
#include <Uefi.h>

extern UINT32 _gPcd_PcdConfidentialMigrationMailboxBase;
extern UINT64 _gPcd_PcdConfidentialMigrationGuestRamSize;

#define PcdGet32(TokenName) ((UINT32)_gPcd_##TokenName)
#define PcdGet64(TokenName) ((UINT64)_gPcd_##TokenName)
#define PcdGetBool(TokenName) ((BOOLEAN)(_gPcd_##TokenName != 0))
#endif
