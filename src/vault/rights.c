/*
 * rights.c: people's rights requests, from filing to completion or denial.
 *
 * A request has a type (one of the policy's rights), a requester (the
 * person, their guardian, or an authorized agent whose evidence is kept),
 * a received time and a due date from the policy's deadline for the right.
 * It moves through a small state machine:
 *
 *   received --verify--> verified --complete--> completed
 *       \                   \
 *        +------deny--------+-----> denied --disagreement--> (amend: a statement filed)
 *
 * and may be extended once, with a reason, before it is due. Every
 * transition is a decision (action fulfil, the rights power) and an audit
 * entry; a transition the state does not allow is refused (409) and
 * audited too. The state is checked again inside the write transaction, so
 * two concurrent transitions cannot both succeed.
 *
 * Completing a request does what the right means, through the service
 * that owns it, each step decided and audited there: an amendment is
 * applied (the old values kept in history); a deletion closes the account,
 * disposes of what retention does not keep and erases the person when
 * nothing is left (deletion.c); a restriction restricts; an objection or a
 * withdrawal withdraws consents; access, portability, the right to know
 * and the accounting are completed once the answer was actually produced
 * (its audit entry exists).
 *
 * What may describe people (an agent, what was asked, reasons and answers)
 * is sealed under the subject's key: once the person is erased, it cannot
 * be read, while the request itself (type, dates, states, outcome) stays
 * as the record that the right was honored.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define DAY_MS INT64_C(86400000)
#define LIST_MAX 200
#define AGENT_NAME_MAX 200
#define EVIDENCE_MIN 10

enum { ST_RECEIVED = 1, ST_VERIFIED = 2, ST_COMPLETED = 4, ST_DENIED = 8 };

static const char *const state_names[] = {"received", "verified", "completed", "denied"};

static unsigned
state_bit(const char *s)
{
    for (size_t i = 0; i < PV_ARRAY_LEN(state_names); i++)
        if (strcmp(s, state_names[i]) == 0)
            return 1u << i;
    return 0;
}

static const char *const sources[] = {"web", "app", "mail", "email", "phone", "in_person", "api"};
static const char *const methods[] = {"account",     "government-id",   "knowledge",
                                      "signed-form", "in-person",       "phone-call",
                                      "email-link",  "guardian-record", "agent-authorization"};
static const char *const denials[] = {"unverified", "not-held",  "accurate",  "not-ours",
                                      "exception",  "unfounded", "withdrawn", "other"};

static int
listed(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* ---- sealing helpers ---------------------------------------------------------------------- */

int
pv_seal_text(const struct pv_dkey *dk, const char *subject, const char *record, const char *field,
             const char *text, unsigned char *out, size_t cap, size_t *len)
{
    struct pv_seal_ad ad = {subject, record, field};

    if (strlen(text) + PV_SEAL_OVERHEAD > cap)
        return PV_ETOOBIG;
    return pv_seal(dk, &ad, text, strlen(text), out, cap, len);
}

json_t *
pv_open_text(const struct pv_dkey *dk, const char *subject, const char *record, const char *field,
             const unsigned char *sealed, size_t len)
{
    struct pv_seal_ad ad = {subject, record, field};
    unsigned char *pt;
    json_t *j = NULL;
    size_t n;

    if (dk == NULL || len < PV_SEAL_OVERHEAD || (pt = malloc(len)) == NULL)
        return NULL;
    if (pv_unseal(dk, &ad, sealed, len, pt, len, &n) == 0)
        j = json_stringn((const char *)pt, n);
    pv_wipe(pt, len);
    free(pt);
    return j;
}

json_t *
pv_open_value(const struct pv_dkey *dk, const char *subject, const char *record, const char *field,
              const unsigned char *sealed, size_t len)
{
    struct pv_seal_ad ad = {subject, record, field};
    unsigned char *pt;
    json_error_t jerr;
    json_t *j = NULL;
    size_t n;

    if (dk == NULL || len < PV_SEAL_OVERHEAD || (pt = malloc(len)) == NULL)
        return NULL;
    if (pv_unseal(dk, &ad, sealed, len, pt, len, &n) == 0)
        j = json_loadb((const char *)pt, n, JSON_DECODE_ANY, &jerr);
    pv_wipe(pt, len);
    free(pt);
    return j;
}

/* ---- the JSON of a request ------------------------------------------------------------------ */

static int
open_now(const char *state)
{
    return strcmp(state, "received") == 0 || strcmp(state, "verified") == 0;
}

struct find_statement {
    const char *request;
    const struct pv_dkey *dk;
    json_t *out;
};

static int
statement_cb(const struct pv_disagreement *d, void *arg)
{
    struct find_statement *fs = arg;

    if (strcmp(d->request_id, fs->request) != 0)
        return 0;
    fs->out = json_pack(
        "{s:s, s:o, s:s, s:o?}", "id", d->id, "filed_at", pv_json_time(d->ts), "filed_by", d->actor,
        "statement",
        pv_open_text(fs->dk, d->subject_id, d->id, "statement", d->statement, d->statement_len));
    return fs->out ? 1 : PV_ENOMEM;
}

/* The request as JSON; sealed parts open with dk (NULL or a destroyed key: null). */
static json_t *
request_json(const struct pv_request *r, const struct pv_dkey *dk, struct pv_conn *c, int64_t now)
{
    json_t *j, *agent = NULL, *result = NULL;
    json_error_t jerr;

    if (r->agent_len) {
        json_t *a = pv_open_text(dk, r->subject_id, r->id, "agent", r->agent, r->agent_len);
        agent = a ? json_loads(json_string_value(a), 0, &jerr) : NULL;
        json_decref(a);
    }
    if (r->result[0])
        result = json_loads(r->result, 0, &jerr);
    j = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:o?}, s:s, s:s, s:o, s:o, s:b}", "id", r->id,
                  "subject_id", r->subject_id, "type", r->type, "state", r->state, "requester",
                  "kind", r->requester, "agent", agent, "filed_by", r->filed_by, "source",
                  r->source, "received", pv_json_time(r->received), "due", pv_json_time(r->due),
                  "overdue", open_now(r->state) && now > r->due);
    if (j == NULL) {
        json_decref(result);
        return NULL;
    }
    if (r->details_len) {
        json_t *t = pv_open_text(dk, r->subject_id, r->id, "details", r->details, r->details_len);
        json_t *d = t ? json_loads(json_string_value(t), 0, &jerr) : NULL;
        json_decref(t);
        json_object_set_new(j, "details", d ? d : json_null());
    } else {
        json_object_set_new(j, "details", json_null());
    }
    json_object_set_new(j, "target",
                        r->record_id[0] ? json_pack("{s:s, s:s}", "collection", r->collection,
                                                    "record", r->record_id)
                                        : json_null());
    json_object_set_new(j, "verified",
                        r->verified_at
                            ? json_pack("{s:o, s:s, s:s}", "at", pv_json_time(r->verified_at), "by",
                                        r->verified_by, "method", r->verification)
                            : json_null());
    json_object_set_new(j, "extended",
                        r->extended_at
                            ? json_pack("{s:o, s:s, s:o?}", "at", pv_json_time(r->extended_at),
                                        "by", r->extended_by, "reason",
                                        pv_open_text(dk, r->subject_id, r->id, "extension",
                                                     r->extension, r->extension_len))
                            : json_null());
    json_object_set_new(j, "closed",
                        r->closed_at
                            ? json_pack("{s:o, s:s, s:s, s:o?}", "at", pv_json_time(r->closed_at),
                                        "by", r->closed_by, "outcome", r->outcome, "explanation",
                                        r->explanation_len
                                            ? pv_open_text(dk, r->subject_id, r->id, "explanation",
                                                           r->explanation, r->explanation_len)
                                            : NULL)
                            : json_null());
    json_object_set_new(j, "result", result ? result : json_null());
    if (strcmp(r->type, "amend") == 0) {
        struct find_statement fs = {r->id, dk, NULL};
        if (c &&
            pv_store_disagreement_list(c, r->subject_id, r->record_id, statement_cb, &fs) < 0) {
            json_decref(fs.out);
            json_decref(j);
            return NULL;
        }
        json_object_set_new(j, "statement", fs.out ? fs.out : json_null());
    }
    return j;
}

/* The subject's key, if it still exists; 0 and *have 0 when it was destroyed. */
static int
key_of(struct pv_vault *v, struct pv_conn *c, const char *subject, struct pv_dkey *dk, int *have)
{
    struct pv_subject s;
    int rc;

    *have = 0;
    memset(dk, 0, sizeof *dk);
    rc = pv_store_subject_get(c, subject, &s);
    if (rc == PV_ENOTFOUND || (rc == 0 && strcmp(s.status, "erased") == 0))
        return 0;
    if (rc == 0 && (rc = pv_vault_subject_key(v, c, subject, dk)) == 0)
        *have = 1;
    return rc;
}

static int
answer(struct pv_vault *v, struct pv_conn *c, const struct pv_request *r, json_t **out)
{
    struct pv_dkey dk;
    int rc, have;

    if ((rc = key_of(v, c, r->subject_id, &dk, &have)) != 0)
        return rc;
    *out = request_json(r, have ? &dk : NULL, c, pv_now_ms());
    if (have)
        pv_dkey_wipe(&dk);
    return *out ? 0 : PV_ENOMEM;
}

/* ---- filing ------------------------------------------------------------------------------------
 */

static int
bad(struct pv_call *call, const char *field, const char *detail)
{
    call->detail = detail;
    pv_strlcpy(call->field, field, sizeof call->field);
    return PV_EINVAL;
}

/* Every key of obj is one of keys; else PV_EINVAL naming it. */
static int
only_keys(const json_t *obj, const char *const *keys, size_t n, struct pv_call *call,
          const char *detail)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)obj, key, value)
    {
        if (!listed(key, keys, n))
            return bad(call, strlen(key) < PV_NAME_MAX ? key : "?", detail);
    }
    return 0;
}

/* A text of 1 to max bytes, or absent (*out NULL) unless required. */
static int
text_of(const json_t *obj, const char *key, size_t max, int required, const char **out,
        struct pv_call *call, const char *detail)
{
    const json_t *j = json_object_get(obj, key);

    *out = NULL;
    if (j == NULL || json_is_null(j))
        return required ? bad(call, key, detail) : 0;
    if (!json_is_string(j) || json_string_length(j) == 0 || json_string_length(j) > max ||
        strlen(json_string_value(j)) != json_string_length(j))
        return bad(call, key, detail);
    *out = json_string_value(j);
    return 0;
}

struct filing {
    struct pv_request r;
    json_t *details; /* what was asked, to seal */
    json_t *agent;   /* {name, evidence}, to seal */
};

/* The amendment asked for: {collection, record, fields, reason?}. */
static int
parse_amend(struct pv_vault *v, struct pv_call *call, struct pv_conn *c, const char *subject,
            const json_t *d, struct filing *fl)
{
    static const char *const keys[] = {"collection", "record", "fields", "reason"};
    const char *coll, *rid, *reason;
    struct pv_fieldset fs;
    struct pv_record rec;
    int ci, rc;

    if ((rc = only_keys(d, keys, PV_ARRAY_LEN(keys), call,
                        "an amendment names collection, record, fields and a reason")) != 0 ||
        (rc = text_of(d, "collection", 63, 1, &coll, call,
                      "collection must name a collection of the policy")) != 0 ||
        (rc = text_of(d, "record", PV_ID_MAX - 1, 1, &rid, call,
                      "record must be the id of the record to amend")) != 0 ||
        (rc = text_of(d, "reason", PV_REQUEST_TEXT_MAX, 0, &reason, call,
                      "reason is a text of at most 2000 characters")) != 0)
        return rc;
    if ((ci = pv_policy_collection(v->policy, coll)) < 0 || ci == v->policy->usage)
        return bad(call, "collection", "collection must name a collection of the policy");
    if (!pv_id_valid(rid, "rec"))
        return bad(call, "record", "record must be the id of the record to amend");
    memset(&rec, 0, sizeof rec);
    pv_buf_init(&rec.body, PV_RECORD_BODY_MAX);
    rc = pv_store_record_get(c, subject, coll, rid, &rec);
    pv_buf_fini(&rec.body);
    if (rc == PV_ENOTFOUND) {
        call->detail = "the subject has no such record in this collection";
        pv_strlcpy(call->field, "record", sizeof call->field);
        return PV_ENOTFOUND;
    }
    if (rc != 0)
        return rc;
    if ((rc = pv_fields_scan(v, ci, json_object_get(d, "fields"), &fs, call)) != 0)
        return rc == PV_EINVAL && call->field[0] == '\0' ? bad(call, "fields", call->detail) : rc;
    if (fs.undeclared) {
        call->detail = "the collection does not declare this field";
        return PV_EFIELD;
    }
    if (fs.mask == 0 && fs.nulls == 0)
        return bad(call, "fields", "fields names at least one field to change");
    if (ci == v->profile && ((fs.mask | fs.nulls) & pv_dob_field_mask(v))) {
        call->detail = "change the birth date with PUT /v1/subjects/{id}/birth-date";
        return PV_ECONFLICT;
    }
    if (fs.mask & pv_e2e_fields(v->policy, ci)) {
        /* An amendment of an end-to-end field is sealed by the client for the record's readers,
         * like any write of it. */
        struct pv_access ea;

        memset(&ea, 0, sizeof ea);
        ea.action = PV_ACT_UPDATE;
        ea.audit_action = "request.file";
        ea.subject = subject;
        ea.collection = ci;
        ea.record = rid;
        ea.subject_exists = 1;
        if ((rc = pv_e2e_check(v, call, &ea, 0, json_object_get(d, "fields"), fs.mask)) != 0)
            return rc;
    }
    pv_strlcpy(fl->r.collection, coll, sizeof fl->r.collection);
    pv_strlcpy(fl->r.record_id, rid, sizeof fl->r.record_id);
    return 0;
}

/* What a request of type asks, checked: *out is the details to keep (NULL: none). */
static int
parse_details(struct pv_vault *v, struct pv_call *call, struct pv_conn *c, const char *subject,
              const char *type, const json_t *d, struct filing *fl)
{
    const struct pv_policy *p = v->policy;
    const char *s;
    int rc;

    if (d != NULL && !json_is_null(d) && !json_is_object(d))
        return bad(call, "details", "details must be an object");
    if (strcmp(type, "amend") == 0) {
        if (d == NULL || !json_is_object(d))
            return bad(call, "details",
                       "an amendment names the record and the fields to change in details");
        rc = parse_amend(v, call, c, subject, d, fl);
    } else if (strcmp(type, "withdraw") == 0) {
        static const char *const keys[] = {"kind"};
        int k;
        if (d == NULL || !json_is_object(d))
            return bad(call, "details", "a withdrawal names the consent kind in details");
        if ((rc = only_keys(d, keys, 1, call, "a withdrawal names the consent kind")) != 0 ||
            (rc = text_of(d, "kind", 63, 1, &s, call,
                          "kind must be a consent kind of the policy")) != 0)
            return rc;
        if ((k = pv_policy_consent(p, s)) < 0)
            return bad(call, "kind", "kind must be a consent kind of the policy");
        if (p->consent_kinds[k].type == PV_CONSENT_POLICY)
            return bad(call, "kind",
                       "an objection to a policy version is recorded in the consent ledger");
    } else if (strcmp(type, "object") == 0) {
        static const char *const keys[] = {"kinds"};
        const json_t *ks = d ? json_object_get(d, "kinds") : NULL;
        size_t i;
        json_t *k;
        if (json_is_object(d) &&
            (rc = only_keys(d, keys, 1, call, "an objection may name the consent kinds")) != 0)
            return rc;
        if (ks && (!json_is_array(ks) || json_array_size(ks) == 0))
            return bad(call, "kinds", "kinds lists consent kinds of the policy");
        json_array_foreach(ks, i, k)
        {
            int ki = pv_policy_consent(p, json_string_value(k) ? json_string_value(k) : "");
            if (ki < 0 || p->consent_kinds[ki].type == PV_CONSENT_POLICY)
                return bad(call, "kinds", "kinds lists consent kinds of the policy");
        }
        rc = 0;
    } else if (strcmp(type, "complaint") == 0) {
        static const char *const keys[] = {"text"};
        if (d == NULL || !json_is_object(d))
            return bad(call, "details", "a complaint says what it is about in details.text");
        if ((rc = only_keys(d, keys, 1, call, "a complaint has a text")) != 0 ||
            (rc = text_of(d, "text", PV_REQUEST_TEXT_MAX, 1, &s, call,
                          "text says what the complaint is about, at most 2000 characters")) != 0)
            return rc;
    } else {
        if (json_is_object(d) && json_object_size(d) > 0)
            return bad(call, "details", "this type of request takes no details");
        return 0;
    }
    if (rc == 0 && json_is_object(d) && json_object_size(d) > 0 &&
        (fl->details = json_deep_copy(d)) == NULL)
        rc = PV_ENOMEM;
    return rc;
}

/* Who asks: the caller themselves, a guardian, or an agent with evidence of their authority. */
static int
parse_requester(struct pv_vault *v, struct pv_call *call, const char *subject, const json_t *rq,
                struct filing *fl)
{
    static const char *const keys[] = {"kind", "name", "evidence"};
    const struct pv_actor *act = call->actor;
    const struct pv_role *role = &v->policy->roles[act->role];
    const char *kind = NULL, *name = NULL, *evidence = NULL;
    int rc;

    if (rq != NULL && !json_is_null(rq)) {
        if (!json_is_object(rq))
            return bad(call, "requester", "requester is {kind, name?, evidence?}");
        if ((rc = only_keys(rq, keys, PV_ARRAY_LEN(keys), call,
                            "requester has kind, name and evidence")) != 0 ||
            (rc = text_of(rq, "kind", 15, 0, &kind, call, "kind is subject, guardian or agent")) !=
                0 ||
            (rc = text_of(rq, "name", AGENT_NAME_MAX, 0, &name, call,
                          "name is the agent's name, at most 200 characters")) != 0 ||
            (rc = text_of(rq, "evidence", PV_REQUEST_TEXT_MAX, 0, &evidence, call,
                          "evidence says how the agent is authorized, 10 to 2000 characters")) != 0)
            return rc;
    }
    if (kind && !listed(kind, (const char *const[]){"subject", "guardian", "agent"}, 3))
        return bad(call, "kind", "kind is subject, guardian or agent");
    /* A person's own account asks for themselves, or as the guardian it is. */
    if (role->scope == PV_SCOPE_SELF && !act->key) {
        const char *self = strcmp(act->subject_id, subject) == 0 ? "subject" : "guardian";
        if (kind && strcmp(kind, self) != 0)
            return bad(call, "kind",
                       "a person's own account files for themselves, or as the guardian it is");
        kind = self;
    } else if (kind == NULL) {
        return bad(call, "kind",
                   "say who asks: the subject, their guardian, or an agent with evidence");
    }
    if (strcmp(kind, "agent") == 0) {
        if (name == NULL)
            return bad(call, "name", "an authorized agent is named");
        if (evidence == NULL || strlen(evidence) < EVIDENCE_MIN)
            return bad(call, "evidence",
                       "an authorized agent's evidence (a signed permission, a power of "
                       "attorney) is described, 10 to 2000 characters");
        if ((fl->agent = json_pack("{s:s, s:s}", "name", name, "evidence", evidence)) == NULL)
            return PV_ENOMEM;
    } else if (name || evidence) {
        return bad(call, name ? "name" : "evidence", "only an agent has a name and evidence");
    }
    pv_strlcpy(fl->r.requester, kind, sizeof fl->r.requester);
    return 0;
}

static int
subject_known(struct pv_conn *c, const char *id)
{
    struct pv_subject s;

    return pv_id_valid(id, "sub") && pv_store_subject_get(c, id, &s) == 0 &&
           strcmp(s.status, "erased") != 0;
}

/* Seal a JSON value as text. */
static int
seal_json(const struct pv_dkey *dk, const char *subject, const char *record, const char *field,
          const json_t *j, unsigned char *out, size_t cap, size_t *len)
{
    char *text = json_dumps(j, JSON_COMPACT);
    int rc;

    if (text == NULL)
        return PV_ENOMEM;
    rc = pv_seal_text(dk, subject, record, field, text, out, cap, len);
    pv_wipe(text, strlen(text));
    free(text);
    return rc;
}

static int
apply_file(struct pv_conn *w, void *arg)
{
    return pv_store_request_put(w, arg);
}

int
pv_vault_request_file(struct pv_vault *v, struct pv_call *call, const char *subject,
                      const json_t *body, json_t **out)
{
    static const char *const keys[] = {"type", "requester", "source", "details"};
    struct pv_access a;
    struct filing *fl;
    struct pv_conn *c;
    struct pv_dkey dk;
    const char *type, *source;
    int rc, days, ext, exists, have_key = 0;

    if (!json_is_object(body))
        return bad(call, "type", "the body is {type, requester?, source?, details?}");
    if ((rc = only_keys(body, keys, PV_ARRAY_LEN(keys), call,
                        "a request has type, requester, source and details")) != 0 ||
        (rc = text_of(body, "type", 15, 1, &type, call,
                      "type is access, amend, delete, restrict, portability, object, withdraw, "
                      "know, accounting or complaint")) != 0 ||
        (rc = text_of(body, "source", 15, 0, &source, call,
                      "source is web, app, mail, email, phone, in_person or api")) != 0)
        return rc;
    if (pv_policy_right(v->policy, type, &days, &ext) != 0)
        return bad(call, "type",
                   "type is access, amend, delete, restrict, portability, object, withdraw, "
                   "know, accounting or complaint");
    if (source && !listed(source, sources, PV_ARRAY_LEN(sources)))
        return bad(call, "source", "source is web, app, mail, email, phone, in_person or api");
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((fl = calloc(1, sizeof *fl)) == NULL)
        return PV_ENOMEM;
    exists = subject_known(c, subject);
    rc = parse_requester(v, call, subject, json_object_get(body, "requester"), fl);
    if (rc == 0 && exists)
        rc = parse_details(v, call, c, subject, type, json_object_get(body, "details"), fl);
    if (rc == 0) {
        struct pv_request *r = &fl->r;
        pv_id_new("req", r->id);
        pv_strlcpy(r->subject_id, subject, sizeof r->subject_id);
        pv_strlcpy(r->type, type, sizeof r->type);
        pv_strlcpy(r->filed_by, call->actor->user_id, sizeof r->filed_by);
        pv_strlcpy(r->source, source ? source : "api", sizeof r->source);
        r->received = pv_now_ms();
        r->due = r->received + days * DAY_MS;
        pv_strlcpy(r->state, "received", sizeof r->state);
        pv_strlcpy(r->result, "", sizeof r->result);
    }
    if (rc == 0 && exists && (rc = pv_vault_subject_key(v, c, subject, &dk)) == 0)
        have_key = 1;
    if (rc == 0 && have_key && fl->agent)
        rc = seal_json(&dk, subject, fl->r.id, "agent", fl->agent, fl->r.agent, sizeof fl->r.agent,
                       &fl->r.agent_len);
    if (rc == 0 && have_key && fl->details)
        rc = seal_json(&dk, subject, fl->r.id, "details", fl->details, fl->r.details,
                       sizeof fl->r.details, &fl->r.details_len);
    if (rc == PV_ETOOBIG)
        rc = bad(call, "details", "the details are too long");
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_REQUEST;
        a.audit_action = "request.file";
        a.subject = subject;
        a.collection = -1;
        a.audit_collection = type;
        a.record = fl->r.id;
        a.subject_exists = exists;
        rc = pv_access(v, call, &a, apply_file, &fl->r, NULL);
    }
    if (rc == 0 && (*out = request_json(&fl->r, &dk, c, pv_now_ms())) == NULL)
        rc = PV_ENOMEM;
    if (have_key)
        pv_dkey_wipe(&dk);
    json_decref(fl->details);
    json_decref(fl->agent);
    pv_wipe(fl, sizeof *fl);
    free(fl);
    return rc;
}

/* ---- reading and listing -----------------------------------------------------------------------
 */

/* A denial that needs no decision, with the request it concerns in the audit entry. */
static int
reject(struct pv_vault *v, struct pv_call *call, const char *action, const struct pv_request *r,
       const char *reason, int err)
{
    const struct pv_actor *act = call->actor;
    const struct pv_policy *p = v->policy;
    int u = call->purpose ? pv_policy_purpose(p, call->purpose) : -1;
    struct pv_audit_row row;

    memset(&row, 0, sizeof row);
    row.actor = act ? act->user_id : "anonymous";
    row.role = act ? p->roles[act->role].name : "";
    row.credential = act ? act->session_id : "";
    row.action = action;
    row.subject = r ? r->subject_id : "";
    row.collection = r ? r->type : "";
    row.record = r ? r->id : "";
    row.purpose = u >= 0 ? p->purposes[u].key : call->purpose ? "?" : "";
    row.decision = "deny";
    row.reason = reason;
    if (pv_audit_commit(v->audit, &row, 1, NULL, NULL) != 0)
        return PV_EAUDIT;
    call->reason = reason;
    return err;
}

/* Load request rid; a missing one is refused and audited. */
static int
load(struct pv_vault *v, struct pv_call *call, struct pv_conn *c, const char *rid,
     const char *action, struct pv_request *r)
{
    int rc = pv_id_valid(rid, "req") ? pv_store_request_get(c, rid, r) : PV_ENOTFOUND;

    if (rc == PV_ENOTFOUND) {
        call->detail = "there is no such request";
        return reject(v, call, action, NULL, "no-such-request", PV_ENOTFOUND);
    }
    return rc;
}

/*
 * The access to request r. A request outlives its subject, as the record of a
 * right honored: once the person is erased, only the rights power reads it,
 * decided without the person (there is nothing of them left to decide on).
 */
static void
request_access(struct pv_conn *c, struct pv_access *a, enum pv_action action,
               const char *audit_action, const struct pv_request *r)
{
    memset(a, 0, sizeof *a);
    a->action = action;
    a->audit_action = audit_action;
    a->subject = r->subject_id;
    a->collection = -1;
    a->audit_collection = r->type;
    a->record = r->id;
    a->subject_exists = 1;
    if (!subject_known(c, r->subject_id)) {
        a->action = PV_ACT_FULFIL;
        a->subject = NULL;
        a->audit_subject = r->subject_id;
    }
}

int
pv_vault_request_get(struct pv_vault *v, struct pv_call *call, const char *rid, json_t **out)
{
    struct pv_request *r;
    struct pv_access a;
    struct pv_conn *c;
    int rc;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return PV_ENOMEM;
    rc = load(v, call, c, rid, "request.read", r);
    if (rc == 0) {
        request_access(c, &a, PV_ACT_REQUEST, "request.read", r);
        rc = pv_access(v, call, &a, NULL, NULL, NULL);
    }
    if (rc == 0)
        rc = answer(v, c, r, out);
    free(r);
    return rc;
}

struct list_ctx {
    struct pv_vault *v;
    struct pv_conn *c;
    json_t *list;
    int n;
    char last[PV_ID_MAX];
    int64_t now;
    /* the key of the subject whose requests are listed (one subject), else none: the list of
     * everyone's requests shows no sealed part */
    const struct pv_dkey *dk;
};

static int
list_cb(const struct pv_request *r, void *arg)
{
    struct list_ctx *l = arg;
    json_t *j = request_json(r, l->dk, l->dk ? l->c : NULL, l->now);

    if (j == NULL || json_array_append_new(l->list, j) != 0)
        return PV_ENOMEM;
    l->n++;
    memcpy(l->last, r->id, sizeof l->last);
    return 0;
}

int
pv_vault_request_list(struct pv_vault *v, struct pv_call *call, const char *subject,
                      const struct pv_request_query *q, json_t **out)
{
    struct pv_request_filter f;
    struct list_ctx l;
    struct pv_access a;
    struct pv_dkey dk;
    int rc, have = 0;

    if (q->state && !state_bit(q->state) && strcmp(q->state, "open") != 0)
        return bad(call, "state", "state is received, verified, completed, denied or open");
    if (q->type) {
        int d, e;
        if (pv_policy_right(v->policy, q->type, &d, &e) != 0)
            return bad(call, "type", "type is one of the rights");
    }
    if (q->after && !pv_id_valid(q->after, "req"))
        return bad(call, "after", "after is the id of the last request of the previous page");
    if (subject == NULL && q->subject && !pv_id_valid(q->subject, "sub"))
        return bad(call, "subject", "subject is a subject id");
    memset(&l, 0, sizeof l);
    l.v = v;
    l.now = pv_now_ms();
    if ((rc = pv_store_reader(v->store, &l.c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = subject ? PV_ACT_REQUEST : PV_ACT_FULFIL;
    a.audit_action = "request.list";
    a.subject = subject;
    a.collection = -1;
    a.audit_collection = q->type;
    a.audit_subject = subject ? NULL : q->subject;
    a.subject_exists = subject ? subject_known(l.c, subject) : 0;
    if ((rc = pv_access(v, call, &a, NULL, NULL, NULL)) != 0)
        return rc;
    if (subject && (rc = key_of(v, l.c, subject, &dk, &have)) != 0)
        return rc;
    l.dk = have ? &dk : NULL;
    memset(&f, 0, sizeof f);
    f.subject = subject ? subject : q->subject;
    f.state = q->state;
    f.type = q->type;
    f.overdue = q->overdue;
    f.now = l.now;
    f.after = q->after;
    f.limit = q->limit <= 0 ? 50 : q->limit > LIST_MAX ? LIST_MAX : q->limit;
    l.list = json_array();
    rc = l.list ? pv_store_request_list(l.c, &f, list_cb, &l) : PV_ENOMEM;
    if (have)
        pv_dkey_wipe(&dk);
    if (rc != 0) {
        json_decref(l.list);
        return rc;
    }
    *out = json_pack("{s:o, s:s?}", "requests", l.list, "next", l.n == f.limit ? l.last : NULL);
    return *out ? 0 : PV_ENOMEM;
}

/* ---- transitions
 * --------------------------------------------------------------------------------- */

enum tr { TR_VERIFY, TR_EXTEND, TR_COMPLETE, TR_DENY, TR_DISAGREE };

static const struct transition {
    const char *name;
    enum tr tr;
    const char *audit;
    unsigned from; /* the states it may leave */
    enum pv_action action;
    const char *detail; /* why it is refused in another state */
} transitions[] = {
    {"verify", TR_VERIFY, "request.verify", ST_RECEIVED, PV_ACT_FULFIL,
     "only a received request is verified"},
    {"extend", TR_EXTEND, "request.extend", ST_RECEIVED | ST_VERIFIED, PV_ACT_FULFIL,
     "only an open request is extended"},
    {"complete", TR_COMPLETE, "request.complete", ST_VERIFIED, PV_ACT_FULFIL,
     "a request is completed once verified, and only once"},
    {"deny", TR_DENY, "request.deny", ST_RECEIVED | ST_VERIFIED, PV_ACT_FULFIL,
     "only an open request is denied"},
    {"disagreement", TR_DISAGREE, "request.disagree", ST_DENIED, PV_ACT_REQUEST,
     "a statement of disagreement follows a denied amendment"},
};

/* Everything a transition writes, in one transaction with its audit entry. */
struct change {
    struct pv_vault *v;
    struct pv_request r; /* as it will be */
    char from[16];       /* the state it must still be in */
    /* an amendment accepted */
    int amend;
    int ci;
    uint64_t set, nulls;
    struct pv_buf patch; /* sealed new values */
    struct pv_record rec;
    struct pv_buf cats;
    const char *actor;
    /* a statement of disagreement */
    int disagree;
    struct pv_disagreement dis;
    unsigned char statement[PV_REQUEST_TEXT_SEALED_MAX];
    /* a deletion: the person's confidential-communications choices go */
    int drop_prefs;
};

/* Keep each value the amendment replaces or removes, then apply it. */
static int
amend_apply(struct change *ch, struct pv_conn *w)
{
    const struct pv_policy *p = ch->v->policy;
    const struct pv_collection *col = &p->collections[ch->ci];
    struct pv_record cur;
    struct pv_history h;
    const unsigned char *s;
    size_t n;
    int rc;

    memset(&cur, 0, sizeof cur);
    pv_buf_init(&cur.body, PV_RECORD_BODY_MAX);
    rc = pv_store_record_get(w, ch->r.subject_id, ch->r.collection, ch->r.record_id, &cur);
    for (int i = 0; rc == 0 && i < col->nfields; i++) {
        if (!(((ch->set | ch->nulls) >> i) & 1) ||
            pv_body_find(&cur.body, col->fields[i].name, &s, &n) != 0)
            continue;
        memset(&h, 0, sizeof h);
        pv_strlcpy(h.subject_id, ch->r.subject_id, sizeof h.subject_id);
        pv_strlcpy(h.record_id, ch->r.record_id, sizeof h.record_id);
        pv_strlcpy(h.collection, ch->r.collection, sizeof h.collection);
        pv_strlcpy(h.field, col->fields[i].name, sizeof h.field);
        pv_strlcpy(h.category, p->categories[col->fields[i].category].key, sizeof h.category);
        h.ts = ch->r.closed_at;
        pv_strlcpy(h.actor, ch->actor, sizeof h.actor);
        pv_strlcpy(h.request_id, ch->r.id, sizeof h.request_id);
        h.sealed = s;
        h.sealed_len = n;
        rc = pv_store_history_put(w, &h);
    }
    pv_buf_fini(&cur.body);
    if (rc == 0)
        rc = pv_record_patch(ch->v, w, ch->ci, &ch->patch, ch->set, ch->nulls, &ch->rec, &ch->cats);
    return rc;
}

static int
apply_change(struct pv_conn *w, void *arg)
{
    struct change *ch = arg;
    int rc = pv_store_request_update(w, &ch->r, ch->from);

    if (rc == 0 && ch->amend)
        rc = amend_apply(ch, w);
    if (rc == 0 && ch->disagree)
        rc = pv_store_disagreement_put(w, &ch->dis);
    if (rc == 0 && ch->drop_prefs)
        rc = pv_store_contact_prefs_delete(w, ch->r.subject_id);
    return rc;
}

/* The consent kinds an objection withdraws: those named, else every marketing kind, every
 * sale kind and every authorization of a marketing purpose. */
static uint64_t
objection_kinds(const struct pv_policy *p, const json_t *details)
{
    const json_t *ks = json_object_get(details, "kinds");
    uint64_t m = 0;
    size_t i;
    json_t *k;

    json_array_foreach(ks, i, k)
    {
        int ki = pv_policy_consent(p, json_string_value(k) ? json_string_value(k) : "");
        if (ki >= 0)
            m |= UINT64_C(1) << ki;
    }
    if (ks)
        return m;
    for (int ki = 0; ki < p->nconsents; ki++) {
        const struct pv_consent_kind *kd = &p->consent_kinds[ki];
        int marketing = kd->type == PV_CONSENT_MARKETING || kd->type == PV_CONSENT_SALE;
        for (int j = 0; kd->type == PV_CONSENT_AUTHORIZATION && j < kd->nauthorizes; j++)
            marketing |= p->purposes[kd->authorizes[j]].marketing;
        if (marketing)
            m |= UINT64_C(1) << ki;
    }
    return m;
}

/* Withdraw the consent kinds of mask the subject holds; *withdrawn lists them. */
static int
withdraw_kinds(struct pv_vault *v, struct pv_call *call, const struct pv_request *r, uint64_t mask,
               json_t *withdrawn)
{
    const struct pv_policy *p = v->policy;
    struct pv_consent_change cc;
    char evidence[64];
    int rc = 0, held;

    (void)snprintf(evidence, sizeof evidence, "rights request %s", r->id);
    for (int k = 0; rc == 0 && k < p->nconsents; k++) {
        json_t *entry = NULL;
        if (!((mask >> k) & 1))
            continue;
        if ((rc = pv_vault_consent_held(v, r->subject_id, p->consents[k], &held)) != 0 || !held)
            continue;
        memset(&cc, 0, sizeof cc);
        cc.kind = p->consents[k];
        cc.grant = 0;
        cc.source = strcmp(r->source, "web") == 0 || strcmp(r->source, "app") == 0 ||
                            strcmp(r->source, "phone") == 0 || strcmp(r->source, "api") == 0
                        ? r->source
                    : strcmp(r->source, "in_person") == 0 ? "staff"
                                                          : "written";
        cc.evidence = evidence;
        if ((rc = pv_vault_consent_set(v, call, r->subject_id, &cc, &entry)) == 0)
            rc = json_array_append_new(withdrawn, json_string(cc.kind)) == 0 ? 0 : PV_ENOMEM;
        json_decref(entry);
    }
    return rc;
}

/* What completing a request does, before it is recorded as completed; *result says it. */
static int
complete_effect(struct pv_vault *v, struct pv_call *call, const struct pv_request *r,
                const json_t *details, struct change *ch, json_t **result)
{
    static const struct {
        const char *type, *action;
    } provided[] = {
        {"access", "subject.export"},
        {"portability", "subject.export"},
        {"know", "subject.know"},
        {"accounting", "disclosure.accounting"},
    };
    json_t *list;
    int rc;

    *result = NULL;
    for (size_t i = 0; i < PV_ARRAY_LEN(provided); i++) {
        int64_t seq, ts;
        if (strcmp(r->type, provided[i].type) != 0)
            continue;
        /* Completed means answered: the answer's own audit entry must exist. */
        rc = pv_rights_provided(v, r->subject_id, provided[i].action, r->received, &seq, &ts);
        if (rc == PV_ENOTFOUND) {
            call->detail = "answer the request first (the export, the right-to-know report or "
                           "the accounting of disclosures, as its type says)";
            return reject(v, call, "request.complete", r, "not-yet-provided", PV_ECONFLICT);
        }
        if (rc != 0)
            return rc;
        *result = json_pack("{s:s, s:o, s:I}", "provided_by", provided[i].action, "provided_at",
                            pv_json_time(ts), "audit_seq", (json_int_t)seq);
        return *result ? 0 : PV_ENOMEM;
    }
    if (strcmp(r->type, "delete") == 0) {
        if ((rc = pv_rights_delete(v, call, r, result)) == 0)
            ch->drop_prefs = 1;
        return rc;
    }
    if (strcmp(r->type, "restrict") == 0) {
        json_t *j = NULL;
        struct pv_subject s;
        struct pv_conn *c;
        if ((rc = pv_store_reader(v->store, &c)) != 0 ||
            (rc = pv_store_subject_get(c, r->subject_id, &s)) != 0)
            return rc;
        if (strcmp(s.status, "restricted") != 0 &&
            (rc = pv_vault_restriction_set(v, call, r->subject_id, 1, &j)) != 0)
            return rc;
        json_decref(j);
        *result = json_pack("{s:s}", "status", "restricted");
        return *result ? 0 : PV_ENOMEM;
    }
    if (strcmp(r->type, "object") == 0 || strcmp(r->type, "withdraw") == 0) {
        const struct pv_policy *p = v->policy;
        uint64_t mask = 0;
        if (strcmp(r->type, "object") == 0) {
            mask = objection_kinds(p, details);
        } else {
            const char *kind = json_string_value(json_object_get(details, "kind"));
            int k = kind ? pv_policy_consent(p, kind) : -1;
            if (k < 0) {
                call->detail = "the consent kind named is no longer in the policy";
                return reject(v, call, "request.complete", r, "unknown-consent", PV_ECONFLICT);
            }
            mask = UINT64_C(1) << k;
        }
        if ((list = json_array()) == NULL)
            return PV_ENOMEM;
        if ((rc = withdraw_kinds(v, call, r, mask, list)) != 0) {
            json_decref(list);
            return rc;
        }
        *result = json_pack("{s:o}", "withdrawn", list);
        return *result ? 0 : PV_ENOMEM;
    }
    if (strcmp(r->type, "amend") == 0) {
        /* The change itself is written with the request's completion (apply_change). */
        *result = json_pack("{s:o}", "amended", json_array());
        if (*result == NULL)
            return PV_ENOMEM;
        for (int i = 0; i < v->policy->collections[ch->ci].nfields; i++)
            if (((ch->set | ch->nulls) >> i) & 1)
                json_array_append_new(json_object_get(*result, "amended"),
                                      json_string(v->policy->collections[ch->ci].fields[i].name));
        return 0;
    }
    /* complaint: the answer is the explanation */
    *result = json_object();
    return *result ? 0 : PV_ENOMEM;
}

/* An accepted amendment: the new values sealed into the record, checked against the policy
 * as it is now. */
static int
prepare_amend(struct pv_vault *v, struct pv_call *call, struct pv_conn *c,
              const struct pv_request *r, const json_t *details, const struct pv_dkey *dk,
              struct change *ch, struct pv_access *a)
{
    const json_t *fields = json_object_get(details, "fields");
    struct pv_fieldset fs;
    int rc;

    ch->amend = 1;
    if ((ch->ci = pv_policy_collection(v->policy, r->collection)) < 0) {
        call->detail = "the collection is no longer in the policy";
        return reject(v, call, "request.complete", r, "unknown-collection", PV_ECONFLICT);
    }
    memset(&ch->rec, 0, sizeof ch->rec);
    pv_buf_init(&ch->rec.body, PV_RECORD_BODY_MAX);
    rc = pv_store_record_get(c, r->subject_id, r->collection, r->record_id, &ch->rec);
    if (rc == PV_ENOTFOUND) {
        call->detail = "the record to amend no longer exists";
        return reject(v, call, "request.complete", r, "no-such-record", PV_ECONFLICT);
    }
    if (rc != 0 || (rc = pv_fields_scan(v, ch->ci, fields, &fs, call)) != 0)
        return rc;
    ch->set = fs.mask;
    ch->nulls = fs.nulls;
    rc = pv_fields_seal(v, dk, r->subject_id, r->record_id, ch->ci, fields, fs.mask, &ch->patch);
    a->collection = ch->ci;
    a->audit_collection = NULL;
    a->fields = fs.mask | fs.nulls;
    a->undeclared = fs.undeclared;
    return rc;
}

/* The body of a transition, checked, into ch (and the texts to seal). */
static int
parse_transition(struct pv_vault *v, struct pv_call *call, const struct transition *t,
                 const json_t *body, const struct pv_request *r, const char **text, int *days)
{
    const char *s;
    int rc, deadline, ext;

    *text = NULL;
    *days = 0;
    if (body != NULL && !json_is_object(body))
        return bad(call, "body", "the body is an object");
    switch (t->tr) {
    case TR_VERIFY: {
        static const char *const keys[] = {"method"};
        if ((rc = only_keys(body, keys, 1, call, "verification has a method")) != 0 ||
            (rc = text_of(body, "method", 31, 1, &s, call,
                          "method says how the requester was verified: account, government-id, "
                          "knowledge, signed-form, in-person, phone-call, email-link, "
                          "guardian-record or agent-authorization")) != 0)
            return rc;
        if (!listed(s, methods, PV_ARRAY_LEN(methods)))
            return bad(call, "method",
                       "method says how the requester was verified: account, government-id, "
                       "knowledge, signed-form, in-person, phone-call, email-link, "
                       "guardian-record or agent-authorization");
        *text = s;
        return 0;
    }
    case TR_EXTEND: {
        static const char *const keys[] = {"reason", "days"};
        const json_t *dj = json_object_get(body, "days");
        if ((rc = only_keys(body, keys, 2, call, "an extension has a reason and days")) != 0 ||
            (rc = text_of(body, "reason", PV_REQUEST_TEXT_MAX, 1, text, call,
                          "reason says why more time is needed, at most 2000 characters")) != 0)
            return rc;
        pv_policy_right(v->policy, r->type, &deadline, &ext);
        *days = ext;
        if (dj &&
            (!json_is_integer(dj) || json_integer_value(dj) < 1 || json_integer_value(dj) > ext))
            return bad(call, "days", "days is at most the policy's extension for the right");
        if (dj)
            *days = (int)json_integer_value(dj);
        return 0;
    }
    case TR_DENY: {
        static const char *const keys[] = {"reason", "explanation"};
        if ((rc = only_keys(body, keys, 2, call, "a denial has a reason and an explanation")) !=
                0 ||
            (rc = text_of(body, "reason", 31, 1, &s, call,
                          "reason is unverified, not-held, accurate, not-ours, exception, "
                          "unfounded, withdrawn or other")) != 0 ||
            (rc = text_of(body, "explanation", PV_REQUEST_TEXT_MAX, 0, text, call,
                          "explanation is a text of at most 2000 characters")) != 0)
            return rc;
        if (!listed(s, denials, PV_ARRAY_LEN(denials)))
            return bad(call, "reason",
                       "reason is unverified, not-held, accurate, not-ours, exception, "
                       "unfounded, withdrawn or other");
        if (strcmp(s, "other") == 0 && *text == NULL)
            return bad(call, "explanation", "a denial for another reason explains it");
        if ((strcmp(s, "accurate") == 0 || strcmp(s, "not-ours") == 0) &&
            strcmp(r->type, "amend") != 0)
            return bad(call, "reason", "accurate and not-ours answer amendments only");
        return 0;
    }
    case TR_COMPLETE: {
        static const char *const keys[] = {"answer"};
        if ((rc = only_keys(body, keys, 1, call, "completing takes an answer")) != 0 ||
            (rc = text_of(body, "answer", PV_REQUEST_TEXT_MAX, strcmp(r->type, "complaint") == 0,
                          text, call,
                          "answer is the reply to the person, at most 2000 characters (a "
                          "complaint is always answered)")) != 0)
            return rc;
        return 0;
    }
    case TR_DISAGREE: {
        static const char *const keys[] = {"statement"};
        if ((rc = only_keys(body, keys, 1, call, "a disagreement has a statement")) != 0 ||
            (rc = text_of(body, "statement", PV_REQUEST_TEXT_MAX, 1, text, call,
                          "statement is the person's disagreement, at most 2000 characters")) != 0)
            return rc;
        if (strcmp(r->type, "amend") != 0)
            return bad(call, "statement", "a statement of disagreement answers a denied amendment");
        return 0;
    }
    }
    return PV_EINVAL;
}

/* The request's details, opened (NULL when there are none or they cannot be read). */
static json_t *
details_of(const struct pv_request *r, const struct pv_dkey *dk)
{
    json_t *t, *d = NULL;
    json_error_t jerr;

    if (r->details_len == 0 || dk == NULL)
        return NULL;
    t = pv_open_text(dk, r->subject_id, r->id, "details", r->details, r->details_len);
    if (t)
        d = json_loads(json_string_value(t), 0, &jerr);
    json_decref(t);
    return d;
}

struct tctx {
    struct pv_vault *v;
    struct pv_call *call;
    struct pv_conn *c;
    const struct transition *t;
    struct change *ch;
    struct pv_request *r; /* as loaded */
    struct pv_dkey dk;
    int have_key;
    json_t *details;
};

static int
run_transition(struct tctx *x, const json_t *body, json_t **out)
{
    struct pv_vault *v = x->v;
    struct pv_call *call = x->call;
    struct pv_request *r = x->r, *n = &x->ch->r;
    const struct transition *t = x->t;
    struct pv_decision d;
    struct pv_access a;
    json_t *result = NULL;
    const char *text;
    int64_t now = pv_now_ms();
    int rc, days, erase = 0;

    if ((rc = parse_transition(v, call, t, body, r, &text, &days)) != 0)
        return rc;
    if ((rc = key_of(v, x->c, r->subject_id, &x->dk, &x->have_key)) != 0)
        return rc;
    x->details = details_of(r, x->have_key ? &x->dk : NULL);
    request_access(x->c, &a, t->action, t->audit, r);
    if (t->tr == TR_COMPLETE && strcmp(r->type, "amend") == 0 && x->have_key &&
        (state_bit(r->state) & t->from)) {
        if ((rc = prepare_amend(v, call, x->c, r, x->details, &x->dk, x->ch, &a)) != 0)
            return rc;
    }
    /* Who may do it comes first: an asker without the power learns nothing of the state. */
    if ((rc = pv_access_preview(v, call, &a, &d)) != 0)
        return rc;
    if (!d.permit)
        return pv_access(v, call, &a, NULL, NULL, NULL);
    if (!(state_bit(r->state) & t->from)) {
        call->detail = t->detail;
        return reject(v, call, t->audit, r, "illegal-transition", PV_ECONFLICT);
    }
    *n = *r;
    memcpy(x->ch->from, r->state, sizeof x->ch->from);
    x->ch->v = v;
    x->ch->actor = call->actor->user_id;
    switch (t->tr) {
    case TR_VERIFY:
        pv_strlcpy(n->state, "verified", sizeof n->state);
        n->verified_at = now;
        pv_strlcpy(n->verified_by, call->actor->user_id, sizeof n->verified_by);
        pv_strlcpy(n->verification, text, sizeof n->verification);
        break;
    case TR_EXTEND:
        if (r->extended_at) {
            call->detail = "a request is extended once";
            return reject(v, call, t->audit, r, "already-extended", PV_ECONFLICT);
        }
        if (now > r->due) {
            call->detail = "an extension is given before the request is due";
            return reject(v, call, t->audit, r, "past-due", PV_ECONFLICT);
        }
        n->extended_at = now;
        pv_strlcpy(n->extended_by, call->actor->user_id, sizeof n->extended_by);
        n->due = r->due + days * DAY_MS;
        if (x->have_key)
            rc = pv_seal_text(&x->dk, r->subject_id, r->id, "extension", text, n->extension,
                              sizeof n->extension, &n->extension_len);
        break;
    case TR_DENY:
        pv_strlcpy(n->state, "denied", sizeof n->state);
        n->closed_at = now;
        pv_strlcpy(n->closed_by, call->actor->user_id, sizeof n->closed_by);
        pv_strlcpy(n->outcome, json_string_value(json_object_get(body, "reason")),
                   sizeof n->outcome);
        if (text && x->have_key)
            rc = pv_seal_text(&x->dk, r->subject_id, r->id, "explanation", text, n->explanation,
                              sizeof n->explanation, &n->explanation_len);
        break;
    case TR_DISAGREE: {
        struct pv_disagreement *dis = &x->ch->dis;
        if (!x->have_key)
            return PV_ENOTFOUND;
        x->ch->disagree = 1;
        pv_id_new("stm", dis->id);
        pv_strlcpy(dis->request_id, r->id, sizeof dis->request_id);
        pv_strlcpy(dis->subject_id, r->subject_id, sizeof dis->subject_id);
        pv_strlcpy(dis->collection, r->collection, sizeof dis->collection);
        pv_strlcpy(dis->record_id, r->record_id, sizeof dis->record_id);
        dis->ts = now;
        pv_strlcpy(dis->actor, call->actor->user_id, sizeof dis->actor);
        rc = pv_seal_text(&x->dk, r->subject_id, dis->id, "statement", text, x->ch->statement,
                          sizeof x->ch->statement, &dis->statement_len);
        dis->statement = x->ch->statement;
        break;
    }
    case TR_COMPLETE:
        if (!x->have_key) {
            call->detail = "the person's data no longer exists";
            return reject(v, call, t->audit, r, "no-such-subject", PV_ENOTFOUND);
        }
        if ((rc = complete_effect(v, call, r, x->details, x->ch, &result)) != 0)
            return rc;
        pv_strlcpy(n->state, "completed", sizeof n->state);
        n->closed_at = pv_now_ms();
        pv_strlcpy(n->closed_by, call->actor->user_id, sizeof n->closed_by);
        pv_strlcpy(n->outcome, "completed", sizeof n->outcome);
        if (text)
            rc = pv_seal_text(&x->dk, r->subject_id, r->id, "explanation", text, n->explanation,
                              sizeof n->explanation, &n->explanation_len);
        if (rc == 0 && result) {
            char *s = json_dumps(result, JSON_COMPACT);
            rc = s && pv_strlcpy(n->result, s, sizeof n->result) == 0 ? 0 : PV_ENOMEM;
            free(s);
        }
        erase = json_is_true(json_object_get(result, "erased"));
        break;
    }
    json_decref(result);
    if (rc != 0)
        return rc;
    rc = pv_access(v, call, &a, apply_change, x->ch, NULL);
    if (rc == PV_ECONFLICT && call->reason == NULL)
        call->detail = "the request changed meanwhile; read it again";
    if (rc != 0)
        return rc;
    if (x->ch->amend && x->ch->nulls)
        pv_vault_scrub(v); /* removed values: gone from the write-ahead log too */
    if (erase) {
        /* Recorded as completed first: the erasure follows at once (or at the next sweep). */
        int erased;
        if (x->have_key) {
            pv_dkey_wipe(&x->dk);
            x->have_key = 0;
        }
        if ((rc = pv_retention_erase(v, r->subject_id, &erased)) != 0)
            pv_log(PV_LOG_WARN, "rights.erase_deferred", "error", pv_strerror(rc), (char *)NULL);
    }
    if ((rc = pv_store_request_get(x->c, r->id, r)) != 0)
        return rc;
    return answer(v, x->c, r, out);
}

int
pv_vault_request_transition(struct pv_vault *v, struct pv_call *call, const char *rid,
                            const char *transition, const json_t *body, json_t **out)
{
    const struct transition *t = NULL;
    struct tctx x;
    int rc;

    for (size_t i = 0; i < PV_ARRAY_LEN(transitions); i++)
        if (strcmp(transitions[i].name, transition) == 0)
            t = &transitions[i];
    if (t == NULL)
        return PV_ENOROUTE;
    memset(&x, 0, sizeof x);
    x.v = v;
    x.call = call;
    x.t = t;
    if ((rc = pv_store_reader(v->store, &x.c)) != 0)
        return rc;
    x.r = calloc(1, sizeof *x.r);
    x.ch = calloc(1, sizeof *x.ch);
    if (x.r == NULL || x.ch == NULL) {
        free(x.r);
        free(x.ch);
        return PV_ENOMEM;
    }
    pv_buf_init(&x.ch->patch, PV_RECORD_BODY_MAX);
    pv_buf_init(&x.ch->cats, 4096);
    rc = load(v, call, x.c, rid, t->audit, x.r);
    if (rc == 0)
        rc = run_transition(&x, body, out);
    if (x.have_key)
        pv_dkey_wipe(&x.dk);
    json_decref(x.details);
    pv_buf_fini(&x.ch->patch);
    pv_buf_fini(&x.ch->cats);
    pv_buf_fini(&x.ch->rec.body);
    pv_wipe(x.ch, sizeof *x.ch);
    free(x.ch);
    free(x.r);
    return rc;
}

/* ---- answers provided -------------------------------------------------------------------------
 */

struct provided {
    const struct pv_policy *p;
    const char *action;
    int64_t seq, ts;
};

/* The answer counts when the person (or their guardian) or the rights power produced it: a
 * provider's export for care answers no request. */
static int
provided_cb(const struct pv_audit_row *row, void *arg)
{
    struct provided *pr = arg;
    int role = pv_policy_role(pr->p, row->role);

    pr->seq = row->seq; /* the last one seen: the next page starts after it */
    if (strcmp(row->action, pr->action) == 0 && strcmp(row->decision, "permit") == 0 && role >= 0 &&
        (pr->p->roles[role].scope == PV_SCOPE_SELF ||
         (pr->p->roles[role].powers & PV_POWER_RIGHTS))) {
        pr->ts = row->ts_ms;
        return 1;
    }
    return 0;
}

int
pv_rights_provided(struct pv_vault *v, const char *subject, const char *action, int64_t since,
                   int64_t *seq, int64_t *ts)
{
    struct pv_audit_filter f;
    struct provided pr = {v->policy, action, 0, 0};
    struct pv_conn *c;
    int64_t last;
    int rc;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&f, 0, sizeof f);
    f.subject = subject;
    f.from_ms = since;
    f.limit = 500;
    do {
        last = pr.seq;
        f.after_seq = pr.seq;
        rc = pv_store_audit_query(c, &f, provided_cb, &pr);
        if (rc == 1) {
            *seq = pr.seq;
            *ts = pr.ts;
            return 0;
        }
    } while (rc == 0 && pr.seq != last);
    return rc == 0 ? PV_ENOTFOUND : rc;
}
