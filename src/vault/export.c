/*
 * export.c: the rights of access and portability (a copy of everything
 * held on a person) and the right to know (what was collected in the past
 * 12 months, from where, for what, and who received it).
 *
 * Both read collection by collection, each read a decision of its own
 * (action list, audited as subject.export or subject.know): a collection
 * the purpose does not cover is named as withheld, any other refusal ends
 * the answer. Every value comes out opened, with its category, and every
 * record with its source: who put it there, found in the audit log (the
 * entry that created it), as "subject", "guardian", a role, or "system".
 * Amendment history and statements of disagreement travel with their
 * record. The right to know adds what the audit log and the disclosures
 * say of the past 12 months.
 *
 * The JSON copy is written out row by row as the rows are read: each row's
 * small tree is dumped and freed at once, and the document around the rows
 * is joined to them at the end. Building the whole tree of a person with
 * 10,000 records and then freeing it cost more than writing it out. The
 * FHIR and HTML copies are made from the tree.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define PAGE 200

/* Text written out as it is made. It holds plaintext: every buffer it leaves
 * behind, grown out of or at the end, is wiped. */
struct sink {
    char *p;
    size_t len, cap;
};

static void
sink_fini(struct sink *s)
{
    if (s->p) {
        pv_wipe(s->p, s->cap);
        free(s->p);
    }
    memset(s, 0, sizeof *s);
}

static int
sink_write(const char *buf, size_t n, void *arg)
{
    struct sink *s = arg;
    char *p;
    size_t cap;

    if (n == 0)
        return 0;
    if (n >= SIZE_MAX / 2 - s->len)
        return -1;
    if (s->len + n + 1 > s->cap) {
        for (cap = s->cap ? s->cap : 65536; cap < s->len + n + 1;)
            cap *= 2;
        if ((p = malloc(cap)) == NULL)
            return -1;
        if (s->p) {
            memcpy(p, s->p, s->len);
            pv_wipe(s->p, s->cap);
            free(s->p);
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, buf, n);
    s->len += n;
    s->p[s->len] = '\0';
    return 0;
}

static int
sink_puts(struct sink *s, const char *text)
{
    return sink_write(text, strlen(text), s) == 0 ? 0 : PV_ENOMEM;
}

/* Write j (compact JSON) and release it. */
static int
sink_json(struct sink *s, json_t *j)
{
    int rc = j && json_dump_callback(j, sink_write, s, JSON_COMPACT | JSON_ENCODE_ANY) == 0
                 ? 0
                 : PV_ENOMEM;

    json_decref(j);
    return rc;
}

struct exp {
    struct pv_vault *v;
    struct pv_call *call;
    struct pv_conn *c;
    const char *subject;
    const char *audit_action;
    struct pv_dkey dk;
    int have_key;
    int64_t since;       /* rows created or updated since (the right to know); 0: all */
    json_t *sources;     /* record id -> source */
    json_t *history;     /* record id -> [earlier values] */
    json_t *statements;  /* record id -> [statements of disagreement] */
    json_t *collections; /* collection -> [rows] */
    json_t *withheld;    /* collections the purpose does not cover */
    json_t *held_cats;   /* category -> 1, of every value of the rows shown */
    struct sink *out;    /* the JSON copy: collections written here, not kept in collections */
    int nread;           /* collections read (not withheld) */
    int profile_read;
    /* the collection being read */
    int ci;
    uint64_t mask;
    json_t *rows;
    int rows_out; /* rows of the collection written out */
    char last[PV_ID_MAX];
    int n;
};

/* ---- sources from the audit log ---------------------------------------------------------- */

/* Where an entry's data came from: the person, their guardian, a role, or the system. */
static const char *
source_of(const struct pv_policy *p, const struct pv_audit_row *row)
{
    int role = pv_policy_role(p, row->role);

    if (strcmp(row->actor, "system") == 0)
        return "system";
    if (strcmp(row->reason, "guardian") == 0)
        return "guardian";
    if (role >= 0 && p->roles[role].scope == PV_SCOPE_SELF)
        return "subject";
    return row->role[0] ? row->role : "unknown";
}

static int
is_collection_write(const char *action)
{
    return strcmp(action, "subject.enroll") == 0 || strcmp(action, "record.create") == 0 ||
           strcmp(action, "usage.collect") == 0;
}

/* Page through a subject's audit entries from since on. */
static int
audit_each(struct pv_conn *c, const char *subject, int64_t since,
           int (*cb)(const struct pv_audit_row *r, void *arg), void *arg, int64_t *last)
{
    struct pv_audit_filter f;
    int64_t before;
    int rc;

    memset(&f, 0, sizeof f);
    f.subject = subject;
    f.from_ms = since;
    f.limit = 500;
    *last = 0;
    do {
        before = *last;
        f.after_seq = *last;
        rc = pv_store_audit_query(c, &f, cb, arg);
    } while (rc == 0 && *last != before);
    return rc;
}

struct src_walk {
    const struct pv_policy *p;
    json_t *map;
    int64_t last;
};

static int
source_cb(const struct pv_audit_row *row, void *arg)
{
    struct src_walk *w = arg;

    w->last = row->seq;
    if (strcmp(row->decision, "permit") != 0 || !is_collection_write(row->action) ||
        row->record[0] == '\0' || json_object_get(w->map, row->record))
        return 0;
    return json_object_set_new(w->map, row->record, json_string(source_of(w->p, row))) == 0
               ? 0
               : PV_ENOMEM;
}

static int
load_sources(struct exp *x)
{
    struct src_walk w = {x->v->policy, x->sources, 0};
    struct pv_audit_filter f;
    int64_t before;
    int rc;

    memset(&f, 0, sizeof f);
    f.subject = x->subject;
    f.limit = 500;
    do {
        before = w.last;
        f.after_seq = w.last;
        rc = pv_store_audit_query(x->c, &f, source_cb, &w);
    } while (rc == 0 && w.last != before);
    return rc;
}

/* ---- history and statements -------------------------------------------------------------- */

static int
push(json_t *map, const char *key, json_t *item)
{
    json_t *list = json_object_get(map, key);

    if (item == NULL)
        return PV_ENOMEM;
    if (list == NULL) {
        if ((list = json_array()) == NULL || json_object_set_new(map, key, list) != 0) {
            json_decref(item);
            return PV_ENOMEM;
        }
    }
    return json_array_append_new(list, item) == 0 ? 0 : PV_ENOMEM;
}

static int
history_cb(const struct pv_history *h, void *arg)
{
    struct exp *x = arg;
    json_t *value =
        pv_open_value(&x->dk, h->subject_id, h->record_id, h->field, h->sealed, h->sealed_len);

    return push(x->history, h->record_id,
                json_pack("{s:s, s:o?, s:s, s:o, s:s}", "field", h->field, "value", value,
                          "category", h->category, "replaced_at", pv_json_time(h->ts), "request",
                          h->request_id));
}

static int
statement_cb(const struct pv_disagreement *d, void *arg)
{
    struct exp *x = arg;

    return push(x->statements, d->record_id,
                json_pack("{s:s, s:s, s:o, s:o?}", "id", d->id, "request", d->request_id,
                          "filed_at", pv_json_time(d->ts), "statement",
                          pv_open_text(&x->dk, d->subject_id, d->id, "statement", d->statement,
                                       d->statement_len)));
}

/* ---- rows ------------------------------------------------------------------------------------ */

/* {field: {value, category}} from the opened fields; the categories are noted as held. */
static json_t *
fields_json(struct exp *x, const json_t *opened)
{
    const struct pv_policy *p = x->v->policy;
    const struct pv_collection *col = &p->collections[x->ci];
    json_t *out = json_object();
    const char *name;
    json_t *value;

    json_object_foreach((json_t *)opened, name, value)
    {
        int fi = pv_policy_field(col, name);
        const char *cat = fi >= 0 ? p->categories[col->fields[fi].category].key : "";
        if (out == NULL)
            break;
        json_object_set_new(out, name, json_pack("{s:O, s:s}", "value", value, "category", cat));
    }
    return out;
}

/* Note the categories of every declared field the row holds (visible or not). */
static int
note_cat(const char *name, size_t nlen, const unsigned char *s, size_t len, void *arg)
{
    struct exp *x = arg;
    const struct pv_policy *p = x->v->policy;
    const struct pv_collection *col = &p->collections[x->ci];
    char field[PV_NAME_MAX];
    int fi;

    (void)s;
    (void)len;
    if (nlen >= sizeof field)
        return 0;
    memcpy(field, name, nlen);
    field[nlen] = '\0';
    if ((fi = pv_policy_field(col, field)) >= 0)
        json_object_set_new(x->held_cats, p->categories[col->fields[fi].category].key, json_true());
    return 0;
}

/* Only the earlier values of fields the purpose may see. */
static json_t *
visible_history(struct exp *x, const char *record)
{
    const struct pv_collection *col = &x->v->policy->collections[x->ci];
    json_t *all = json_object_get(x->history, record), *out = json_array(), *h;
    size_t i;

    json_array_foreach(all, i, h)
    {
        int fi = pv_policy_field(col, json_string_value(json_object_get(h, "field")));
        if (out && fi >= 0 && ((x->mask >> fi) & 1))
            json_array_append(out, h);
    }
    return out;
}

static int
row_cb(const struct pv_record *r, void *arg)
{
    struct exp *x = arg;
    json_t *opened = json_object(), *withheld = json_array(), *j, *st;

    x->n++;
    memcpy(x->last, r->id, sizeof x->last);
    if (x->since && r->created < x->since && r->updated < x->since) {
        json_decref(opened);
        json_decref(withheld);
        return 0;
    }
    if (opened == NULL || withheld == NULL ||
        pv_body_open(x->v, &x->dk, r->subject_id, r->id, x->ci, &r->body, x->mask, opened,
                     withheld) != 0) {
        json_decref(opened);
        json_decref(withheld);
        return PV_ENOMEM;
    }
    pv_body_each(&r->body, note_cat, x);
    st = json_object_get(x->statements, r->id);
    /* "o" takes the reference it is given: a borrowed list is counted up, a new one is not. */
    j = json_pack("{s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "id", r->id, "created",
                  pv_json_time(r->created), "updated", pv_json_time(r->updated), "source",
                  json_string_value(json_object_get(x->sources, r->id))
                      ? json_string_value(json_object_get(x->sources, r->id))
                      : "unknown",
                  "fields", fields_json(x, opened), "withheld", withheld, "history",
                  visible_history(x, r->id), "statements", st ? json_incref(st) : json_array());
    json_decref(opened);
    if (x->out) {
        if (x->rows_out++ > 0 && sink_puts(x->out, ",") != 0) {
            json_decref(j);
            return PV_ENOMEM;
        }
        return sink_json(x->out, j);
    }
    if (j == NULL || json_array_append_new(x->rows, j) != 0)
        return PV_ENOMEM;
    return 0;
}

/* Read one collection, decided on its own: rows into x->collections, or named as withheld. */
static int
read_collection(struct exp *x, int ci)
{
    struct pv_vault *v = x->v;
    const char *name = v->policy->collections[ci].name;
    struct pv_decision d;
    struct pv_access a;
    int rc, usage = ci == v->policy->usage;

    memset(&a, 0, sizeof a);
    a.action = PV_ACT_LIST;
    a.audit_action = x->audit_action;
    a.subject = x->subject;
    a.collection = ci;
    a.subject_exists = 1;
    rc = pv_access(v, x->call, &a, NULL, NULL, &d);
    if (rc == PV_EDENIED && x->call->reason &&
        (strcmp(x->call->reason, "purpose-excludes-collection") == 0 ||
         strcmp(x->call->reason, "minor-feature-limited") == 0)) {
        x->call->reason = NULL;
        return json_array_append_new(x->withheld, json_string(name)) == 0 ? 0 : PV_ENOMEM;
    }
    if (rc != 0)
        return rc;
    if (!x->have_key) {
        if ((rc = pv_vault_subject_key(v, x->c, x->subject, &x->dk)) != 0)
            return rc;
        x->have_key = 1;
        if ((rc = pv_store_history_list(x->c, x->subject, NULL, history_cb, x)) != 0 ||
            (rc = pv_store_disagreement_list(x->c, x->subject, NULL, statement_cb, x)) != 0)
            return rc;
    }
    x->ci = ci;
    x->mask = d.fields;
    if (x->out) {
        /* "name":[rows] */
        x->rows_out = 0;
        if ((x->nread && (rc = sink_puts(x->out, ",")) != 0) ||
            (rc = sink_json(x->out, json_string(name))) != 0 || (rc = sink_puts(x->out, ":[")) != 0)
            return rc;
    } else if ((x->rows = json_array()) == NULL) {
        return PV_ENOMEM;
    }
    x->nread++;
    x->profile_read |= ci == v->profile;
    x->last[0] = '\0';
    do {
        x->n = 0;
        rc = usage ? pv_store_usage_list(x->c, x->subject, x->last[0] ? x->last : NULL, PAGE,
                                         row_cb, x)
                   : pv_store_record_list(x->c, x->subject, name, x->last[0] ? x->last : NULL, PAGE,
                                          row_cb, x);
    } while (rc == 0 && x->n == PAGE);
    if (x->out)
        return rc == 0 ? sink_puts(x->out, "]") : rc;
    if (rc == 0 && json_object_set_new(x->collections, name, x->rows) != 0)
        rc = PV_ENOMEM;
    else if (rc != 0)
        json_decref(x->rows);
    x->rows = NULL;
    return rc;
}

static void
exp_fini(struct exp *x)
{
    if (x->have_key)
        pv_dkey_wipe(&x->dk);
    json_decref(x->sources);
    json_decref(x->history);
    json_decref(x->statements);
    json_decref(x->collections);
    json_decref(x->withheld);
    json_decref(x->held_cats);
}

static int
exp_init(struct exp *x, struct pv_vault *v, struct pv_call *call, const char *subject,
         const char *audit_action)
{
    memset(x, 0, sizeof *x);
    x->v = v;
    x->call = call;
    x->subject = subject;
    x->audit_action = audit_action;
    x->sources = json_object();
    x->history = json_object();
    x->statements = json_object();
    x->collections = json_object();
    x->withheld = json_array();
    x->held_cats = json_object();
    if (!x->sources || !x->history || !x->statements || !x->collections || !x->withheld ||
        !x->held_cats)
        return PV_ENOMEM;
    return pv_store_reader(v->store, &x->c);
}

/* Every collection, the profile first and usage data last; all withheld is a refusal. */
static int
read_all(struct exp *x, const struct pv_subject *s)
{
    const struct pv_policy *p = x->v->policy;
    int rc, order[64 + 2], n = 0;

    (void)s;
    order[n++] = x->v->profile;
    for (int i = 0; i < p->ncollections && n < (int)PV_ARRAY_LEN(order); i++)
        if (i != x->v->profile && i != p->usage)
            order[n++] = i;
    if (p->usage >= 0)
        order[n++] = p->usage;
    if ((rc = load_sources(x)) != 0)
        return rc;
    for (int i = 0; i < n; i++)
        if ((rc = read_collection(x, order[i])) != 0)
            return rc;
    if (x->nread == 0) {
        x->call->reason = "purpose-excludes-collection";
        x->call->detail = "the purpose covers none of the person's data";
        return PV_EDENIED;
    }
    return 0;
}

/* The subject as the export shows them (who they are in the store, not their data). */
static int
subject_of(struct exp *x, struct pv_subject *s)
{
    int rc;

    if (!pv_id_valid(x->subject, "sub"))
        return PV_ENOTFOUND;
    rc = pv_store_subject_get(x->c, x->subject, s);
    if (rc == 0 && strcmp(s->status, "erased") == 0)
        rc = PV_ENOTFOUND;
    return rc;
}

int
pv_vault_export(struct pv_vault *v, struct pv_call *call, const char *subject,
                enum pv_export_format format, json_t **json, char **text)
{
    const struct pv_policy *p = v->policy;
    struct sink rows = {NULL, 0, 0}, all = {NULL, 0, 0};
    struct pv_subject s;
    struct exp x;
    json_t *doc = NULL, *consents = NULL, *prefs = NULL, *birth = NULL;
    int rc, u;

    memset(&s, 0, sizeof s);
    rc = exp_init(&x, v, call, subject, "subject.export");
    if (format == PV_EXPORT_JSON)
        x.out = &rows;
    if (rc == 0) {
        rc = subject_of(&x, &s);
        if (rc == PV_ENOTFOUND) {
            /* Decided all the same, so the attempt is audited: no such subject. */
            struct pv_access a;
            memset(&a, 0, sizeof a);
            a.action = PV_ACT_LIST;
            a.audit_action = "subject.export";
            a.subject = subject;
            a.collection = v->profile;
            rc = pv_access(v, call, &a, NULL, NULL, NULL);
            rc = rc ? rc : PV_ENOTFOUND;
        }
    }
    if (rc == 0)
        rc = read_all(&x, &s);
    if (rc == 0)
        rc = pv_vault_consent_list(v, call, subject, &consents);
    /* The confidential-communications choice and its addresses (decided and audited there). */
    if (rc == 0)
        rc = pv_vault_contact_prefs_get(v, call, subject, &prefs);
    u = call->purpose ? pv_policy_purpose(p, call->purpose) : -1;
    /* The birth date kept on the subject itself (the age rules use it), with the profile. */
    if (rc == 0 && x.have_key && x.profile_read && u >= 0 &&
        pv_purpose_covers(&p->purposes[u], PV_DOB_CATEGORY) && s.birth_date_len > 0)
        birth = pv_open_text(&x.dk, s.id, "subject", "birth_date", s.birth_date, s.birth_date_len);
    if (rc == 0) {
        doc = json_pack(
            "{s:s, s:o, s:{s:s}, s:s, s:s, s:{s:s, s:s, s:o, s:s, s:o, s:s, s:o?}, s:O, s:O,"
            " s:o, s:o}",
            "format", "phivault-export/1", "generated_at", pv_json_time(pv_now_ms()),
            "organization", "name", p->org.name, "policy_version", p->version, "purpose",
            u >= 0 ? p->purposes[u].key : "", "subject", "id", s.id, "status", s.status,
            "enrolled_at", pv_json_time(s.created), "policy_version", s.policy_version,
            "accepted_at", pv_json_time(s.accepted_at), "accepted_source", s.accepted_source,
            "birth_date", birth, "collections", x.collections, "withheld_collections", x.withheld,
            "consents", consents, "contact_preferences", prefs);
        consents = prefs = birth = NULL;
        /* No birth date held, or none the purpose may see: none in the answer. */
        if (doc && json_is_null(json_object_get(json_object_get(doc, "subject"), "birth_date")))
            json_object_del(json_object_get(doc, "subject"), "birth_date");
        if (doc == NULL)
            rc = PV_ENOMEM;
    }
    json_decref(consents);
    json_decref(prefs);
    json_decref(birth);
    if (rc == 0 && format == PV_EXPORT_FHIR) {
        json_t *bundle = pv_fhir_bundle(p, doc);
        json_decref(doc);
        doc = bundle;
        rc = doc ? 0 : PV_ENOMEM;
    } else if (rc == 0 && format == PV_EXPORT_HTML) {
        *text = pv_export_html(p, doc);
        json_decref(doc);
        doc = NULL;
        rc = *text ? 0 : PV_ENOMEM;
    } else if (rc == 0 && format == PV_EXPORT_JSON) {
        /* The document without its collections, then they: {...,"collections":{rows}} */
        json_object_del(doc, "collections");
        rc = sink_json(&all, doc);
        doc = NULL;
        if (rc == 0) {
            all.len--; /* its closing brace */
            if (sink_puts(&all, ",\"collections\":{") != 0 ||
                sink_write(rows.p, rows.len, &all) != 0 || sink_puts(&all, "}}") != 0)
                rc = PV_ENOMEM;
        }
        if (rc == 0) {
            *text = all.p;
            all.p = NULL;
        }
        sink_fini(&all);
    }
    sink_fini(&rows);
    if (rc == 0 && doc)
        *json = doc;
    exp_fini(&x);
    return rc;
}

/* ---- the right to know ---------------------------------------------------------------------- */

struct know {
    const struct pv_policy *p;
    json_t *collected; /* category -> {source: true} */
    json_t *purposes;  /* purpose -> {category: true} */
    int64_t last;
};

/* Entries that answer the person, rather than use their data. */
static int
is_answer_action(const char *action)
{
    return strcmp(action, "subject.know") == 0 || strcmp(action, "subject.export") == 0 ||
           strcmp(action, "consent.list") == 0 || strcmp(action, "disclosure.accounting") == 0 ||
           strncmp(action, "request.", 8) == 0 || strncmp(action, "audit.", 6) == 0;
}

/* Add each category of a comma-separated list to the set under key of map. */
static void
note_all(json_t *map, const char *key, const char *cats)
{
    json_t *set = json_object_get(map, key);
    const char *s = cats, *comma;

    if (set == NULL && (set = json_object()) != NULL && json_object_set_new(map, key, set) != 0)
        return;
    while (set && s && *s) {
        char one[256];
        size_t n;
        comma = strchr(s, ',');
        n = comma ? (size_t)(comma - s) : strlen(s);
        if (n > 0 && n < sizeof one) {
            memcpy(one, s, n);
            one[n] = '\0';
            json_object_set_new(set, one, json_true());
        }
        s = comma ? comma + 1 : NULL;
    }
}

static int
know_cb(const struct pv_audit_row *row, void *arg)
{
    struct know *k = arg;
    int writes;

    k->last = row->seq;
    if (strcmp(row->decision, "permit") != 0 || row->categories[0] == '\0')
        return 0;
    writes = is_collection_write(row->action) || strcmp(row->action, "record.update") == 0 ||
             (strcmp(row->action, "request.complete") == 0 && row->collection[0]);
    if (writes) {
        /* category -> sources */
        const char *s = row->categories, *comma;
        while (s && *s) {
            char one[256];
            size_t n;
            json_t *set;
            comma = strchr(s, ',');
            n = comma ? (size_t)(comma - s) : strlen(s);
            if (n > 0 && n < sizeof one) {
                memcpy(one, s, n);
                one[n] = '\0';
                if ((set = json_object_get(k->collected, one)) == NULL) {
                    set = json_object();
                    json_object_set_new(k->collected, one, set);
                }
                if (set)
                    json_object_set_new(set, source_of(k->p, row), json_true());
            }
            s = comma ? comma + 1 : NULL;
        }
    }
    if (row->purpose[0] && strcmp(row->purpose, "?") != 0 && !is_answer_action(row->action))
        note_all(k->purposes, row->purpose, row->categories);
    return 0;
}

static json_t *
keys_of(const json_t *set)
{
    json_t *a = json_array(), *v;
    const char *key;

    json_object_foreach((json_t *)set, key, v)
    {
        if (a)
            json_array_append_new(a, json_string(key));
    }
    return a;
}

struct recipients {
    json_t *kinds; /* kind -> {recipients: {name: true}, categories: {cat: true}, n} */
};

static int
disclosure_cb(const struct pv_disclosure *d, void *arg)
{
    struct recipients *rs = arg;
    json_t *k = json_object_get(rs->kinds, d->recipient_kind);

    if (k == NULL) {
        k = json_pack("{s:{}, s:{}, s:I}", "recipients", "categories", "disclosures",
                      (json_int_t)0);
        if (k == NULL || json_object_set_new(rs->kinds, d->recipient_kind, k) != 0)
            return PV_ENOMEM;
    }
    json_object_set_new(json_object_get(k, "recipients"), d->recipient, json_true());
    note_all(k, "categories", d->categories);
    json_object_set_new(k, "disclosures",
                        json_integer(json_integer_value(json_object_get(k, "disclosures")) + 1));
    return 0;
}

int
pv_vault_know(struct pv_vault *v, struct pv_call *call, const char *subject, json_t **out)
{
    const struct pv_policy *p = v->policy;
    struct recipients rs = {NULL};
    struct know k = {p, NULL, NULL, 0};
    struct pv_subject s;
    struct pv_access a;
    struct exp x;
    int64_t now = pv_now_ms(), since = pv_time_add_months(now / 1000, -12) * 1000, last;
    json_t *cats = NULL, *purposes = NULL, *recips = NULL, *sources = NULL, *key, *set;
    const char *name;
    int rc;

    if ((rc = exp_init(&x, v, call, subject, "subject.know")) != 0) {
        exp_fini(&x);
        return rc;
    }
    x.since = since;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_READ;
    a.audit_action = "subject.know";
    a.subject = subject;
    a.collection = -1;
    a.subject_exists = subject_of(&x, &s) == 0;
    rc = pv_access(v, call, &a, NULL, NULL, NULL);
    if (rc == 0)
        rc = read_all(&x, &s);
    k.collected = json_object();
    k.purposes = json_object();
    rs.kinds = json_object();
    if (rc == 0 && (!k.collected || !k.purposes || !rs.kinds))
        rc = PV_ENOMEM;
    if (rc == 0)
        rc = audit_each(x.c, subject, since, know_cb, &k, &last);
    (void)last;
    if (rc == 0)
        rc = pv_store_disclosure_list(x.c, subject, since, disclosure_cb, &rs);
    if (rc == 0) {
        /* Categories: from the audit log's writes, and from the rows of the period themselves. */
        json_object_foreach(x.held_cats, name, key)
        {
            if (json_object_get(k.collected, name) == NULL)
                json_object_set_new(k.collected, name, json_object());
        }
        cats = json_array();
        sources = json_object();
        json_object_foreach(k.collected, name, set)
        {
            json_t *src = keys_of(set);
            const char *sname;
            json_t *one;
            json_object_foreach(set, sname, one)
            {
                json_object_set_new(sources, sname, json_true());
            }
            json_array_append_new(cats, json_pack("{s:s, s:o}", "category", name, "sources", src));
        }
        purposes = json_array();
        json_object_foreach(k.purposes, name, set)
        {
            int u = pv_policy_purpose(p, name);
            json_array_append_new(
                purposes, json_pack("{s:s, s:s?, s:b, s:o}", "purpose", name, "description",
                                    u >= 0 ? p->purposes[u].description : NULL, "tpo",
                                    u >= 0 && p->purposes[u].tpo, "categories", keys_of(set)));
        }
        recips = json_array();
        json_object_foreach(rs.kinds, name, set)
        {
            json_array_append_new(
                recips, json_pack("{s:s, s:o, s:o, s:O}", "kind", name, "recipients",
                                  keys_of(json_object_get(set, "recipients")), "categories",
                                  keys_of(json_object_get(set, "categories")), "disclosures",
                                  json_object_get(set, "disclosures")));
        }
        *out =
            json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:O, s:O}", "subject_id", subject,
                      "from", pv_json_time(since), "to", pv_json_time(now), "categories_collected",
                      cats, "sources", keys_of(sources), "purposes", purposes, "recipients", recips,
                      "pieces", x.collections, "withheld_collections", x.withheld);
        json_decref(sources);
        if (*out == NULL)
            rc = PV_ENOMEM;
    }
    json_decref(k.collected);
    json_decref(k.purposes);
    json_decref(rs.kinds);
    exp_fini(&x);
    return rc;
}
