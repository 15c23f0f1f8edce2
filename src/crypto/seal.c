/*
 * seal.c: XChaCha20-Poly1305 field sealing.
 *
 * Sealed form: 0x01 | nonce (24) | ciphertext | tag (16). The associated
 * data is "pv-f1" followed by subject, record and field, each prefixed by
 * its length, and the data-key version, so no sealed value can be moved to
 * another person, record, field or key generation without failing to open.
 */
#include <string.h>

#include <sodium.h>

#include "base/base.h"
#include "crypto/crypto.h"

#define SEAL_FORMAT 1
#define AD_MAX 512

static int
put_part(unsigned char *ad, size_t *pos, const char *s)
{
    size_t n = strlen(s);

    if (n > 255 || *pos + 1 + n > AD_MAX - 4)
        return PV_EINVAL;
    ad[(*pos)++] = (unsigned char)n;
    memcpy(ad + *pos, s, n); /* NOLINT(bugprone-not-null-terminated-result): length-prefixed */
    *pos += n;
    return 0;
}

static int
build_ad(const struct pv_seal_ad *a, uint32_t version, unsigned char ad[AD_MAX], size_t *len)
{
    size_t pos = 5;
    int rc;

    memcpy(ad, "pv-f1", 5);
    if ((rc = put_part(ad, &pos, a->subject)) != 0 || (rc = put_part(ad, &pos, a->record)) != 0 ||
        (rc = put_part(ad, &pos, a->field)) != 0)
        return rc;
    for (int i = 0; i < 4; i++)
        ad[pos++] = (unsigned char)(version >> (24 - 8 * i));
    *len = pos;
    return 0;
}

int
pv_seal(const struct pv_dkey *dk, const struct pv_seal_ad *a, const void *pt, size_t len,
        unsigned char *out, size_t cap, size_t *outlen)
{
    unsigned char ad[AD_MAX];
    size_t adlen;
    int rc;

    if (cap < len + PV_SEAL_OVERHEAD)
        return PV_ETOOBIG;
    if ((rc = build_ad(a, dk->version, ad, &adlen)) != 0)
        return rc;
    out[0] = SEAL_FORMAT;
    randombytes_buf(out + 1, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 25, NULL, pt, len, ad, adlen, NULL, out + 1,
                                               dk->k);
    *outlen = len + PV_SEAL_OVERHEAD;
    return 0;
}

int
pv_unseal(const struct pv_dkey *dk, const struct pv_seal_ad *a, const unsigned char *ct, size_t len,
          unsigned char *out, size_t cap, size_t *outlen)
{
    unsigned char ad[AD_MAX];
    size_t adlen;
    int rc;

    if (len < PV_SEAL_OVERHEAD || ct[0] != SEAL_FORMAT)
        return PV_ECRYPTO;
    if (cap < len - PV_SEAL_OVERHEAD + 1)
        return PV_ETOOBIG;
    if ((rc = build_ad(a, dk->version, ad, &adlen)) != 0)
        return rc;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, ct + 25, len - 25, ad, adlen,
                                                   ct + 1, dk->k) != 0)
        return PV_ECRYPTO;
    *outlen = len - PV_SEAL_OVERHEAD;
    out[*outlen] = '\0';
    return 0;
}
