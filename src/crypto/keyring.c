/*
 * keyring.c: the key file, master keys and data-key wrapping.
 *
 * The key file is text so an operator can see its structure (never its
 * values, which only phivault prints nowhere):
 *
 *     phivault-keyring 1
 *     index <64 hex digits>
 *     master <version> <64 hex digits>      (one line per version)
 *     active <version>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/base.h"
#include "crypto/crypto.h"

#define MAX_MASTERS 16
#define KEYFILE_MAX 4096

struct master {
    uint32_t version;
    unsigned char key[PV_KEY_BYTES];
};

/* Allocated with sodium_malloc: guarded, locked, wiped by sodium_free. */
struct pv_keyring {
    unsigned char index_key[PV_KEY_BYTES];
    struct master masters[MAX_MASTERS];
    int nmasters;
    uint32_t active;
};

int
pv_keyring_create(const char *path)
{
    unsigned char key[PV_KEY_BYTES];
    char hex[2 * PV_KEY_BYTES + 1];
    struct pv_buf b;
    int rc;

    pv_buf_init(&b, KEYFILE_MAX);
    rc = pv_buf_puts(&b, "phivault-keyring 1\n");
    randombytes_buf(key, sizeof key);
    pv_hex(key, sizeof key, hex);
    if (rc == 0)
        rc = pv_buf_printf(&b, "index %s\n", hex);
    randombytes_buf(key, sizeof key);
    pv_hex(key, sizeof key, hex);
    if (rc == 0)
        rc = pv_buf_printf(&b, "master 1 %s\nactive 1\n", hex);
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    if (rc == 0)
        rc = pv_secret_file_write(path, b.data, b.len);
    if (b.data)
        sodium_memzero(b.data, b.len);
    pv_buf_fini(&b);
    return rc;
}

/* Parse the key file text (NUL-terminated, in locked memory) into kr. */
static int
parse_keyfile(char *text, struct pv_keyring *kr)
{
    char *line = text, *next, *sp, *sp2;
    int64_t v;
    int header = 0, have_index = 0;

    kr->nmasters = 0;
    kr->active = 0;
    for (; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!header) {
            if (strcmp(line, "phivault-keyring 1") != 0)
                return PV_EINVAL;
            header = 1;
        } else if (strncmp(line, "index ", 6) == 0) {
            if (pv_unhex(line + 6, kr->index_key, PV_KEY_BYTES) != 0)
                return PV_EINVAL;
            have_index = 1;
        } else if (strncmp(line, "master ", 7) == 0) {
            sp = line + 7;
            sp2 = strchr(sp, ' ');
            if (sp2 == NULL || kr->nmasters == MAX_MASTERS)
                return PV_EINVAL;
            *sp2 = '\0';
            if (pv_parse_i64(sp, 1, UINT32_MAX, &v) != 0 ||
                pv_unhex(sp2 + 1, kr->masters[kr->nmasters].key, PV_KEY_BYTES) != 0)
                return PV_EINVAL;
            kr->masters[kr->nmasters++].version = (uint32_t)v;
        } else if (strncmp(line, "active ", 7) == 0) {
            if (pv_parse_i64(line + 7, 1, UINT32_MAX, &v) != 0)
                return PV_EINVAL;
            kr->active = (uint32_t)v;
        } else if (*line != '\0') {
            return PV_EINVAL;
        }
    }
    if (!header || !have_index || kr->nmasters == 0)
        return PV_EINVAL;
    if (kr->active == 0)
        kr->active = kr->masters[kr->nmasters - 1].version;
    for (int i = 0; i < kr->nmasters; i++)
        if (kr->masters[i].version == kr->active)
            return 0;
    return PV_EINVAL;
}

int
pv_keyring_load(const char *path, struct pv_keyring **out)
{
    struct pv_keyring *kr;
    unsigned char *text;
    size_t len;
    int rc;

    text = sodium_malloc(KEYFILE_MAX + 1);
    kr = sodium_malloc(sizeof *kr);
    if (text == NULL || kr == NULL) {
        sodium_free(text);
        sodium_free(kr);
        return PV_ENOMEM;
    }
    rc = pv_secret_file_read(path, text, KEYFILE_MAX, &len);
    if (rc == 0) {
        text[len] = '\0';
        rc = parse_keyfile((char *)text, kr);
    }
    sodium_free(text);
    if (rc != 0) {
        sodium_free(kr);
        return rc;
    }
    sodium_mprotect_readonly(kr);
    *out = kr;
    return 0;
}

void
pv_keyring_free(struct pv_keyring *kr)
{
    if (kr)
        sodium_free(kr);
}

uint32_t
pv_keyring_active(const struct pv_keyring *kr)
{
    return kr->active;
}

static const unsigned char *
master_key(const struct pv_keyring *kr, uint32_t version)
{
    for (int i = 0; i < kr->nmasters; i++)
        if (kr->masters[i].version == version)
            return kr->masters[i].key;
    return NULL;
}

void
pv_dkey_new(struct pv_dkey *dk, uint32_t version)
{
    randombytes_buf(dk->k, sizeof dk->k);
    dk->version = version;
}

void
pv_dkey_wipe(struct pv_dkey *dk)
{
    sodium_memzero(dk, sizeof *dk);
}

/* Associated data of a wrapped key: "pv-dk1" owner versions. */
static size_t
wrap_ad(unsigned char *ad, size_t cap, const char *owner, uint32_t mv, uint32_t dv)
{
    size_t olen = strlen(owner);

    if (olen + 16 > cap)
        return 0;
    memcpy(ad, "pv-dk1", 6);
    ad[6] = (unsigned char)olen;
    memcpy(ad + 7, owner, olen);
    for (int i = 0; i < 4; i++) {
        ad[7 + olen + i] = (unsigned char)(mv >> (24 - 8 * i));
        ad[11 + olen + i] = (unsigned char)(dv >> (24 - 8 * i));
    }
    return olen + 15;
}

int
pv_keyring_wrap(const struct pv_keyring *kr, const char *owner, const struct pv_dkey *dk,
                unsigned char out[PV_WRAPPED_BYTES], uint32_t *master_version)
{
    unsigned char ad[256];
    size_t adlen = wrap_ad(ad, sizeof ad, owner, kr->active, dk->version);
    const unsigned char *mk = master_key(kr, kr->active);

    if (adlen == 0 || mk == NULL)
        return PV_EINVAL;
    randombytes_buf(out, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 24, NULL, dk->k, PV_KEY_BYTES, ad, adlen, NULL,
                                               out, mk);
    *master_version = kr->active;
    return 0;
}

int
pv_keyring_unwrap(const struct pv_keyring *kr, const char *owner, uint32_t master_version,
                  uint32_t dk_version, const unsigned char *wrapped, size_t len,
                  struct pv_dkey *out)
{
    unsigned char ad[256];
    size_t adlen = wrap_ad(ad, sizeof ad, owner, master_version, dk_version);
    const unsigned char *mk = master_key(kr, master_version);

    if (adlen == 0 || len != PV_WRAPPED_BYTES)
        return PV_EINVAL;
    if (mk == NULL)
        return PV_ECRYPTO;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out->k, NULL, NULL, wrapped + 24, len - 24, ad,
                                                   adlen, wrapped, mk) != 0) {
        sodium_memzero(out->k, sizeof out->k);
        return PV_ECRYPTO;
    }
    out->version = dk_version;
    return 0;
}

void
pv_keyring_blind(const struct pv_keyring *kr, const char *index, const char *value,
                 unsigned char out[PV_HASH_BYTES])
{
    crypto_generichash_state st;
    unsigned char ilen = (unsigned char)strnlen(index, 255);

    crypto_generichash_init(&st, kr->index_key, PV_KEY_BYTES, PV_HASH_BYTES);
    crypto_generichash_update(&st, &ilen, 1);
    crypto_generichash_update(&st, (const unsigned char *)index, ilen);
    crypto_generichash_update(&st, (const unsigned char *)value, strlen(value));
    crypto_generichash_final(&st, out, PV_HASH_BYTES);
    sodium_memzero(&st, sizeof st);
}

void
pv_keyring_derive(const struct pv_keyring *kr, const char *context, unsigned char out[PV_KEY_BYTES])
{
    crypto_generichash_state st;

    /* BLAKE2b keyed with the index key is a PRF; the label keeps it apart from blind indexes. */
    crypto_generichash_init(&st, kr->index_key, PV_KEY_BYTES, PV_KEY_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)"pv-derive-1", 12);
    crypto_generichash_update(&st, (const unsigned char *)context, strlen(context));
    crypto_generichash_final(&st, out, PV_KEY_BYTES);
    sodium_memzero(&st, sizeof st);
}
