/*
 * consent.c: the consent ledger. Grants and withdrawals are appended, each
 * with its time, source, policy version and (sealed) evidence, and each
 * audited in the same transaction; nothing is ever changed or removed, so
 * a withdrawal stops future use while what was done before stays
 * explained. What a subject holds now (the latest entry of each kind, else
 * the policy's default) is a fact of every decision about them. Cookie
 * choices and Global Privacy Control are ledger entries too.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define EVIDENCE_MAX 2048

/* The sources a client may name; sms, link and gpc are phivault's own, for the person's channels.
 */
static const char *const client_sources[] = {"web", "app", "staff", "phone", "written", "api"};

struct held_ctx {
    const struct pv_policy *p;
    uint64_t held;
};

/* Entries come oldest first: the last one of a kind decides. */
static int
held_cb(const struct pv_consent_row *r, void *arg)
{
    struct held_ctx *h = arg;
    int k = pv_policy_consent(h->p, r->kind);

    if (k >= 0) {
        if (r->granted)
            h->held |= UINT64_C(1) << k;
        else
            h->held &= ~(UINT64_C(1) << k);
    }
    return 0;
}

int
pv_consent_facts(struct pv_vault *v, const struct pv_policy *p, const char *subject, uint64_t *held)
{
    struct held_ctx h = {p, pv_policy_consent_defaults(p)};
    struct pv_conn *c;
    int rc;

    if ((rc = pv_store_reader(v->store, &c)) != 0 ||
        (rc = pv_store_consent_latest(c, subject, held_cb, &h)) != 0)
        return rc;
    *held = h.held;
    return 0;
}

void
pv_facts_merge(struct pv_facts *f, const struct pv_facts *m)
{
    f->restricted = m->restricted;
    f->channel = m->channel;
    f->channels_allowed = m->channels_allowed;
    f->has_address = m->has_address;
    f->number_opted_out = m->number_opted_out;
    f->recipient = m->recipient;
    f->consents_disclosed = m->consents_disclosed;
}

struct latest {
    int found, granted;
    char source[PV_SOURCE_MAX];
};

static int
latest_cb(const struct pv_consent_row *r, void *arg)
{
    struct latest *l = arg;

    l->found = 1;
    l->granted = r->granted;
    memcpy(l->source, r->source, sizeof l->source);
    return 0;
}

int
pv_consent_latest(struct pv_vault *v, const char *subject, const char *kind, int *granted,
                  char source[PV_SOURCE_MAX])
{
    struct latest l;
    struct pv_conn *c;
    int rc;

    memset(&l, 0, sizeof l);
    if ((rc = pv_store_reader(v->store, &c)) != 0 ||
        (rc = pv_store_consent_list(c, subject, kind, latest_cb, &l)) != 0)
        return rc;
    *granted = l.granted;
    if (source)
        memcpy(source, l.source, PV_SOURCE_MAX);
    return l.found;
}

void
pv_consent_row_init(struct pv_vault *v, struct pv_consent_row *r, const char *subject,
                    const char *kind, int granted, const char *source, const char *actor)
{
    memset(r, 0, sizeof *r);
    pv_id_new("cns", r->id);
    pv_strlcpy(r->subject_id, subject, sizeof r->subject_id);
    pv_strlcpy(r->kind, kind, sizeof r->kind);
    r->granted = granted;
    r->ts = pv_now_ms();
    pv_strlcpy(r->source, source, sizeof r->source);
    pv_strlcpy(r->policy_version, v->policy->version, sizeof r->policy_version);
    pv_strlcpy(r->actor, actor, sizeof r->actor);
}

struct direct {
    struct pv_consent_row *rows;
    int n;
    pv_apply_fn more;
    void *more_arg;
};

static int
apply_direct(struct pv_conn *w, void *arg)
{
    struct direct *d = arg;
    int rc = 0;

    for (int i = 0; rc == 0 && i < d->n; i++)
        rc = pv_store_consent_put(w, &d->rows[i]);
    if (rc == 0 && d->more)
        rc = d->more(w, d->more_arg);
    return rc;
}

int
pv_consent_direct(struct pv_vault *v, const struct pv_actor *act, const char *actor_name,
                  const char *reason, struct pv_consent_row *rows, int n,
                  const struct pv_audit_row *lead, pv_apply_fn more, void *more_arg)
{
    struct direct d = {rows, n, more, more_arg};
    struct pv_audit_row *audit;
    int k = 0, rc;

    if ((audit = calloc((size_t)n + 1, sizeof *audit)) == NULL)
        return PV_ENOMEM;
    if (lead)
        audit[k++] = *lead;
    for (int i = 0; i < n; i++, k++) {
        audit[k].actor = act ? act->user_id : actor_name;
        audit[k].role = act ? v->policy->roles[act->role].name : "";
        audit[k].credential = act ? act->session_id : "";
        audit[k].action = rows[i].granted ? "consent.grant" : "consent.withdraw";
        audit[k].subject = rows[i].subject_id;
        audit[k].collection = rows[i].kind;
        audit[k].record = rows[i].id;
        audit[k].decision = "permit";
        audit[k].reason = reason;
    }
    rc = pv_audit_commit(v->audit, audit, k, apply_direct, &d);
    free(audit);
    return rc == PV_EUNAVAIL || rc == PV_ENOMEM ? PV_EAUDIT : rc;
}

static json_t *
entry_json(const struct pv_consent_row *r, const char *evidence, size_t evidence_len)
{
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s}", "id", r->id, "kind", r->kind, "action",
                  r->granted ? "grant" : "withdraw", "time", pv_json_time(r->ts), "source",
                  r->source, "policy_version", r->policy_version, "actor", r->actor);

    if (j && evidence)
        json_object_set_new(j, "evidence", json_stringn(evidence, evidence_len));
    return j;
}

static int
apply_consent(struct pv_conn *w, void *arg)
{
    return pv_store_consent_put(w, arg);
}

static int
subject_exists(struct pv_conn *c, const char *id)
{
    struct pv_subject s;

    return pv_id_valid(id, "sub") && pv_store_subject_get(c, id, &s) == 0;
}

int
pv_vault_consent_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                     const struct pv_consent_change *ch, json_t **out)
{
    const struct pv_policy *p = v->policy;
    const char *source = ch->source ? ch->source : "api";
    int k = ch->kind ? pv_policy_consent(p, ch->kind) : -1, rc, exists;
    const struct pv_consent_kind *kd;
    struct pv_consent_row *row;
    struct pv_access a;
    struct pv_seal_ad ad;
    struct pv_dkey dk;
    struct pv_conn *c;
    size_t si, elen = ch->evidence ? strlen(ch->evidence) : 0;

    if (k < 0) {
        call->detail =
            "kind must be a consent kind the policy declares (GET /v1/policy lists them)";
        pv_strlcpy(call->field, "kind", sizeof call->field);
        return PV_EINVAL;
    }
    kd = &p->consent_kinds[k];
    for (si = 0; si < PV_ARRAY_LEN(client_sources); si++)
        if (strcmp(source, client_sources[si]) == 0)
            break;
    if (si == PV_ARRAY_LEN(client_sources)) {
        call->detail = "source must be web, app, staff, phone, written or api";
        pv_strlcpy(call->field, "source", sizeof call->field);
        return PV_EINVAL;
    }
    if (ch->evidence && (elen == 0 || elen > EVIDENCE_MAX)) {
        call->detail = "evidence must be 1 to 2048 bytes of text";
        pv_strlcpy(call->field, "evidence", sizeof call->field);
        return PV_EINVAL;
    }
    if (kd->type == PV_CONSENT_AUTHORIZATION && ch->grant &&
        (strcmp(source, "written") != 0 || ch->evidence == NULL)) {
        call->detail = "a written authorization is granted with source written and its evidence "
                       "(what was signed, and where the signed copy is kept)";
        pv_strlcpy(call->field, "evidence", sizeof call->field);
        return PV_EINVAL;
    }
    if (ch->policy_version && kd->type != PV_CONSENT_POLICY) {
        call->detail = "policy_version applies to accepting (or objecting to) the policy only";
        pv_strlcpy(call->field, "policy_version", sizeof call->field);
        return PV_EINVAL;
    }
    if (ch->policy_version && strcmp(ch->policy_version, p->version) != 0) {
        call->detail = "only the version in force can be accepted or objected to";
        return PV_EPOLICYVER;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((row = malloc(sizeof *row)) == NULL)
        return PV_ENOMEM;
    exists = subject_exists(c, subject);
    pv_consent_row_init(v, row, exists ? subject : "", kd->name, ch->grant, source,
                        call->actor ? call->actor->user_id : "anonymous");
    if (exists && ch->evidence && (rc = pv_vault_subject_key(v, c, subject, &dk)) == 0) {
        /* Evidence may name the person: it is sealed under their key like any field. */
        ad.subject = subject;
        ad.record = row->id;
        ad.field = "evidence";
        rc = pv_seal(&dk, &ad, ch->evidence, elen, row->evidence, sizeof row->evidence,
                     &row->evidence_len);
        pv_dkey_wipe(&dk);
    }
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_CONSENT;
        a.audit_action = ch->grant ? "consent.grant" : "consent.withdraw";
        a.subject = subject;
        a.collection = -1;
        a.record = row->id;
        a.audit_collection = kd->name;
        a.subject_exists = exists;
        rc = pv_access(v, call, &a, apply_consent, row, NULL);
    }
    if (rc == 0 && (*out = entry_json(row, ch->evidence, elen)) == NULL)
        rc = PV_ENOMEM;
    pv_wipe(row, sizeof *row);
    free(row);
    return rc;
}

/* A string member of body, or NULL; PV_EINVAL (naming it) when present and not a string. */
static int
opt_string(const json_t *body, const char *key, const char **out, struct pv_call *call)
{
    const json_t *j = json_object_get(body, key);

    *out = NULL;
    if (j == NULL)
        return 0;
    if (!json_is_string(j)) {
        call->detail = "this member must be a string";
        pv_strlcpy(call->field, key, sizeof call->field);
        return PV_EINVAL;
    }
    *out = json_string_value(j);
    return 0;
}

int
pv_vault_consent_record(struct pv_vault *v, struct pv_call *call, const char *subject,
                        const json_t *body, json_t **out)
{
    static const char *const keys[] = {"kind", "action", "source", "evidence", "policy_version"};
    struct pv_consent_change ch;
    const char *key, *action;
    json_t *value;
    int rc;

    json_object_foreach((json_t *)body, key, value)
    {
        size_t i;
        for (i = 0; i < PV_ARRAY_LEN(keys); i++)
            if (strcmp(key, keys[i]) == 0)
                break;
        if (i == PV_ARRAY_LEN(keys)) {
            call->detail = "a consent entry has kind, action, source, evidence and policy_version";
            pv_strlcpy(call->field, strlen(key) < PV_NAME_MAX ? key : "?", sizeof call->field);
            return PV_EINVAL;
        }
    }
    memset(&ch, 0, sizeof ch);
    if ((rc = opt_string(body, "kind", &ch.kind, call)) != 0 ||
        (rc = opt_string(body, "action", &action, call)) != 0 ||
        (rc = opt_string(body, "source", &ch.source, call)) != 0 ||
        (rc = opt_string(body, "evidence", &ch.evidence, call)) != 0 ||
        (rc = opt_string(body, "policy_version", &ch.policy_version, call)) != 0)
        return rc;
    if (action == NULL || (strcmp(action, "grant") != 0 && strcmp(action, "withdraw") != 0)) {
        call->detail = "action must be grant or withdraw";
        pv_strlcpy(call->field, "action", sizeof call->field);
        return PV_EINVAL;
    }
    ch.grant = strcmp(action, "grant") == 0;
    return pv_vault_consent_set(v, call, subject, &ch, out);
}

struct list_ctx {
    struct pv_vault *v;
    struct pv_conn *c;
    const char *subject;
    struct pv_dkey dk;
    int have_key;
    json_t *entries;
    /* the latest entry of each kind of the policy */
    int64_t since[PV_MAX_CONSENTS];
    int granted[PV_MAX_CONSENTS], found[PV_MAX_CONSENTS];
    char source[PV_MAX_CONSENTS][PV_SOURCE_MAX];
};

static int
list_cb(const struct pv_consent_row *r, void *arg)
{
    struct list_ctx *l = arg;
    int k = pv_policy_consent(l->v->policy, r->kind), rc = 0;
    unsigned char *pt = NULL;
    size_t ptlen = 0;
    json_t *e;

    if (r->evidence_len > 0) {
        struct pv_seal_ad ad = {l->subject, r->id, "evidence"};
        if (!l->have_key && (rc = pv_vault_subject_key(l->v, l->c, l->subject, &l->dk)) != 0)
            return rc;
        l->have_key = 1;
        if ((pt = malloc(r->evidence_len)) == NULL)
            return PV_ENOMEM;
        rc = pv_unseal(&l->dk, &ad, r->evidence, r->evidence_len, pt, r->evidence_len, &ptlen);
    }
    e = rc == 0 ? entry_json(r, pt ? (const char *)pt : NULL, ptlen) : NULL;
    if (pt) {
        pv_wipe(pt, r->evidence_len);
        free(pt);
    }
    if (rc != 0)
        return rc;
    if (e == NULL || json_array_append_new(l->entries, e) != 0)
        return PV_ENOMEM;
    if (k >= 0) {
        l->found[k] = 1;
        l->granted[k] = r->granted;
        l->since[k] = r->ts;
        memcpy(l->source[k], r->source, PV_SOURCE_MAX);
    }
    return 0;
}

int
pv_vault_consent_list(struct pv_vault *v, struct pv_call *call, const char *subject, json_t **out)
{
    const struct pv_policy *p = v->policy;
    struct pv_access a;
    struct list_ctx *l;
    json_t *current;
    int rc;

    if ((l = calloc(1, sizeof *l)) == NULL)
        return PV_ENOMEM;
    l->v = v;
    l->subject = subject;
    rc = pv_store_reader(v->store, &l->c);
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_READ;
        a.audit_action = "consent.list";
        a.subject = subject;
        a.collection = -1;
        a.subject_exists = subject_exists(l->c, subject);
        rc = pv_access(v, call, &a, NULL, NULL, NULL);
    }
    if (rc == 0 && (l->entries = json_array()) == NULL)
        rc = PV_ENOMEM;
    if (rc == 0)
        rc = pv_store_consent_list(l->c, subject, NULL, list_cb, l);
    if (l->have_key)
        pv_dkey_wipe(&l->dk);
    current = rc == 0 ? json_object() : NULL;
    for (int k = 0; current && k < p->nconsents; k++) {
        const struct pv_consent_kind *kd = &p->consent_kinds[k];
        json_t *j = json_pack("{s:b, s:o, s:s?, s:b, s:s, s:s?, s:s?}", "held",
                              l->found[k] ? l->granted[k] : kd->default_granted, "since",
                              l->found[k] ? pv_json_time(l->since[k]) : json_null(), "source",
                              l->found[k] ? l->source[k] : NULL, "by_default", !l->found[k], "type",
                              pv_consent_type_name(kd->type), "channel",
                              kd->channel >= 0 ? pv_channel_name(kd->channel) : NULL, "description",
                              kd->description);
        if (j == NULL || json_object_set_new(current, kd->name, j) != 0)
            rc = PV_ENOMEM;
    }
    if (rc == 0 && current) {
        *out = json_pack("{s:s, s:o, s:o}", "subject_id", subject, "entries", l->entries, "current",
                         current);
        l->entries = current = NULL;
        if (*out == NULL)
            rc = PV_ENOMEM;
    } else if (rc == 0) {
        rc = PV_ENOMEM;
    }
    json_decref(l->entries);
    json_decref(current);
    free(l);
    return rc;
}

int
pv_vault_consent_held(struct pv_vault *v, const char *subject, const char *kind, int *held)
{
    int k = kind ? pv_policy_consent(v->policy, kind) : -1, rc;
    uint64_t mask;

    if (k < 0)
        return PV_EINVAL;
    if ((rc = pv_consent_facts(v, v->policy, subject, &mask)) != 0)
        return rc;
    *held = (int)((mask >> k) & 1);
    return 0;
}

/* ---- cookies ---------------------------------------------------------------- */

static int
cookie_kind(const struct pv_policy *p, const char *category)
{
    for (int k = 0; k < p->nconsents; k++)
        if (p->consent_kinds[k].type == PV_CONSENT_COOKIES &&
            strcmp(p->consent_kinds[k].cookie, category) == 0)
            return k;
    return -1;
}

static int
cookies_json(struct pv_vault *v, const char *subject, json_t **out)
{
    const struct pv_policy *p = v->policy;
    uint64_t held;
    json_t *j;
    int rc;

    if ((rc = pv_consent_facts(v, p, subject, &held)) != 0)
        return rc;
    /* Necessary cookies need no consent: the site cannot work without them. */
    if ((j = json_pack("{s:b}", "necessary", 1)) == NULL)
        return PV_ENOMEM;
    for (int k = 0; k < p->nconsents; k++)
        if (p->consent_kinds[k].type == PV_CONSENT_COOKIES)
            json_object_set_new(j, p->consent_kinds[k].cookie, json_boolean((held >> k) & 1));
    *out = j;
    return 0;
}

int
pv_vault_cookies_get(struct pv_vault *v, struct pv_call *call, const char *subject, json_t **out)
{
    struct pv_access a;
    struct pv_conn *c;
    int rc;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_READ;
    a.audit_action = "consent.cookies";
    a.subject = subject;
    a.collection = -1;
    a.subject_exists = subject_exists(c, subject);
    if ((rc = pv_access(v, call, &a, NULL, NULL, NULL)) != 0)
        return rc;
    return cookies_json(v, subject, out);
}

int
pv_vault_cookies_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                     const json_t *body, json_t **out)
{
    const struct pv_policy *p = v->policy;
    const char *key;
    json_t *value, *entry = NULL;
    int rc, k, granted = 0, n = 0;

    /* Everything is checked before anything is recorded. */
    json_object_foreach((json_t *)body, key, value)
    {
        if (!json_is_boolean(value) || (strcmp(key, "necessary") == 0 && !json_is_true(value)) ||
            (strcmp(key, "necessary") != 0 && cookie_kind(p, key) < 0)) {
            call->detail = strcmp(key, "necessary") == 0
                               ? "necessary cookies cannot be refused: the site needs them"
                               : "each member names a cookie category of the policy, with true "
                                 "or false";
            pv_strlcpy(call->field, strlen(key) < PV_NAME_MAX ? key : "?", sizeof call->field);
            return PV_EINVAL;
        }
        n++;
    }
    if (n == 0) {
        call->detail = "name the cookie categories chosen, e.g. {\"analytics\": false}";
        return PV_EINVAL;
    }
    /* Each choice is a ledger entry, unless it repeats the entry already there. */
    json_object_foreach((json_t *)body, key, value)
    {
        struct pv_consent_change ch = {NULL, json_is_true(value), "web", NULL, NULL};
        if ((k = cookie_kind(p, key)) < 0)
            continue;
        rc = pv_consent_latest(v, subject, p->consents[k], &granted, NULL);
        if (rc < 0)
            return rc;
        if (rc == 1 && granted == ch.grant)
            continue;
        ch.kind = p->consents[k];
        if ((rc = pv_vault_consent_set(v, call, subject, &ch, &entry)) != 0)
            return rc;
        json_decref(entry);
    }
    if (n > 0 && (rc = pv_vault_cookies_get(v, call, subject, out)) != 0)
        return rc;
    return 0;
}

/* ---- Global Privacy Control ------------------------------------------------------ */

int
pv_vault_gpc(struct pv_vault *v, const struct pv_call *call, int *honored)
{
    const struct pv_policy *p = v->policy;
    const struct pv_actor *act = call->actor;
    struct pv_consent_row *rows;
    int n = 0, rc = 0, granted = 0;

    *honored = 0;
    if (act == NULL || act->subject_id[0] == '\0')
        return 0; /* not an identified subject: nothing of theirs to opt out */
    if ((rows = calloc((size_t)p->nconsents, sizeof *rows)) == NULL)
        return PV_ENOMEM;
    for (int k = 0; rc >= 0 && k < p->nconsents; k++) {
        if (p->consent_kinds[k].type != PV_CONSENT_SALE)
            continue;
        /* Recorded once: again only if they granted it since. */
        rc = pv_consent_latest(v, act->subject_id, p->consents[k], &granted, NULL);
        if (rc == 0 || (rc == 1 && granted))
            pv_consent_row_init(v, &rows[n++], act->subject_id, p->consents[k], 0, "gpc",
                                act->user_id);
    }
    if (rc >= 0)
        rc = n ? pv_consent_direct(v, act, NULL, "gpc", rows, n, NULL, NULL, NULL) : 0;
    pv_wipe(rows, (size_t)p->nconsents * sizeof *rows);
    free(rows);
    if (rc == 0)
        *honored = 1;
    return rc;
}
