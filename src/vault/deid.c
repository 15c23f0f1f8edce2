/*
 * deid.c: de-identified and aggregate data, the only data a purpose marked
 * deidentified may use (docs/policy.md: purposes, aggregates).
 *
 * The de-identified store holds values kept apart from their person when a
 * category's retention ended with disposal anonymize: a random row id, the
 * collection, the month of the original record, and the values sealed under
 * the system key; never a record id, a subject id or a time more exact than
 * the month. Aggregates are counts computed here from the live records of
 * subjects whose data may be used: per month of creation, or per value of one
 * field. A cell held by fewer records or fewer people than the policy's
 * min_cell is reported as suppressed, never with its count (and a value of a
 * field is then not named either); where a single cell would be suppressed
 * the smallest other is suppressed too, so that no total known elsewhere
 * gives it away by difference. No answer names a subject, and neither route
 * takes one: there is no filter that could narrow a count to one person.
 * Every read is a decision of pv_access() and an audit entry.
 */
#include <string.h>

#include "vault/vault_int.h"

#define DEID_LIST_MAX 500
#define AGG_VALUE_MAX 256 /* a longer value is counted under no name: it cannot be a category */

/* The collection named in a request, or -1; an unknown name is refused by the decision. */
static int
collection_of(struct pv_vault *v, const char *name)
{
    return name ? pv_policy_collection(v->policy, name) : -1;
}

static int
decide_read(struct pv_vault *v, struct pv_call *call, enum pv_action action, const char *audit,
            int ci, uint64_t by, struct pv_decision *d)
{
    struct pv_access a;

    memset(&a, 0, sizeof a);
    a.action = action;
    a.audit_action = audit;
    a.collection = ci;
    a.fields = by;
    return pv_access(v, call, &a, NULL, NULL, d);
}

/* ---- the de-identified store ------------------------------------------------------------ */

struct deid_list {
    struct pv_vault *v;
    const struct pv_dkey *sys;
    int ci;
    uint64_t mask;
    json_t *rows;
    int n;
    char last[PV_ID_MAX];
};

static int
deid_cb(const struct pv_deid *d, void *arg)
{
    struct deid_list *l = arg;
    const struct pv_collection *col = &l->v->policy->collections[l->ci];
    json_t *fields = json_object(), *j;
    const unsigned char *sealed;
    size_t n;

    for (int i = 0; fields && i < col->nfields; i++) {
        json_t *value;
        if (!((l->mask >> i) & 1) || pv_body_find(&d->body, col->fields[i].name, &sealed, &n) != 0)
            continue;
        value = pv_open_value(l->sys, PV_SYSTEM_OWNER, d->id, col->fields[i].name, sealed, n);
        if (value)
            json_object_set_new(fields, col->fields[i].name, value);
    }
    j = fields ? json_pack("{s:s, s:s, s:o}", "id", d->id, "month", d->period, "fields", fields)
               : NULL;
    if (j == NULL || json_array_append_new(l->rows, j) != 0)
        return PV_ENOMEM;
    l->n++;
    pv_strlcpy(l->last, d->id, sizeof l->last);
    return 0;
}

int
pv_vault_deid_list(struct pv_vault *v, struct pv_call *call, const char *collection,
                   const char *after, int limit, json_t **out)
{
    struct pv_decision d;
    struct pv_dkey sys;
    struct pv_conn *c;
    struct deid_list l;
    int ci = collection_of(v, collection), rc;

    if (after && !pv_id_valid(after, "dei")) {
        call->detail = "after must be the id of a de-identified row";
        pv_strlcpy(call->field, "after", sizeof call->field);
        return PV_EINVAL;
    }
    if (limit <= 0 || limit > DEID_LIST_MAX)
        limit = limit <= 0 ? 100 : DEID_LIST_MAX;
    if ((rc = decide_read(v, call, PV_ACT_DEIDENTIFIED, "deidentified.read", ci, 0, &d)) != 0)
        return rc;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((rc = pv_vault_subject_key(v, c, PV_SYSTEM_OWNER, &sys)) != 0)
        return rc;
    memset(&l, 0, sizeof l);
    l.v = v;
    l.sys = &sys;
    l.ci = ci;
    l.mask = d.fields;
    l.rows = json_array();
    rc = l.rows ? pv_store_deid_list(c, collection, after, limit, deid_cb, &l) : PV_ENOMEM;
    pv_dkey_wipe(&sys);
    if (rc != 0) {
        json_decref(l.rows);
        return rc;
    }
    *out = json_pack("{s:s, s:o, s:s?}", "collection", collection, "rows", l.rows, "next",
                     l.n == limit ? l.last : NULL);
    return *out ? 0 : PV_ENOMEM;
}

/* ---- aggregates ------------------------------------------------------------------------ */

/* One cell: a month or a value, its counts. */
struct cell {
    char *name;
    int64_t records, subjects;
    char last_subject[PV_ID_MAX]; /* rows come ordered by subject: a new one counts once */
    int suppressed;
};

struct agg {
    struct pv_vault *v;
    struct pv_conn *c;
    int ci, field;
    struct cell *cells;
    int ncells, cap;
    char subject[PV_ID_MAX]; /* whose key dk is */
    struct pv_dkey dk;
    int have_key;
};

static struct cell *
cell_get(struct agg *g, const char *name)
{
    struct cell *more;

    for (int i = 0; i < g->ncells; i++)
        if (strcmp(g->cells[i].name, name) == 0)
            return &g->cells[i];
    if (g->ncells == g->cap) {
        int cap = g->cap ? 2 * g->cap : 16;
        if ((more = realloc(g->cells, sizeof *more * (size_t)cap)) == NULL)
            return NULL;
        g->cells = more;
        g->cap = cap;
    }
    more = &g->cells[g->ncells];
    memset(more, 0, sizeof *more);
    if ((more->name = malloc(strlen(name) + 1)) == NULL)
        return NULL;
    memcpy(more->name, name, strlen(name) + 1);
    g->ncells++;
    return more;
}

static int
month_cb(const char *month, int64_t records, int64_t subjects, void *arg)
{
    struct cell *x = cell_get(arg, month);

    if (x == NULL)
        return PV_ENOMEM;
    x->records = records;
    x->subjects = subjects;
    return 0;
}

/* The name a value is counted under: a string as it is, anything else as compact JSON. */
static char *
value_name(const json_t *value)
{
    const char *s = json_string_value(value);
    char *out;

    if (s == NULL)
        return json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    if ((out = malloc(strlen(s) + 1)) != NULL)
        memcpy(out, s, strlen(s) + 1);
    return out;
}

static int
value_cb(const struct pv_record *r, void *arg)
{
    struct agg *g = arg;
    const char *field = g->v->policy->collections[g->ci].fields[g->field].name;
    const unsigned char *sealed;
    struct cell *x;
    json_t *value;
    char *name;
    size_t n;
    int rc;

    if (!g->have_key || strcmp(g->subject, r->subject_id) != 0) {
        if (g->have_key)
            pv_dkey_wipe(&g->dk);
        g->have_key = 0;
        if ((rc = pv_vault_subject_key(g->v, g->c, r->subject_id, &g->dk)) != 0)
            return rc;
        g->have_key = 1;
        pv_strlcpy(g->subject, r->subject_id, sizeof g->subject);
    }
    if (pv_body_find(&r->body, field, &sealed, &n) != 0)
        return 0; /* no value: not counted */
    if ((value = pv_open_value(&g->dk, r->subject_id, r->id, field, sealed, n)) == NULL)
        return 0;
    name = value_name(value);
    json_decref(value);
    if (name == NULL)
        return PV_ENOMEM;
    /* A value too long to be a category is counted, but under no name. */
    x = cell_get(g, strlen(name) > AGG_VALUE_MAX ? "" : name);
    pv_wipe(name, strlen(name));
    free(name);
    if (x == NULL)
        return PV_ENOMEM;
    x->records++;
    if (strcmp(x->last_subject, r->subject_id) != 0) {
        x->subjects++;
        pv_strlcpy(x->last_subject, r->subject_id, sizeof x->last_subject);
    }
    return 0;
}

/* Suppress the small cells, and one more where one alone would be. */
static void
suppress(struct cell *cells, int n, int min)
{
    int count = 0, smallest = -1;

    for (int i = 0; i < n; i++) {
        cells[i].suppressed =
            cells[i].records < min || cells[i].subjects < min || cells[i].name[0] == '\0';
        count += cells[i].suppressed;
    }
    if (count != 1)
        return;
    for (int i = 0; i < n; i++)
        if (!cells[i].suppressed && (smallest < 0 || cells[i].records < cells[smallest].records))
            smallest = i;
    if (smallest >= 0)
        cells[smallest].suppressed = 1;
}

static json_t *
cells_json(const struct agg *g, int by_month, int *hidden)
{
    json_t *list = json_array();

    *hidden = 0;
    for (int i = 0; list && i < g->ncells; i++) {
        const struct cell *x = &g->cells[i];
        if (x->suppressed && !by_month) {
            (*hidden)++; /* a rare value is not named: it could name someone */
            continue;
        }
        json_array_append_new(list, x->suppressed
                                        ? json_pack("{s:s, s:b}", "month", x->name, "suppressed", 1)
                                        : json_pack("{s:s, s:I, s:I}", by_month ? "month" : "value",
                                                    x->name, "records", (json_int_t)x->records,
                                                    "people", (json_int_t)x->subjects));
    }
    return list;
}

int
pv_vault_aggregate(struct pv_vault *v, struct pv_call *call, const char *collection, const char *by,
                   json_t **out)
{
    const struct pv_policy *p = v->policy;
    struct pv_decision d;
    struct pv_access a;
    struct agg g;
    json_t *cells;
    int ci = collection_of(v, collection), by_month, rc, hidden, fi = -1;
    uint64_t mask = 0;

    if (by == NULL || by[0] == '\0')
        by = "month";
    by_month = strcmp(by, "month") == 0;
    if (!by_month && ci >= 0 && (fi = pv_policy_field(&p->collections[ci], by)) >= 0)
        mask = UINT64_C(1) << fi;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_AGGREGATE;
    a.audit_action = "aggregate.read";
    a.collection = ci;
    a.fields = mask;
    /* An unknown field is refused like an undeclared one, without echoing it to the log. */
    a.undeclared = !by_month && ci >= 0 && mask == 0 ? "by" : NULL;
    if (a.undeclared)
        pv_strlcpy(call->field, "by", sizeof call->field);
    if ((rc = pv_access(v, call, &a, NULL, NULL, &d)) != 0)
        return rc;
    memset(&g, 0, sizeof g);
    g.v = v;
    g.ci = ci;
    g.field = fi;
    if ((rc = pv_store_reader(v->store, &g.c)) == 0)
        rc = by_month ? pv_store_aggregate_months(g.c, ci == p->usage, collection, month_cb, &g)
                      : pv_store_aggregate_each(g.c, ci == p->usage, collection, value_cb, &g);
    if (g.have_key)
        pv_dkey_wipe(&g.dk);
    if (rc == 0) {
        suppress(g.cells, g.ncells, p->aggregates.min_cell);
        cells = cells_json(&g, by_month, &hidden);
        *out = cells ? json_pack("{s:s, s:s, s:i, s:o, s:i}", "collection", collection, "by", by,
                                 "min_cell", p->aggregates.min_cell, "cells", cells,
                                 "suppressed_values", hidden)
                     : NULL;
        rc = *out ? 0 : PV_ENOMEM;
    }
    for (int i = 0; i < g.ncells; i++) {
        pv_wipe(g.cells[i].name, strlen(g.cells[i].name));
        free(g.cells[i].name);
    }
    free(g.cells);
    return rc;
}
