/*
 * cache.c: small in-memory caches of the rows every request reads.
 *
 * An audited read asks the store for the session behind its token, the
 * subject and the provider's assignment before it reaches the record
 * itself. (Wrapped data keys are not cached: another process rotates them
 * while the server runs, and keys.db, which no audit commit touches, keeps
 * its pages in each reader's cache anyway.) Those rows change rarely, but every
 * audit commit changes the database file, and SQLite then drops each
 * reader's whole page cache, so each of those look-ups would otherwise cost
 * a read transaction and several page reads from the kernel.
 *
 * Correctness rests on generations, one per kind of row. A reader takes
 * the kind's generation before it queries the database and stores what it
 * found stamped with that generation; an entry is used only while its stamp
 * equals the current generation. Generations move two ways:
 *  - this process's writer bumps the kinds whose tables a transaction wrote,
 *    after the commit and before its callers are answered (store/sqlite.c);
 *  - any writer, in any process (the command-line sweep, key rotation, even
 *    the sqlite3 shell), moves the database's cache epoch in the same
 *    transaction (triggers on the cached tables), and pv_store_cache_sync(),
 *    called at the start of each request, drops every kind when the epoch
 *    moved.
 * So a reader that raced with a commit stamps its entry with the old
 * generation and the entry is never used, and a logout, a disabled user or
 * a removed assignment, made here or by another process, holds for every
 * request that starts after it was committed. Only rows that exist are
 * cached; absence is always asked. The caches are off in a process until
 * its first pv_store_cache_sync(): tools that never call it never cache.
 *
 * Each kind is a direct-mapped table of fixed-size slots (a collision
 * replaces the older entry), locked in stripes. Memory is bounded by the
 * slot counts below; the tables are large enough for calloc() to map them
 * fresh, so only slots that were used ever become resident.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define STRIPES 64

struct table {
    size_t key_size, val_size, nslots, slot_size;
    unsigned char *slots; /* each: uint64_t stamp, key_size key bytes, val_size value bytes */
    pthread_mutex_t locks[STRIPES];
};

struct pv_cache {
    _Atomic uint64_t gen[PV_CACHE_KINDS];
    _Atomic int64_t epoch; /* the database's cache epoch, as last read */
    _Atomic int enabled;   /* a sync succeeded, and none failed since */
    struct table t[PV_CACHE_KINDS];
};

static const struct {
    size_t key_size, val_size, nslots;
} shapes[PV_CACHE_KINDS] = {
    [PV_CACHE_SESSION] = {PV_HASH_BYTES, sizeof(struct pv_cache_session), 2048},
    [PV_CACHE_ASSIGN] = {(size_t)2 * PV_ID_MAX, 1, 16384},
    [PV_CACHE_SUBJECT] = {PV_ID_MAX, sizeof(struct pv_subject), 8192},
};

int
pv_cache_new(struct pv_cache **out)
{
    struct pv_cache *c = calloc(1, sizeof *c);

    if (c == NULL)
        return PV_ENOMEM;
    for (int k = 0; k < PV_CACHE_KINDS; k++) {
        struct table *t = &c->t[k];
        /* Stamps start at 1 so a zeroed slot is never current. */
        atomic_init(&c->gen[k], 1);
        t->key_size = shapes[k].key_size;
        t->val_size = shapes[k].val_size;
        t->nslots = shapes[k].nslots;
        t->slot_size = (sizeof(uint64_t) + t->key_size + t->val_size + 7) / 8 * 8;
        for (int i = 0; i < STRIPES; i++)
            pthread_mutex_init(&t->locks[i], NULL);
        if ((t->slots = calloc(t->nslots, t->slot_size)) == NULL) {
            pv_cache_free(c);
            return PV_ENOMEM;
        }
    }
    *out = c;
    return 0;
}

void
pv_cache_free(struct pv_cache *c)
{
    if (c == NULL)
        return;
    for (int k = 0; k < PV_CACHE_KINDS; k++) {
        struct table *t = &c->t[k];
        if (t->slots) {
            pv_wipe(t->slots, t->nslots * t->slot_size);
            free(t->slots);
        }
        for (int i = 0; i < STRIPES; i++)
            pthread_mutex_destroy(&t->locks[i]);
    }
    free(c);
}

/* FNV-1a: keys are random ids and digests, so any even spread will do. */
static size_t
slot_of(const struct table *t, const unsigned char *key)
{
    uint64_t h = UINT64_C(14695981039346656037);

    for (size_t i = 0; i < t->key_size; i++)
        h = (h ^ key[i]) * UINT64_C(1099511628211);
    return (size_t)(h % t->nslots);
}

uint64_t
pv_cache_gen(struct pv_cache *c, enum pv_cache_kind kind)
{
    return atomic_load_explicit(&c->gen[kind], memory_order_acquire);
}

int
pv_cache_get(struct pv_cache *c, enum pv_cache_kind kind, const void *key, void *val)
{
    struct table *t = &c->t[kind];
    unsigned char *slot;
    uint64_t stamp;
    size_t i = slot_of(t, key);
    int rc = PV_ENOTFOUND;

    if (!atomic_load_explicit(&c->enabled, memory_order_acquire))
        return PV_ENOTFOUND;
    slot = t->slots + i * t->slot_size;
    pthread_mutex_lock(&t->locks[i % STRIPES]);
    memcpy(&stamp, slot, sizeof stamp);
    if (stamp == pv_cache_gen(c, kind) && memcmp(slot + sizeof stamp, key, t->key_size) == 0) {
        memcpy(val, slot + sizeof stamp + t->key_size, t->val_size);
        rc = 0;
    }
    pthread_mutex_unlock(&t->locks[i % STRIPES]);
    return rc;
}

void
pv_cache_put(struct pv_cache *c, enum pv_cache_kind kind, const void *key, const void *val,
             uint64_t stamp)
{
    struct table *t = &c->t[kind];
    unsigned char *slot;
    size_t i = slot_of(t, key);

    /* An entry read under an older generation could be stale: it is not kept. */
    if (!atomic_load_explicit(&c->enabled, memory_order_acquire) || stamp != pv_cache_gen(c, kind))
        return;
    slot = t->slots + i * t->slot_size;
    pthread_mutex_lock(&t->locks[i % STRIPES]);
    memcpy(slot, &stamp, sizeof stamp);
    memcpy(slot + sizeof stamp, key, t->key_size);
    memcpy(slot + sizeof stamp + t->key_size, val, t->val_size);
    pthread_mutex_unlock(&t->locks[i % STRIPES]);
}

void
pv_cache_bump(struct pv_cache *c, unsigned kinds)
{
    for (int k = 0; k < PV_CACHE_KINDS; k++)
        if (kinds & (1u << k))
            atomic_fetch_add_explicit(&c->gen[k], 1, memory_order_acq_rel);
}

unsigned
pv_cache_kinds_of_table(const char *table)
{
    static const struct {
        const char *table;
        unsigned kinds;
    } map[] = {
        /* A session entry carries its user and its last activity: a change to any drops it. */
        {"sessions", 1u << PV_CACHE_SESSION}, {"session_seen", 1u << PV_CACHE_SESSION},
        {"users", 1u << PV_CACHE_SESSION},    {"assignments", 1u << PV_CACHE_ASSIGN},
        {"subjects", 1u << PV_CACHE_SUBJECT},
    };

    if (table == NULL)
        return 0;
    for (size_t i = 0; i < PV_ARRAY_LEN(map); i++)
        if (strcmp(map[i].table, table) == 0)
            return map[i].kinds;
    return 0;
}

static struct pv_sql q_epoch = PV_SQL("SELECT n FROM cache_epoch WHERE id = 1");

int
pv_store_cache_sync(struct pv_store *s)
{
    struct pv_conn *c;
    struct pv_stmt *st;
    int64_t n, seen;
    int rc;

    if ((rc = pv_store_reader(s, &c)) != 0)
        return rc;
    if (c->cache == NULL)
        return 0;
    if ((rc = pv_stmt_prepare(c, &q_epoch, &st)) == 0) {
        rc = pv_stmt_step(st);
        n = pv_col_int(st, 0);
        pv_stmt_reset(st);
        rc = rc == PV_ROW ? 0 : rc == 0 ? PV_ESTORE : rc;
    }
    if (rc != 0) {
        /* Unsure what changed: no cache until a sync succeeds again. */
        atomic_store(&c->cache->enabled, 0);
        pv_cache_bump(c->cache, ~0u);
        return rc;
    }
    /* Forward only: a reader on an older snapshot must not move it back. */
    seen = atomic_load(&c->cache->epoch);
    while (n > seen && !atomic_compare_exchange_weak(&c->cache->epoch, &seen, n))
        ;
    if (n > seen)
        pv_cache_bump(c->cache, ~0u);
    atomic_store(&c->cache->enabled, 1);
    return 0;
}
