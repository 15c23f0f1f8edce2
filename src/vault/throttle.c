/*
 * throttle.c: failed logins counted per key (a user, a client address) in
 * a window of time, in memory.
 *
 * The table is small and bounded: a key's slot is found by open addressing
 * over a few probes; when every probe is taken by a live entry, the oldest
 * window gives way. Counts start again when a server starts: the audit log
 * keeps every failure for the record, this table only paces guessing. Keys
 * are hashes: no username or address is kept.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define SLOTS 4096 /* a power of two */
#define PROBES 8

struct slot {
    unsigned char key[16];
    int used;
    int count;
    int64_t start_ms; /* when the window of these failures began */
};

struct pv_throttle {
    pthread_mutex_t mu;
    struct slot slots[SLOTS];
};

int
pv_throttle_new(struct pv_throttle **out)
{
    struct pv_throttle *t = calloc(1, sizeof *t);

    if (t == NULL)
        return PV_ENOMEM;
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return 0;
}

void
pv_throttle_free(struct pv_throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static size_t
home(const unsigned char key[PV_HASH_BYTES])
{
    return ((size_t)key[0] | (size_t)key[1] << 8) & (SLOTS - 1);
}

/* The live slot of key, or NULL. Called with the lock held. */
static struct slot *
find(struct pv_throttle *t, const unsigned char key[PV_HASH_BYTES], int64_t window_ms,
     int64_t now_ms)
{
    size_t h = home(key);

    for (int i = 0; i < PROBES; i++) {
        struct slot *s = &t->slots[(h + (size_t)i) & (SLOTS - 1)];
        if (s->used && memcmp(s->key, key, sizeof s->key) == 0)
            return now_ms - s->start_ms < window_ms ? s : NULL;
    }
    return NULL;
}

int
pv_throttle_check(struct pv_throttle *t, const unsigned char key[PV_HASH_BYTES], int max,
                  int64_t window_ms, int64_t now_ms, int *retry_s)
{
    struct slot *s;
    int rc = 0;

    pthread_mutex_lock(&t->mu);
    if ((s = find(t, key, window_ms, now_ms)) != NULL && s->count >= max) {
        *retry_s = (int)((s->start_ms + window_ms - now_ms + 999) / 1000);
        rc = PV_ETHROTTLE;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void
pv_throttle_fail(struct pv_throttle *t, const unsigned char key[PV_HASH_BYTES], int64_t window_ms,
                 int64_t now_ms)
{
    size_t h = home(key);
    struct slot *s = NULL, *free_slot = NULL, *oldest = NULL;

    pthread_mutex_lock(&t->mu);
    /* Probing never stops at an empty slot, so freeing one never hides another key. */
    for (int i = 0; i < PROBES && s == NULL; i++) {
        struct slot *x = &t->slots[(h + (size_t)i) & (SLOTS - 1)];
        if (x->used && memcmp(x->key, key, sizeof x->key) == 0)
            s = x;
        else if (!x->used || now_ms - x->start_ms >= window_ms)
            free_slot = free_slot ? free_slot : x;
        else if (oldest == NULL || x->start_ms < oldest->start_ms)
            oldest = x;
    }
    if (s && now_ms - s->start_ms >= window_ms) {
        s->count = 0; /* an old window: begin a new one */
        s->start_ms = now_ms;
    }
    if (s == NULL) {
        s = free_slot ? free_slot : oldest;
        memcpy(s->key, key, sizeof s->key);
        s->used = 1;
        s->count = 0;
        s->start_ms = now_ms;
    }
    s->count++;
    pthread_mutex_unlock(&t->mu);
}

void
pv_throttle_reset(struct pv_throttle *t, const unsigned char key[PV_HASH_BYTES])
{
    size_t h = home(key);

    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < PROBES; i++) {
        struct slot *s = &t->slots[(h + (size_t)i) & (SLOTS - 1)];
        if (s->used && memcmp(s->key, key, sizeof s->key) == 0)
            memset(s, 0, sizeof *s);
    }
    pthread_mutex_unlock(&t->mu);
}
