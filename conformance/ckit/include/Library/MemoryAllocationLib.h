/* EDK2 stand-in of the mhmailbox C kit: pool allocation. */
#ifndef MH_EDK2_STUB_MEMORY_ALLOCATION_LIB_H
#define MH_EDK2_STUB_MEMORY_ALLOCATION_LIB_H
#include <Uefi.h>

VOID *EFIAPI AllocatePool(IN UINTN AllocationSize);
VOID *EFIAPI AllocateZeroPool(IN UINTN AllocationSize);
VOID EFIAPI FreePool(IN VOID *Buffer);
#endif
