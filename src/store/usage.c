/*
 * usage.c: usage events (IP address, device, pages) in a table of their own,
 * apart from health data, and de-identified rows that outlive a person.
 */
#include <string.h>

#include "store/store_int.h"

static struct pv_sql q_usage_put =
    PV_SQL("INSERT INTO usage_events(id, subject_id, collection, created, updated, categories,"
           " body) VALUES(?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_usage_first =
    PV_SQL("SELECT id, subject_id, collection, created, updated, body FROM usage_events"
           " WHERE subject_id = ? ORDER BY created, id LIMIT ?");
static struct pv_sql q_usage_after =
    PV_SQL("SELECT id, subject_id, collection, created, updated, body FROM usage_events"
           " WHERE subject_id = ?1 AND (created, id) >"
           " (SELECT created, id FROM usage_events WHERE id = ?2 AND subject_id = ?1)"
           " ORDER BY created, id LIMIT ?3");
static struct pv_sql q_deid_put =
    PV_SQL("INSERT INTO deidentified(id, collection, period, categories, body)"
           " VALUES(?, ?, ?, ?, ?)");
static struct pv_sql q_deid_list = PV_SQL("SELECT id, collection, period, body FROM deidentified"
                                          " WHERE collection = ? AND id > ? ORDER BY id LIMIT ?");

int
pv_store_usage_put(struct pv_conn *c, const struct pv_record *r, const char *categories)
{
    struct pv_stmt *st;

    PREP(c, &q_usage_put, st);
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
pv_store_usage_list(struct pv_conn *c, const char *subject_id, const char *after, int limit,
                    int (*cb)(const struct pv_record *r, void *arg), void *arg)
{
    struct pv_stmt *st;

    if (after) {
        PREP(c, &q_usage_after, st);
        pv_stmt_text(st, 2, after);
        pv_stmt_int(st, 3, limit);
    } else {
        PREP(c, &q_usage_first, st);
        pv_stmt_int(st, 2, limit);
    }
    pv_stmt_text(st, 1, subject_id);
    return pv_rows_each(st, cb, arg);
}

int
pv_store_deid_put(struct pv_conn *c, const struct pv_deid *d, const char *categories)
{
    struct pv_stmt *st;

    PREP(c, &q_deid_put, st);
    pv_stmt_text(st, 1, d->id);
    pv_stmt_text(st, 2, d->collection);
    pv_stmt_text(st, 3, d->period);
    pv_stmt_text(st, 4, categories);
    pv_stmt_blob(st, 5, d->body.data, d->body.len);
    return pv_stmt_run(st);
}

int
pv_store_deid_list(struct pv_conn *c, const char *collection, const char *after, int limit,
                   int (*cb)(const struct pv_deid *d, void *arg), void *arg)
{
    struct pv_deid d;
    struct pv_stmt *st;
    const void *b;
    size_t n;
    int rc;

    PREP(c, &q_deid_list, st);
    pv_stmt_text(st, 1, collection);
    pv_stmt_text(st, 2, after ? after : "");
    pv_stmt_int(st, 3, limit);
    memset(&d, 0, sizeof d);
    pv_buf_init(&d.body, PV_RECORD_BODY_MAX);
    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        if ((rc = pv_col_copy(st, 0, d.id, sizeof d.id)) != 0 ||
            (rc = pv_col_copy(st, 1, d.collection, sizeof d.collection)) != 0 ||
            (rc = pv_col_copy(st, 2, d.period, sizeof d.period)) != 0)
            break;
        b = pv_col_blob(st, 3, &n);
        pv_buf_reset(&d.body);
        if ((rc = pv_buf_append(&d.body, b, n)) != 0 || (rc = cb(&d, arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    pv_buf_fini(&d.body);
    return rc;
}
