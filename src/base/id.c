/* id.c: random identifiers, 128 bits in lowercase Crockford base32. */
#include <string.h>

#include <sodium.h>

#include "base/base.h"

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

void
pv_id_new(const char *prefix, char out[PV_ID_MAX])
{
    unsigned char r[17];
    size_t plen = strlen(prefix), i;
    unsigned acc = 0;
    int bits = 0;
    char *p;

    if (plen > 4)
        plen = 4;
    randombytes_buf(r, 16);
    r[16] = 0;
    memcpy(out, prefix, plen); /* NOLINT(bugprone-not-null-terminated-result): ends below */
    out[plen] = '_';
    p = out + plen + 1;
    /* 128 bits -> 26 characters of 5 bits (the last padded with zeros). */
    for (i = 0; i < 17 && p < out + plen + 1 + 26; i++) {
        acc = (acc << 8) | r[i];
        bits += 8;
        while (bits >= 5 && p < out + plen + 1 + 26) {
            *p++ = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    *p = '\0';
}

int
pv_id_valid(const char *s, const char *prefix)
{
    size_t plen = strlen(prefix), i;

    if (s == NULL || strncmp(s, prefix, plen) != 0 || s[plen] != '_')
        return 0;
    s += plen + 1;
    for (i = 0; i < 26; i++)
        if (s[i] == '\0' || strchr(alphabet, s[i]) == NULL)
            return 0;
    return s[26] == '\0';
}
