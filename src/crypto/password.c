/*
 * password.c: Argon2id password hashes.
 *
 * Each hash takes libsodium's interactive limits (64 MiB, 2 passes), so a
 * burst of logins could exhaust memory: a counting gate admits at most
 * max_concurrent hashes at once and the rest wait their turn.
 */
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "base/base.h"
#include "crypto/crypto.h"

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static unsigned gate_free = 2;
static char dummy_hash[PV_PWHASH_MAX];

static void
gate_enter(void)
{
    pthread_mutex_lock(&gate_mu);
    while (gate_free == 0)
        pthread_cond_wait(&gate_cv, &gate_mu);
    gate_free--;
    pthread_mutex_unlock(&gate_mu);
}

static void
gate_leave(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_free++;
    pthread_cond_signal(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

int
pv_crypto_init(unsigned max_concurrent_hashes)
{
    unsigned char pw[16];

    if (sodium_init() < 0)
        return PV_ECRYPTO;
    gate_free = max_concurrent_hashes ? max_concurrent_hashes : 1;
    if (dummy_hash[0] == '\0') {
        /* A hash of a random password no one knows, for unknown users. */
        randombytes_buf(pw, sizeof pw);
        if (crypto_pwhash_str(dummy_hash, (const char *)pw, sizeof pw,
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            return PV_ENOMEM;
    }
    return 0;
}

int
pv_password_hash(const char *password, char out[PV_PWHASH_MAX])
{
    int rc;

    gate_enter();
    rc = crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE);
    gate_leave();
    return rc == 0 ? 0 : PV_ENOMEM;
}

int
pv_password_verify(const char *hash, const char *password)
{
    int rc;

    gate_enter();
    rc = crypto_pwhash_str_verify(hash ? hash : dummy_hash, password, strlen(password));
    gate_leave();
    return rc == 0 && hash != NULL ? 0 : PV_ELOGIN;
}
