/*
 * records.c: records of a subject's collections, each field sealed on its own.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define LIST_MAX 200

void
pv_field_name_copy(char out[PV_NAME_MAX], const char *name)
{
    size_t i;

    for (i = 0; i < PV_NAME_MAX - 1 && name[i]; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            ch = '?';
        out[i] = ch;
    }
    out[i] = '\0';
}

static int
is_last4(const json_t *value)
{
    const char *s = json_string_value(value);

    if (s == NULL || strlen(s) != 4)
        return 0;
    for (int i = 0; i < 4; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int
pv_fields_scan(struct pv_vault *v, int c, const json_t *obj, struct pv_fieldset *fs,
               struct pv_call *call)
{
    const struct pv_policy *p = v->policy;
    const struct pv_collection *col = &p->collections[c];
    const char *key;
    json_t *value;

    memset(fs, 0, sizeof *fs);
    if (!json_is_object(obj)) {
        call->detail = "the body must be a JSON object of the collection's fields";
        return PV_EINVAL;
    }
    json_object_foreach((json_t *)obj, key, value)
    {
        int fi = pv_policy_field(col, key);
        if (fi < 0) {
            if (fs->undeclared == NULL) {
                fs->undeclared = key;
                pv_field_name_copy(call->field, key);
            }
            continue;
        }
        if (json_is_null(value)) {
            fs->nulls |= UINT64_C(1) << fi;
            continue;
        }
        if (p->categories[col->fields[fi].category].store == PV_STORE_LAST4 && !is_last4(value)) {
            call->detail = "only the last 4 digits of a payment card may be stored";
            pv_field_name_copy(call->field, key);
            return PV_EINVAL;
        }
        if (p->categories[col->fields[fi].category].store == PV_STORE_E2E) {
            int rc = pv_e2e_shape(key, value, call);
            if (rc != 0)
                return rc;
        }
        fs->mask |= UINT64_C(1) << fi;
    }
    return 0;
}

int
pv_fields_seal(struct pv_vault *v, const struct pv_dkey *dk, const char *subject,
               const char *record, int c, const json_t *obj, uint64_t mask, struct pv_buf *body)
{
    const struct pv_collection *col = &v->policy->collections[c];
    int rc = 0;

    for (int i = 0; rc == 0 && i < col->nfields; i++)
        if (mask & (UINT64_C(1) << i))
            rc = pv_vault_seal_field(dk, subject, record, col->fields[i].name,
                                     json_object_get(obj, col->fields[i].name), body);
    return rc;
}

/* The JSON of a record, with the fields of mask opened and the rest named as withheld. */
static json_t *
record_json(struct pv_vault *v, const struct pv_dkey *dk, int c, const struct pv_record *r,
            uint64_t mask)
{
    json_t *fields = json_object(), *withheld = json_array();

    if (fields == NULL || withheld == NULL ||
        pv_body_open(v, dk, r->subject_id, r->id, c, &r->body, mask, fields, withheld) != 0) {
        json_decref(fields);
        json_decref(withheld);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id", r->id, "subject_id",
                     r->subject_id, "collection", v->policy->collections[c].name, "created",
                     pv_json_time(r->created), "updated", pv_json_time(r->updated), "fields",
                     fields, "withheld", withheld);
}

/* Resolve the collection of a route; an unknown one is refused (and audited). */
static int
collection_of(struct pv_vault *v, struct pv_call *call, const char *name, const char *action,
              const char *subject)
{
    int ci = pv_policy_collection(v->policy, name);

    if (ci >= 0 && ci == v->policy->usage) {
        call->detail = "usage data is kept apart: /v1/subjects/{id}/usage collects and lists it";
        return pv_access_reject(v, call, action, subject, "usage-collection", PV_ECONFLICT);
    }
    if (ci >= 0)
        return ci;
    call->detail = "the policy declares no such collection";
    return pv_access_reject(v, call, action, subject, "unknown-collection", PV_ENOTFOUND);
}

static int
subject_exists(struct pv_conn *c, const char *id)
{
    struct pv_subject s;

    return pv_id_valid(id, "sub") && pv_store_subject_get(c, id, &s) == 0;
}

/* The access of a record route: its action, subject, collection and record. */
static void
record_access(struct pv_access *a, enum pv_action action, const char *subject, int ci,
              const char *rid, struct pv_conn *c)
{
    static const char *const names[PV_ACT_COUNT_] = {
        [PV_ACT_READ] = "record.read",     [PV_ACT_LIST] = "record.list",
        [PV_ACT_CREATE] = "record.create", [PV_ACT_UPDATE] = "record.update",
        [PV_ACT_DELETE] = "record.delete",
    };

    memset(a, 0, sizeof *a);
    a->action = action;
    a->audit_action = names[action];
    a->subject = subject;
    a->collection = ci;
    a->record = rid;
    a->subject_exists = subject_exists(c, subject);
}

struct create {
    struct pv_record r;
    struct pv_buf cats;
};

static int
apply_create(struct pv_conn *w, void *arg)
{
    struct create *cr = arg;

    return pv_store_record_put(w, &cr->r, cr->cats.data ? cr->cats.data : "");
}

int
pv_vault_record_create(struct pv_vault *v, struct pv_call *call, const char *subject,
                       const char *collection, const json_t *body, json_t **out)
{
    struct pv_decision d;
    struct pv_fieldset fs;
    struct pv_access a;
    struct create cr;
    struct pv_dkey dk;
    struct pv_conn *c;
    int ci, rc;

    if ((ci = collection_of(v, call, collection, "record.create", subject)) < 0)
        return ci;
    if (ci == v->profile) {
        call->detail = "a subject has one profile, made at enrollment; change it with PATCH";
        return PV_ECONFLICT;
    }
    if ((rc = pv_fields_scan(v, ci, body, &fs, call)) != 0)
        return rc;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&cr, 0, sizeof cr);
    pv_buf_init(&cr.r.body, PV_RECORD_BODY_MAX);
    pv_buf_init(&cr.cats, 4096);
    pv_id_new("rec", cr.r.id);
    record_access(&a, PV_ACT_CREATE, subject, ci, cr.r.id, c);
    pv_strlcpy(cr.r.subject_id, subject, sizeof cr.r.subject_id);
    pv_strlcpy(cr.r.collection, collection, sizeof cr.r.collection);
    cr.r.created = cr.r.updated = pv_now_ms();
    memset(&dk, 0, sizeof dk);
    a.fields = fs.mask;
    a.undeclared = fs.undeclared;
    rc = pv_e2e_check(v, call, &a, 1, body, fs.mask);
    if (rc == 0 && a.subject_exists && (rc = pv_vault_subject_key(v, c, subject, &dk)) == 0) {
        rc = pv_fields_seal(v, &dk, subject, cr.r.id, ci, body, fs.mask, &cr.r.body);
        if (rc == 0)
            rc = pv_vault_categories(v, ci, fs.mask, &cr.cats);
    }
    if (rc == 0) {
        a.fields = fs.mask;
        a.undeclared = fs.undeclared;
        rc = pv_access(v, call, &a, apply_create, &cr, &d);
    }
    if (rc == 0 && (*out = record_json(v, &dk, ci, &cr.r, d.fields)) == NULL)
        rc = PV_ENOMEM;
    pv_dkey_wipe(&dk);
    pv_buf_fini(&cr.r.body);
    pv_buf_fini(&cr.cats);
    return rc;
}

int
pv_vault_record_get(struct pv_vault *v, struct pv_call *call, const char *subject,
                    const char *collection, const char *rid, json_t **out)
{
    struct pv_decision d;
    struct pv_access a;
    struct pv_record r;
    struct pv_dkey dk;
    struct pv_conn *c;
    int ci, rc;

    if ((ci = collection_of(v, call, collection, "record.read", subject)) < 0)
        return ci;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    record_access(&a, PV_ACT_READ, subject, ci, rid, c);
    if ((rc = pv_access(v, call, &a, NULL, NULL, &d)) != 0)
        return rc;
    memset(&r, 0, sizeof r);
    pv_buf_init(&r.body, PV_RECORD_BODY_MAX);
    rc = pv_store_record_get(c, subject, collection, rid, &r);
    if (rc == 0 && (rc = pv_vault_subject_key(v, c, subject, &dk)) == 0) {
        if ((*out = record_json(v, &dk, ci, &r, d.fields)) == NULL)
            rc = PV_ENOMEM;
        pv_dkey_wipe(&dk);
    }
    pv_buf_fini(&r.body);
    return rc;
}

struct list {
    struct pv_vault *v;
    const struct pv_dkey *dk;
    int ci;
    uint64_t mask;
    json_t *records;
    int n;
    char last[PV_ID_MAX];
};

static int
list_cb(const struct pv_record *r, void *arg)
{
    struct list *l = arg;
    json_t *j = record_json(l->v, l->dk, l->ci, r, l->mask);

    if (j == NULL || json_array_append_new(l->records, j) != 0)
        return PV_ENOMEM;
    l->n++;
    memcpy(l->last, r->id, sizeof l->last);
    return 0;
}

int
pv_vault_record_list(struct pv_vault *v, struct pv_call *call, const char *subject,
                     const char *collection, const char *after, int limit, json_t **out)
{
    struct pv_decision d;
    struct pv_access a;
    struct pv_dkey dk;
    struct pv_conn *c;
    struct list l;
    int ci, rc;

    if ((ci = collection_of(v, call, collection, "record.list", subject)) < 0)
        return ci;
    if (after && !pv_id_valid(after, "rec")) {
        call->detail = "after must be a record id";
        pv_strlcpy(call->field, "after", sizeof call->field);
        return PV_EINVAL;
    }
    if (limit <= 0 || limit > LIST_MAX)
        limit = limit <= 0 ? 50 : LIST_MAX;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    record_access(&a, PV_ACT_LIST, subject, ci, NULL, c);
    if ((rc = pv_access(v, call, &a, NULL, NULL, &d)) != 0)
        return rc;
    if ((rc = pv_vault_subject_key(v, c, subject, &dk)) != 0)
        return rc;
    memset(&l, 0, sizeof l);
    l.v = v;
    l.dk = &dk;
    l.ci = ci;
    l.mask = d.fields;
    l.records = json_array();
    rc = l.records ? pv_store_record_list(c, subject, collection, after, limit, list_cb, &l)
                   : PV_ENOMEM;
    pv_dkey_wipe(&dk);
    if (rc != 0) {
        json_decref(l.records);
        return rc;
    }
    *out = json_pack("{s:o, s:s?}", "records", l.records, "next", l.n == limit ? l.last : NULL);
    return *out ? 0 : PV_ENOMEM;
}

struct update {
    struct pv_vault *v;
    int ci;
    struct pv_fieldset fs;
    struct pv_buf patch; /* sealed new values */
    struct pv_record r;  /* the record as it is after the update */
    struct pv_buf cats;
};

int
pv_record_patch(struct pv_vault *v, struct pv_conn *w, int ci, const struct pv_buf *patch,
                uint64_t set, uint64_t nulls, struct pv_record *r, struct pv_buf *cats)
{
    const struct pv_collection *col = &v->policy->collections[ci];
    struct pv_buf old;
    const unsigned char *s;
    uint64_t present = 0;
    size_t n;
    int rc;

    pv_buf_init(&old, PV_RECORD_BODY_MAX);
    rc = pv_store_record_get(w, r->subject_id, r->collection, r->id, r);
    if (rc == 0) {
        /* r->body now holds the stored body; build the new one from it and the patch. */
        rc = pv_buf_append(&old, r->body.data, r->body.len);
        pv_buf_reset(&r->body);
    }
    for (int i = 0; rc == 0 && i < col->nfields; i++) {
        uint64_t bit = UINT64_C(1) << i;
        const char *name = col->fields[i].name;
        if (set & bit)
            rc = pv_body_find(patch, name, &s, &n);
        else if (nulls & bit)
            continue;
        else if ((rc = pv_body_find(&old, name, &s, &n)) == PV_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = pv_body_add(&r->body, name, s, n);
        present |= bit;
    }
    pv_buf_fini(&old);
    if (rc == 0)
        rc = pv_vault_categories(v, ci, present, cats);
    r->updated = pv_now_ms();
    if (rc == 0)
        rc = pv_store_record_update(w, r, cats->data ? cats->data : "");
    /* The look-up index follows the profile, whatever path changed it. */
    if (rc == 0 && ci == v->profile && (set | nulls) != 0)
        rc = pv_profile_reindex(v, w, r, set | nulls);
    return rc;
}

/* Merge the patch into the record as it is inside the transaction. */
static int
apply_update(struct pv_conn *w, void *arg)
{
    struct update *u = arg;

    return pv_record_patch(u->v, w, u->ci, &u->patch, u->fs.mask, u->fs.nulls, &u->r, &u->cats);
}

int
pv_vault_record_update(struct pv_vault *v, struct pv_call *call, const char *subject,
                       const char *collection, const char *rid, const json_t *body, json_t **out)
{
    struct pv_decision d;
    struct pv_access a;
    struct update *u;
    struct pv_dkey dk;
    struct pv_conn *c;
    int ci, rc;

    if ((ci = collection_of(v, call, collection, "record.update", subject)) < 0)
        return ci;
    if ((u = calloc(1, sizeof *u)) == NULL)
        return PV_ENOMEM;
    u->v = v;
    u->ci = ci;
    pv_buf_init(&u->patch, PV_RECORD_BODY_MAX);
    pv_buf_init(&u->r.body, PV_RECORD_BODY_MAX);
    pv_buf_init(&u->cats, 4096);
    memset(&dk, 0, sizeof dk);
    rc = pv_fields_scan(v, ci, body, &u->fs, call);
    if (rc == 0 && u->fs.mask == 0 && u->fs.nulls == 0 && u->fs.undeclared == NULL) {
        call->detail = "the body names no field to change";
        rc = PV_EINVAL;
    }
    if (rc == 0 && ci == v->profile && ((u->fs.mask | u->fs.nulls) & pv_dob_field_mask(v))) {
        /* The birth date drives the age rules: it changes through one path, which applies them. */
        call->detail = "change the birth date with PUT /v1/subjects/{id}/birth-date";
        rc = PV_ECONFLICT;
    }
    if (rc == 0)
        rc = pv_store_reader(v->store, &c);
    if (rc == 0) {
        record_access(&a, PV_ACT_UPDATE, subject, ci, rid, c);
        pv_strlcpy(u->r.id, rid, sizeof u->r.id);
        pv_strlcpy(u->r.subject_id, subject, sizeof u->r.subject_id);
        pv_strlcpy(u->r.collection, collection, sizeof u->r.collection);
        a.fields = u->fs.mask | u->fs.nulls;
        a.undeclared = u->fs.undeclared;
        rc = pv_e2e_check(v, call, &a, 1, body, u->fs.mask);
    }
    if (rc == 0) {
        if (a.subject_exists && (rc = pv_vault_subject_key(v, c, subject, &dk)) == 0)
            rc = pv_fields_seal(v, &dk, subject, rid, ci, body, u->fs.mask, &u->patch);
    }
    if (rc == 0) {
        a.fields = u->fs.mask | u->fs.nulls;
        a.removes = u->fs.nulls;
        a.undeclared = u->fs.undeclared;
        rc = pv_access(v, call, &a, apply_update, u, &d);
    }
    if (rc == 0 && (*out = record_json(v, &dk, ci, &u->r, d.fields)) == NULL)
        rc = PV_ENOMEM;
    if (rc == 0 && u->fs.nulls)
        pv_vault_scrub(v); /* removed values: gone from the write-ahead log too */
    pv_dkey_wipe(&dk);
    pv_buf_fini(&u->patch);
    pv_buf_fini(&u->r.body);
    pv_buf_fini(&u->cats);
    free(u);
    return rc;
}

struct del {
    const char *subject, *collection, *rid;
};

static int
apply_delete(struct pv_conn *w, void *arg)
{
    struct del *dl = arg;

    return pv_store_record_delete(w, dl->subject, dl->collection, dl->rid);
}

int
pv_vault_record_delete(struct pv_vault *v, struct pv_call *call, const char *subject,
                       const char *collection, const char *rid)
{
    struct del dl = {subject, collection, rid};
    struct pv_access a;
    struct pv_conn *c;
    int ci, rc;

    if ((ci = collection_of(v, call, collection, "record.delete", subject)) < 0)
        return ci;
    if (ci == v->profile) {
        call->detail = "the profile goes with the subject, through a deletion request";
        return PV_ECONFLICT;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    record_access(&a, PV_ACT_DELETE, subject, ci, rid, c);
    if ((rc = pv_access(v, call, &a, apply_delete, &dl, NULL)) == 0)
        pv_vault_scrub(v); /* gone from the write-ahead log too, before the answer */
    return rc;
}
