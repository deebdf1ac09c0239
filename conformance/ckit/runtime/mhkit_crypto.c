/*
 * mhkit_crypto.c: the C kit's BaseCryptLib stand-in (include/Library/BaseCryptLib.h) with
 * OpenSSL's libcrypto: AES-256-GCM (12-byte nonce, 16-byte tag) and HKDF-SHA256, with EDK2's
 * signatures and meanings (TRUE on success). Linked into a helper build when libcrypto's
 * development files are installed (libssl-dev); built like the runtime, so libcrypto's own
 * copies go through the runtime's memmove (a copy into the mailbox is seen).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include <Uefi.h>
#include <Library/BaseCryptLib.h>

BOOLEAN EFIAPI HkdfSha256ExtractAndExpand(IN CONST UINT8 *Key, IN UINTN KeySize, IN CONST UINT8 *Salt, IN UINTN SaltSize,
                                          IN CONST UINT8 *Info, IN UINTN InfoSize, OUT UINT8 *Out, IN UINTN OutSize)
{
    UINT8 prk[32], t[32], msg[256 + 32 + 1];
    unsigned int n = 0;
    UINTN done = 0, tlen = 0;
    if (OutSize > 255 * 32 || InfoSize > 256)
        return FALSE;
    if (!HMAC(EVP_sha256(), Salt, (int)SaltSize, Key, KeySize, prk, &n))
        return FALSE;
    for (UINT8 i = 1; done < OutSize; i++) {  /* T(i) = HMAC(PRK, T(i-1) || info || i) */
        memcpy(msg, t, tlen);
        memcpy(msg + tlen, Info, InfoSize);
        msg[tlen + InfoSize] = i;
        if (!HMAC(EVP_sha256(), prk, 32, msg, tlen + InfoSize + 1, t, &n))
            return FALSE;
        tlen = 32;
        UINTN k = OutSize - done < 32 ? OutSize - done : 32;
        memcpy(Out + done, t, k);
        done += k;
    }
    return TRUE;
}

static BOOLEAN gcm(int enc, CONST UINT8 *Key, CONST UINT8 *Iv, CONST UINT8 *AData, UINTN ADataSize, CONST UINT8 *In,
                   UINTN InSize, UINT8 *Tag, UINT8 *Out, UINTN *OutSize)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0, ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) &&
                        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) &&
                        EVP_CipherInit_ex(c, NULL, NULL, Key, Iv, enc) &&
                        EVP_CipherUpdate(c, NULL, &n, AData, (int)ADataSize) &&
                        EVP_CipherUpdate(c, Out, &n, In, (int)InSize) &&
                        (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, Tag)) &&
                        EVP_CipherFinal_ex(c, Out + n, &m) &&
                        (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, Tag));
    EVP_CIPHER_CTX_free(c);
    *OutSize = (UINTN)(n + m);
    return ok ? TRUE : FALSE;
}

BOOLEAN EFIAPI AeadAesGcmEncrypt(IN CONST UINT8 *Key, IN UINTN KeySize, IN CONST UINT8 *Iv, IN UINTN IvSize,
                                 IN CONST UINT8 *AData, IN UINTN ADataSize, IN CONST UINT8 *DataIn, IN UINTN DataInSize,
                                 OUT UINT8 *TagOut, IN UINTN TagSize, OUT UINT8 *DataOut, OUT UINTN *DataOutSize)
{
    if (KeySize != 32 || IvSize != 12 || TagSize != 16)
        return FALSE;
    return gcm(1, Key, Iv, AData, ADataSize, DataIn, DataInSize, TagOut, DataOut, DataOutSize);
}

BOOLEAN EFIAPI AeadAesGcmDecrypt(IN CONST UINT8 *Key, IN UINTN KeySize, IN CONST UINT8 *Iv, IN UINTN IvSize,
                                 IN CONST UINT8 *AData, IN UINTN ADataSize, IN CONST UINT8 *DataIn, IN UINTN DataInSize,
                                 IN CONST UINT8 *Tag, IN UINTN TagSize, OUT UINT8 *DataOut, OUT UINTN *DataOutSize)
{
    UINT8 tag[16];
    if (KeySize != 32 || IvSize != 12 || TagSize != 16)
        return FALSE;
    memcpy(tag, Tag, 16);
    return gcm(0, Key, Iv, AData, ADataSize, DataIn, DataInSize, tag, DataOut, DataOutSize);
}

/* Run once by the fork server before it forks any helper: OpenSSL loads its providers and
 * algorithm tables at their first use (milliseconds), which every forked helper then inherits
 * done. The library's state only: the helper's own static state is untouched. */
void mhkit_warm_up(void)
{
    UINT8 key[32] = { 0 }, iv[12] = { 0 }, in[16] = { 0 }, out[16], tag[16], okm[32];
    UINTN n;
    gcm(1, key, iv, in, sizeof in, in, sizeof in, tag, out, &n);
    gcm(0, key, iv, in, sizeof in, out, sizeof out, tag, in, &n);
    HkdfSha256ExtractAndExpand(key, sizeof key, iv, sizeof iv, in, sizeof in, okm, sizeof okm);
}
