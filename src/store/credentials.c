/* credentials.c: service API keys, TOTP secrets and session activity. */
#include <string.h>

#include "store/store_int.h"

#define KEY_COLS "id, name, key_hash, roles, purposes, created, created_by, revoked"

static struct pv_sql q_key_put =
    PV_SQL("INSERT INTO api_keys(" KEY_COLS ") VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_key_by_hash = PV_SQL("SELECT " KEY_COLS " FROM api_keys WHERE key_hash = ?");
static struct pv_sql q_key_list = PV_SQL("SELECT " KEY_COLS " FROM api_keys ORDER BY created, id");
static struct pv_sql q_key_revoke =
    PV_SQL("UPDATE api_keys SET revoked = 1 WHERE id = ? AND revoked = 0");
static struct pv_sql q_totp_put =
    PV_SQL("INSERT INTO user_totp(user_id, sealed, confirmed, last_step, created)"
           " VALUES(?, ?, 0, 0, ?) ON CONFLICT(user_id) DO UPDATE SET sealed = excluded.sealed,"
           " created = excluded.created WHERE user_totp.confirmed = 0");
static struct pv_sql q_totp_get =
    PV_SQL("SELECT sealed, confirmed, last_step, created FROM user_totp WHERE user_id = ?");
static struct pv_sql q_totp_use =
    PV_SQL("UPDATE user_totp SET last_step = ?, confirmed = max(confirmed, ?)"
           " WHERE user_id = ? AND last_step < ?1");
static struct pv_sql q_totp_delete = PV_SQL("DELETE FROM user_totp WHERE user_id = ?");
static struct pv_sql q_touch =
    PV_SQL("INSERT INTO session_seen(token_hash, last_seen) VALUES(?, ?)"
           " ON CONFLICT(token_hash) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)");
static struct pv_sql q_seen_delete_user =
    PV_SQL("DELETE FROM session_seen WHERE token_hash IN"
           " (SELECT token_hash FROM sessions WHERE user_id = ?)");
static struct pv_sql q_session_delete_user = PV_SQL("DELETE FROM sessions WHERE user_id = ?");

int
pv_store_apikey_put(struct pv_conn *c, const struct pv_apikey *k)
{
    struct pv_stmt *st;

    PREP(c, &q_key_put, st);
    pv_stmt_text(st, 1, k->id);
    pv_stmt_text(st, 2, k->name);
    pv_stmt_blob(st, 3, k->hash, sizeof k->hash);
    pv_stmt_text(st, 4, k->roles);
    pv_stmt_text(st, 5, k->purposes);
    pv_stmt_int(st, 6, k->created);
    pv_stmt_text(st, 7, k->created_by);
    pv_stmt_int(st, 8, k->revoked);
    return pv_stmt_run(st);
}

static int
row_to_key(struct pv_stmt *st, struct pv_apikey *k)
{
    size_t n;
    const void *b;

    memset(k, 0, sizeof *k);
    b = pv_col_blob(st, 2, &n);
    if (n != sizeof k->hash || pv_col_copy(st, 0, k->id, sizeof k->id) ||
        pv_col_copy(st, 1, k->name, sizeof k->name) ||
        pv_col_copy(st, 3, k->roles, sizeof k->roles) ||
        pv_col_copy(st, 4, k->purposes, sizeof k->purposes) ||
        pv_col_copy(st, 6, k->created_by, sizeof k->created_by))
        return PV_ESTORE;
    memcpy(k->hash, b, n);
    k->created = pv_col_int(st, 5);
    k->revoked = (int)pv_col_int(st, 7);
    return 0;
}

int
pv_store_apikey_by_hash(struct pv_conn *c, const unsigned char hash[PV_HASH_BYTES],
                        struct pv_apikey *out)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_key_by_hash, st);
    pv_stmt_blob(st, 1, hash, PV_HASH_BYTES);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW)
        rc = row_to_key(st, out);
    else if (rc == 0)
        rc = PV_ENOTFOUND;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_apikey_list(struct pv_conn *c, int (*cb)(const struct pv_apikey *k, void *arg), void *arg)
{
    struct pv_apikey k;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_key_list, st);
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = row_to_key(st, &k)) != 0 || (rc = cb(&k, arg)) != 0)
            break;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_apikey_revoke(struct pv_conn *c, const char *id)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_key_revoke, st);
    pv_stmt_text(st, 1, id);
    rc = pv_stmt_run(st);
    return rc == 0 && pv_store_changes(c) == 0 ? PV_ENOTFOUND : rc;
}

int
pv_store_totp_put(struct pv_conn *c, const struct pv_totp *t)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_totp_put, st);
    pv_stmt_text(st, 1, t->user_id);
    pv_stmt_blob(st, 2, t->sealed, t->sealed_len);
    pv_stmt_int(st, 3, t->created);
    rc = pv_stmt_run(st);
    /* The upsert changes nothing when a confirmed secret is in place. */
    return rc == 0 && pv_store_changes(c) == 0 ? PV_EEXIST : rc;
}

int
pv_store_totp_get(struct pv_conn *c, const char *user_id, struct pv_totp *out)
{
    struct pv_totp t;
    struct pv_stmt *st;
    const void *b;
    size_t n;
    int rc;

    PREP(c, &q_totp_get, st);
    pv_stmt_text(st, 1, user_id);
    memset(&t, 0, sizeof t);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW) {
        b = pv_col_blob(st, 0, &n);
        rc = n <= sizeof t.sealed ? pv_strlcpy(t.user_id, user_id, sizeof t.user_id) : PV_ESTORE;
        if (rc == 0) {
            memcpy(t.sealed, b, n);
            t.sealed_len = n;
            t.confirmed = (int)pv_col_int(st, 1);
            t.last_step = pv_col_int(st, 2);
            t.created = pv_col_int(st, 3);
        }
    } else if (rc == 0) {
        rc = PV_ENOTFOUND;
    }
    pv_stmt_reset(st);
    if (rc == 0)
        *out = t;
    return rc;
}

int
pv_store_totp_use(struct pv_conn *c, const char *user_id, int64_t step, int confirm)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_totp_use, st);
    pv_stmt_int(st, 1, step);
    pv_stmt_int(st, 2, confirm ? 1 : 0);
    pv_stmt_text(st, 3, user_id);
    rc = pv_stmt_run(st);
    return rc == 0 && pv_store_changes(c) == 0 ? PV_ECONFLICT : rc;
}

int
pv_store_totp_delete(struct pv_conn *c, const char *user_id)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_totp_delete, st);
    pv_stmt_text(st, 1, user_id);
    rc = pv_stmt_run(st);
    return rc == 0 && pv_store_changes(c) == 0 ? PV_ENOTFOUND : rc;
}

int
pv_store_session_touch(struct pv_conn *c, const unsigned char hash[PV_HASH_BYTES], int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_touch, st);
    pv_stmt_blob(st, 1, hash, PV_HASH_BYTES);
    pv_stmt_int(st, 2, now);
    return pv_stmt_run(st);
}

int
pv_store_session_delete_user(struct pv_conn *c, const char *user_id)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_seen_delete_user, st);
    pv_stmt_text(st, 1, user_id);
    if ((rc = pv_stmt_run(st)) != 0)
        return rc;
    PREP(c, &q_session_delete_user, st);
    pv_stmt_text(st, 1, user_id);
    return pv_stmt_run(st);
}
