/* EDK2 stand-in of the mhmailbox C kit: CPU helpers a polling loop uses. */
#ifndef MH_EDK2_STUB_BASE_LIB_H
#define MH_EDK2_STUB_BASE_LIB_H
#include <Uefi.h>

VOID EFIAPI CpuPause(VOID);
VOID EFIAPI DisableInterrupts(VOID);
VOID EFIAPI EnableInterrupts(VOID);
/* A full memory barrier: neither loads nor stores are reordered across it. */
VOID EFIAPI MemoryFence(VOID);
VOID EFIAPI CpuDeadLoop(VOID);
#endif
