/* EDK2 stand-in of the mhmailbox C kit: a random number from the platform. */
#ifndef MH_EDK2_STUB_RNG_LIB_H
#define MH_EDK2_STUB_RNG_LIB_H
#include <Uefi.h>

BOOLEAN EFIAPI GetRandomNumber32(OUT UINT32 *Rand);
#endif
