/* subjects.c: subjects, their data keys, blind indexes and assignments; meta rows. */
#include <string.h>

#include "store/store_int.h"

static struct pv_sql q_meta_get = PV_SQL("SELECT value FROM meta WHERE key = ?");
static struct pv_sql q_meta_put = PV_SQL("INSERT INTO meta(key, value) VALUES(?, ?)"
                                         " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
static struct pv_sql q_policy_put =
    PV_SQL("INSERT INTO policies(version, effective, loaded_at, content) VALUES(?, ?, ?, ?)"
           " ON CONFLICT(version) DO NOTHING");
static struct pv_sql q_subject_put =
    PV_SQL("INSERT INTO subjects(id, status, created, updated, policy_version, accepted_at,"
           " accepted_source, birth_date) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_subject_get =
    PV_SQL("SELECT id, status, created, updated, policy_version, accepted_at, accepted_source,"
           " birth_date FROM subjects WHERE id = ?");
static struct pv_sql q_key_put =
    PV_SQL("INSERT INTO keys.subject_keys(subject_id, version, master_version, wrapped, created)"
           " VALUES(?, ?, ?, ?, ?)");
static struct pv_sql q_key_get =
    PV_SQL("SELECT version, master_version, wrapped FROM keys.subject_keys WHERE subject_id = ?"
           " ORDER BY version DESC LIMIT 1");
static struct pv_sql q_index_put =
    PV_SQL("INSERT INTO blind_index(idx, digest, subject_id) VALUES(?, ?, ?)"
           " ON CONFLICT(idx, digest, subject_id) DO NOTHING");
static struct pv_sql q_index_find =
    PV_SQL("SELECT subject_id FROM blind_index WHERE idx = ? AND digest = ? LIMIT 100");
static struct pv_sql q_assign_put =
    PV_SQL("INSERT INTO assignments(subject_id, user_id, created) VALUES(?, ?, ?)"
           " ON CONFLICT(subject_id, user_id) DO NOTHING");
static struct pv_sql q_assign_get =
    PV_SQL("SELECT 1 FROM assignments WHERE subject_id = ? AND user_id = ?");

int
pv_store_meta_get(struct pv_conn *c, const char *key, char *out, size_t cap)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_meta_get, st);
    pv_stmt_text(st, 1, key);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW)
        rc = pv_col_copy(st, 0, out, cap);
    else if (rc == 0)
        rc = PV_ENOTFOUND;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_meta_put(struct pv_conn *c, const char *key, const char *value)
{
    struct pv_stmt *st;

    PREP(c, &q_meta_put, st);
    pv_stmt_text(st, 1, key);
    pv_stmt_text(st, 2, value);
    return pv_stmt_run(st);
}

int
pv_store_policy_put(struct pv_conn *c, const char *version, const char *effective, const char *text,
                    size_t len, int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_policy_put, st);
    pv_stmt_text(st, 1, version);
    pv_stmt_text(st, 2, effective);
    pv_stmt_int(st, 3, now);
    pv_stmt_blob(st, 4, text, len);
    return pv_stmt_run(st);
}

int
pv_store_subject_put(struct pv_conn *c, const struct pv_subject *s)
{
    struct pv_stmt *st;

    PREP(c, &q_subject_put, st);
    pv_stmt_text(st, 1, s->id);
    pv_stmt_text(st, 2, s->status);
    pv_stmt_int(st, 3, s->created);
    pv_stmt_int(st, 4, s->updated);
    pv_stmt_text(st, 5, s->policy_version);
    pv_stmt_int(st, 6, s->accepted_at);
    pv_stmt_text(st, 7, s->accepted_source);
    pv_stmt_blob(st, 8, s->birth_date, s->birth_date_len);
    return pv_stmt_run(st);
}

/* A cache key of an id: the id's bytes, zero-padded to PV_ID_MAX; 0 if the id is longer. */
static int
id_key(const char *id, char key[PV_ID_MAX])
{
    memset(key, 0, PV_ID_MAX);
    return pv_strlcpy(key, id, PV_ID_MAX) == 0;
}

int
pv_store_subject_get(struct pv_conn *c, const char *id, struct pv_subject *out)
{
    struct pv_subject s;
    struct pv_stmt *st;
    char key[PV_ID_MAX];
    uint64_t stamp = 0;
    const void *b;
    size_t n;
    int rc, cached = c->cache && id_key(id, key);

    if (cached) {
        if (pv_cache_get(c->cache, PV_CACHE_SUBJECT, key, out) == 0)
            return 0;
        stamp = pv_cache_gen(c->cache, PV_CACHE_SUBJECT);
    }
    PREP(c, &q_subject_get, st);
    pv_stmt_text(st, 1, id);
    rc = pv_stmt_step(st);
    memset(&s, 0, sizeof s);
    if (rc == PV_ROW) {
        rc = pv_col_copy(st, 0, s.id, sizeof s.id);
        if (rc == 0)
            rc = pv_col_copy(st, 1, s.status, sizeof s.status);
        s.created = pv_col_int(st, 2);
        s.updated = pv_col_int(st, 3);
        if (rc == 0)
            rc = pv_col_copy(st, 4, s.policy_version, sizeof s.policy_version);
        s.accepted_at = pv_col_int(st, 5);
        if (rc == 0)
            rc = pv_col_copy(st, 6, s.accepted_source, sizeof s.accepted_source);
        b = pv_col_blob(st, 7, &n);
        if (rc == 0 && n > sizeof s.birth_date)
            rc = PV_ESTORE;
        if (rc == 0 && n) {
            memcpy(s.birth_date, b, n);
            s.birth_date_len = n;
        }
    } else if (rc == 0) {
        rc = PV_ENOTFOUND;
    }
    pv_stmt_reset(st);
    if (rc == 0) {
        *out = s;
        if (cached)
            pv_cache_put(c->cache, PV_CACHE_SUBJECT, key, &s, stamp);
    }
    return rc;
}

int
pv_store_key_put(struct pv_conn *c, const char *subject_id, const struct pv_subject_key *k,
                 int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_key_put, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_int(st, 2, k->version);
    pv_stmt_int(st, 3, k->master_version);
    pv_stmt_blob(st, 4, k->wrapped, sizeof k->wrapped);
    pv_stmt_int(st, 5, now);
    return pv_stmt_run(st);
}

int
pv_store_key_get(struct pv_conn *c, const char *subject_id, struct pv_subject_key *out)
{
    struct pv_stmt *st;
    const void *b;
    size_t n;
    int rc;

    PREP(c, &q_key_get, st);
    pv_stmt_text(st, 1, subject_id);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW) {
        b = pv_col_blob(st, 2, &n);
        if (n != sizeof out->wrapped) {
            rc = PV_ESTORE;
        } else {
            out->version = (uint32_t)pv_col_int(st, 0);
            out->master_version = (uint32_t)pv_col_int(st, 1);
            memcpy(out->wrapped, b, n);
            rc = 0;
        }
    } else if (rc == 0) {
        rc = PV_ENOTFOUND;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_index_put(struct pv_conn *c, const char *index, const unsigned char d[PV_HASH_BYTES],
                   const char *subject_id)
{
    struct pv_stmt *st;

    PREP(c, &q_index_put, st);
    pv_stmt_text(st, 1, index);
    pv_stmt_blob(st, 2, d, PV_HASH_BYTES);
    pv_stmt_text(st, 3, subject_id);
    return pv_stmt_run(st);
}

int
pv_store_index_find(struct pv_conn *c, const char *index, const unsigned char d[PV_HASH_BYTES],
                    int (*cb)(const char *subject_id, void *arg), void *arg)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_index_find, st);
    pv_stmt_text(st, 1, index);
    pv_stmt_blob(st, 2, d, PV_HASH_BYTES);
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = cb(pv_col_text(st, 0), arg)) != 0)
            break;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_assign_put(struct pv_conn *c, const char *subject_id, const char *user_id, int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_assign_put, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, user_id);
    pv_stmt_int(st, 3, now);
    return pv_stmt_run(st);
}

int
pv_store_assign_get(struct pv_conn *c, const char *subject_id, const char *user_id)
{
    struct pv_stmt *st;
    char key[2 * PV_ID_MAX];
    unsigned char yes = 1;
    uint64_t stamp = 0;
    int rc, cached = c->cache && id_key(subject_id, key) && id_key(user_id, key + PV_ID_MAX);

    if (cached) {
        if (pv_cache_get(c->cache, PV_CACHE_ASSIGN, key, &yes) == 0)
            return 0;
        stamp = pv_cache_gen(c->cache, PV_CACHE_ASSIGN);
    }
    PREP(c, &q_assign_get, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, user_id);
    rc = pv_stmt_step(st);
    pv_stmt_reset(st);
    if (rc == PV_ROW && cached)
        pv_cache_put(c->cache, PV_CACHE_ASSIGN, key, &yes, stamp);
    return rc == PV_ROW ? 0 : rc == 0 ? PV_ENOTFOUND : rc;
}
