/* mac.c: keyed tags (BLAKE2b) and HMAC-SHA1 for the protocols that mandate it. */
#include <string.h>

#include <nettle/hmac.h>
#include <sodium.h>

#include "crypto/crypto.h"

/* The sizes the vault checks end-to-end values against are libsodium's own. */
_Static_assert(PV_BOX_PUBLIC_BYTES == crypto_box_PUBLICKEYBYTES, "X25519 public key size");
_Static_assert(PV_BOX_SEAL_BYTES == crypto_box_SEALBYTES, "sealed box overhead");

void
pv_mac(const unsigned char key[PV_KEY_BYTES], const void *msg, size_t len,
       unsigned char out[PV_MAC_BYTES])
{
    crypto_generichash(out, PV_MAC_BYTES, msg, len, key, PV_KEY_BYTES);
}

void
pv_hmac_sha1(const void *key, size_t klen, const void *msg, size_t len,
             unsigned char out[PV_SHA1_BYTES])
{
    struct hmac_sha1_ctx ctx;

    hmac_sha1_set_key(&ctx, klen, key);
    hmac_sha1_update(&ctx, len, msg);
    hmac_sha1_digest(&ctx, PV_SHA1_BYTES, out);
    sodium_memzero(&ctx, sizeof ctx);
}

int
pv_base64_encode(const void *in, size_t n, int url, char *out, size_t cap)
{
    int variant = url ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL;

    if (cap < sodium_base64_encoded_len(n, variant))
        return PV_ETOOBIG;
    sodium_bin2base64(out, cap, in, n, variant);
    return 0;
}

int
pv_base64_decode(const char *in, int url, unsigned char *out, size_t cap, size_t *outlen)
{
    int variant = url ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL;
    const char *end;

    if (sodium_base642bin(out, cap, in, strlen(in), NULL, outlen, &end, variant) != 0 ||
        *end != '\0')
        return PV_EINVAL;
    return 0;
}
