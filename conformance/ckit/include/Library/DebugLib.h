/* EDK2 stand-in of the mhmailbox C kit: DebugPrint, DEBUG, ASSERT. */
#ifndef MH_EDK2_STUB_DEBUG_LIB_H
#define MH_EDK2_STUB_DEBUG_LIB_H
#include <Uefi.h>

#define DEBUG_INFO 0x00000040
#define DEBUG_VERBOSE 0x00400000
#define DEBUG_ERROR 0x80000000

VOID EFIAPI DebugPrint(IN UINTN ErrorLevel, IN CONST CHAR8 *Format, ...);
VOID EFIAPI DebugAssert(IN CONST CHAR8 *FileName, IN UINTN LineNumber, IN CONST CHAR8 *Description);

#define DEBUG(Expression) DebugPrint Expression
#define ASSERT(Expression) \
    do { if (!(Expression)) DebugAssert(__FILE__, __LINE__, #Expression); } while (0)
#endif
