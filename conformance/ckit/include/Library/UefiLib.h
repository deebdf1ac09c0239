/* EDK2 stand-in of the mhmailbox C kit: nothing a helper needs beyond Uefi.h. */
#ifndef MH_EDK2_STUB_UEFI_LIB_H
#define MH_EDK2_STUB_UEFI_LIB_H
#include <Uefi.h>
#endif
