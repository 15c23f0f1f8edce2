/*
 * transparency.c: what the audit log says a credential or a period touched
 * (breach notification), and what the disclosures table says went to each
 * recipient (the vendor register).
 */
#include "store/store_int.h"

/* Audit searches are not data: an entry of them names a subject but reaches no value of theirs. */
static struct pv_sql q_touched =
    PV_SQL("SELECT subject, min(ts), max(ts), count(*), group_concat(DISTINCT action),"
           " group_concat(DISTINCT categories), group_concat(DISTINCT credential) FROM audit"
           " WHERE decision = 'permit' AND subject <> '' AND action NOT LIKE 'audit.%'"
           " AND (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR credential = ?2)"
           " AND (?3 = 0 OR ts >= ?3) AND (?4 = 0 OR ts <= ?4) GROUP BY subject ORDER BY subject");
static struct pv_sql q_disclosed =
    PV_SQL("SELECT recipient, count(*), count(DISTINCT subject_id), max(ts) FROM disclosures"
           " GROUP BY recipient ORDER BY recipient");

int
pv_store_audit_touched(struct pv_conn *c, const struct pv_touched_filter *f,
                       int (*cb)(const struct pv_touched *t, void *arg), void *arg)
{
    struct pv_touched t;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_touched, st);
    pv_stmt_text(st, 1, f->actor);
    pv_stmt_text(st, 2, f->credential);
    pv_stmt_int(st, 3, f->from_ms);
    pv_stmt_int(st, 4, f->to_ms);
    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        t.subject = pv_col_text(st, 0);
        t.first_ms = pv_col_int(st, 1);
        t.last_ms = pv_col_int(st, 2);
        t.entries = pv_col_int(st, 3);
        t.actions = pv_col_text(st, 4);
        t.categories = pv_col_text(st, 5);
        t.credentials = pv_col_text(st, 6);
        if ((rc = cb(&t, arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_disclosure_totals(struct pv_conn *c,
                           int (*cb)(const char *recipient, int64_t disclosures, int64_t subjects,
                                     int64_t last_ms, void *arg),
                           void *arg)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_disclosed, st);
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = cb(pv_col_text(st, 0), pv_col_int(st, 1), pv_col_int(st, 2), pv_col_int(st, 3),
                     arg)) != 0)
            break;
    pv_stmt_reset(st);
    return rc;
}
