/*
 * usage.c: usage data (IP address, device, pages visited), the policy's
 * collection "usage". It lives in a table of its own, apart from health
 * data, with the short retention of its categories; each value is sealed
 * under the person's key like the rest of their data.
 *
 * A category may need a consent kind (cookie consent: functional,
 * analytics); the decision (PV_ACT_COLLECT) drops the fields whose consent
 * the person has not given, and only the rest is stored. Everything is
 * sealed before the decision, since the committer only writes; the apply
 * function keeps the permitted fields alone.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define LIST_MAX 200

struct collect {
    struct pv_vault *v;
    int ci;
    struct pv_decision d; /* filled by pv_access (a.decided) before apply runs */
    struct pv_buf sealed; /* every field given, sealed */
    struct pv_record r;   /* the event as stored: permitted fields only */
    struct pv_buf cats;
};

static int
apply_collect(struct pv_conn *w, void *arg)
{
    struct collect *co = arg;
    const struct pv_collection *col = &co->v->policy->collections[co->ci];
    const unsigned char *s;
    size_t n;
    int rc = 0;

    for (int i = 0; rc == 0 && i < col->nfields; i++)
        if ((co->d.fields & (UINT64_C(1) << i)) &&
            (rc = pv_body_find(&co->sealed, col->fields[i].name, &s, &n)) == 0)
            rc = pv_body_add(&co->r.body, col->fields[i].name, s, n);
    if (rc == 0)
        rc = pv_vault_categories(co->v, co->ci, co->d.fields, &co->cats);
    if (rc == 0 && co->r.body.len > 0)
        rc = pv_store_usage_put(w, &co->r, co->cats.data ? co->cats.data : "");
    return rc;
}

static json_t *
names(const struct pv_collection *col, uint64_t mask)
{
    json_t *a = json_array();

    for (int i = 0; a && i < col->nfields; i++)
        if (mask & (UINT64_C(1) << i))
            json_array_append_new(a, json_string(col->fields[i].name));
    return a;
}

static int
usage_collection(struct pv_vault *v, struct pv_call *call)
{
    if (v->policy->usage >= 0)
        return v->policy->usage;
    call->detail = "the policy declares no usage collection";
    return PV_ENOTFOUND;
}

int
pv_vault_usage_collect(struct pv_vault *v, struct pv_call *call, const char *subject,
                       const json_t *body, json_t **out)
{
    struct pv_fieldset fs;
    struct pv_subject s;
    struct pv_access a;
    struct collect *co;
    struct pv_dkey dk;
    struct pv_conn *c;
    int ci, rc, exists;

    if ((ci = usage_collection(v, call)) < 0)
        return ci;
    if ((rc = pv_fields_scan(v, ci, body, &fs, call)) != 0)
        return rc;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    /* A closed account collects nothing more: as if there were no such subject. A restricted
     * one is there, and the decision's restriction rule says who may still collect. */
    exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0 &&
             (strcmp(s.status, "active") == 0 || strcmp(s.status, "restricted") == 0);
    if ((co = calloc(1, sizeof *co)) == NULL)
        return PV_ENOMEM;
    co->v = v;
    co->ci = ci;
    pv_buf_init(&co->sealed, PV_RECORD_BODY_MAX);
    pv_buf_init(&co->r.body, PV_RECORD_BODY_MAX);
    pv_buf_init(&co->cats, 4096);
    pv_id_new("rec", co->r.id);
    pv_strlcpy(co->r.subject_id, subject, sizeof co->r.subject_id);
    pv_strlcpy(co->r.collection, v->policy->collections[ci].name, sizeof co->r.collection);
    co->r.created = co->r.updated = pv_now_ms();
    memset(&dk, 0, sizeof dk);
    if (exists && (rc = pv_vault_subject_key(v, c, subject, &dk)) == 0)
        rc = pv_fields_seal(v, &dk, subject, co->r.id, ci, body, fs.mask, &co->sealed);
    pv_dkey_wipe(&dk);
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_COLLECT;
        a.audit_action = "usage.collect";
        a.subject = subject;
        a.collection = ci;
        a.record = co->r.id;
        a.fields = fs.mask;
        a.undeclared = fs.undeclared;
        a.subject_exists = exists;
        a.decided = &co->d; /* apply keeps the fields the decision lets through */
        rc = pv_access(v, call, &a, apply_collect, co, NULL);
    }
    if (rc == 0) {
        const struct pv_collection *col = &v->policy->collections[ci];
        *out = json_pack("{s:s?, s:s, s:o, s:o}", "id", co->d.fields ? co->r.id : NULL,
                         "subject_id", subject, "stored", names(col, co->d.fields), "dropped",
                         names(col, fs.mask & ~co->d.fields));
        if (*out == NULL)
            rc = PV_ENOMEM;
    }
    pv_buf_fini(&co->sealed);
    pv_buf_fini(&co->r.body);
    pv_buf_fini(&co->cats);
    free(co);
    return rc;
}

struct list {
    struct pv_vault *v;
    const struct pv_dkey *dk;
    int ci;
    uint64_t mask;
    json_t *events;
    int n;
    char last[PV_ID_MAX];
};

static int
list_cb(const struct pv_record *r, void *arg)
{
    struct list *l = arg;
    json_t *fields = json_object(), *withheld = json_array(), *j = NULL;

    if (fields && withheld &&
        pv_body_open(l->v, l->dk, r->subject_id, r->id, l->ci, &r->body, l->mask, fields,
                     withheld) == 0)
        j = json_pack("{s:s, s:o, s:o, s:o}", "id", r->id, "created", pv_json_time(r->created),
                      "fields", fields, "withheld", withheld);
    else {
        json_decref(fields);
        json_decref(withheld);
    }
    if (j == NULL || json_array_append_new(l->events, j) != 0)
        return PV_ENOMEM;
    l->n++;
    memcpy(l->last, r->id, sizeof l->last);
    return 0;
}

int
pv_vault_usage_list(struct pv_vault *v, struct pv_call *call, const char *subject,
                    const char *after, int limit, json_t **out)
{
    struct pv_decision d;
    struct pv_subject s;
    struct pv_access a;
    struct pv_dkey dk;
    struct pv_conn *c;
    struct list l;
    int ci, rc;

    if ((ci = usage_collection(v, call)) < 0)
        return ci;
    if (after && !pv_id_valid(after, "rec")) {
        call->detail = "after must be a usage event id";
        pv_strlcpy(call->field, "after", sizeof call->field);
        return PV_EINVAL;
    }
    if (limit <= 0 || limit > LIST_MAX)
        limit = limit <= 0 ? 50 : LIST_MAX;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_LIST;
    a.audit_action = "usage.list";
    a.subject = subject;
    a.collection = ci;
    a.subject_exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0 &&
                       strcmp(s.status, "erased") != 0;
    if ((rc = pv_access(v, call, &a, NULL, NULL, &d)) != 0)
        return rc;
    if ((rc = pv_vault_subject_key(v, c, subject, &dk)) != 0)
        return rc;
    memset(&l, 0, sizeof l);
    l.v = v;
    l.dk = &dk;
    l.ci = ci;
    l.mask = d.fields;
    l.events = json_array();
    rc = l.events ? pv_store_usage_list(c, subject, after, limit, list_cb, &l) : PV_ENOMEM;
    pv_dkey_wipe(&dk);
    if (rc != 0) {
        json_decref(l.events);
        return rc;
    }
    *out = json_pack("{s:o, s:s?}", "events", l.events, "next", l.n == limit ? l.last : NULL);
    return *out ? 0 : PV_ENOMEM;
}
