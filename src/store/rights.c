/*
 * rights.c: the rows of individual rights: requests and their transitions,
 * the earlier values an amendment replaced, statements of disagreement, and
 * the disclosures of a subject's data. Sealed columns arrive sealed; the
 * rest are ids, times, states, codes and category keys.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define REQ_COLS                                                                                   \
    "id, subject_id, type, requester, filed_by, source, agent, collection, record_id, details,"    \
    " received, due, state, verified_at, verified_by, verification, extended_at, extended_by,"     \
    " extension, closed_at, closed_by, outcome, explanation, result"

static struct pv_sql q_request_put =
    PV_SQL("INSERT INTO rights_requests(" REQ_COLS ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
           " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_request_get =
    PV_SQL("SELECT " REQ_COLS " FROM rights_requests WHERE id = ?");
static struct pv_sql q_request_update =
    PV_SQL("UPDATE rights_requests SET state = ?, due = ?, verified_at = ?, verified_by = ?,"
           " verification = ?, extended_at = ?, extended_by = ?, extension = ?, closed_at = ?,"
           " closed_by = ?, outcome = ?, explanation = ?, result = ? WHERE id = ? AND state = ?");
static struct pv_sql q_request_exists = PV_SQL("SELECT state FROM rights_requests WHERE id = ?");
/* Open means received or verified; overdue means open past its due time. */
static struct pv_sql q_request_list =
    PV_SQL("SELECT " REQ_COLS " FROM rights_requests WHERE (?1 IS NULL OR subject_id = ?1)"
           " AND (?2 IS NULL OR state = ?2 OR (?2 = 'open' AND state IN ('received', 'verified')))"
           " AND (?3 IS NULL OR type = ?3)"
           " AND (?4 = 0 OR (?4 = 1) = (state IN ('received', 'verified') AND due < ?5))"
           " AND (?6 IS NULL OR (received, id) > (SELECT received, id FROM rights_requests"
           " WHERE id = ?6)) ORDER BY received, id LIMIT ?7");

static struct pv_sql q_history_put =
    PV_SQL("INSERT INTO record_history(subject_id, record_id, collection, field, category, ts,"
           " actor, request_id, sealed) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_history_list =
    PV_SQL("SELECT seq, subject_id, record_id, collection, field, category, ts, actor, request_id,"
           " sealed FROM record_history WHERE subject_id = ?1 AND (?2 IS NULL OR record_id = ?2)"
           " ORDER BY seq");

static struct pv_sql q_disagree_put =
    PV_SQL("INSERT INTO disagreements(id, request_id, subject_id, collection, record_id, ts, actor,"
           " statement) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_disagree_list =
    PV_SQL("SELECT id, request_id, subject_id, collection, record_id, ts, actor, statement"
           " FROM disagreements WHERE subject_id = ?1 AND (?2 IS NULL OR record_id = ?2)"
           " ORDER BY ts, id");

static struct pv_sql q_disclosure_put =
    PV_SQL("INSERT INTO disclosures(id, subject_id, ts, recipient, recipient_kind, purpose, tpo,"
           " collection, records, categories, consents, statements, description, actor)"
           " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_disclosure_list =
    PV_SQL("SELECT id, subject_id, ts, recipient, recipient_kind, purpose, tpo, collection,"
           " records, categories, consents, statements, description, actor FROM disclosures"
           " WHERE subject_id = ? AND ts >= ? ORDER BY ts, id");

static struct pv_sql q_records_delete_all =
    PV_SQL("DELETE FROM records WHERE subject_id = ? AND collection = ?");
static struct pv_sql q_prefs_delete = PV_SQL("DELETE FROM contact_prefs WHERE subject_id = ?");

/* Bind a sealed blob, or NULL when there is none. */
static void
bind_sealed(struct pv_stmt *st, int i, const unsigned char *p, size_t n)
{
    if (n)
        pv_stmt_blob(st, i, p, n);
    else
        pv_stmt_text(st, i, NULL);
}

/* Copy a sealed blob column into a fixed buffer; PV_ESTORE if it does not fit. */
static int
copy_blob(struct pv_stmt *st, int i, unsigned char *out, size_t cap, size_t *len)
{
    size_t n;
    const void *b = pv_col_blob(st, i, &n);

    if (n > cap)
        return PV_ESTORE;
    if (n)
        memcpy(out, b, n);
    *len = n;
    return 0;
}

/* ---- requests ----------------------------------------------------------------------------- */

int
pv_store_request_put(struct pv_conn *c, const struct pv_request *r)
{
    struct pv_stmt *st;

    PREP(c, &q_request_put, st);
    pv_stmt_text(st, 1, r->id);
    pv_stmt_text(st, 2, r->subject_id);
    pv_stmt_text(st, 3, r->type);
    pv_stmt_text(st, 4, r->requester);
    pv_stmt_text(st, 5, r->filed_by);
    pv_stmt_text(st, 6, r->source);
    bind_sealed(st, 7, r->agent, r->agent_len);
    pv_stmt_text(st, 8, r->collection);
    pv_stmt_text(st, 9, r->record_id);
    bind_sealed(st, 10, r->details, r->details_len);
    pv_stmt_int(st, 11, r->received);
    pv_stmt_int(st, 12, r->due);
    pv_stmt_text(st, 13, r->state);
    pv_stmt_int(st, 14, r->verified_at);
    pv_stmt_text(st, 15, r->verified_by);
    pv_stmt_text(st, 16, r->verification);
    pv_stmt_int(st, 17, r->extended_at);
    pv_stmt_text(st, 18, r->extended_by);
    bind_sealed(st, 19, r->extension, r->extension_len);
    pv_stmt_int(st, 20, r->closed_at);
    pv_stmt_text(st, 21, r->closed_by);
    pv_stmt_text(st, 22, r->outcome);
    bind_sealed(st, 23, r->explanation, r->explanation_len);
    pv_stmt_text(st, 24, r->result);
    return pv_stmt_run(st);
}

static int
request_row(struct pv_stmt *st, struct pv_request *r)
{
    int rc = 0;

    memset(r, 0, sizeof *r);
    if ((rc = pv_col_copy(st, 0, r->id, sizeof r->id)) != 0 ||
        (rc = pv_col_copy(st, 1, r->subject_id, sizeof r->subject_id)) != 0 ||
        (rc = pv_col_copy(st, 2, r->type, sizeof r->type)) != 0 ||
        (rc = pv_col_copy(st, 3, r->requester, sizeof r->requester)) != 0 ||
        (rc = pv_col_copy(st, 4, r->filed_by, sizeof r->filed_by)) != 0 ||
        (rc = pv_col_copy(st, 5, r->source, sizeof r->source)) != 0 ||
        (rc = copy_blob(st, 6, r->agent, sizeof r->agent, &r->agent_len)) != 0 ||
        (rc = pv_col_copy(st, 7, r->collection, sizeof r->collection)) != 0 ||
        (rc = pv_col_copy(st, 8, r->record_id, sizeof r->record_id)) != 0 ||
        (rc = copy_blob(st, 9, r->details, sizeof r->details, &r->details_len)) != 0)
        return rc;
    r->received = pv_col_int(st, 10);
    r->due = pv_col_int(st, 11);
    if ((rc = pv_col_copy(st, 12, r->state, sizeof r->state)) != 0)
        return rc;
    r->verified_at = pv_col_int(st, 13);
    if ((rc = pv_col_copy(st, 14, r->verified_by, sizeof r->verified_by)) != 0 ||
        (rc = pv_col_copy(st, 15, r->verification, sizeof r->verification)) != 0)
        return rc;
    r->extended_at = pv_col_int(st, 16);
    if ((rc = pv_col_copy(st, 17, r->extended_by, sizeof r->extended_by)) != 0 ||
        (rc = copy_blob(st, 18, r->extension, sizeof r->extension, &r->extension_len)) != 0)
        return rc;
    r->closed_at = pv_col_int(st, 19);
    if ((rc = pv_col_copy(st, 20, r->closed_by, sizeof r->closed_by)) != 0 ||
        (rc = pv_col_copy(st, 21, r->outcome, sizeof r->outcome)) != 0 ||
        (rc = copy_blob(st, 22, r->explanation, sizeof r->explanation, &r->explanation_len)) != 0)
        return rc;
    return pv_col_copy(st, 23, r->result, sizeof r->result);
}

int
pv_store_request_get(struct pv_conn *c, const char *id, struct pv_request *out)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_request_get, st);
    pv_stmt_text(st, 1, id);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW)
        rc = request_row(st, out);
    else if (rc == 0)
        rc = PV_ENOTFOUND;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_request_update(struct pv_conn *c, const struct pv_request *r, const char *from)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_request_update, st);
    pv_stmt_text(st, 1, r->state);
    pv_stmt_int(st, 2, r->due);
    pv_stmt_int(st, 3, r->verified_at);
    pv_stmt_text(st, 4, r->verified_by);
    pv_stmt_text(st, 5, r->verification);
    pv_stmt_int(st, 6, r->extended_at);
    pv_stmt_text(st, 7, r->extended_by);
    bind_sealed(st, 8, r->extension, r->extension_len);
    pv_stmt_int(st, 9, r->closed_at);
    pv_stmt_text(st, 10, r->closed_by);
    pv_stmt_text(st, 11, r->outcome);
    bind_sealed(st, 12, r->explanation, r->explanation_len);
    pv_stmt_text(st, 13, r->result);
    pv_stmt_text(st, 14, r->id);
    pv_stmt_text(st, 15, from);
    if ((rc = pv_stmt_run(st)) != 0 || pv_store_changes(c) > 0)
        return rc;
    /* Nothing changed: no such request, or it left state from meanwhile. */
    PREP(c, &q_request_exists, st);
    pv_stmt_text(st, 1, r->id);
    rc = pv_stmt_step(st);
    pv_stmt_reset(st);
    return rc == PV_ROW ? PV_ECONFLICT : rc == 0 ? PV_ENOTFOUND : rc;
}

int
pv_store_request_list(struct pv_conn *c, const struct pv_request_filter *f,
                      int (*cb)(const struct pv_request *r, void *arg), void *arg)
{
    struct pv_request *r;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_request_list, st);
    pv_stmt_text(st, 1, f->subject);
    pv_stmt_text(st, 2, f->state);
    pv_stmt_text(st, 3, f->type);
    pv_stmt_int(st, 4, f->overdue);
    pv_stmt_int(st, 5, f->now);
    pv_stmt_text(st, 6, f->after);
    pv_stmt_int(st, 7, f->limit);
    /* A request holds up to 32 KiB of sealed details: one on the heap, reused row by row. */
    if ((r = calloc(1, sizeof *r)) == NULL) {
        pv_stmt_reset(st);
        return PV_ENOMEM;
    }
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = request_row(st, r)) != 0 || (rc = cb(r, arg)) != 0)
            break;
    pv_stmt_reset(st);
    free(r);
    return rc;
}

/* ---- amendment history and statements of disagreement ------------------------------------ */

int
pv_store_history_put(struct pv_conn *c, const struct pv_history *h)
{
    struct pv_stmt *st;

    PREP(c, &q_history_put, st);
    pv_stmt_text(st, 1, h->subject_id);
    pv_stmt_text(st, 2, h->record_id);
    pv_stmt_text(st, 3, h->collection);
    pv_stmt_text(st, 4, h->field);
    pv_stmt_text(st, 5, h->category);
    pv_stmt_int(st, 6, h->ts);
    pv_stmt_text(st, 7, h->actor);
    pv_stmt_text(st, 8, h->request_id);
    pv_stmt_blob(st, 9, h->sealed, h->sealed_len);
    return pv_stmt_run(st);
}

int
pv_store_history_list(struct pv_conn *c, const char *subject_id, const char *record_id,
                      int (*cb)(const struct pv_history *h, void *arg), void *arg)
{
    struct pv_history h;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_history_list, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, record_id);
    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        memset(&h, 0, sizeof h);
        h.seq = pv_col_int(st, 0);
        if ((rc = pv_col_copy(st, 1, h.subject_id, sizeof h.subject_id)) != 0 ||
            (rc = pv_col_copy(st, 2, h.record_id, sizeof h.record_id)) != 0 ||
            (rc = pv_col_copy(st, 3, h.collection, sizeof h.collection)) != 0 ||
            (rc = pv_col_copy(st, 4, h.field, sizeof h.field)) != 0 ||
            (rc = pv_col_copy(st, 5, h.category, sizeof h.category)) != 0)
            break;
        h.ts = pv_col_int(st, 6);
        if ((rc = pv_col_copy(st, 7, h.actor, sizeof h.actor)) != 0 ||
            (rc = pv_col_copy(st, 8, h.request_id, sizeof h.request_id)) != 0)
            break;
        h.sealed = pv_col_blob(st, 9, &h.sealed_len);
        if ((rc = cb(&h, arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_disagreement_put(struct pv_conn *c, const struct pv_disagreement *d)
{
    struct pv_stmt *st;

    PREP(c, &q_disagree_put, st);
    pv_stmt_text(st, 1, d->id);
    pv_stmt_text(st, 2, d->request_id);
    pv_stmt_text(st, 3, d->subject_id);
    pv_stmt_text(st, 4, d->collection);
    pv_stmt_text(st, 5, d->record_id);
    pv_stmt_int(st, 6, d->ts);
    pv_stmt_text(st, 7, d->actor);
    pv_stmt_blob(st, 8, d->statement, d->statement_len);
    return pv_stmt_run(st);
}

int
pv_store_disagreement_list(struct pv_conn *c, const char *subject_id, const char *record_id,
                           int (*cb)(const struct pv_disagreement *d, void *arg), void *arg)
{
    struct pv_disagreement d;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_disagree_list, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, record_id);
    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        memset(&d, 0, sizeof d);
        if ((rc = pv_col_copy(st, 0, d.id, sizeof d.id)) != 0 ||
            (rc = pv_col_copy(st, 1, d.request_id, sizeof d.request_id)) != 0 ||
            (rc = pv_col_copy(st, 2, d.subject_id, sizeof d.subject_id)) != 0 ||
            (rc = pv_col_copy(st, 3, d.collection, sizeof d.collection)) != 0 ||
            (rc = pv_col_copy(st, 4, d.record_id, sizeof d.record_id)) != 0)
            break;
        d.ts = pv_col_int(st, 5);
        if ((rc = pv_col_copy(st, 6, d.actor, sizeof d.actor)) != 0)
            break;
        d.statement = pv_col_blob(st, 7, &d.statement_len);
        if ((rc = cb(&d, arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    return rc;
}

/* ---- disclosures ----------------------------------------------------------------------------- */

int
pv_store_disclosure_put(struct pv_conn *c, const struct pv_disclosure *d)
{
    struct pv_stmt *st;

    PREP(c, &q_disclosure_put, st);
    pv_stmt_text(st, 1, d->id);
    pv_stmt_text(st, 2, d->subject_id);
    pv_stmt_int(st, 3, d->ts);
    pv_stmt_text(st, 4, d->recipient);
    pv_stmt_text(st, 5, d->recipient_kind);
    pv_stmt_text(st, 6, d->purpose);
    pv_stmt_int(st, 7, d->tpo ? 1 : 0);
    pv_stmt_text(st, 8, d->collection);
    pv_stmt_text(st, 9, d->records ? d->records : "");
    pv_stmt_text(st, 10, d->categories ? d->categories : "");
    pv_stmt_text(st, 11, d->consents ? d->consents : "");
    pv_stmt_text(st, 12, d->statements ? d->statements : "");
    bind_sealed(st, 13, d->description, d->description_len);
    pv_stmt_text(st, 14, d->actor);
    return pv_stmt_run(st);
}

int
pv_store_disclosure_list(struct pv_conn *c, const char *subject_id, int64_t since,
                         int (*cb)(const struct pv_disclosure *d, void *arg), void *arg)
{
    struct pv_disclosure d;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_disclosure_list, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_int(st, 2, since);
    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        memset(&d, 0, sizeof d);
        if ((rc = pv_col_copy(st, 0, d.id, sizeof d.id)) != 0 ||
            (rc = pv_col_copy(st, 1, d.subject_id, sizeof d.subject_id)) != 0)
            break;
        d.ts = pv_col_int(st, 2);
        if ((rc = pv_col_copy(st, 3, d.recipient, sizeof d.recipient)) != 0 ||
            (rc = pv_col_copy(st, 4, d.recipient_kind, sizeof d.recipient_kind)) != 0 ||
            (rc = pv_col_copy(st, 5, d.purpose, sizeof d.purpose)) != 0)
            break;
        d.tpo = pv_col_int(st, 6) != 0;
        if ((rc = pv_col_copy(st, 7, d.collection, sizeof d.collection)) != 0)
            break;
        d.records = pv_col_text(st, 8);
        d.categories = pv_col_text(st, 9);
        d.consents = pv_col_text(st, 10);
        d.statements = pv_col_text(st, 11);
        d.description = pv_col_is_null(st, 12) ? NULL : pv_col_blob(st, 12, &d.description_len);
        if ((rc = pv_col_copy(st, 13, d.actor, sizeof d.actor)) != 0)
            break;
        if ((rc = cb(&d, arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    return rc;
}

/* ---- deletion ----------------------------------------------------------------------------------
 */

int
pv_store_records_delete_all(struct pv_conn *c, const char *subject_id, const char *collection,
                            int64_t *n)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_records_delete_all, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, collection);
    if ((rc = pv_stmt_run(st)) == 0)
        *n = pv_store_changes(c);
    return rc;
}

int
pv_store_contact_prefs_delete(struct pv_conn *c, const char *subject_id)
{
    struct pv_stmt *st;

    PREP(c, &q_prefs_delete, st);
    pv_stmt_text(st, 1, subject_id);
    return pv_stmt_run(st);
}
