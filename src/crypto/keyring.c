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
 *
 * A loaded keyring can be reloaded from its file while every thread keeps
 * using it: `phivault keys rotate` adds a master version, rewraps every data
 * key, then retires the old version, and the running server picks each step
 * up (pv_keyring_reload) without a restart. The secrets sit behind a mutex
 * held only to copy the one key an operation needs (so a reload waits for
 * nothing longer than a copy, however busy the readers); a reload swaps
 * them whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "base/base.h"
#include "crypto/crypto.h"

#define MAX_MASTERS 16
#define KEYFILE_MAX 4096

struct master {
    uint32_t version;
    unsigned char key[PV_KEY_BYTES];
};

/* Allocated with sodium_malloc: guarded, locked, wiped by sodium_free; read-only once loaded. */
struct secrets {
    unsigned char index_key[PV_KEY_BYTES];
    struct master masters[MAX_MASTERS];
    int nmasters;
    uint32_t active;
};

struct pv_keyring {
    pthread_mutex_t lock; /* guards s: operations copy a key out, a reload swaps s */
    struct secrets *s;
    char path[4096]; /* the key file, for reloads */
};

/* The lock guards the secrets pointer, not the keyring's identity: const callers take it too. */
static const struct secrets *
rd(const struct pv_keyring *kr)
{
    pthread_mutex_lock((pthread_mutex_t *)&kr->lock);
    return kr->s;
}

static void
unrd(const struct pv_keyring *kr)
{
    pthread_mutex_unlock((pthread_mutex_t *)&kr->lock);
}

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
parse_keyfile(char *text, struct secrets *kr)
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

/* Read and parse a key file into new locked, read-only memory. */
static int
load_secrets(const char *path, struct secrets **out)
{
    struct secrets *kr;
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

int
pv_keyring_load(const char *path, struct pv_keyring **out)
{
    struct pv_keyring *kr = calloc(1, sizeof *kr);
    int rc;

    if (kr == NULL)
        return PV_ENOMEM;
    if (pv_strlcpy(kr->path, path, sizeof kr->path) != 0) {
        free(kr);
        return PV_EINVAL;
    }
    if ((rc = load_secrets(path, &kr->s)) != 0) {
        free(kr);
        return rc;
    }
    pthread_mutex_init(&kr->lock, NULL);
    *out = kr;
    return 0;
}

void
pv_keyring_free(struct pv_keyring *kr)
{
    if (kr == NULL)
        return;
    sodium_free(kr->s);
    pthread_mutex_destroy(&kr->lock);
    free(kr);
}

uint32_t
pv_keyring_active(const struct pv_keyring *kr)
{
    uint32_t v = rd(kr)->active;

    unrd(kr);
    return v;
}

/*
 * Copy the master key of version (0: the active one) into out, and its
 * version into *used; PV_ECRYPTO if the keyring has no such version.
 */
static int take_master(const struct pv_keyring *keyring, uint32_t version,
                       unsigned char out[PV_KEY_BYTES], uint32_t *used);

static const unsigned char *
master_key(const struct secrets *kr, uint32_t version)
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
    /* Associated data is bytes: a tag, then the owner prefixed by its length, never a string. */
    memcpy(ad, "pv-dk1", 6); /* NOLINT(bugprone-not-null-terminated-result) */
    ad[6] = (unsigned char)olen;
    memcpy(ad + 7, owner, olen); /* NOLINT(bugprone-not-null-terminated-result) */
    for (int i = 0; i < 4; i++) {
        ad[7 + olen + i] = (unsigned char)(mv >> (24 - 8 * i));
        ad[11 + olen + i] = (unsigned char)(dv >> (24 - 8 * i));
    }
    return olen + 15;
}

static int
take_master(const struct pv_keyring *keyring, uint32_t version, unsigned char out[PV_KEY_BYTES],
            uint32_t *used)
{
    const struct secrets *kr = rd(keyring);
    const unsigned char *mk;
    int rc = PV_ECRYPTO;

    if (version == 0)
        version = kr->active;
    if ((mk = master_key(kr, version)) != NULL) {
        memcpy(out, mk, PV_KEY_BYTES);
        *used = version;
        rc = 0;
    }
    unrd(keyring);
    return rc;
}

int
pv_keyring_wrap(const struct pv_keyring *keyring, const char *owner, const struct pv_dkey *dk,
                unsigned char out[PV_WRAPPED_BYTES], uint32_t *master_version)
{
    unsigned char ad[256], mk[PV_KEY_BYTES];
    uint32_t mv;
    size_t adlen;

    if (take_master(keyring, 0, mk, &mv) != 0)
        return PV_EINVAL;
    if ((adlen = wrap_ad(ad, sizeof ad, owner, mv, dk->version)) == 0) {
        sodium_memzero(mk, sizeof mk);
        return PV_EINVAL;
    }
    randombytes_buf(out, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 24, NULL, dk->k, PV_KEY_BYTES, ad, adlen, NULL,
                                               out, mk);
    sodium_memzero(mk, sizeof mk);
    *master_version = mv;
    return 0;
}

int
pv_keyring_unwrap(const struct pv_keyring *keyring, const char *owner, uint32_t master_version,
                  uint32_t dk_version, const unsigned char *wrapped, size_t len,
                  struct pv_dkey *out)
{
    unsigned char ad[256], mk[PV_KEY_BYTES];
    size_t adlen = wrap_ad(ad, sizeof ad, owner, master_version, dk_version);
    uint32_t mv;
    int rc = 0;

    if (adlen == 0 || len != PV_WRAPPED_BYTES)
        return PV_EINVAL;
    if (take_master(keyring, master_version, mk, &mv) != 0)
        return PV_ECRYPTO;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out->k, NULL, NULL, wrapped + 24, len - 24, ad,
                                                   adlen, wrapped, mk) != 0) {
        sodium_memzero(out->k, sizeof out->k);
        rc = PV_ECRYPTO;
    } else {
        out->version = dk_version;
    }
    sodium_memzero(mk, sizeof mk);
    return rc;
}

void
pv_keyring_blind(const struct pv_keyring *keyring, const char *index, const char *value,
                 unsigned char out[PV_HASH_BYTES])
{
    crypto_generichash_state st;
    unsigned char ilen = (unsigned char)strnlen(index, 255);

    crypto_generichash_init(&st, rd(keyring)->index_key, PV_KEY_BYTES, PV_HASH_BYTES);
    unrd(keyring);
    crypto_generichash_update(&st, &ilen, 1);
    crypto_generichash_update(&st, (const unsigned char *)index, ilen);
    crypto_generichash_update(&st, (const unsigned char *)value, strlen(value));
    crypto_generichash_final(&st, out, PV_HASH_BYTES);
    sodium_memzero(&st, sizeof st);
}

/* ---- reloading and rotation -------------------------------------------------------- */

int
pv_keyring_has(const struct pv_keyring *keyring, uint32_t version)
{
    int has = master_key(rd(keyring), version) != NULL;

    unrd(keyring);
    return has;
}

int
pv_keyring_versions(const struct pv_keyring *keyring, uint32_t *out, int cap)
{
    const struct secrets *kr = rd(keyring);
    int n = 0;

    for (int i = 0; i < kr->nmasters && n < cap; i++)
        out[n++] = kr->masters[i].version;
    unrd(keyring);
    return n;
}

int
pv_keyring_reload(struct pv_keyring *kr)
{
    struct secrets *fresh, *old;
    int rc;

    if ((rc = load_secrets(kr->path, &fresh)) != 0)
        return rc;
    pthread_mutex_lock(&kr->lock);
    /* A file with another index key belongs to another data directory: keep what we have. */
    if (sodium_memcmp(fresh->index_key, kr->s->index_key, PV_KEY_BYTES) != 0) {
        pthread_mutex_unlock(&kr->lock);
        sodium_free(fresh);
        return PV_EINVAL;
    }
    old = kr->s;
    kr->s = fresh;
    pthread_mutex_unlock(&kr->lock);
    sodium_free(old);
    return 0;
}

/* The text of a key file for secrets s, into b (the caller wipes b). */
static int
format_keyfile(const struct secrets *s, struct pv_buf *b)
{
    char hex[2 * PV_KEY_BYTES + 1];
    int rc;

    pv_hex(s->index_key, PV_KEY_BYTES, hex);
    rc = pv_buf_printf(b, "phivault-keyring 1\nindex %s\n", hex);
    for (int i = 0; rc == 0 && i < s->nmasters; i++) {
        pv_hex(s->masters[i].key, PV_KEY_BYTES, hex);
        rc = pv_buf_printf(b, "master %u %s\n", (unsigned)s->masters[i].version, hex);
    }
    if (rc == 0)
        rc = pv_buf_printf(b, "active %u\n", (unsigned)s->active);
    sodium_memzero(hex, sizeof hex);
    return rc;
}

/*
 * Replace the key file at path with the key file of s, atomically: a new
 * file beside it, synced, renamed over the old one, and the directory
 * synced, so a crash leaves either the old file or the new one whole.
 */
static int
replace_keyfile(const char *path, const struct secrets *s)
{
    char tmp[4200], dir[4200];
    struct pv_buf b;
    int rc, fd;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.new", path) >= sizeof tmp ||
        pv_strlcpy(dir, path, sizeof dir) != 0)
        return PV_EINVAL;
    pv_buf_init(&b, KEYFILE_MAX);
    rc = format_keyfile(s, &b);
    if (rc == 0) {
        unlink(tmp); /* a leftover of an interrupted rotation */
        rc = pv_secret_file_write(tmp, b.data, b.len);
    }
    if (b.data)
        sodium_memzero(b.data, b.len);
    pv_buf_fini(&b);
    if (rc == 0 && rename(tmp, path) != 0) {
        unlink(tmp);
        rc = PV_EIO;
    }
    if (rc == 0 && (fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        if (fsync(fd) != 0)
            rc = PV_EIO;
        close(fd);
    }
    return rc;
}

/* Load the file at path into writable locked memory for an edit. */
static int
edit_begin(const char *path, struct secrets **out)
{
    int rc = load_secrets(path, out);

    if (rc == 0)
        sodium_mprotect_readwrite(*out);
    return rc;
}

int
pv_keyring_file_add(const char *path, uint32_t *version)
{
    struct secrets *s;
    uint32_t v = 0;
    int rc;

    if ((rc = edit_begin(path, &s)) != 0)
        return rc;
    for (int i = 0; i < s->nmasters; i++)
        if (s->masters[i].version > v)
            v = s->masters[i].version;
    if (s->nmasters == MAX_MASTERS || v == UINT32_MAX) {
        rc = PV_ETOOBIG;
    } else {
        v++;
        s->masters[s->nmasters].version = v;
        randombytes_buf(s->masters[s->nmasters].key, PV_KEY_BYTES);
        s->nmasters++;
        s->active = v;
        rc = replace_keyfile(path, s);
    }
    sodium_free(s);
    if (rc == 0)
        *version = v;
    return rc;
}

int
pv_keyring_file_retire(const char *path, uint32_t keep)
{
    struct secrets *s;
    int rc, n = 0;

    if ((rc = edit_begin(path, &s)) != 0)
        return rc;
    for (int i = 0; i < s->nmasters; i++)
        if (s->masters[i].version == keep)
            s->masters[n++] = s->masters[i];
    for (int i = n; i < s->nmasters; i++)
        sodium_memzero(&s->masters[i], sizeof s->masters[i]);
    if (n != 1) {
        rc = PV_ENOTFOUND;
    } else {
        s->nmasters = 1;
        s->active = keep;
        rc = replace_keyfile(path, s);
    }
    sodium_free(s);
    return rc;
}

void
pv_keyring_derive(const struct pv_keyring *kr, const char *context, unsigned char out[PV_KEY_BYTES])
{
    crypto_generichash_state st;

    /* BLAKE2b keyed with the index key is a PRF; the label keeps it apart from blind indexes. */
    crypto_generichash_init(&st, rd(kr)->index_key, PV_KEY_BYTES, PV_KEY_BYTES);
    unrd(kr);
    crypto_generichash_update(&st, (const unsigned char *)"pv-derive-1", 12);
    crypto_generichash_update(&st, (const unsigned char *)context, strlen(context));
    crypto_generichash_final(&st, out, PV_KEY_BYTES);
    sodium_memzero(&st, sizeof st);
}
