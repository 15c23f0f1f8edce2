/*
 * retention.c: the rows retention and erasure work on: closed accounts,
 * legal holds, a subject's rows of every kind, and data-key destruction and
 * rewrapping. Records and usage events share one shape, so the statements
 * that trim or remove them come in pairs, one per table.
 */
#include <string.h>

#include "store/store_int.h"

static struct pv_sql q_subject_count = PV_SQL("SELECT count(*) FROM subjects");
static struct pv_sql q_subject_scan =
    PV_SQL("SELECT id, status FROM subjects WHERE id > ? ORDER BY id LIMIT ?");
static struct pv_sql q_subject_close =
    PV_SQL("UPDATE subjects SET status = 'closed', updated = ? WHERE id = ?"
           " AND status IN ('active', 'restricted')");
static struct pv_sql q_closure_put =
    PV_SQL("INSERT INTO closures(subject_id, closed_at, closed_by) VALUES(?, ?, ?)");
static struct pv_sql q_closure_get = PV_SQL("SELECT closed_at FROM closures WHERE subject_id = ?");

#define ROW_COLS "id, subject_id, collection, created, updated, body"
static struct pv_sql q_rows[2] = {
    PV_SQL("SELECT " ROW_COLS " FROM records WHERE subject_id = ? ORDER BY created, id"),
    PV_SQL("SELECT " ROW_COLS " FROM usage_events WHERE subject_id = ? ORDER BY created, id"),
};
static struct pv_sql q_row_get[2] = {
    PV_SQL("SELECT " ROW_COLS " FROM records WHERE subject_id = ? AND id = ?"),
    PV_SQL("SELECT " ROW_COLS " FROM usage_events WHERE subject_id = ? AND id = ?"),
};
static struct pv_sql q_row_body[2] = {
    PV_SQL("UPDATE records SET categories = ?, body = ? WHERE subject_id = ? AND id = ?"),
    PV_SQL("UPDATE usage_events SET categories = ?, body = ? WHERE subject_id = ? AND id = ?"),
};
static struct pv_sql q_row_delete[2] = {
    PV_SQL("DELETE FROM records WHERE subject_id = ? AND id = ?"),
    PV_SQL("DELETE FROM usage_events WHERE subject_id = ? AND id = ?"),
};
static struct pv_sql q_subject_rows =
    PV_SQL("SELECT (SELECT count(*) FROM records WHERE subject_id = ?1) +"
           " (SELECT count(*) FROM usage_events WHERE subject_id = ?1)");
static struct pv_sql q_last_created =
    PV_SQL("SELECT max(created) FROM records WHERE subject_id = ? AND collection = ?");

static struct pv_sql q_index_delete =
    PV_SQL("DELETE FROM blind_index WHERE subject_id = ?1 AND (?2 IS NULL OR idx = ?2)");
static struct pv_sql q_user_disable = PV_SQL("UPDATE users SET disabled = 1 WHERE subject_id = ?");
static struct pv_sql q_user_sessions_delete =
    PV_SQL("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE subject_id = ?)");

#define HOLD_COLS "id, subject_id, reason, placed_by, placed_at, until, released_at, released_by"
static struct pv_sql q_hold_put = PV_SQL("INSERT INTO holds(" HOLD_COLS ")"
                                         " VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_hold_get =
    PV_SQL("SELECT " HOLD_COLS " FROM holds WHERE subject_id = ? AND id = ?");
static struct pv_sql q_hold_list =
    PV_SQL("SELECT " HOLD_COLS " FROM holds WHERE subject_id = ? ORDER BY placed_at, id");
static struct pv_sql q_hold_release =
    PV_SQL("UPDATE holds SET released_at = ?3, released_by = ?4 WHERE subject_id = ?1 AND"
           " id = ?2 AND released_at = 0 AND (until = 0 OR until > ?3)");
static struct pv_sql q_hold_active =
    PV_SQL("SELECT 1 FROM holds WHERE subject_id = ?1 AND released_at = 0 AND"
           " (until = 0 OR until > ?2) LIMIT 1");

static struct pv_sql q_key_delete = PV_SQL("DELETE FROM keys.subject_keys WHERE subject_id = ?");
static struct pv_sql q_key_scan_other =
    PV_SQL("SELECT subject_id, version, master_version, wrapped FROM keys.subject_keys"
           " WHERE master_version <> ? ORDER BY subject_id, version LIMIT ?");
static struct pv_sql q_key_scan =
    PV_SQL("SELECT subject_id, version, master_version, wrapped FROM keys.subject_keys"
           " ORDER BY subject_id, version");
static struct pv_sql q_key_rewrap =
    PV_SQL("UPDATE keys.subject_keys SET master_version = ?, wrapped = ?"
           " WHERE subject_id = ? AND version = ?");

/* ---- subjects and closures ------------------------------------------------------ */

int
pv_store_subject_count(struct pv_conn *c)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_subject_count, st);
    rc = pv_stmt_step(st) == PV_ROW ? (int)pv_col_int(st, 0) : PV_ESTORE;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_subject_scan(struct pv_conn *c, const char *after, int limit,
                      int (*cb)(const char *id, const char *status, void *arg), void *arg)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_subject_scan, st);
    pv_stmt_text(st, 1, after);
    pv_stmt_int(st, 2, limit);
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = cb(pv_col_text(st, 0), pv_col_text(st, 1), arg)) != 0)
            break;
    pv_stmt_reset(st);
    return rc;
}

/* Run a one-row update; PV_ENOTFOUND if it changed nothing. */
static int
run_one(struct pv_conn *c, struct pv_stmt *st)
{
    int rc = pv_stmt_run(st);

    if (rc == 0 && pv_store_changes(c) == 0)
        rc = PV_ENOTFOUND;
    return rc;
}

int
pv_store_subject_close(struct pv_conn *c, const char *id, int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_subject_close, st);
    pv_stmt_int(st, 1, now);
    pv_stmt_text(st, 2, id);
    return run_one(c, st);
}

int
pv_store_closure_put(struct pv_conn *c, const char *subject_id, int64_t closed_at,
                     const char *closed_by)
{
    struct pv_stmt *st;

    PREP(c, &q_closure_put, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_int(st, 2, closed_at);
    pv_stmt_text(st, 3, closed_by);
    return pv_stmt_run(st);
}

int
pv_store_closure_get(struct pv_conn *c, const char *subject_id, int64_t *closed_at)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_closure_get, st);
    pv_stmt_text(st, 1, subject_id);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW) {
        *closed_at = pv_col_int(st, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = PV_ENOTFOUND;
    }
    pv_stmt_reset(st);
    return rc;
}

/* ---- a subject's rows ------------------------------------------------------------- */

int
pv_store_rows_of_subject(struct pv_conn *c, int usage, const char *subject_id,
                         int (*cb)(const struct pv_record *r, void *arg), void *arg)
{
    struct pv_stmt *st;

    PREP(c, &q_rows[usage != 0], st);
    pv_stmt_text(st, 1, subject_id);
    return pv_rows_each(st, cb, arg);
}

int
pv_store_row_get(struct pv_conn *c, int usage, const char *subject_id, const char *id,
                 struct pv_record *out)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_row_get[usage != 0], st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, id);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW)
        rc = pv_row_record(st, out);
    else if (rc == 0)
        rc = PV_ENOTFOUND;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_row_set_body(struct pv_conn *c, int usage, const struct pv_record *r,
                      const char *categories)
{
    struct pv_stmt *st;

    PREP(c, &q_row_body[usage != 0], st);
    pv_stmt_text(st, 1, categories);
    pv_stmt_blob(st, 2, r->body.data, r->body.len);
    pv_stmt_text(st, 3, r->subject_id);
    pv_stmt_text(st, 4, r->id);
    return run_one(c, st);
}

int
pv_store_row_delete(struct pv_conn *c, int usage, const char *subject_id, const char *id)
{
    struct pv_stmt *st;

    PREP(c, &q_row_delete[usage != 0], st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, id);
    return run_one(c, st);
}

int
pv_store_subject_rows(struct pv_conn *c, const char *subject_id, int64_t *n)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_subject_rows, st);
    pv_stmt_text(st, 1, subject_id);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW) {
        *n = pv_col_int(st, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = PV_ESTORE;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_record_last_created(struct pv_conn *c, const char *subject_id, const char *collection,
                             int64_t *ms)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_last_created, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, collection);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW) {
        *ms = pv_col_is_null(st, 0) ? 0 : pv_col_int(st, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = PV_ESTORE;
    }
    pv_stmt_reset(st);
    return rc;
}

/* ---- what hangs off a subject ------------------------------------------------------- */

/* Run a statement whose only parameter is the subject id. */
static int
by_subject(struct pv_conn *c, struct pv_sql *q, const char *subject_id)
{
    struct pv_stmt *st;

    PREP(c, q, st);
    pv_stmt_text(st, 1, subject_id);
    return pv_stmt_run(st);
}

int
pv_store_index_delete(struct pv_conn *c, const char *subject_id, const char *index)
{
    struct pv_stmt *st;

    PREP(c, &q_index_delete, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, index);
    return pv_stmt_run(st);
}

int
pv_store_user_disable_subject(struct pv_conn *c, const char *subject_id)
{
    int rc = by_subject(c, &q_user_sessions_delete, subject_id);

    return rc ? rc : by_subject(c, &q_user_disable, subject_id);
}

/* ---- legal holds ------------------------------------------------------------------------ */

int
pv_store_hold_put(struct pv_conn *c, const struct pv_hold *h)
{
    struct pv_stmt *st;

    PREP(c, &q_hold_put, st);
    pv_stmt_text(st, 1, h->id);
    pv_stmt_text(st, 2, h->subject_id);
    pv_stmt_blob(st, 3, h->reason, h->reason_len);
    pv_stmt_text(st, 4, h->placed_by);
    pv_stmt_int(st, 5, h->placed_at);
    pv_stmt_int(st, 6, h->until);
    pv_stmt_int(st, 7, h->released_at);
    pv_stmt_text(st, 8, h->released_by);
    return pv_stmt_run(st);
}

static int
row_to_hold(struct pv_stmt *st, struct pv_hold *h)
{
    const void *b;
    size_t n;
    int rc;

    memset(h, 0, sizeof *h);
    if ((rc = pv_col_copy(st, 0, h->id, sizeof h->id)) != 0 ||
        (rc = pv_col_copy(st, 1, h->subject_id, sizeof h->subject_id)) != 0)
        return rc;
    b = pv_col_blob(st, 2, &n);
    if (n > sizeof h->reason)
        return PV_ESTORE;
    memcpy(h->reason, b, n);
    h->reason_len = n;
    if ((rc = pv_col_copy(st, 3, h->placed_by, sizeof h->placed_by)) != 0)
        return rc;
    h->placed_at = pv_col_int(st, 4);
    h->until = pv_col_int(st, 5);
    h->released_at = pv_col_int(st, 6);
    return pv_col_copy(st, 7, h->released_by, sizeof h->released_by);
}

int
pv_store_hold_get(struct pv_conn *c, const char *subject_id, const char *id, struct pv_hold *out)
{
    struct pv_hold h;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_hold_get, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, id);
    memset(&h, 0, sizeof h);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW)
        rc = row_to_hold(st, &h);
    else if (rc == 0)
        rc = PV_ENOTFOUND;
    pv_stmt_reset(st);
    if (rc == 0)
        *out = h;
    return rc;
}

int
pv_store_hold_list(struct pv_conn *c, const char *subject_id,
                   int (*cb)(const struct pv_hold *h, void *arg), void *arg)
{
    struct pv_hold h;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_hold_list, st);
    pv_stmt_text(st, 1, subject_id);
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = row_to_hold(st, &h)) != 0 || (rc = cb(&h, arg)) != 0)
            break;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_hold_release(struct pv_conn *c, const char *subject_id, const char *id, const char *by,
                      int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_hold_release, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, id);
    pv_stmt_int(st, 3, now);
    pv_stmt_text(st, 4, by);
    return run_one(c, st);
}

int
pv_store_hold_active(struct pv_conn *c, const char *subject_id, int64_t now)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_hold_active, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_int(st, 2, now);
    rc = pv_stmt_step(st);
    pv_stmt_reset(st);
    return rc == PV_ROW ? 0 : rc == 0 ? PV_ENOTFOUND : rc;
}

/* ---- data keys ------------------------------------------------------------------------------ */

int
pv_store_key_delete(struct pv_conn *c, const char *subject_id)
{
    return by_subject(c, &q_key_delete, subject_id);
}

static int
each_key(struct pv_stmt *st,
         int (*cb)(const char *owner, const struct pv_subject_key *k, void *arg), void *arg)
{
    struct pv_subject_key k;
    const void *b;
    size_t n;
    int rc;

    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        b = pv_col_blob(st, 3, &n);
        if (n != sizeof k.wrapped) {
            rc = PV_ESTORE;
            break;
        }
        k.version = (uint32_t)pv_col_int(st, 1);
        k.master_version = (uint32_t)pv_col_int(st, 2);
        memcpy(k.wrapped, b, n);
        if ((rc = cb(pv_col_text(st, 0), &k, arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_key_scan_other(struct pv_conn *c, uint32_t master_version, int limit,
                        int (*cb)(const char *owner, const struct pv_subject_key *k, void *arg),
                        void *arg)
{
    struct pv_stmt *st;

    PREP(c, &q_key_scan_other, st);
    pv_stmt_int(st, 1, master_version);
    pv_stmt_int(st, 2, limit);
    return each_key(st, cb, arg);
}

int
pv_store_key_scan(struct pv_conn *c,
                  int (*cb)(const char *owner, const struct pv_subject_key *k, void *arg),
                  void *arg)
{
    struct pv_stmt *st;

    PREP(c, &q_key_scan, st);
    return each_key(st, cb, arg);
}

int
pv_store_key_rewrap(struct pv_conn *c, const char *owner, const struct pv_subject_key *k)
{
    struct pv_stmt *st;

    PREP(c, &q_key_rewrap, st);
    pv_stmt_int(st, 1, k->master_version);
    pv_stmt_blob(st, 2, k->wrapped, sizeof k->wrapped);
    pv_stmt_text(st, 3, owner);
    pv_stmt_int(st, 4, k->version);
    return run_one(c, st);
}
