/* records.c: record rows (metadata in the clear, fields sealed in the body). */
#include <string.h>

#include "store/store_int.h"

static struct pv_sql q_put =
    PV_SQL("INSERT INTO records(id, subject_id, collection, created, updated, categories, body)"
           " VALUES(?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_update = PV_SQL("UPDATE records SET updated = ?, categories = ?, body = ?"
                                       " WHERE id = ? AND subject_id = ? AND collection = ?");
static struct pv_sql q_get =
    PV_SQL("SELECT id, subject_id, collection, created, updated, body FROM records"
           " WHERE id = ? AND subject_id = ? AND collection = ?");
static struct pv_sql q_delete =
    PV_SQL("DELETE FROM records WHERE id = ? AND subject_id = ? AND collection = ?");
static struct pv_sql q_list_first =
    PV_SQL("SELECT id, subject_id, collection, created, updated, body FROM records"
           " WHERE subject_id = ? AND collection = ? ORDER BY created, id LIMIT ?");
static struct pv_sql q_list_after =
    PV_SQL("SELECT id, subject_id, collection, created, updated, body FROM records"
           " WHERE subject_id = ?1 AND collection = ?2 AND (created, id) >"
           " (SELECT created, id FROM records WHERE id = ?3 AND subject_id = ?1)"
           " ORDER BY created, id LIMIT ?4");

int
pv_store_record_put(struct pv_conn *c, const struct pv_record *r, const char *categories)
{
    struct pv_stmt *st;

    PREP(c, &q_put, st);
    pv_stmt_text(st, 1, r->id);
    pv_stmt_text(st, 2, r->subject_id);
    pv_stmt_text(st, 3, r->collection);
    pv_stmt_int(st, 4, r->created);
    pv_stmt_int(st, 5, r->updated);
    pv_stmt_text(st, 6, categories);
    pv_stmt_blob(st, 7, r->body.data, r->body.len);
    return pv_stmt_run(st);
}

int
pv_store_record_update(struct pv_conn *c, const struct pv_record *r, const char *categories)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_update, st);
    pv_stmt_int(st, 1, r->updated);
    pv_stmt_text(st, 2, categories);
    pv_stmt_blob(st, 3, r->body.data, r->body.len);
    pv_stmt_text(st, 4, r->id);
    pv_stmt_text(st, 5, r->subject_id);
    pv_stmt_text(st, 6, r->collection);
    rc = pv_stmt_run(st);
    if (rc == 0 && pv_store_changes(c) == 0)
        rc = PV_ENOTFOUND;
    return rc;
}

int
pv_row_record(struct pv_stmt *st, struct pv_record *r)
{
    const void *b;
    size_t n;
    int rc;

    if ((rc = pv_col_copy(st, 0, r->id, sizeof r->id)) != 0 ||
        (rc = pv_col_copy(st, 1, r->subject_id, sizeof r->subject_id)) != 0 ||
        (rc = pv_col_copy(st, 2, r->collection, sizeof r->collection)) != 0)
        return rc;
    r->created = pv_col_int(st, 3);
    r->updated = pv_col_int(st, 4);
    b = pv_col_blob(st, 5, &n);
    pv_buf_reset(&r->body);
    return pv_buf_append(&r->body, b, n);
}

int
pv_rows_each(struct pv_stmt *st, int (*cb)(const struct pv_record *r, void *arg), void *arg)
{
    struct pv_record r;
    int rc;

    memset(&r, 0, sizeof r);
    pv_buf_init(&r.body, PV_RECORD_BODY_MAX);
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = pv_row_record(st, &r)) != 0 || (rc = cb(&r, arg)) != 0)
            break;
    pv_stmt_reset(st);
    pv_buf_fini(&r.body);
    return rc;
}

int
pv_store_record_get(struct pv_conn *c, const char *subject_id, const char *collection,
                    const char *id, struct pv_record *out)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_get, st);
    pv_stmt_text(st, 1, id);
    pv_stmt_text(st, 2, subject_id);
    pv_stmt_text(st, 3, collection);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW)
        rc = pv_row_record(st, out);
    else if (rc == 0)
        rc = PV_ENOTFOUND;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_record_delete(struct pv_conn *c, const char *subject_id, const char *collection,
                       const char *id)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_delete, st);
    pv_stmt_text(st, 1, id);
    pv_stmt_text(st, 2, subject_id);
    pv_stmt_text(st, 3, collection);
    rc = pv_stmt_run(st);
    if (rc == 0 && pv_store_changes(c) == 0)
        rc = PV_ENOTFOUND;
    return rc;
}

int
pv_store_record_list(struct pv_conn *c, const char *subject_id, const char *collection,
                     const char *after, int limit, int (*cb)(const struct pv_record *r, void *arg),
                     void *arg)
{
    struct pv_stmt *st;

    if (after) {
        PREP(c, &q_list_after, st);
        pv_stmt_text(st, 3, after);
        pv_stmt_int(st, 4, limit);
    } else {
        PREP(c, &q_list_first, st);
        pv_stmt_int(st, 3, limit);
    }
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, collection);
    return pv_rows_each(st, cb, arg);
}
