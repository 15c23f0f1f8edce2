/*
 * versions.c: policy versions over time, and which one governs a person.
 *
 * Each version that comes into force on a data directory (the server
 * opened with a policy whose content hash differs from the last one's) is
 * appended to the history, with the time; its text is kept in the
 * policies table. A version marks in its file whether it is a material
 * change and its notice period.
 *
 * A person is governed by the version they accepted at enrollment, moved
 * forward by every later version that is not material, and past a material
 * one only when they accepted it (a grant of the policy-acceptance kind
 * naming that version) or were notified of it and did not object (no
 * withdrawal of that kind naming it) before the notice period ran out.
 * While a person is governed by an earlier version, every permitted
 * decision about them is taken again under that version, and the stricter
 * outcome stands: a material change that widens use waits; one that
 * narrows use applies at once.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define MAX_ERAS 256
#define MAX_SEEN 64 /* versions a person accepted, objected to, or was notified of */

struct era {
    char version[40];
    int64_t in_force_at;
    struct pv_policy *own;          /* an earlier version, parsed from its stored text */
    const struct pv_policy *policy; /* own, the vault's current policy, or NULL if unreadable */
};

struct pv_versions {
    struct era eras[MAX_ERAS];
    int n;
    int any_material; /* a material change after the first version: decisions need a check */
};

static int
era_cb(const struct pv_policy_era *e, void *arg)
{
    struct pv_versions *vs = arg;

    if (vs->n == MAX_ERAS) { /* keep the latest: shift the oldest out */
        memmove(&vs->eras[0], &vs->eras[1], sizeof vs->eras[0] * (MAX_ERAS - 1));
        vs->n--;
    }
    memset(&vs->eras[vs->n], 0, sizeof vs->eras[0]);
    pv_strlcpy(vs->eras[vs->n].version, e->version, sizeof vs->eras[0].version);
    vs->eras[vs->n].in_force_at = e->in_force_at;
    vs->n++;
    return 0;
}

static int
apply_in_force(struct pv_conn *w, void *arg)
{
    const struct pv_policy *p = arg;

    return pv_store_policy_history_put(w, p->version, pv_now_ms());
}

int
pv_versions_open(struct pv_vault *v)
{
    struct pv_versions *vs = calloc(1, sizeof *vs);
    struct pv_audit_row row;
    struct pv_conn *c;
    struct pv_buf text;
    int rc;

    if (vs == NULL)
        return PV_ENOMEM;
    rc = pv_store_reader(v->store, &c);
    if (rc == 0)
        rc = pv_store_policy_history_list(c, era_cb, vs);
    if (rc == 0 && (vs->n == 0 || strcmp(vs->eras[vs->n - 1].version, v->policy->version) != 0)) {
        memset(&row, 0, sizeof row);
        row.actor = "system";
        row.action = "policy.in_force";
        row.decision = "permit";
        row.reason = v->policy->version;
        rc = pv_audit_commit(v->audit, &row, 1, apply_in_force, v->policy);
        vs->n = 0;
        if (rc == 0)
            rc = pv_store_policy_history_list(c, era_cb, vs);
    }
    for (int i = 0; rc == 0 && i < vs->n; i++) {
        struct era *e = &vs->eras[i];
        if (strcmp(e->version, v->policy->version) == 0) {
            e->policy = v->policy;
        } else {
            pv_buf_init(&text, (size_t)1024 * 1024);
            if (pv_store_policy_text_get(c, e->version, &text) == 0 &&
                pv_policy_parse(e->version, text.data ? text.data : "", text.len, &e->own, NULL) ==
                    0)
                e->policy = e->own;
            else
                pv_log(PV_LOG_WARN, "policy.version_unreadable", "version", e->version,
                       (char *)NULL);
            pv_buf_fini(&text);
        }
        /* An unreadable version cannot be enforced: people it would govern are refused. */
        if (i > 0 && (e->policy == NULL || e->policy->change.material))
            vs->any_material = 1;
    }
    if (rc != 0) {
        pv_versions_close(vs);
        return rc;
    }
    v->versions = vs;
    return 0;
}

void
pv_versions_close(struct pv_versions *vs)
{
    if (vs == NULL)
        return;
    for (int i = 0; i < vs->n; i++)
        pv_policy_free(vs->eras[i].own);
    free(vs);
}

/* ---- a person's standing --------------------------------------------------------- */

struct seen {
    char version[40];
    int accepted, objected;     /* the latest acceptance entry naming it: grant or withdrawal */
    int64_t decided_at;         /* when */
    char source[PV_SOURCE_MAX]; /* how */
    int notified;
    int64_t notified_at; /* the first notice */
    char channel[16];
};

struct standing {
    struct seen seen[MAX_SEEN];
    int nseen;
    int base, gov;     /* era indices: enrolled under, governed by */
    const char *basis; /* enrollment, accepted, notified, not-material */
};

static struct seen *
seen_of(struct standing *st, const char *version)
{
    for (int i = 0; i < st->nseen; i++)
        if (strcmp(st->seen[i].version, version) == 0)
            return &st->seen[i];
    if (st->nseen == MAX_SEEN)
        return NULL;
    memset(&st->seen[st->nseen], 0, sizeof st->seen[0]);
    pv_strlcpy(st->seen[st->nseen].version, version, sizeof st->seen[0].version);
    return &st->seen[st->nseen++];
}

static int
acceptance_cb(const struct pv_consent_row *r, void *arg)
{
    struct seen *s = seen_of(arg, r->policy_version);

    if (s) {
        s->accepted = r->granted;
        s->objected = !r->granted;
        s->decided_at = r->ts;
        memcpy(s->source, r->source, sizeof s->source);
    }
    return 0;
}

static int
notice_cb(const char *version, int64_t ts, const char *channel, void *arg)
{
    struct seen *s = seen_of(arg, version);

    if (s && !s->notified) {
        s->notified = 1;
        s->notified_at = ts;
        pv_strlcpy(s->channel, channel, sizeof s->channel);
    }
    return 0;
}

static int64_t
deadline(const struct era *e, const struct seen *s)
{
    int days = e->policy ? e->policy->change.notice_days : 0;

    return s->notified_at + (int64_t)days * 86400 * 1000;
}

/* Which era governs subject s now, and why. */
static int
standing_of(struct pv_vault *v, struct pv_conn *c, const struct pv_subject *s, struct standing *st)
{
    const struct pv_versions *vs = v->versions;
    const char *kind = v->policy->consents[v->policy->policy_kind];
    int64_t now = pv_now_ms();
    int rc;

    memset(st, 0, sizeof *st);
    st->basis = "enrollment";
    for (int i = 0; i < vs->n; i++)
        if (strcmp(vs->eras[i].version, s->policy_version) == 0 &&
            vs->eras[i].in_force_at <= s->accepted_at)
            st->base = i;
    if ((rc = pv_store_consent_list(c, s->id, kind, acceptance_cb, st)) != 0 ||
        (rc = pv_store_policy_notice_list(c, s->id, notice_cb, st)) != 0)
        return rc;
    st->gov = st->base;
    for (int j = st->base + 1; j < vs->n; j++) {
        const struct era *e = &vs->eras[j];
        struct seen *x = NULL;
        for (int i = 0; i < st->nseen; i++)
            if (strcmp(st->seen[i].version, e->version) == 0)
                x = &st->seen[i];
        if (x && x->accepted) {
            st->gov = j;
            st->basis = "accepted";
        } else if (x && x->notified && !x->objected && now >= deadline(e, x)) {
            st->gov = j;
            st->basis = "notified";
        } else if (e->policy && !e->policy->change.material && st->gov == j - 1) {
            st->gov = j;
            st->basis = "not-material";
        }
    }
    return 0;
}

/* Fields of collection ci of from, by name, as a mask of collection ti of to; *lost if any is not.
 */
static uint64_t
map_fields(const struct pv_policy *from, int ci, const struct pv_policy *to, int ti, uint64_t mask,
           int *lost)
{
    const struct pv_collection *a = &from->collections[ci], *b = &to->collections[ti];
    uint64_t m = 0;

    for (int i = 0; i < a->nfields; i++) {
        int k;
        if (!((mask >> i) & 1))
            continue;
        if ((k = pv_policy_field(b, a->fields[i].name)) >= 0)
            m |= UINT64_C(1) << k;
        else if (lost)
            *lost = 1;
    }
    return m;
}

static uint64_t
map_consents(const struct pv_policy *from, const struct pv_policy *to, uint64_t mask)
{
    uint64_t m = 0;

    for (int i = 0; i < from->nconsents; i++) {
        int k = pv_policy_consent(to, from->consents[i]);
        if (((mask >> i) & 1) && k >= 0)
            m |= UINT64_C(1) << k;
    }
    return m;
}

static void
pending(struct pv_decision *d)
{
    d->permit = 0;
    d->err = PV_EDENIED;
    d->reason = "pending-policy-change";
    d->fields = 0;
}

int
pv_versions_check(struct pv_vault *v, const struct pv_call *call, const struct pv_access *a,
                  const struct pv_facts *f, struct pv_decision *d)
{
    const struct pv_versions *vs = v->versions;
    const struct pv_policy *cur = v->policy, *old;
    struct pv_decision d0;
    struct standing *st;
    struct pv_subject s;
    struct pv_facts g;
    struct pv_conn *c;
    int rc, lost = 0;

    /* Acceptance and objection themselves are never held back by the version they concern. */
    if (vs == NULL || !vs->any_material || a->action == PV_ACT_ENROLL ||
        a->action == PV_ACT_CONSENT || !a->subject_exists)
        return 0;
    if ((rc = pv_store_reader(v->store, &c)) != 0 ||
        (rc = pv_store_subject_get(c, a->subject, &s)) != 0)
        return rc;
    if ((st = malloc(sizeof *st)) == NULL)
        return PV_ENOMEM;
    rc = standing_of(v, c, &s, st);
    old = rc == 0 && strcmp(vs->eras[st->gov].version, cur->version) != 0 ? vs->eras[st->gov].policy
                                                                          : cur;
    free(st);
    if (rc != 0 || old == cur)
        return rc;
    if (old == NULL || call->actor == NULL) {
        pending(d);
        return 0;
    }
    /* The same request, in the words of the earlier version. */
    g = *f;
    g.role = pv_policy_role(old, cur->roles[f->role].name);
    g.collection = -1;
    if (f->collection >= 0) {
        g.collection = pv_policy_collection(old, cur->collections[f->collection].name);
        if (g.collection >= 0)
            g.fields = map_fields(cur, f->collection, old, g.collection, f->fields, &lost);
        /* The values a deletion would take before their time, named in the earlier words. */
        if (g.collection >= 0)
            g.unexpired = map_fields(cur, f->collection, old, g.collection, f->unexpired, NULL);
    }
    if (g.role < 0 || (f->collection >= 0 && g.collection < 0)) {
        pending(d);
        return 0;
    }
    if (lost)
        g.undeclared = "a field the earlier version does not declare";
    g.recipient = f->recipient >= 0 ? -1 : f->recipient;
    for (int i = 0; f->recipient >= 0 && i < old->nrecipients; i++)
        if (strcmp(old->recipients[i].key, cur->recipients[f->recipient].key) == 0)
            g.recipient = i;
    g.consents_disclosed = map_consents(cur, old, f->consents_disclosed);
    if ((rc = pv_consent_facts(v, old, a->subject, &g.consents)) != 0)
        return rc;
    pv_policy_decide(old, &g, &d0);
    if (!d0.permit)
        pending(d);
    else if (f->collection >= 0)
        d->fields &= map_fields(old, g.collection, cur, f->collection, d0.fields, NULL);
    return 0;
}

/* ---- status and notices ---------------------------------------------------------- */

static json_t *
era_json(const struct era *e, const char *basis)
{
    const struct pv_policy *p = e->policy;
    json_t *j = json_pack("{s:s, s:o, s:o}", "version", e->version, "in_force_since",
                          pv_json_time(e->in_force_at), "effective",
                          p ? json_string(p->effective) : json_null());

    if (j && p) {
        json_object_set_new(j, "material", json_boolean(p->change.material));
        if (p->change.summary)
            json_object_set_new(j, "summary", json_string(p->change.summary));
    }
    if (j && basis)
        json_object_set_new(j, "basis", json_string(basis));
    return j;
}

static const struct era *
era_of(const struct pv_versions *vs, const char *version)
{
    for (int i = vs->n - 1; i >= 0; i--)
        if (strcmp(vs->eras[i].version, version) == 0)
            return &vs->eras[i];
    return NULL;
}

static json_t *
status_json(struct pv_vault *v, const struct pv_subject *s, const struct standing *st)
{
    const struct pv_versions *vs = v->versions;
    const struct era *cur = &vs->eras[vs->n - 1];
    json_t *accepted = json_array(), *objected = json_array(), *notified = json_array(), *j;

    for (int i = 0; i < st->nseen; i++) {
        const struct seen *x = &st->seen[i];
        const struct era *e = era_of(vs, x->version);
        if (x->accepted)
            json_array_append_new(accepted,
                                  json_pack("{s:s, s:o, s:s}", "version", x->version, "time",
                                            pv_json_time(x->decided_at), "source", x->source));
        if (x->objected)
            json_array_append_new(objected, json_pack("{s:s, s:o}", "version", x->version, "time",
                                                      pv_json_time(x->decided_at)));
        if (x->notified)
            json_array_append_new(
                notified,
                json_pack("{s:s, s:o, s:s, s:o, s:b}", "version", x->version, "time",
                          pv_json_time(x->notified_at), "channel", x->channel, "objection_deadline",
                          e ? pv_json_time(deadline(e, x)) : json_null(), "objected", x->objected));
    }
    j = json_pack("{s:s, s:o, s:o, s:s, s:o, s:o, s:o}", "subject_id", s->id, "current",
                  era_json(cur, NULL), "governing", era_json(&vs->eras[st->gov], st->basis),
                  "enrolled_under", s->policy_version, "accepted", accepted, "objected", objected,
                  "notified", notified);
    if (j && st->gov != vs->n - 1 && strcmp(vs->eras[st->gov].version, cur->version) != 0) {
        /* What waits: the version in force, until accepted or notified without objection. */
        json_t *p = era_json(cur, NULL);
        for (int i = 0; p && i < st->nseen; i++)
            if (strcmp(st->seen[i].version, cur->version) == 0 && st->seen[i].notified)
                json_object_set_new(p, "objection_deadline",
                                    pv_json_time(deadline(cur, &st->seen[i])));
        json_object_set_new(j, "pending", p ? p : json_null());
    } else if (j) {
        json_object_set_new(j, "pending", json_null());
    }
    return j;
}

int
pv_vault_policy_status(struct pv_vault *v, struct pv_call *call, const char *subject, json_t **out)
{
    struct standing *st;
    struct pv_subject s;
    struct pv_access a;
    struct pv_conn *c;
    int rc, exists;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&s, 0, sizeof s);
    exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_READ;
    a.audit_action = "policy.status";
    a.subject = subject;
    a.collection = -1;
    a.subject_exists = exists;
    if ((rc = pv_access(v, call, &a, NULL, NULL, NULL)) != 0)
        return rc;
    if ((st = malloc(sizeof *st)) == NULL)
        return PV_ENOMEM;
    rc = standing_of(v, c, &s, st);
    if (rc == 0 && (*out = status_json(v, &s, st)) == NULL)
        rc = PV_ENOMEM;
    free(st);
    return rc;
}

struct notice {
    const char *subject, *version, *channel, *actor;
    int64_t now;
};

static int
apply_notice(struct pv_conn *w, void *arg)
{
    struct notice *n = arg;

    return pv_store_policy_notice_put(w, n->subject, n->version, n->channel, n->actor, n->now);
}

int
pv_vault_policy_notice(struct pv_vault *v, struct pv_call *call, const char *subject,
                       const json_t *body, json_t **out)
{
    static const char *const channels[] = {"email", "sms", "phone", "mail", "portal"};
    const char *channel = json_string_value(json_object_get(body, "channel"));
    const struct era *cur = &v->versions->eras[v->versions->n - 1];
    struct notice n = {subject, v->policy->version, NULL, NULL, pv_now_ms()};
    struct pv_subject s;
    struct pv_access a;
    struct pv_conn *c;
    struct seen x;
    size_t i;
    int rc;

    for (i = 0; channel && i < PV_ARRAY_LEN(channels); i++)
        if (strcmp(channel, channels[i]) == 0)
            break;
    if (channel == NULL || i == PV_ARRAY_LEN(channels) || json_object_size(body) != 1) {
        call->detail = "a notice names the channel it went by: email, sms, phone, mail or portal";
        pv_strlcpy(call->field, "channel", sizeof call->field);
        return PV_EINVAL;
    }
    /* A notice that could not have reached the person starts no objection period: it goes by
     * a channel the policy offers, or on the service itself. */
    if (strcmp(channel, "portal") != 0 &&
        !(v->policy->channels & (1u << pv_channel_parse(channel)))) {
        call->detail =
            "the policy offers no such channel: a notice goes by one it offers, or portal";
        pv_strlcpy(call->field, "channel", sizeof call->field);
        return PV_EINVAL;
    }
    n.channel = channels[i];
    n.actor = call->actor ? call->actor->user_id : "anonymous";
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_CONSENT;
    a.audit_action = "policy.notify";
    a.subject = subject;
    a.collection = -1;
    a.audit_collection = v->policy->version;
    a.subject_exists = pv_id_valid(subject, "sub") && pv_store_subject_get(c, subject, &s) == 0;
    if ((rc = pv_access(v, call, &a, apply_notice, &n, NULL)) != 0)
        return rc;
    memset(&x, 0, sizeof x);
    x.notified_at = n.now;
    *out = json_pack("{s:s, s:s, s:o, s:s, s:o}", "subject_id", subject, "version", n.version,
                     "time", pv_json_time(n.now), "channel", n.channel, "objection_deadline",
                     pv_json_time(deadline(cur, &x)));
    return *out ? 0 : PV_ENOMEM;
}
