/* EDK2 stand-in of the mhmailbox C kit: the memory copy and compare functions. */
#ifndef MH_EDK2_STUB_BASE_MEMORY_LIB_H
#define MH_EDK2_STUB_BASE_MEMORY_LIB_H
#include <Uefi.h>

VOID *EFIAPI CopyMem(OUT VOID *DestinationBuffer, IN CONST VOID *SourceBuffer, IN UINTN Length);
VOID *EFIAPI SetMem(OUT VOID *Buffer, IN UINTN Length, IN UINT8 Value);
VOID *EFIAPI ZeroMem(OUT VOID *Buffer, IN UINTN Length);
INTN EFIAPI CompareMem(IN CONST VOID *DestinationBuffer, IN CONST VOID *SourceBuffer, IN UINTN Length);
#endif
