/*
 * EDK2 stand-in of the mhmailbox C kit: the three CryptoPkg BaseCryptLib functions a
 * hardened helper uses, with EDK2's signatures. TRUE on success.
 */
#ifndef MH_EDK2_STUB_BASE_CRYPT_LIB_H
#define MH_EDK2_STUB_BASE_CRYPT_LIB_H
#include <Uefi.h>

#define SHA256_DIGEST_SIZE 32

BOOLEAN EFIAPI AeadAesGcmEncrypt(IN CONST UINT8 *Key, IN UINTN KeySize, IN CONST UINT8 *Iv, IN UINTN IvSize,
                                 IN CONST UINT8 *AData, IN UINTN ADataSize, IN CONST UINT8 *DataIn,
                                 IN UINTN DataInSize, OUT UINT8 *TagOut, IN UINTN TagSize, OUT UINT8 *DataOut,
                                 OUT UINTN *DataOutSize);
BOOLEAN EFIAPI AeadAesGcmDecrypt(IN CONST UINT8 *Key, IN UINTN KeySize, IN CONST UINT8 *Iv, IN UINTN IvSize,
                                 IN CONST UINT8 *AData, IN UINTN ADataSize, IN CONST UINT8 *DataIn,
                                 IN UINTN DataInSize, IN CONST UINT8 *Tag, IN UINTN TagSize, OUT UINT8 *DataOut,
                                 OUT UINTN *DataOutSize);
BOOLEAN EFIAPI HkdfSha256ExtractAndExpand(IN CONST UINT8 *Key, IN UINTN KeySize, IN CONST UINT8 *Salt,
                                          IN UINTN SaltSize, IN CONST UINT8 *Info, IN UINTN InfoSize,
                                          OUT UINT8 *Out, IN UINTN OutSize);
#endif
