/*
 * retention.c: closing accounts and the retention sweep.
 *
 * The sweep looks at one subject at a time. On this thread's reader it
 * plans: the events retention counts from (account closed, last visit), and
 * the rows (records and usage events) holding a value whose retention has
 * ended. Each chunk of rows is then disposed of by an apply function in the
 * same transaction as one audit entry per row; the apply reads every row
 * again on the writer and decides from what it finds, so a change made in
 * between (a new field, a hold placed, a row deleted) is never overwritten.
 *
 * Per row: the expired values go; if a category says anonymize, its values
 * are first copied, sealed under the system key, into a de-identified row
 * that names no person (collection and month only). A row with nothing left
 * is deleted. A closed subject with no row left is erased: their data key is
 * destroyed, so every sealed value of theirs, in this store and in every
 * backup, can never be opened again; their look-up digests, assignments,
 * holds and linked accounts go too (pv_store_subject_erase), and the
 * subject row keeps only its id and the status "erased".
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define SUBJECT_PAGE 256
#define CHUNK 128

int
pv_vault_retention_facts(struct pv_vault *v, struct pv_conn *c, const char *subject,
                         int64_t *closed, int64_t *last_visit)
{
    const struct pv_policy *p = v->policy;
    int rc;

    *closed = 0;
    *last_visit = 0;
    rc = pv_store_closure_get(c, subject, closed);
    if (rc != 0 && rc != PV_ENOTFOUND)
        return rc;
    if (p->visit_collection >= 0)
        return pv_store_record_last_created(c, subject, p->collections[p->visit_collection].name,
                                            last_visit);
    return 0;
}

/* ---- which values of a row have expired ----------------------------------------------------- */

struct masks {
    const struct pv_policy *p;
    const struct pv_collection *col;
    const struct pv_retention_facts *f;
    int64_t now;
    uint64_t present, expired; /* declared fields present; those expired */
    int unknown;               /* a field the policy no longer declares: kept, never judged */
    int64_t next;              /* earliest expiry still to come (PV_NEVER: none) */
};

static int
mask_cb(const char *name, size_t nlen, const unsigned char *s, size_t len, void *arg)
{
    struct masks *m = arg;
    char field[PV_NAME_MAX];
    int64_t until;
    int fi;

    if (nlen >= sizeof field)
        return PV_ESTORE;
    memcpy(field, name, nlen);
    field[nlen] = '\0';
    if ((fi = pv_policy_field(m->col, field)) < 0) {
        m->unknown = 1;
        return 0;
    }
    m->present |= UINT64_C(1) << fi;
    until = pv_retention_expiry(&m->p->categories[m->col->fields[fi].category], m->f);
    if (until <= m->now)
        m->expired |= UINT64_C(1) << fi;
    else if (until < m->next)
        m->next = until;
    return 0;
}

/* The collection index of a row; -1 if the policy no longer declares it. */
static int
row_collection(const struct pv_vault *v, int usage, const struct pv_record *r)
{
    if (usage)
        return v->policy->usage;
    return pv_policy_collection(v->policy, r->collection);
}

static int
row_masks(struct pv_vault *v, int ci, const struct pv_record *r, const struct pv_retention_facts *f,
          int64_t now, struct masks *m)
{
    memset(m, 0, sizeof *m);
    m->p = v->policy;
    m->col = &v->policy->collections[ci];
    m->f = f;
    m->now = now;
    m->next = PV_NEVER;
    return pv_body_each(&r->body, mask_cb, m);
}

static uint64_t
anonymize_mask(const struct pv_policy *p, int ci, uint64_t mask)
{
    const struct pv_collection *col = &p->collections[ci];
    uint64_t m = 0;

    for (int i = 0; i < col->nfields; i++)
        if ((mask & (UINT64_C(1) << i)) &&
            p->categories[col->fields[i].category].disposal == PV_DISPOSE_ANONYMIZE &&
            /* what the server cannot read it cannot de-identify (the loader refuses it too) */
            p->categories[col->fields[i].category].store != PV_STORE_E2E)
            m |= UINT64_C(1) << i;
    return m;
}

/* ---- what deleting records now would take before its time ---------------------------------------
 */

struct unexpired {
    struct pv_vault *v;
    int ci;
    const char *collection;
    struct pv_retention_facts facts; /* created is set per row */
    int64_t now;
    uint64_t mask;
};

static int
unexpired_row(const struct pv_record *r, void *arg)
{
    struct unexpired *u = arg;
    struct masks m;
    int rc;

    if (strcmp(r->collection, u->collection) != 0)
        return 0;
    u->facts.created = r->created;
    if ((rc = row_masks(u->v, u->ci, r, &u->facts, u->now, &m)) != 0)
        return rc;
    u->mask |= m.present & ~m.expired;
    return 0;
}

int
pv_retention_unexpired(struct pv_vault *v, struct pv_conn *c, const char *subject, int ci,
                       const char *record, int64_t now, uint64_t *mask)
{
    struct unexpired u;
    struct pv_record r;
    int rc;

    memset(&u, 0, sizeof u);
    u.v = v;
    u.ci = ci;
    u.collection = v->policy->collections[ci].name;
    u.now = now;
    /* The events and the arithmetic are the sweep's own, so the two never disagree. */
    rc = pv_vault_retention_facts(v, c, subject, &u.facts.closed, &u.facts.last_visit);
    if (rc == 0 && record == NULL) {
        rc = pv_store_rows_of_subject(c, 0, subject, unexpired_row, &u);
    } else if (rc == 0) {
        memset(&r, 0, sizeof r);
        pv_buf_init(&r.body, PV_RECORD_BODY_MAX);
        rc = pv_store_record_get(c, subject, u.collection, record, &r);
        if (rc == 0)
            rc = unexpired_row(&r, &u);
        else if (rc == PV_ENOTFOUND)
            rc = 0; /* no such record holds nothing; the delete answers 404 */
        pv_buf_fini(&r.body);
    }
    if (rc == 0)
        *mask = u.mask;
    return rc;
}

/* ---- disposal, inside the transaction -----------------------------------------------------------
 */

struct dispose {
    struct pv_vault *v;
    const char *subject;
    int64_t now;
    struct pv_retention_facts facts; /* created is set per row */
    const struct pv_dkey *dk;        /* the subject's key (anonymize); NULL: none */
    const struct pv_dkey *sys;       /* the system key (de-identified rows) */
    int n;
    struct {
        int usage;
        char id[PV_ID_MAX];
    } rows[CHUNK];
    struct pv_audit_row entries[CHUNK];
    struct pv_buf cats[CHUNK];
    char collection[CHUNK][PV_NAME_MAX];
    /* what the transaction did, added to the report once it is durable */
    int64_t purged, anonymized, trimmed, usage_purged, held;
};

struct rebuild {
    const struct pv_collection *col;
    uint64_t drop;
    struct pv_buf *out;
};

static int
rebuild_cb(const char *name, size_t nlen, const unsigned char *s, size_t len, void *arg)
{
    struct rebuild *rb = arg;
    char field[PV_NAME_MAX];
    int fi;

    memcpy(field, name, nlen); /* nlen < PV_NAME_MAX: mask_cb checked it */
    field[nlen] = '\0';
    fi = pv_policy_field(rb->col, field);
    if (fi >= 0 && (rb->drop & (UINT64_C(1) << fi)))
        return 0;
    return pv_body_add(rb->out, field, s, len);
}

/* Copy the values of mask out of r into a new de-identified row sealed under the system key. */
static int
deidentify(struct dispose *ds, struct pv_conn *w, int ci, const struct pv_record *r, uint64_t mask)
{
    const struct pv_collection *col = &ds->v->policy->collections[ci];
    struct pv_seal_ad from = {ds->subject, r->id, NULL}, to = {PV_SYSTEM_OWNER, NULL, NULL};
    unsigned char *pt = NULL, *ct = NULL;
    const unsigned char *sealed;
    struct pv_buf cats;
    struct pv_deid d;
    char t[21];
    size_t n, ptlen, ctlen;
    int rc = 0;

    memset(&d, 0, sizeof d);
    pv_id_new("dei", d.id);
    pv_strlcpy(d.collection, col->name, sizeof d.collection);
    pv_time_format(r->created / 1000, t);
    memcpy(d.period, t, 7); /* YYYY-MM: the month, never the day */
    d.period[7] = '\0';
    to.record = d.id;
    pv_buf_init(&d.body, PV_RECORD_BODY_MAX);
    pv_buf_init(&cats, 4096);
    for (int i = 0; rc == 0 && i < col->nfields; i++) {
        if (!(mask & (UINT64_C(1) << i)) ||
            pv_body_find(&r->body, col->fields[i].name, &sealed, &n) != 0)
            continue;
        from.field = to.field = col->fields[i].name;
        pt = malloc(n);
        ct = malloc(n);
        if (pt == NULL || ct == NULL)
            rc = PV_ENOMEM;
        if (rc == 0)
            rc = pv_unseal(ds->dk, &from, sealed, n, pt, n, &ptlen);
        if (rc == 0)
            rc = pv_seal(ds->sys, &to, pt, ptlen, ct, n, &ctlen);
        if (rc == 0)
            rc = pv_body_add(&d.body, col->fields[i].name, ct, ctlen);
        if (pt)
            pv_wipe(pt, n);
        free(pt);
        free(ct);
        pt = ct = NULL;
    }
    if (rc == 0)
        rc = pv_vault_categories(ds->v, ci, mask, &cats);
    if (rc == 0 && d.body.len > 0)
        rc = pv_store_deid_put(w, &d, cats.data ? cats.data : "");
    pv_buf_fini(&cats);
    pv_buf_fini(&d.body);
    return rc;
}

/* Drop the look-up digests of the profile's indexed fields in mask. */
static int
drop_indexes(struct dispose *ds, struct pv_conn *w, int ci, uint64_t mask)
{
    const struct pv_policy *p = ds->v->policy;
    const struct pv_collection *col = &p->collections[ci];
    int rc = 0;

    if (ci != ds->v->profile)
        return 0;
    for (int i = 0; rc == 0 && i < col->nfields; i++) {
        const struct pv_category *cat = &p->categories[col->fields[i].category];
        if ((mask & (UINT64_C(1) << i)) && cat->index)
            rc = pv_store_index_delete(w, ds->subject, cat->key);
    }
    return rc;
}

static int
dispose_row(struct dispose *ds, struct pv_conn *w, int i, struct pv_record *r)
{
    struct pv_audit_row *e = &ds->entries[i];
    int usage = ds->rows[i].usage, ci, rc;
    struct rebuild rb;
    struct masks m;
    struct pv_buf kept;
    uint64_t anon;

    rc = pv_store_row_get(w, usage, ds->subject, ds->rows[i].id, r);
    if (rc == PV_ENOTFOUND) {
        e->decision = "deny";
        e->reason = "no-such-record";
        return 0;
    }
    if (rc != 0 || (ci = row_collection(ds->v, usage, r)) < 0)
        return rc ? rc : PV_ESTORE;
    ds->facts.created = r->created;
    if ((rc = row_masks(ds->v, ci, r, &ds->facts, ds->now, &m)) != 0)
        return rc;
    pv_strlcpy(ds->collection[i], ds->v->policy->collections[ci].name, PV_NAME_MAX);
    e->collection = ds->collection[i];
    if (m.expired == 0) {
        e->decision = "deny";
        e->reason = "not-expired";
        return 0;
    }
    if ((rc = pv_vault_categories(ds->v, ci, m.expired, &ds->cats[i])) != 0)
        return rc;
    e->categories = ds->cats[i].data ? ds->cats[i].data : "";
    anon = ds->dk ? anonymize_mask(ds->v->policy, ci, m.expired) : 0;
    if (anon && (rc = deidentify(ds, w, ci, r, anon)) != 0)
        return rc;
    if (!usage && (rc = drop_indexes(ds, w, ci, m.expired)) != 0)
        return rc;
    if (m.expired == m.present && !m.unknown) {
        if ((rc = pv_store_row_delete(w, usage, ds->subject, r->id)) != 0)
            return rc;
        e->action = usage  ? "retention.purge_usage"
                    : anon ? "retention.anonymize"
                           : "retention.purge";
        *(usage ? &ds->usage_purged : anon ? &ds->anonymized : &ds->purged) += 1;
        return 0;
    }
    /* Some values stay: the row keeps them, and its categories say what is left. */
    pv_buf_init(&kept, PV_RECORD_BODY_MAX);
    rb.col = &ds->v->policy->collections[ci];
    rb.drop = m.expired;
    rb.out = &kept;
    rc = pv_body_each(&r->body, rebuild_cb, &rb);
    pv_buf_reset(&r->body);
    if (rc == 0)
        rc = pv_buf_append(&r->body, kept.data ? kept.data : "", kept.len);
    pv_buf_fini(&kept);
    pv_buf_init(&kept, 4096);
    if (rc == 0)
        rc = pv_vault_categories(ds->v, ci, m.present & ~m.expired, &kept);
    if (rc == 0)
        rc = pv_store_row_set_body(w, usage, r, kept.data ? kept.data : "");
    pv_buf_fini(&kept);
    if (rc == 0) {
        e->action = "retention.purge_fields";
        ds->trimmed++;
    }
    return rc;
}

static int
apply_dispose(struct pv_conn *w, void *arg)
{
    struct dispose *ds = arg;
    struct pv_record r;
    int rc;

    ds->purged = ds->anonymized = ds->trimmed = ds->usage_purged = ds->held = 0;
    rc = pv_store_hold_active(w, ds->subject, ds->now);
    if (rc == 0) {
        /* A hold placed since the plan was made: it wins. */
        for (int i = 0; i < ds->n; i++) {
            ds->entries[i].decision = "deny";
            ds->entries[i].reason = "legal-hold";
        }
        ds->held = ds->n;
        return 0;
    }
    if (rc != PV_ENOTFOUND)
        return rc;
    memset(&r, 0, sizeof r);
    pv_buf_init(&r.body, PV_RECORD_BODY_MAX);
    rc = 0;
    for (int i = 0; rc == 0 && i < ds->n; i++)
        rc = dispose_row(ds, w, i, &r);
    pv_buf_fini(&r.body);
    return rc;
}

/* ---- erasure
 * ------------------------------------------------------------------------------------------ */

struct erase {
    const char *subject;
    int64_t now;
    struct pv_audit_row entry;
    int erased;
};

static int
apply_erase(struct pv_conn *w, void *arg)
{
    struct erase *er = arg;
    int64_t left;
    int rc;

    er->erased = 0;
    if ((rc = pv_store_hold_active(w, er->subject, er->now)) == 0) {
        er->entry.decision = "deny";
        er->entry.reason = "legal-hold";
        return 0;
    }
    if (rc != PV_ENOTFOUND || (rc = pv_store_subject_rows(w, er->subject, &left)) != 0)
        return rc;
    if (left > 0) {
        er->entry.decision = "deny";
        er->entry.reason = "data-remains";
        return 0;
    }
    if ((rc = pv_store_subject_erase(w, er->subject, er->now)) != 0)
        return rc;
    er->erased = 1;
    return 0;
}

/* ---- the sweep
 * ----------------------------------------------------------------------------------------- */

struct sweep {
    struct pv_vault *v;
    struct pv_sweep_report *rep;
    struct pv_conn *c;
    int64_t now;
    struct pv_dkey sys;
    struct dispose *ds;
    int disposed; /* anything was deleted: scrub at the end */
    /* a deletion request carried out now (0: none), and the reason its entries give */
    int64_t deleted;
    const char *reason;
};

struct plan {
    struct sweep *sw;
    int usage;
    struct pv_retention_facts facts;
    int64_t rows, expiring; /* rows seen; rows with an expired value */
    int64_t whole;          /* rows that would go whole */
    /* ids of the rows with an expired value, in order */
    struct {
        int usage;
        char id[PV_ID_MAX];
    } * ids;
    size_t nids, cap;
    int need_key; /* an expired value is to be anonymized */
};

static int
plan_row(const struct pv_record *r, void *arg)
{
    struct plan *pl = arg;
    struct pv_vault *v = pl->sw->v;
    struct masks m;
    void *grown;
    int ci = row_collection(v, pl->usage, r), rc;

    pl->rows++;
    if (ci < 0)
        return 0; /* a collection the policy no longer declares: kept, never judged */
    pl->facts.created = r->created;
    if ((rc = row_masks(v, ci, r, &pl->facts, pl->sw->now, &m)) != 0)
        return rc;
    if (m.expired == 0)
        return 0;
    if (pl->nids == pl->cap) {
        pl->cap = pl->cap ? 2 * pl->cap : 64;
        if ((grown = realloc(pl->ids, pl->cap * sizeof *pl->ids)) == NULL)
            return PV_ENOMEM;
        pl->ids = grown;
    }
    pl->ids[pl->nids].usage = pl->usage;
    memcpy(pl->ids[pl->nids].id, r->id, PV_ID_MAX);
    pl->nids++;
    pl->expiring++;
    pl->whole += m.expired == m.present && !m.unknown;
    pl->need_key |= anonymize_mask(v->policy, ci, m.expired) != 0;
    return 0;
}

static void
row_entry(struct pv_audit_row *e, const char *subject, const char *record)
{
    memset(e, 0, sizeof *e);
    e->actor = "system";
    e->action = "retention.purge";
    e->subject = subject;
    e->record = record;
    e->decision = "permit";
    e->reason = "retention-expired";
}

/* Dispose of the planned rows of one subject, a chunk per transaction. */
static int
dispose_planned(struct sweep *sw, const char *subject, struct plan *pl)
{
    struct pv_dkey dk;
    struct dispose *ds = sw->ds;
    int have_dk = 0, rc = 0;

    if (pl->need_key && pv_vault_subject_key(sw->v, sw->c, subject, &dk) == 0)
        have_dk = 1;
    for (size_t at = 0; rc == 0 && at < pl->nids; at += CHUNK) {
        ds->v = sw->v;
        ds->subject = subject;
        ds->now = sw->now;
        ds->facts = pl->facts;
        ds->dk = have_dk ? &dk : NULL;
        ds->sys = &sw->sys;
        ds->n = (int)(pl->nids - at < CHUNK ? pl->nids - at : CHUNK);
        for (int i = 0; i < ds->n; i++) {
            ds->rows[i].usage = pl->ids[at + (size_t)i].usage;
            memcpy(ds->rows[i].id, pl->ids[at + (size_t)i].id, PV_ID_MAX);
            row_entry(&ds->entries[i], subject, ds->rows[i].id);
            if (sw->reason)
                ds->entries[i].reason = sw->reason;
            pv_buf_reset(&ds->cats[i]);
        }
        rc = pv_audit_commit(sw->v->audit, ds->entries, ds->n, apply_dispose, ds);
        if (rc == 0) {
            sw->rep->records_purged += ds->purged;
            sw->rep->records_anonymized += ds->anonymized;
            sw->rep->fields_purged += ds->trimmed;
            sw->rep->usage_purged += ds->usage_purged;
            sw->rep->held += ds->held;
            sw->disposed |= ds->purged + ds->anonymized + ds->trimmed + ds->usage_purged > 0;
        }
    }
    if (have_dk)
        pv_dkey_wipe(&dk);
    return rc;
}

/* A closed account with nothing left: its key goes, and with it every copy's data. */
static int
erase_empty(struct sweep *sw, const char *subject, const char *reason)
{
    struct erase er;
    int64_t left;
    int rc;

    if ((rc = pv_store_subject_rows(sw->c, subject, &left)) != 0 || left > 0)
        return rc;
    memset(&er, 0, sizeof er);
    er.subject = subject;
    er.now = sw->now;
    row_entry(&er.entry, subject, "");
    er.entry.action = "retention.erase";
    er.entry.reason = reason;
    rc = pv_audit_commit(sw->v->audit, &er.entry, 1, apply_erase, &er);
    if (rc == 0 && er.erased) {
        sw->rep->keys_destroyed++;
        sw->disposed = 1;
    }
    return rc;
}

static int
sweep_subject(struct sweep *sw, const char *subject, const char *status)
{
    struct plan pl;
    int rc, held;

    if (strcmp(status, "erased") == 0)
        return 0;
    memset(&pl, 0, sizeof pl);
    pl.sw = sw;
    rc = pv_vault_retention_facts(sw->v, sw->c, subject, &pl.facts.closed, &pl.facts.last_visit);
    pl.facts.deleted = sw->deleted;
    if (rc == 0)
        rc = pv_store_rows_of_subject(sw->c, 0, subject, plan_row, &pl);
    pl.usage = 1;
    if (rc == 0)
        rc = pv_store_rows_of_subject(sw->c, 1, subject, plan_row, &pl);
    if (rc == 0) {
        rc = pv_store_hold_active(sw->c, subject, sw->now);
        held = rc == 0;
        rc = rc == PV_ENOTFOUND ? 0 : rc;
    }
    if (rc == 0 && held) {
        /* Kept past retention while the hold lasts; the next sweep after it ends disposes. */
        sw->rep->held += pl.expiring;
    } else if (rc == 0) {
        if (pl.nids > 0)
            rc = dispose_planned(sw, subject, &pl);
        if (rc == 0 && strcmp(status, "closed") == 0)
            rc = erase_empty(sw, subject, "nothing-left");
    }
    free(pl.ids);
    return rc;
}

struct page {
    char ids[SUBJECT_PAGE][PV_ID_MAX];
    char status[SUBJECT_PAGE][PV_STATUS_MAX];
    int n;
};

static int
page_cb(const char *id, const char *status, void *arg)
{
    struct page *pg = arg;

    if (pv_strlcpy(pg->ids[pg->n], id, PV_ID_MAX) != 0 ||
        pv_strlcpy(pg->status[pg->n], status, PV_STATUS_MAX) != 0)
        return PV_ESTORE;
    pg->n++;
    return 0;
}

/* The state every sweep needs: a reader, the system key, the disposal buffers. */
static int
sweep_open(struct pv_vault *v, struct pv_sweep_report *rep, struct sweep *sw)
{
    int rc;

    memset(rep, 0, sizeof *rep);
    memset(sw, 0, sizeof *sw);
    sw->v = v;
    sw->rep = rep;
    sw->now = pv_now_ms();
    if ((rc = pv_store_reader(v->store, &sw->c)) != 0)
        return rc;
    if ((sw->ds = calloc(1, sizeof *sw->ds)) == NULL)
        return PV_ENOMEM;
    for (int i = 0; i < CHUNK; i++)
        pv_buf_init(&sw->ds->cats[i], 4096);
    if ((rc = pv_vault_subject_key(v, sw->c, PV_SYSTEM_OWNER, &sw->sys)) != 0) {
        for (int i = 0; i < CHUNK; i++)
            pv_buf_fini(&sw->ds->cats[i]);
        free(sw->ds);
        sw->ds = NULL;
    }
    return rc;
}

static void
sweep_close(struct sweep *sw)
{
    pv_dkey_wipe(&sw->sys);
    for (int i = 0; i < CHUNK; i++)
        pv_buf_fini(&sw->ds->cats[i]);
    free(sw->ds);
    if (sw->disposed)
        pv_vault_scrub(sw->v);
}

int
pv_vault_sweep(struct pv_vault *v, struct pv_sweep_report *rep,
               void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    struct sweep sw;
    struct page *pg;
    char after[PV_ID_MAX] = "";
    int64_t total;
    int rc;

    if ((rc = sweep_open(v, rep, &sw)) != 0)
        return rc;
    if ((total = pv_store_subject_count(sw.c)) < 0 || (pg = calloc(1, sizeof *pg)) == NULL) {
        sweep_close(&sw);
        return total < 0 ? (int)total : PV_ENOMEM;
    }
    while (rc == 0) {
        pg->n = 0;
        if ((rc = pv_store_subject_scan(sw.c, after, SUBJECT_PAGE, page_cb, pg)) != 0 || pg->n == 0)
            break;
        for (int i = 0; rc == 0 && i < pg->n; i++) {
            rc = sweep_subject(&sw, pg->ids[i], pg->status[i]);
            rep->subjects++;
            if (progress)
                progress(rep->subjects, total, arg);
        }
        memcpy(after, pg->ids[pg->n - 1], PV_ID_MAX);
    }
    free(pg);
    sweep_close(&sw);
    return rc;
}

int
pv_retention_delete(struct pv_vault *v, const char *subject, struct pv_sweep_report *rep)
{
    struct sweep sw;
    int rc;

    if ((rc = sweep_open(v, rep, &sw)) != 0)
        return rc;
    sw.deleted = sw.now;
    sw.reason = "deletion-request";
    /* Any status but closed: the erasure, if nothing is left, is the caller's next step. */
    rc = sweep_subject(&sw, subject, "deleting");
    rep->subjects = 1;
    sweep_close(&sw);
    return rc;
}

int
pv_retention_erase(struct pv_vault *v, const char *subject, int *erased)
{
    struct pv_sweep_report rep;
    struct sweep sw;
    int rc;

    *erased = 0;
    if ((rc = sweep_open(v, &rep, &sw)) != 0)
        return rc;
    rc = erase_empty(&sw, subject, "deletion-request");
    *erased = rep.keys_destroyed > 0;
    sweep_close(&sw);
    return rc;
}

/* ---- closing an account
 * ---------------------------------------------------------------------------------- */

struct close_ctx {
    const char *subject;
    const char *actor;
    int64_t now;
};

static int
apply_close(struct pv_conn *w, void *arg)
{
    struct close_ctx *cc = arg;
    struct pv_subject s;
    int rc;

    if ((rc = pv_store_subject_get(w, cc->subject, &s)) != 0)
        return rc;
    if (strcmp(s.status, "active") != 0 && strcmp(s.status, "restricted") != 0)
        return PV_ECONFLICT;
    if ((rc = pv_store_closure_put(w, cc->subject, cc->now, cc->actor)) != 0 ||
        (rc = pv_store_subject_close(w, cc->subject, cc->now)) != 0)
        return rc;
    /* The person's own logins end with the account. */
    return pv_store_user_disable_subject(w, cc->subject);
}

/* Per category held: the latest time any of its values is kept until. */
struct kept {
    struct pv_vault *v;
    int usage;
    struct pv_retention_facts facts;
    int64_t until[]; /* one per category; INT64_MIN: none held */
};

struct kept_walk {
    struct kept *k;
    const struct pv_collection *col;
};

static int
kept_field(const char *name, size_t nlen, const unsigned char *s, size_t len, void *arg)
{
    struct kept_walk *kw = arg;
    char field[PV_NAME_MAX];
    int64_t until;
    int fi, cat;

    if (nlen >= sizeof field)
        return PV_ESTORE;
    memcpy(field, name, nlen);
    field[nlen] = '\0';
    if ((fi = pv_policy_field(kw->col, field)) < 0)
        return 0;
    cat = kw->col->fields[fi].category;
    until = pv_retention_expiry(&kw->k->v->policy->categories[cat], &kw->k->facts);
    if (until > kw->k->until[cat])
        kw->k->until[cat] = until;
    return 0;
}

static int
kept_row(const struct pv_record *r, void *arg)
{
    struct kept *k = arg;
    struct kept_walk kw = {k, NULL};
    int ci = row_collection(k->v, k->usage, r);

    if (ci < 0)
        return 0;
    kw.col = &k->v->policy->collections[ci];
    k->facts.created = r->created;
    return pv_body_each(&r->body, kept_field, &kw);
}

/* {kept: [{category, retention, until}], disposed: [category]} for a subject closed at now. */
static int
retention_answer(struct pv_vault *v, struct pv_conn *c, const char *subject, int64_t now,
                 int64_t deleted, json_t *out)
{
    const struct pv_policy *p = v->policy;
    static const char *const froms[] = {"created", "closed", "last_visit"};
    json_t *kept = json_array(), *gone = json_array();
    struct kept *k;
    char ret[16];
    int rc;

    k = malloc(sizeof *k + sizeof(int64_t) * (size_t)p->ncategories);
    if (k == NULL || kept == NULL || gone == NULL) {
        free(k);
        json_decref(kept);
        json_decref(gone);
        return PV_ENOMEM;
    }
    k->v = v;
    for (int i = 0; i < p->ncategories; i++)
        k->until[i] = INT64_MIN;
    rc = pv_vault_retention_facts(v, c, subject, &k->facts.closed, &k->facts.last_visit);
    k->facts.closed = now;
    k->facts.deleted = deleted;
    k->usage = 0;
    if (rc == 0)
        rc = pv_store_rows_of_subject(c, 0, subject, kept_row, k);
    k->usage = 1;
    if (rc == 0)
        rc = pv_store_rows_of_subject(c, 1, subject, kept_row, k);
    for (int i = 0; rc == 0 && i < p->ncategories; i++) {
        const struct pv_category *cat = &p->categories[i];
        if (k->until[i] == INT64_MIN)
            continue;
        if (k->until[i] <= now) {
            json_array_append_new(gone, json_string(cat->key));
            continue;
        }
        pv_retention_format(&cat->retention, ret);
        json_array_append_new(
            kept,
            json_pack("{s:s, s:s, s:s?, s:s, s:o}", "category", cat->key, "retention", ret, "from",
                      cat->retention.unit == PV_RET_ACCOUNT || cat->retention.unit == PV_RET_FOREVER
                          ? NULL
                          : froms[cat->retention.from],
                      "disposal", cat->disposal == PV_DISPOSE_ANONYMIZE ? "anonymize" : "purge",
                      "until", k->until[i] == PV_NEVER ? json_null() : pv_json_time(k->until[i])));
    }
    free(k);
    if (rc == 0) {
        json_object_set_new(out, "kept", kept);
        json_object_set_new(out, "disposed_at_next_sweep", gone);
    } else {
        json_decref(kept);
        json_decref(gone);
    }
    return rc;
}

int
pv_vault_close_account(struct pv_vault *v, struct pv_call *call, const char *subject, json_t **out)
{
    struct close_ctx cc;
    struct pv_subject s;
    struct pv_access a;
    struct pv_conn *c;
    json_t *j;
    int rc, held;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_CLOSE;
    a.audit_action = "subject.close";
    a.subject = subject;
    a.collection = v->profile;
    a.subject_exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0 &&
                       strcmp(s.status, "erased") != 0;
    cc.subject = subject;
    cc.actor = call->actor ? call->actor->user_id : "";
    cc.now = pv_now_ms();
    rc = pv_access(v, call, &a, apply_close, &cc, NULL);
    if (rc == PV_ECONFLICT)
        call->detail = "the account is already closed";
    if (rc != 0)
        return rc;
    rc = pv_store_hold_active(c, subject, cc.now);
    if (rc != 0 && rc != PV_ENOTFOUND)
        return rc;
    held = rc == 0;
    j = json_pack("{s:s, s:s, s:o, s:b}", "id", subject, "status", "closed", "closed_at",
                  pv_json_time(cc.now), "held", held);
    if (j == NULL)
        return PV_ENOMEM;
    if ((rc = retention_answer(v, c, subject, cc.now, 0, j)) != 0) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return 0;
}

int
pv_retention_kept(struct pv_vault *v, struct pv_conn *c, const char *subject, int64_t closed,
                  int64_t deleted, json_t *out)
{
    return retention_answer(v, c, subject, closed, deleted, out);
}
