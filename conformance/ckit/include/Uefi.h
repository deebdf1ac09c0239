/*
 * EDK2 stand-in of the mhmailbox C kit: the UEFI base types and modifiers a helper uses,
 * enough to build an EDK2-style helper outside an EDK2 tree (code: the kit's runtime). Not EDK2; same names and meanings.
 */
#ifndef MH_EDK2_STUB_UEFI_H
#define MH_EDK2_STUB_UEFI_H

#include <stdint.h>
#include <stddef.h>

typedef uint8_t UINT8;
typedef uint16_t UINT16;
typedef uint32_t UINT32;
typedef uint64_t UINT64;
typedef int8_t INT8;
typedef int16_t INT16;
typedef int32_t INT32;
typedef int64_t INT64;
typedef uintptr_t UINTN;
typedef intptr_t INTN;
typedef unsigned char BOOLEAN;
typedef char CHAR8;
typedef uint16_t CHAR16;
typedef void VOID;
typedef UINTN EFI_STATUS;
typedef UINTN RETURN_STATUS;
typedef VOID *EFI_HANDLE;
typedef UINT64 EFI_PHYSICAL_ADDRESS;
typedef struct EFI_SYSTEM_TABLE EFI_SYSTEM_TABLE;

#define IN
#define OUT
#define OPTIONAL
#define EFIAPI
#define STATIC static
#define VOLATILE volatile
#define CONST const
#define TRUE ((BOOLEAN)1)
#define FALSE ((BOOLEAN)0)
#ifndef NULL
#define NULL ((VOID *)0)
#endif
#define GLOBAL_REMOVE_IF_UNREFERENCED
#define PACKED __attribute__((packed))

#define MAX_BIT (((UINTN)1) << (sizeof(UINTN) * 8 - 1))
#define ENCODE_ERROR(StatusCode) ((EFI_STATUS)(MAX_BIT | (StatusCode)))
#define EFI_SUCCESS ((EFI_STATUS)0)
#define EFI_INVALID_PARAMETER ENCODE_ERROR(2)
#define EFI_UNSUPPORTED ENCODE_ERROR(3)
#define EFI_NOT_READY ENCODE_ERROR(6)
#define EFI_OUT_OF_RESOURCES ENCODE_ERROR(9)
#define EFI_NOT_FOUND ENCODE_ERROR(14)
#define EFI_SECURITY_VIOLATION ENCODE_ERROR(26)
#define EFI_ERROR(StatusCode) (((INTN)(EFI_STATUS)(StatusCode)) < 0)

#define SIZE_4KB 0x00001000
#define EFI_PAGE_SIZE SIZE_4KB

#endif
