/* users.c: user accounts and sessions. */
#include <string.h>

#include "store/store_int.h"

#define USER_COLS                                                                                  \
    "u.id, u.name_index, u.name_sealed, u.role, u.subject_id, u.pw_hash, u.created, u.disabled"

static struct pv_sql q_put =
    PV_SQL("INSERT INTO users(id, name_index, name_sealed, role, subject_id, pw_hash, created,"
           " disabled) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_get = PV_SQL("SELECT " USER_COLS " FROM users u WHERE u.id = ?");
static struct pv_sql q_by_name = PV_SQL("SELECT " USER_COLS " FROM users u WHERE u.name_index = ?");
static struct pv_sql q_by_subject =
    PV_SQL("SELECT " USER_COLS " FROM users u WHERE u.subject_id = ? ORDER BY u.created LIMIT 1");
static struct pv_sql q_set_subject = PV_SQL("UPDATE users SET subject_id = ? WHERE id = ?");
static struct pv_sql q_list = PV_SQL("SELECT " USER_COLS " FROM users u ORDER BY u.created, u.id");
static struct pv_sql q_session_put =
    PV_SQL("INSERT INTO sessions(token_hash, id, user_id, created, expires) VALUES(?, ?, ?, ?, ?)");
static struct pv_sql q_session_get =
    PV_SQL("SELECT s.id, s.user_id, s.created, s.expires, " USER_COLS ", a.last_seen"
           " FROM sessions s JOIN users u ON u.id = s.user_id"
           " LEFT JOIN session_seen a ON a.token_hash = s.token_hash WHERE s.token_hash = ?");
static struct pv_sql q_session_delete = PV_SQL("DELETE FROM sessions WHERE token_hash = ?");
static struct pv_sql q_session_seen_delete =
    PV_SQL("DELETE FROM session_seen WHERE token_hash = ?");
static struct pv_sql q_session_purge = PV_SQL("DELETE FROM sessions WHERE expires < ?");

int
pv_store_user_put(struct pv_conn *c, const struct pv_user *u)
{
    struct pv_stmt *st;

    PREP(c, &q_put, st);
    pv_stmt_text(st, 1, u->id);
    pv_stmt_blob(st, 2, u->name_index, sizeof u->name_index);
    pv_stmt_blob(st, 3, u->name_sealed, u->name_sealed_len);
    pv_stmt_text(st, 4, u->role);
    pv_stmt_text(st, 5, u->subject_id[0] ? u->subject_id : NULL);
    pv_stmt_text(st, 6, u->pw_hash);
    pv_stmt_int(st, 7, u->created);
    pv_stmt_int(st, 8, u->disabled);
    return pv_stmt_run(st);
}

/* Read the user columns starting at column i0. */
static int
row_to_user(struct pv_stmt *st, int i0, struct pv_user *u)
{
    const void *b;
    size_t n;
    int rc;

    memset(u, 0, sizeof *u);
    if ((rc = pv_col_copy(st, i0, u->id, sizeof u->id)) != 0)
        return rc;
    b = pv_col_blob(st, i0 + 1, &n);
    if (n != sizeof u->name_index)
        return PV_ESTORE;
    memcpy(u->name_index, b, n);
    b = pv_col_blob(st, i0 + 2, &n);
    if (n > sizeof u->name_sealed)
        return PV_ESTORE;
    memcpy(u->name_sealed, b, n);
    u->name_sealed_len = n;
    if ((rc = pv_col_copy(st, i0 + 3, u->role, sizeof u->role)) != 0 ||
        (rc = pv_col_copy(st, i0 + 4, u->subject_id, sizeof u->subject_id)) != 0 ||
        (rc = pv_col_copy(st, i0 + 5, u->pw_hash, sizeof u->pw_hash)) != 0)
        return rc;
    u->created = pv_col_int(st, i0 + 6);
    u->disabled = (int)pv_col_int(st, i0 + 7);
    return 0;
}

static int
one_user(struct pv_stmt *st, struct pv_user *out)
{
    struct pv_user u;
    int rc = pv_stmt_step(st);

    memset(&u, 0, sizeof u);
    if (rc == PV_ROW)
        rc = row_to_user(st, 0, &u);
    else if (rc == 0)
        rc = PV_ENOTFOUND;
    pv_stmt_reset(st);
    if (rc == 0)
        *out = u;
    return rc;
}

int
pv_store_user_get(struct pv_conn *c, const char *id, struct pv_user *out)
{
    struct pv_stmt *st;

    PREP(c, &q_get, st);
    pv_stmt_text(st, 1, id);
    return one_user(st, out);
}

int
pv_store_user_by_name(struct pv_conn *c, const unsigned char idx[PV_HASH_BYTES],
                      struct pv_user *out)
{
    struct pv_stmt *st;

    PREP(c, &q_by_name, st);
    pv_stmt_blob(st, 1, idx, PV_HASH_BYTES);
    return one_user(st, out);
}

int
pv_store_user_by_subject(struct pv_conn *c, const char *subject_id, struct pv_user *out)
{
    struct pv_stmt *st;

    PREP(c, &q_by_subject, st);
    pv_stmt_text(st, 1, subject_id);
    return one_user(st, out);
}

int
pv_store_user_set_subject(struct pv_conn *c, const char *user_id, const char *subject_id)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_set_subject, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, user_id);
    rc = pv_stmt_run(st);
    if (rc == 0 && pv_store_changes(c) == 0)
        rc = PV_ENOTFOUND;
    return rc;
}

int
pv_store_user_list(struct pv_conn *c, int (*cb)(const struct pv_user *u, void *arg), void *arg)
{
    struct pv_user u;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_list, st);
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = row_to_user(st, 0, &u)) != 0 || (rc = cb(&u, arg)) != 0)
            break;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_session_put(struct pv_conn *c, const struct pv_session *s)
{
    struct pv_stmt *st;

    PREP(c, &q_session_put, st);
    pv_stmt_blob(st, 1, s->token_hash, sizeof s->token_hash);
    pv_stmt_text(st, 2, s->id);
    pv_stmt_text(st, 3, s->user_id);
    pv_stmt_int(st, 4, s->created);
    pv_stmt_int(st, 5, s->expires);
    return pv_stmt_run(st);
}

int
pv_store_session_get(struct pv_conn *c, const unsigned char hash[PV_HASH_BYTES],
                     struct pv_session *out, struct pv_user *user)
{
    struct pv_session s;
    struct pv_user u;
    struct pv_stmt *st;
    int rc;

    struct pv_cache_session cs;
    uint64_t stamp = 0;

    if (c->cache) {
        if (pv_cache_get(c->cache, PV_CACHE_SESSION, hash, &cs) == 0) {
            *out = cs.s;
            *user = cs.u;
            return 0;
        }
        stamp = pv_cache_gen(c->cache, PV_CACHE_SESSION);
    }
    PREP(c, &q_session_get, st);
    pv_stmt_blob(st, 1, hash, PV_HASH_BYTES);
    rc = pv_stmt_step(st);
    memset(&s, 0, sizeof s);
    memset(&u, 0, sizeof u);
    if (rc == PV_ROW) {
        memcpy(s.token_hash, hash, PV_HASH_BYTES);
        rc = pv_col_copy(st, 0, s.id, sizeof s.id);
        if (rc == 0)
            rc = pv_col_copy(st, 1, s.user_id, sizeof s.user_id);
        s.created = pv_col_int(st, 2);
        s.expires = pv_col_int(st, 3);
        if (rc == 0)
            rc = row_to_user(st, 4, &u);
        s.last_seen = pv_col_is_null(st, 12) ? s.created : pv_col_int(st, 12);
    } else if (rc == 0) {
        rc = PV_ENOTFOUND;
    }
    pv_stmt_reset(st);
    if (rc == 0) {
        *out = s;
        *user = u;
        if (c->cache) {
            cs.s = s;
            cs.u = u;
            pv_cache_put(c->cache, PV_CACHE_SESSION, hash, &cs, stamp);
        }
    }
    return rc;
}

int
pv_store_session_delete(struct pv_conn *c, const unsigned char hash[PV_HASH_BYTES])
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_session_delete, st);
    pv_stmt_blob(st, 1, hash, PV_HASH_BYTES);
    if ((rc = pv_stmt_run(st)) != 0)
        return rc;
    PREP(c, &q_session_seen_delete, st);
    pv_stmt_blob(st, 1, hash, PV_HASH_BYTES);
    return pv_stmt_run(st);
}

int
pv_store_session_purge(struct pv_conn *c, int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_session_purge, st);
    pv_stmt_int(st, 1, now);
    return pv_stmt_run(st);
}
