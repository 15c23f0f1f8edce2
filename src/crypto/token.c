/* token.c: bearer tokens, hashing, hex, constant-time comparison. */
#include <string.h>

#include <sodium.h>

#include "base/base.h"
#include "crypto/crypto.h"

void
pv_token_new(char out[PV_TOKEN_LEN + 1])
{
    unsigned char r[32];

    randombytes_buf(r, sizeof r);
    memcpy(out, "pvt_", 4); /* NOLINT(bugprone-not-null-terminated-result): base64 follows */
    sodium_bin2base64(out + 4, PV_TOKEN_LEN - 3, r, sizeof r,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(r, sizeof r);
}

int
pv_token_hash(const char *token, unsigned char out[PV_HASH_BYTES])
{
    size_t i;

    if (strncmp(token, "pvt_", 4) != 0 || strlen(token) != PV_TOKEN_LEN)
        return PV_EINVAL;
    for (i = 4; i < PV_TOKEN_LEN; i++) {
        char c = token[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return PV_EINVAL;
    }
    crypto_generichash(out, PV_HASH_BYTES, (const unsigned char *)token, PV_TOKEN_LEN,
                       (const unsigned char *)"phivault-session", 16);
    return 0;
}

void
pv_wipe(void *p, size_t n)
{
    sodium_memzero(p, n);
}

int
pv_secret_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

void
pv_hash_init(struct pv_hasher *h)
{
    _Static_assert(sizeof h->state >= sizeof(crypto_generichash_state), "hasher state too small");
    crypto_generichash_init((crypto_generichash_state *)h->state, NULL, 0, PV_HASH_BYTES);
}

void
pv_hash_update(struct pv_hasher *h, const void *p, size_t len)
{
    crypto_generichash_update((crypto_generichash_state *)h->state, p, len);
}

void
pv_hash_final(struct pv_hasher *h, unsigned char out[PV_HASH_BYTES])
{
    crypto_generichash_final((crypto_generichash_state *)h->state, out, PV_HASH_BYTES);
}

void
pv_hash(const void *p, size_t len, unsigned char out[PV_HASH_BYTES])
{
    crypto_generichash(out, PV_HASH_BYTES, p, len, NULL, 0);
}

void
pv_hex(const unsigned char *in, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, in, n);
}

int
pv_unhex(const char *in, unsigned char *out, size_t n)
{
    size_t got;
    const char *end;

    if (strlen(in) != 2 * n)
        return PV_EINVAL;
    if (sodium_hex2bin(out, n, in, 2 * n, NULL, &got, &end) != 0 || got != n || *end != '\0')
        return PV_EINVAL;
    return 0;
}
