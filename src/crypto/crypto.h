/*
 * crypto: every secret of phivault and every use of one. libsodium only.
 *
 * - The keyring: a key file (0600, written by `phivault init`) holding an
 *   index key for blind indexes and one or more versioned master keys. The
 *   master key wraps one data key per subject; destroying a subject's
 *   wrapped data key makes their sealed fields unreadable everywhere.
 * - Field sealing: XChaCha20-Poly1305; the associated data binds subject,
 *   record, field and data-key version, so a sealed value moved to another
 *   row, field or person fails to open.
 * - Argon2id password hashes, with a bound on concurrent hashes (each takes
 *   64 MiB); random bearer tokens whose hashes alone are stored; Ed25519
 *   signing of audit checkpoints; BLAKE2b hashing.
 *
 * Key material lives in sodium_malloc memory (guarded, locked, wiped on
 * free). Data keys handed out in struct pv_dkey must be wiped by the caller
 * with pv_dkey_wipe() as soon as the operation is done.
 *
 * Thread safety: a loaded keyring and signer are read-only and shared by all
 * threads; every function here is thread-safe.
 */
#ifndef PV_CRYPTO_H
#define PV_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define PV_KEY_BYTES 32
#define PV_HASH_BYTES 32
#define PV_WRAPPED_BYTES (24 + PV_KEY_BYTES + 16) /* nonce, key, tag */
#define PV_SEAL_OVERHEAD (1 + 24 + 16)            /* format byte, nonce, tag */
#define PV_PWHASH_MAX 128
#define PV_TOKEN_LEN 47 /* "pvt_" + 43 base64url characters */
#define PV_SIG_BYTES 64
#define PV_SIGN_PK_BYTES 32

/* sodium_init() and the password-hash limiter; call once before anything else. */
int pv_crypto_init(unsigned max_concurrent_hashes);

/* ---- keyring ------------------------------------------------------------- */

struct pv_keyring;

/* A subject's data key in the clear. Lives on the caller's stack; wipe it. */
struct pv_dkey {
    unsigned char k[PV_KEY_BYTES];
    uint32_t version; /* data-key version, bound into every sealed field */
};

/* Write a new key file at path (0600, must not exist) with fresh random keys. */
int pv_keyring_create(const char *path);
/* Load a key file; refuses one readable by group or others. */
int pv_keyring_load(const char *path, struct pv_keyring **out);
void pv_keyring_free(struct pv_keyring *kr);
/* The master-key version new wraps use. */
uint32_t pv_keyring_active(const struct pv_keyring *kr);

/* A new random data key of the given version. */
void pv_dkey_new(struct pv_dkey *dk, uint32_t version);
void pv_dkey_wipe(struct pv_dkey *dk);

/*
 * Wrap dk for owner (a subject id) under the active master key. out receives
 * PV_WRAPPED_BYTES; *master_version the version used.
 */
int pv_keyring_wrap(const struct pv_keyring *kr, const char *owner, const struct pv_dkey *dk,
                    unsigned char out[PV_WRAPPED_BYTES], uint32_t *master_version);
/* Unwrap; PV_ECRYPTO if the blob, owner or versions do not match. */
int pv_keyring_unwrap(const struct pv_keyring *kr, const char *owner, uint32_t master_version,
                      uint32_t dk_version, const unsigned char *wrapped, size_t len,
                      struct pv_dkey *out);

/* Whether master key version is in the keyring. */
int pv_keyring_has(const struct pv_keyring *kr, uint32_t version);
/* The master versions held, at most cap; returns how many. */
int pv_keyring_versions(const struct pv_keyring *kr, uint32_t *out, int cap);
/*
 * Read the key file again (another process rotated it): new versions become
 * usable and retired ones are forgotten, while other threads keep using the
 * keyring. Refuses a file whose index key differs (PV_EINVAL).
 */
int pv_keyring_reload(struct pv_keyring *kr);
/*
 * Rotation, on the key file itself (replaced atomically): add a fresh master
 * key as the next version and make it active (*version receives it); retire
 * every version but keep (only once no data key is wrapped by them).
 */
int pv_keyring_file_add(const char *path, uint32_t *version);
int pv_keyring_file_retire(const char *path, uint32_t keep);

/*
 * Keyed exact-match digest of value for a named index (e.g. a category key):
 * equal inputs give equal digests, and nothing about value can be learnt
 * without the index key.
 */
void pv_keyring_blind(const struct pv_keyring *kr, const char *index, const char *value,
                      unsigned char out[PV_HASH_BYTES]);

/* ---- field sealing ---------------------------------------------------------- */

/* What a sealed value is bound to. */
struct pv_seal_ad {
    const char *subject; /* subject id (or "sys" for system data) */
    const char *record;  /* record id */
    const char *field;   /* field name */
};

/* out must hold len + PV_SEAL_OVERHEAD bytes. */
int pv_seal(const struct pv_dkey *dk, const struct pv_seal_ad *ad, const void *pt, size_t len,
            unsigned char *out, size_t cap, size_t *outlen);
/* out must hold len - PV_SEAL_OVERHEAD bytes (+1: the result is NUL-terminated). */
int pv_unseal(const struct pv_dkey *dk, const struct pv_seal_ad *ad, const unsigned char *ct,
              size_t len, unsigned char *out, size_t cap, size_t *outlen);

/* ---- passwords ------------------------------------------------------------ */

/* Argon2id, libsodium's interactive limits; blocks while too many run. */
int pv_password_hash(const char *password, char out[PV_PWHASH_MAX]);
/*
 * 0 if password matches hash, PV_ELOGIN if not. With hash NULL it hashes
 * against a dummy so an unknown user costs as much time as a known one.
 */
int pv_password_verify(const char *hash, const char *password);

/* ---- tokens --------------------------------------------------------------- */

void pv_token_new(char out[PV_TOKEN_LEN + 1]);
/* The stored form of a token; PV_EINVAL if it is not a well-formed token. */
int pv_token_hash(const char *token, unsigned char out[PV_HASH_BYTES]);
/* Wipe memory that held a secret or plaintext (never optimized away). */
void pv_wipe(void *p, size_t n);
/* Constant-time equality of two secrets. */
int pv_secret_equal(const void *a, const void *b, size_t len);

/* ---- hashing ---------------------------------------------------------------- */

struct pv_hasher {
    unsigned char state[384] __attribute__((aligned(64))); /* crypto_generichash_state */
};

void pv_hash_init(struct pv_hasher *h);
void pv_hash_update(struct pv_hasher *h, const void *p, size_t len);
void pv_hash_final(struct pv_hasher *h, unsigned char out[PV_HASH_BYTES]);
void pv_hash(const void *p, size_t len, unsigned char out[PV_HASH_BYTES]);

/* Lowercase hex of n bytes into out (2n+1). */
void pv_hex(const unsigned char *in, size_t n, char *out);
/* Parse exactly 2n hex digits. */
int pv_unhex(const char *in, unsigned char *out, size_t n);

/* ---- signing ---------------------------------------------------------------- */

struct pv_signer;

/* New Ed25519 key pair: secret at secret_path (0600), public at public_path. */
int pv_signer_create(const char *secret_path, const char *public_path);
int pv_signer_load(const char *secret_path, struct pv_signer **out);
void pv_signer_free(struct pv_signer *s);
void pv_signer_sign(const struct pv_signer *s, const void *msg, size_t len,
                    unsigned char sig[PV_SIG_BYTES]);
void pv_signer_public(const struct pv_signer *s, unsigned char pk[PV_SIGN_PK_BYTES]);
int pv_sig_load_public(const char *path, unsigned char pk[PV_SIGN_PK_BYTES]);
/* 0 if sig is pk's signature of msg, PV_ECRYPTO if not. */
int pv_sig_verify(const unsigned char pk[PV_SIGN_PK_BYTES], const void *msg, size_t len,
                  const unsigned char sig[PV_SIG_BYTES]);

/* ---- secret files ----------------------------------------------------------- */

/* Create path (must not exist) with mode 0600, write n bytes, fsync. */
int pv_secret_file_write(const char *path, const void *p, size_t n);
/*
 * Read up to cap bytes of a secret file into out (sodium_malloc memory owned
 * by the caller is advised); refuses a file readable by group or others.
 */
int pv_secret_file_read(const char *path, unsigned char *out, size_t cap, size_t *len);

/* ---- second factors and service keys (credentials.c) --------------------------- */

/*
 * TOTP, RFC 6238's default: HMAC-SHA-1 (pv_hmac_sha1), 6 digits, 30-second
 * steps, what every common authenticator app computes whatever the otpauth
 * URI says. The secret is 32 random bytes.
 */
#define PV_TOTP_SECRET_BYTES 32
#define PV_TOTP_DIGITS 6
#define PV_TOTP_STEP_S 30
#define PV_BASE32_MAX(n) (((n)*8 + 4) / 5 + 1)

void pv_totp_secret_new(unsigned char out[PV_TOTP_SECRET_BYTES]);
/* The code of a time step (seconds since the epoch / 30) as a number below 10^digits. */
uint32_t pv_totp_code(const unsigned char *secret, size_t len, int64_t step, int digits);
/*
 * Check a 6-digit code against the steps around now_s (one step either way,
 * for clock drift), accepting only steps after last_step so that a code is
 * never used twice. On a match *step is the step matched; else PV_ELOGIN.
 */
int pv_totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now_s,
                   int64_t last_step, int64_t *step);
/* RFC 4648 base32 without padding; cap must hold PV_BASE32_MAX(n). */
int pv_base32_encode(const unsigned char *in, size_t n, char *out, size_t cap);

/* Service API keys: "pvk_" + 43 base64url characters; stored only as their hashes. */
#define PV_APIKEY_LEN 47
void pv_apikey_new(char out[PV_APIKEY_LEN + 1]);
/* The stored form of a key; PV_EINVAL if it is not a well-formed key. */
int pv_apikey_hash(const char *key, unsigned char out[PV_HASH_BYTES]);
/* ---- derived keys and message authentication (mac.c) ------------------------ */

#define PV_SHA1_BYTES 20
#define PV_MAC_BYTES 16

/*
 * A key for one use, named by context (e.g. "unsubscribe"), derived from
 * the keyring's index key: stable across master-key rotation, so links
 * already sent keep working; unrelated to any other derived key.
 */
void pv_keyring_derive(const struct pv_keyring *kr, const char *context,
                       unsigned char out[PV_KEY_BYTES]);
/* A keyed BLAKE2b tag of PV_MAC_BYTES over msg. */
void pv_mac(const unsigned char key[PV_KEY_BYTES], const void *msg, size_t len,
            unsigned char out[PV_MAC_BYTES]);
/*
 * HMAC-SHA1 (RFC 2104). Only for protocols that mandate it (Twilio signs
 * its webhooks so); libsodium has no SHA-1, so this one function uses
 * nettle, the GnuTLS project's library.
 */
void pv_hmac_sha1(const void *key, size_t klen, const void *msg, size_t len,
                  unsigned char out[PV_SHA1_BYTES]);
/*
 * End-to-end values are sealed by the clients, never here: a reader's public
 * key is an X25519 key, and each box is libsodium's crypto_box_seal, whose
 * output is the plaintext plus an ephemeral key and a tag.
 */
#define PV_BOX_PUBLIC_BYTES 32
#define PV_BOX_SEAL_BYTES 48
/* Base64 (RFC 4648): url-safe without padding when url, else the original alphabet, padded. */
int pv_base64_encode(const void *in, size_t n, int url, char *out, size_t cap);
/* PV_EINVAL unless in is entirely base64 of the kind and fits cap. */
int pv_base64_decode(const char *in, int url, unsigned char *out, size_t cap, size_t *outlen);

#endif
