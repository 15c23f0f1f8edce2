/*
 * aggregates.c: what aggregates are computed from. Counts per month of
 * creation, and the records of a collection one by one, only of subjects
 * whose data may be used (status active: not restricted, closed or erased).
 * Nothing here names a subject to the caller of the vault: the vault turns
 * these rows into counts and never passes a subject id on.
 */
#include <string.h>

#include "store/store_int.h"

static struct pv_sql q_months =
    PV_SQL("SELECT strftime('%Y-%m', r.created / 1000, 'unixepoch'), count(*),"
           " count(DISTINCT r.subject_id) FROM records r JOIN subjects s ON s.id = r.subject_id"
           " WHERE r.collection = ? AND s.status = 'active' GROUP BY 1 ORDER BY 1");
static struct pv_sql q_usage_months = PV_SQL(
    "SELECT strftime('%Y-%m', r.created / 1000, 'unixepoch'), count(*),"
    " count(DISTINCT r.subject_id) FROM usage_events r JOIN subjects s ON s.id = r.subject_id"
    " WHERE r.collection = ? AND s.status = 'active' GROUP BY 1 ORDER BY 1");
static struct pv_sql q_each =
    PV_SQL("SELECT r.id, r.subject_id, r.collection, r.created, r.updated, r.body"
           " FROM records r JOIN subjects s ON s.id = r.subject_id"
           " WHERE r.collection = ? AND s.status = 'active' ORDER BY r.subject_id, r.id");
static struct pv_sql q_usage_each =
    PV_SQL("SELECT r.id, r.subject_id, r.collection, r.created, r.updated, r.body"
           " FROM usage_events r JOIN subjects s ON s.id = r.subject_id"
           " WHERE r.collection = ? AND s.status = 'active' ORDER BY r.subject_id, r.id");

int
pv_store_aggregate_months(struct pv_conn *c, int usage, const char *collection,
                          int (*cb)(const char *month, int64_t records, int64_t subjects,
                                    void *arg),
                          void *arg)
{
    struct pv_stmt *st;
    char month[8];
    int rc;

    PREP(c, usage ? &q_usage_months : &q_months, st);
    pv_stmt_text(st, 1, collection);
    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        if ((rc = pv_col_copy(st, 0, month, sizeof month)) != 0 ||
            (rc = cb(month, pv_col_int(st, 1), pv_col_int(st, 2), arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_aggregate_each(struct pv_conn *c, int usage, const char *collection,
                        int (*cb)(const struct pv_record *r, void *arg), void *arg)
{
    struct pv_stmt *st;

    PREP(c, usage ? &q_usage_each : &q_each, st);
    pv_stmt_text(st, 1, collection);
    return pv_rows_each(st, cb, arg);
}
