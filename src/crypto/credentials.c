/*
 * credentials.c: TOTP second factors (RFC 6238) and service API keys.
 *
 * TOTP is RFC 6238's default: HMAC-SHA-1, 6 digits, 30-second steps. Common
 * authenticator apps ignore the otpauth URI's algorithm parameter and compute
 * SHA-1 codes, so any other hash would lock staff out. HMAC-SHA-1 is still
 * sound as a MAC (the collision attacks on SHA-1 do not reach it), and the
 * secret is 256 bits, above RFC 4226's 128-bit minimum.
 */
#include <string.h>

#include <sodium.h>

#include "base/base.h"
#include "crypto/crypto.h"

void
pv_totp_secret_new(unsigned char out[PV_TOTP_SECRET_BYTES])
{
    randombytes_buf(out, PV_TOTP_SECRET_BYTES);
}

uint32_t
pv_totp_code(const unsigned char *secret, size_t len, int64_t step, int digits)
{
    unsigned char msg[8], mac[PV_SHA1_BYTES];
    uint32_t bin, mod = 1;
    int off;

    for (int i = 7; i >= 0; i--, step >>= 8)
        msg[i] = (unsigned char)(step & 0xff);
    pv_hmac_sha1(secret, len, msg, sizeof msg, mac);
    /* RFC 4226 dynamic truncation. */
    off = mac[sizeof mac - 1] & 0x0f;
    bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
          (uint32_t)mac[off + 2] << 8 | mac[off + 3];
    for (int i = 0; i < digits; i++)
        mod *= 10;
    sodium_memzero(mac, sizeof mac);
    return bin % mod;
}

int
pv_totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now_s,
               int64_t last_step, int64_t *step)
{
    char want[PV_TOTP_DIGITS + 1], given[PV_TOTP_DIGITS + 1];
    int64_t now = now_s / PV_TOTP_STEP_S, found = -1;

    if (code == NULL || strlen(code) != PV_TOTP_DIGITS)
        return PV_ELOGIN;
    for (int i = 0; i < PV_TOTP_DIGITS; i++)
        if (code[i] < '0' || code[i] > '9')
            return PV_ELOGIN;
    memcpy(given, code, sizeof given);
    /* Every candidate step is computed and compared, so timing tells nothing of which matched. */
    for (int64_t s = now - 1; s <= now + 1; s++) {
        uint32_t v = pv_totp_code(secret, len, s, PV_TOTP_DIGITS);
        for (int i = PV_TOTP_DIGITS - 1; i >= 0; i--, v /= 10)
            want[i] = (char)('0' + v % 10);
        want[PV_TOTP_DIGITS] = '\0';
        if (sodium_memcmp(want, given, PV_TOTP_DIGITS) == 0 && s > last_step && found < 0)
            found = s;
    }
    sodium_memzero(want, sizeof want);
    if (found < 0)
        return PV_ELOGIN;
    *step = found;
    return 0;
}

int
pv_base32_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    size_t o = 0, bits = 0;
    uint32_t acc = 0;

    if (cap < PV_BASE32_MAX(n))
        return PV_ETOOBIG;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return 0;
}

void
pv_apikey_new(char out[PV_APIKEY_LEN + 1])
{
    unsigned char r[32];

    randombytes_buf(r, sizeof r);
    memcpy(out, "pvk_", 4); /* NOLINT(bugprone-not-null-terminated-result): base64 follows */
    sodium_bin2base64(out + 4, PV_APIKEY_LEN - 3, r, sizeof r,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(r, sizeof r);
}

int
pv_apikey_hash(const char *key, unsigned char out[PV_HASH_BYTES])
{
    if (strncmp(key, "pvk_", 4) != 0 || strlen(key) != PV_APIKEY_LEN)
        return PV_EINVAL;
    for (size_t i = 4; i < PV_APIKEY_LEN; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return PV_EINVAL;
    }
    crypto_generichash(out, PV_HASH_BYTES, (const unsigned char *)key, PV_APIKEY_LEN,
                       (const unsigned char *)"phivault-apikey", 15);
    return 0;
}
