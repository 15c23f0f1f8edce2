/*
 * disclosures.c: recording every release of a person's data to a recipient
 * of the policy's registry, and the accounting of disclosures.
 *
 * A disclosure is a decision (action disclose) over what would go: the
 * recipient, the collection and fields, the records, the consent ledgers.
 * The decision applies the policy's rules (the purpose must cover the
 * fields; SMS numbers and SMS consent are never shared where the policy
 * says so; a kind of recipient the policy forbids gets nothing; health data
 * never goes to a business partner, and to a service provider, affiliate or
 * buyer only under a business associate agreement; a recipient gets only
 * the categories its entry names), and a permitted one is recorded in the
 * same transaction as its audit entry. Statements of disagreement filed on
 * a record disclosed go with it: they are named in the row and returned
 * with the answer, so the discloser sends them along.
 *
 * The accounting lists the disclosures of the past six years that were not
 * for treatment, payment or health-care operations (HIPAA 164.528): when,
 * to whom, what, and why.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define MAX_RECORDS 1000
#define DESCRIPTION_MAX 2000

static int
bad(struct pv_call *call, const char *field, const char *detail)
{
    call->detail = detail;
    pv_strlcpy(call->field, field, sizeof call->field);
    return PV_EINVAL;
}

/* Comma-separated list of the strings of a JSON array (checked before). */
static int
join(struct pv_buf *b, const char *item)
{
    int rc = b->len ? pv_buf_puts(b, ",") : 0;

    return rc ? rc : pv_buf_puts(b, item);
}

struct release {
    struct pv_disclosure d;
    struct pv_buf records, categories, consents, statements;
    unsigned char description[DESCRIPTION_MAX + PV_SEAL_OVERHEAD];
    json_t *said; /* the statements that go along: [{id, record, filed_at, statement}] */
    struct pv_dkey *dk;
};

static int
apply_release(struct pv_conn *w, void *arg)
{
    return pv_store_disclosure_put(w, &((struct release *)arg)->d);
}

static int
record_id_cb(const struct pv_record *r, void *arg)
{
    struct release *rl = arg;

    return join(&rl->records, r->id);
}

/* Whether the comma-separated list has item. */
static int
has(const char *list, const char *item)
{
    size_t n = strlen(item);

    for (const char *s = list; s && *s;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len == n && strncmp(s, item, n) == 0)
            return 1;
        s = comma ? comma + 1 : NULL;
    }
    return 0;
}

static int
statement_cb(const struct pv_disagreement *d, void *arg)
{
    struct release *rl = arg;
    json_t *j;
    int rc;

    if (!has(rl->records.data, d->record_id))
        return 0;
    if ((rc = join(&rl->statements, d->id)) != 0)
        return rc;
    j = json_pack(
        "{s:s, s:s, s:o, s:o?}", "id", d->id, "record", d->record_id, "filed_at",
        pv_json_time(d->ts), "statement",
        pv_open_text(rl->dk, d->subject_id, d->id, "statement", d->statement, d->statement_len));
    return j && json_array_append_new(rl->said, j) == 0 ? 0 : PV_ENOMEM;
}

/* {recipient, collection?, fields?, records?, consents?, description?}: what goes, checked. */
static int
parse(struct pv_vault *v, struct pv_call *call, struct pv_conn *c, const char *subject,
      const json_t *body, struct release *rl, struct pv_facts *f, int *ci, uint64_t *mask)
{
    static const char *const keys[] = {"recipient", "collection", "fields",
                                       "records",   "consents",   "description"};
    const struct pv_policy *p = v->policy;
    const char *recipient = json_string_value(json_object_get(body, "recipient"));
    const char *coll = json_string_value(json_object_get(body, "collection"));
    const json_t *fields = json_object_get(body, "fields"),
                 *records = json_object_get(body, "records");
    const json_t *kinds = json_object_get(body, "consents"), *e;
    const char *key;
    json_t *value;
    size_t i;
    int rc;

    if (!json_is_object(body))
        return bad(call, "recipient", "the body names the recipient and what goes to them");
    json_object_foreach((json_t *)body, key, value)
    {
        size_t k;
        for (k = 0; k < PV_ARRAY_LEN(keys) && strcmp(key, keys[k]) != 0; k++)
            ;
        if (k == PV_ARRAY_LEN(keys))
            return bad(call, strlen(key) < PV_NAME_MAX ? key : "?",
                       "a disclosure has recipient, collection, fields, records, consents and "
                       "description");
    }
    if (recipient == NULL || recipient[0] == '\0')
        return bad(call, "recipient", "recipient names a recipient of the policy");
    f->recipient = -1;
    for (int k = 0; k < p->nrecipients; k++)
        if (strcmp(p->recipients[k].key, recipient) == 0)
            f->recipient = k;
    *ci = -1;
    *mask = 0;
    if (json_object_get(body, "collection") && !json_is_null(json_object_get(body, "collection")) &&
        (coll == NULL || (*ci = pv_policy_collection(p, coll)) < 0))
        return bad(call, "collection", "collection must be a collection of the policy");
    if ((fields || records) && *ci < 0)
        return bad(call, "collection", "fields and records belong to a collection");
    if (*ci >= 0) {
        const struct pv_collection *col = &p->collections[*ci];
        *mask = col->nfields == 64 ? UINT64_MAX : (UINT64_C(1) << col->nfields) - 1;
        if (fields) {
            *mask = 0;
            if (!json_is_array(fields) || json_array_size(fields) == 0)
                return bad(call, "fields", "fields lists fields of the collection");
            json_array_foreach(fields, i, e)
            {
                int fi = json_is_string(e) ? pv_policy_field(col, json_string_value(e)) : -1;
                if (fi < 0)
                    return bad(call, "fields", "fields lists fields of the collection");
                *mask |= UINT64_C(1) << fi;
            }
        }
        if (records) {
            if (!json_is_array(records) || json_array_size(records) == 0 ||
                json_array_size(records) > MAX_RECORDS)
                return bad(call, "records", "records lists 1 to 1000 record ids of the collection");
            json_array_foreach(records, i, e)
            {
                struct pv_record r;
                const char *id = json_string_value(e);
                if (id == NULL || !pv_id_valid(id, "rec"))
                    return bad(call, "records", "records lists record ids of the collection");
                memset(&r, 0, sizeof r);
                pv_buf_init(&r.body, PV_RECORD_BODY_MAX);
                rc = *ci == p->usage ? pv_store_row_get(c, 1, subject, id, &r)
                                     : pv_store_record_get(c, subject, coll, id, &r);
                pv_buf_fini(&r.body);
                if (rc == PV_ENOTFOUND)
                    return bad(call, "records",
                               "each record is one of the person's, of the "
                               "collection");
                if (rc != 0 || (rc = join(&rl->records, id)) != 0)
                    return rc;
            }
        } else if (*ci == p->usage) {
            /* usage events: every one held */
            rc = pv_store_rows_of_subject(c, 1, subject, record_id_cb, rl);
            if (rc != 0)
                return rc;
        } else {
            rc = 0;
            for (char after[PV_ID_MAX] = ""; rc == 0;) {
                size_t before = rl->records.len;
                rc = pv_store_record_list(c, subject, coll, after[0] ? after : NULL, 200,
                                          record_id_cb, rl);
                if (rc != 0 || rl->records.len == before)
                    break;
                pv_strlcpy(after,
                           strrchr(rl->records.data, ',') ? strrchr(rl->records.data, ',') + 1
                                                          : rl->records.data,
                           sizeof after);
            }
            if (rc != 0)
                return rc;
        }
    }
    if (kinds) {
        if (!json_is_array(kinds) || json_array_size(kinds) == 0)
            return bad(call, "consents", "consents lists consent kinds of the policy");
        json_array_foreach(kinds, i, e)
        {
            int k = json_is_string(e) ? pv_policy_consent(p, json_string_value(e)) : -1;
            if (k < 0)
                return bad(call, "consents", "consents lists consent kinds of the policy");
            f->consents_disclosed |= UINT64_C(1) << k;
            if ((rc = join(&rl->consents, p->consents[k])) != 0)
                return rc;
        }
    }
    if (*ci < 0 && f->consents_disclosed == 0)
        return bad(call, "collection", "name what goes: a collection (and fields), or consents");
    value = json_object_get(body, "description");
    if (value && !json_is_null(value) &&
        (!json_is_string(value) || json_string_length(value) == 0 ||
         json_string_length(value) > DESCRIPTION_MAX ||
         strlen(json_string_value(value)) != json_string_length(value)))
        return bad(call, "description", "description is a text of at most 2000 characters");
    return 0;
}

static json_t *
split(const char *list)
{
    json_t *a = json_array();

    for (const char *s = list; a && s && *s;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        json_array_append_new(a, json_stringn(s, n));
        s = comma ? comma + 1 : NULL;
    }
    return a;
}

static json_t *
fields_of(const struct pv_policy *p, int ci, uint64_t mask)
{
    json_t *a = json_array();

    for (int i = 0; a && ci >= 0 && i < p->collections[ci].nfields; i++)
        if ((mask >> i) & 1)
            json_array_append_new(a, json_string(p->collections[ci].fields[i].name));
    return a;
}

static json_t *
disclosure_json(const struct pv_policy *p, const struct pv_disclosure *d, json_t *description)
{
    int u = pv_policy_purpose(p, d->purpose);

    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s?, s:b, s:s?, s:o, s:o, s:o, s:o?}", "id",
                     d->id, "subject_id", d->subject_id, "time", pv_json_time(d->ts), "recipient",
                     d->recipient, "recipient_kind", d->recipient_kind, "purpose", d->purpose,
                     "purpose_description", u >= 0 ? p->purposes[u].description : NULL, "tpo",
                     d->tpo, "collection", d->collection[0] ? d->collection : NULL, "records",
                     split(d->records), "categories", split(d->categories), "consents",
                     split(d->consents), "description", description);
}

int
pv_vault_disclosure_record(struct pv_vault *v, struct pv_call *call, const char *subject,
                           const json_t *body, json_t **out)
{
    const struct pv_policy *p = v->policy;
    struct release *rl;
    struct pv_subject s;
    struct pv_facts f;
    struct pv_access a;
    struct pv_dkey dk;
    struct pv_conn *c;
    uint64_t mask = 0;
    int ci = -1, rc, exists, have_key = 0, u;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((rl = calloc(1, sizeof *rl)) == NULL)
        return PV_ENOMEM;
    pv_buf_init(&rl->records, MAX_RECORDS * PV_ID_MAX + 64 * 1024);
    pv_buf_init(&rl->categories, 8192);
    pv_buf_init(&rl->consents, 8192);
    pv_buf_init(&rl->statements, (size_t)64 * 1024);
    memset(&f, 0, sizeof f);
    f.recipient = -1;
    exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0 &&
             strcmp(s.status, "erased") != 0;
    rc = exists ? parse(v, call, c, subject, body, rl, &f, &ci, &mask) : 0;
    if (rc == 0 && exists && (rc = pv_vault_subject_key(v, c, subject, &dk)) == 0) {
        have_key = 1;
        rl->dk = &dk;
    }
    if (rc == 0 && have_key && ci >= 0) {
        rl->said = json_array();
        rc = rl->said ? pv_store_disagreement_list(c, subject, NULL, statement_cb, rl) : PV_ENOMEM;
    }
    if (rc == 0 && ci >= 0)
        rc = pv_vault_categories(v, ci, mask, &rl->categories);
    u = call->purpose ? pv_policy_purpose(p, call->purpose) : -1;
    if (rc == 0) {
        struct pv_disclosure *d = &rl->d;
        const char *desc = json_string_value(json_object_get(body, "description"));
        pv_id_new("dsc", d->id);
        pv_strlcpy(d->subject_id, subject, sizeof d->subject_id);
        d->ts = pv_now_ms();
        if (f.recipient >= 0) {
            pv_strlcpy(d->recipient, p->recipients[f.recipient].key, sizeof d->recipient);
            pv_strlcpy(d->recipient_kind, p->recipients[f.recipient].kind,
                       sizeof d->recipient_kind);
        }
        pv_strlcpy(d->purpose, u >= 0 ? p->purposes[u].key : "", sizeof d->purpose);
        d->tpo = u >= 0 && p->purposes[u].tpo;
        pv_strlcpy(d->collection, ci >= 0 ? p->collections[ci].name : "", sizeof d->collection);
        d->records = rl->records.data ? rl->records.data : "";
        d->categories = rl->categories.data ? rl->categories.data : "";
        d->consents = rl->consents.data ? rl->consents.data : "";
        d->statements = rl->statements.data ? rl->statements.data : "";
        pv_strlcpy(d->actor, call->actor ? call->actor->user_id : "", sizeof d->actor);
        if (desc && have_key)
            rc = pv_seal_text(&dk, subject, d->id, "description", desc, rl->description,
                              sizeof rl->description, &d->description_len);
        d->description = rl->description;
    }
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_DISCLOSE;
        a.audit_action = "disclosure.record";
        a.subject = subject;
        a.collection = ci;
        a.fields = mask;
        a.record = rl->d.id;
        a.audit_recipient = f.recipient >= 0 ? p->recipients[f.recipient].key : "?";
        a.subject_exists = exists;
        a.more = &f;
        rc = pv_access(v, call, &a, apply_release, rl, NULL);
    }
    if (rc == 0) {
        json_t *desc = json_object_get(body, "description");
        *out = disclosure_json(p, &rl->d, json_is_string(desc) ? json_incref(desc) : NULL);
        if (*out) {
            json_object_set_new(*out, "fields", fields_of(p, ci, ci >= 0 ? mask : 0));
            json_object_set_new(*out, "statements",
                                rl->said ? json_incref(rl->said) : json_array());
        } else {
            rc = PV_ENOMEM;
        }
    }
    if (have_key)
        pv_dkey_wipe(&dk);
    json_decref(rl->said);
    pv_buf_fini(&rl->records);
    pv_buf_fini(&rl->categories);
    pv_buf_fini(&rl->consents);
    pv_buf_fini(&rl->statements);
    free(rl);
    return rc;
}

/* ---- the accounting -------------------------------------------------------------------------- */

struct accounting {
    const struct pv_policy *p;
    const struct pv_dkey *dk;
    json_t *list;
};

static int
accounting_cb(const struct pv_disclosure *d, void *arg)
{
    struct accounting *ac = arg;
    json_t *j;

    if (d->tpo)
        return 0; /* treatment, payment and operations are not accounted for */
    j = disclosure_json(ac->p, d,
                        d->description ? pv_open_text(ac->dk, d->subject_id, d->id, "description",
                                                      d->description, d->description_len)
                                       : NULL);
    if (j)
        json_object_set_new(j, "statements", split(d->statements));
    return j && json_array_append_new(ac->list, j) == 0 ? 0 : PV_ENOMEM;
}

int
pv_vault_disclosure_accounting(struct pv_vault *v, struct pv_call *call, const char *subject,
                               json_t **out)
{
    struct accounting ac = {v->policy, NULL, NULL};
    struct pv_subject s;
    struct pv_access a;
    struct pv_dkey dk;
    struct pv_conn *c;
    int64_t now = pv_now_ms(), since = pv_time_add_months(now / 1000, -72) * 1000;
    int rc;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_READ;
    a.audit_action = "disclosure.accounting";
    a.subject = subject;
    a.collection = -1;
    a.subject_exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0 &&
                       strcmp(s.status, "erased") != 0;
    if ((rc = pv_access(v, call, &a, NULL, NULL, NULL)) != 0)
        return rc;
    if ((rc = pv_vault_subject_key(v, c, subject, &dk)) != 0)
        return rc;
    ac.dk = &dk;
    ac.list = json_array();
    rc = ac.list ? pv_store_disclosure_list(c, subject, since, accounting_cb, &ac) : PV_ENOMEM;
    pv_dkey_wipe(&dk);
    if (rc != 0) {
        json_decref(ac.list);
        return rc;
    }
    *out = json_pack("{s:s, s:o, s:o, s:o}", "subject_id", subject, "from", pv_json_time(since),
                     "to", pv_json_time(now), "disclosures", ac.list);
    return *out ? 0 : PV_ENOMEM;
}
