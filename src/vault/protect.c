/*
 * protect.c: what a person or the privacy officer changes about who may
 * reach a subject: profile visibility, restriction of processing, and
 * break-glass access with its review.
 *
 * Each change is an access like any other (pv_access: decide, audit, then
 * apply in the same transaction). A break-glass grant keeps the provider's
 * written reason sealed under the subject's key; the privacy officer reads
 * it in the review, with every access made under the grant, and closes the
 * review with a finding.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define REASON_MIN 10
#define REASON_MAX 1000
#define NOTE_MAX 2000
#define REVIEWS_MAX 200

static const char *const findings[] = {"justified", "unjustified"};

static int
subject_exists(struct pv_conn *c, const char *id, struct pv_subject *s)
{
    return pv_id_valid(id, "sub") && pv_store_subject_get(c, id, s) == 0 &&
           strcmp(s->status, "erased") != 0;
}

/* ---- visibility and restriction ------------------------------------------------------- */

struct flag {
    const char *subject;
    int on;
};

static int
apply_visibility(struct pv_conn *w, void *arg)
{
    struct flag *f = arg;

    return pv_store_visibility_set(w, f->subject, f->on, pv_now_ms());
}

int
pv_vault_visibility_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                        const json_t *body, json_t **out)
{
    const json_t *vis = json_object_get(body, "visible");
    struct flag f = {subject, json_is_true(vis)};
    struct pv_subject s;
    struct pv_access a;
    struct pv_conn *c;
    int rc;

    if (!json_is_boolean(vis)) {
        call->detail = "visible must be true or false";
        pv_strlcpy(call->field, "visible", sizeof call->field);
        return PV_EINVAL;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = PV_ACT_VISIBILITY;
    a.audit_action = f.on ? "subject.visibility.on" : "subject.visibility.off";
    a.subject = subject;
    a.collection = -1;
    a.subject_exists = subject_exists(c, subject, &s);
    if ((rc = pv_access(v, call, &a, apply_visibility, &f, NULL)) != 0)
        return rc;
    *out = json_pack("{s:s, s:b}", "subject_id", subject, "profile_visible", f.on);
    return *out ? 0 : PV_ENOMEM;
}

static int
apply_status(struct pv_conn *w, void *arg)
{
    struct flag *f = arg;

    return pv_store_subject_set_status(w, f->subject, f->on ? "restricted" : "active", pv_now_ms());
}

int
pv_vault_restriction_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                         int restrict_it, json_t **out)
{
    struct flag f = {subject, restrict_it};
    struct pv_subject s;
    struct pv_access a;
    struct pv_conn *c;
    int rc;

    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    memset(&a, 0, sizeof a);
    a.action = restrict_it ? PV_ACT_RESTRICT : PV_ACT_UNRESTRICT;
    a.audit_action = restrict_it ? "subject.restrict" : "subject.unrestrict";
    a.subject = subject;
    a.collection = -1;
    a.subject_exists = subject_exists(c, subject, &s);
    rc = pv_access(v, call, &a, apply_status, &f, NULL);
    if (rc == PV_ENOTFOUND && call->reason == NULL) {
        /* The subject is neither active nor restricted (closed, say): nothing to change. */
        call->detail = "only an active or restricted subject can be restricted or released";
        return PV_ECONFLICT;
    }
    if (rc != 0)
        return rc;
    *out = json_pack("{s:s, s:s}", "subject_id", subject, "status",
                     restrict_it ? "restricted" : "active");
    return *out ? 0 : PV_ENOMEM;
}

/* ---- break-glass ------------------------------------------------------------------------- */

static int
apply_grant(struct pv_conn *w, void *arg)
{
    return pv_store_grant_put(w, arg);
}

/* Text of n to max characters that is not blank. */
static int
written(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0, visible = 0;

    for (size_t i = 0; i < n; i++)
        visible += s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r';
    return n <= max && visible >= min;
}

int
pv_vault_break_glass(struct pv_vault *v, struct pv_call *call, const char *subject,
                     const json_t *body, json_t **out)
{
    const char *reason = json_string_value(json_object_get(body, "reason"));
    const struct pv_actor *act = call->actor;
    struct pv_seal_ad ad;
    struct pv_subject s;
    struct pv_access a;
    struct pv_grant *g;
    struct pv_dkey dk;
    struct pv_conn *c;
    int rc, exists;

    if (!written(reason, REASON_MIN, REASON_MAX)) {
        call->detail = "reason must say, in 10 to 1000 characters, why the emergency needs "
                       "this record";
        pv_strlcpy(call->field, "reason", sizeof call->field);
        return PV_EINVAL;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((g = calloc(1, sizeof *g)) == NULL)
        return PV_ENOMEM;
    exists = subject_exists(c, subject, &s);
    pv_id_new("brk", g->id);
    pv_strlcpy(g->subject_id, subject, sizeof g->subject_id);
    pv_strlcpy(g->user_id, act->user_id, sizeof g->user_id);
    g->opened = pv_now_ms();
    g->expires = g->opened + v->policy->break_glass.duration_s * 1000;
    if (exists && (rc = pv_vault_subject_key(v, c, subject, &dk)) == 0) {
        ad.subject = subject;
        ad.record = g->id;
        ad.field = "reason";
        rc = pv_seal(&dk, &ad, reason, strlen(reason), g->reason, sizeof g->reason, &g->reason_len);
        pv_dkey_wipe(&dk);
    }
    if (rc == 0) {
        memset(&a, 0, sizeof a);
        a.action = PV_ACT_BREAK_GLASS;
        a.audit_action = "break-glass.open";
        a.subject = subject;
        a.collection = -1;
        a.record = g->id;
        a.subject_exists = exists;
        rc = pv_access(v, call, &a, apply_grant, g, NULL);
    }
    if (rc == 0) {
        *out = json_pack("{s:s, s:s, s:o, s:o}", "id", g->id, "subject_id", subject, "opened_at",
                         pv_json_time(g->opened), "expires_at", pv_json_time(g->expires));
        rc = *out ? 0 : PV_ENOMEM;
    }
    pv_wipe(g, sizeof *g);
    free(g);
    return rc;
}

/* ---- reviews ------------------------------------------------------------------------------ */

/* Unseal a grant's text field (reason or note) as a JSON string; null if unreadable. */
static json_t *
grant_text(struct pv_vault *v, struct pv_conn *c, const struct pv_grant *g, const char *field,
           const unsigned char *sealed, size_t len)
{
    struct pv_seal_ad ad = {g->subject_id, g->id, field};
    unsigned char *pt;
    struct pv_dkey dk;
    json_t *j = NULL;
    size_t n;

    if (len == 0 || (pt = malloc(len)) == NULL)
        return json_null();
    /* An erased subject's key is gone: their text with it. */
    if (pv_vault_subject_key(v, c, g->subject_id, &dk) == 0) {
        if (pv_unseal(&dk, &ad, sealed, len, pt, len, &n) == 0)
            j = json_stringn((const char *)pt, n);
        pv_dkey_wipe(&dk);
    }
    pv_wipe(pt, len);
    free(pt);
    return j ? j : json_null();
}

/* The accesses made under a grant: the audit entries flagged break-glass. */
static int
access_json(const struct pv_audit_row *r, void *arg)
{
    json_t *e;

    if (strcmp(r->reason, "break-glass") != 0)
        return 0;
    e = json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t)r->seq, "time",
                  pv_json_time(r->ts_ms), "action", r->action, "collection", r->collection,
                  "record", r->record, "purpose", r->purpose, "decision", r->decision);
    return e && json_array_append_new(arg, e) == 0 ? 0 : PV_ENOMEM;
}

static json_t *
review_json(struct pv_vault *v, struct pv_conn *c, const struct pv_grant *g, int *rc)
{
    struct pv_audit_filter f;
    json_t *accesses = json_array();

    memset(&f, 0, sizeof f);
    f.subject = g->subject_id;
    f.actor = g->user_id;
    f.from_ms = g->opened;
    f.to_ms = g->expires;
    f.limit = 1000;
    *rc = accesses ? pv_store_audit_query(c, &f, access_json, accesses) : PV_ENOMEM;
    if (*rc != 0) {
        json_decref(accesses);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s?, s:o, s:s?, s:o, s:o}", "id", g->id,
                     "subject_id", g->subject_id, "actor", g->user_id, "opened_at",
                     pv_json_time(g->opened), "expires_at", pv_json_time(g->expires), "reason",
                     grant_text(v, c, g, "reason", g->reason, g->reason_len), "state", g->state,
                     "finding", g->finding[0] ? g->finding : NULL, "note",
                     grant_text(v, c, g, "note", g->note, g->note_len), "closed_by",
                     g->closed_by[0] ? g->closed_by : NULL, "closed_at",
                     g->closed_at ? pv_json_time(g->closed_at) : json_null(), "accesses", accesses);
}

/* Audit a review action of the caller; the review's subject when there is one. */
static int
audit_review(struct pv_vault *v, const struct pv_actor *act, const char *action,
             const struct pv_grant *g, int permit, const char *reason, pv_apply_fn apply, void *arg)
{
    struct pv_audit_row row;

    memset(&row, 0, sizeof row);
    row.actor = act->user_id;
    row.role = v->policy->roles[act->role].name;
    row.credential = act->session_id;
    row.action = action;
    row.subject = g ? g->subject_id : "";
    row.record = g ? g->id : "";
    row.decision = permit ? "permit" : "deny";
    row.reason = reason;
    return pv_audit_commit(v->audit, &row, 1, permit ? apply : NULL, arg);
}

static int
reviews_permit(struct pv_vault *v, const struct pv_actor *act)
{
    return (v->policy->roles[act->role].powers & PV_POWER_REVIEW) != 0;
}

struct review_list {
    struct pv_vault *v;
    struct pv_conn *c;
    const struct pv_actor *act;
    json_t *list;
    struct pv_audit_row *rows; /* one "review.read" entry per review shown */
    char (*ids)[2][PV_ID_MAX];
    int n;
};

static int
list_cb(const struct pv_grant *g, void *arg)
{
    struct review_list *l = arg;
    int rc;
    json_t *j = review_json(l->v, l->c, g, &rc);

    if (j == NULL)
        return rc ? rc : PV_ENOMEM;
    if (json_array_append_new(l->list, j) != 0)
        return PV_ENOMEM;
    memcpy(l->ids[l->n][0], g->subject_id, PV_ID_MAX);
    memcpy(l->ids[l->n][1], g->id, PV_ID_MAX);
    l->rows[l->n].actor = l->act->user_id;
    l->rows[l->n].role = l->v->policy->roles[l->act->role].name;
    l->rows[l->n].credential = l->act->session_id;
    l->rows[l->n].action = "review.read";
    l->rows[l->n].subject = l->ids[l->n][0];
    l->rows[l->n].record = l->ids[l->n][1];
    l->rows[l->n].decision = "permit";
    l->rows[l->n].reason = "permit";
    l->n++;
    return 0;
}

int
pv_vault_review_list(struct pv_vault *v, struct pv_call *call, const char *state, json_t **out)
{
    const struct pv_actor *act = call->actor;
    int permit = reviews_permit(v, act), rc;
    struct review_list l;

    if (state == NULL)
        state = "open";
    if (strcmp(state, "open") != 0 && strcmp(state, "closed") != 0 && strcmp(state, "all") != 0) {
        call->detail = "state must be open, closed or all";
        pv_strlcpy(call->field, "state", sizeof call->field);
        return PV_EINVAL;
    }
    if (audit_review(v, act, "review.list", NULL, permit, permit ? "permit" : "role-cannot-review",
                     NULL, NULL) != 0)
        return PV_EAUDIT;
    if (!permit) {
        call->reason = "role-cannot-review";
        return PV_EDENIED;
    }
    memset(&l, 0, sizeof l);
    l.v = v;
    l.act = act;
    l.list = json_array();
    l.rows = calloc(REVIEWS_MAX, sizeof *l.rows);
    l.ids = calloc(REVIEWS_MAX, sizeof *l.ids);
    rc = l.list && l.rows && l.ids ? pv_store_reader(v->store, &l.c) : PV_ENOMEM;
    if (rc == 0)
        rc = pv_store_grant_list(l.c, strcmp(state, "all") == 0 ? NULL : state, REVIEWS_MAX,
                                 list_cb, &l);
    /* Each review shown discloses its subject's reason text: an entry each, before it leaves. */
    if (rc == 0 && l.n > 0 && pv_audit_commit(v->audit, l.rows, l.n, NULL, NULL) != 0)
        rc = PV_EAUDIT;
    free(l.rows);
    free(l.ids);
    if (rc != 0) {
        json_decref(l.list);
        return rc;
    }
    *out = json_pack("{s:o}", "reviews", l.list);
    return *out ? 0 : PV_ENOMEM;
}

struct close {
    struct pv_grant g;
    const char *finding, *closed_by;
};

static int
apply_close(struct pv_conn *w, void *arg)
{
    struct close *x = arg;

    return pv_store_grant_close(w, x->g.id, x->finding, x->g.note, x->g.note_len, x->closed_by,
                                pv_now_ms());
}

int
pv_vault_review_close(struct pv_vault *v, struct pv_call *call, const char *id, const json_t *body,
                      json_t **out)
{
    const struct pv_actor *act = call->actor;
    const char *finding = json_string_value(json_object_get(body, "finding"));
    const json_t *nj = json_object_get(body, "note");
    const char *note = json_string_value(nj);
    int permit = reviews_permit(v, act), rc = 0, known, open_now;
    const char *why;
    struct pv_seal_ad ad;
    struct pv_dkey dk;
    struct pv_conn *c;
    struct close *x;
    size_t i;

    for (i = 0; finding && i < PV_ARRAY_LEN(findings); i++)
        if (strcmp(finding, findings[i]) == 0)
            break;
    if (permit && (finding == NULL || i == PV_ARRAY_LEN(findings))) {
        call->detail = "finding must be justified or unjustified";
        pv_strlcpy(call->field, "finding", sizeof call->field);
        return PV_EINVAL;
    }
    if (permit && nj && !json_is_null(nj) && (note == NULL || strlen(note) > NOTE_MAX)) {
        call->detail = "note must be text of at most 2000 characters";
        pv_strlcpy(call->field, "note", sizeof call->field);
        return PV_EINVAL;
    }
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if ((x = calloc(1, sizeof *x)) == NULL)
        return PV_ENOMEM;
    x->finding = finding;
    x->closed_by = act->user_id;
    known = pv_id_valid(id, "brk") && pv_store_grant_get(c, id, &x->g) == 0;
    open_now = known && strcmp(x->g.state, "open") == 0;
    if (permit && open_now && note && *note &&
        (rc = pv_vault_subject_key(v, c, x->g.subject_id, &dk)) == 0) {
        ad.subject = x->g.subject_id;
        ad.record = x->g.id;
        ad.field = "note";
        rc = pv_seal(&dk, &ad, note, strlen(note), x->g.note, sizeof x->g.note, &x->g.note_len);
        pv_dkey_wipe(&dk);
    }
    why = !permit     ? "role-cannot-review"
          : !known    ? "no-such-review"
          : !open_now ? "review-closed"
                      : "permit";
    if (rc == 0)
        rc = audit_review(v, act, "review.close", known ? &x->g : NULL, permit && open_now, why,
                          apply_close, x);
    if (rc == PV_EAUDIT || rc == PV_EUNAVAIL) {
        rc = PV_EAUDIT;
    } else if (rc == 0 && !permit) {
        call->reason = why;
        rc = PV_EDENIED;
    } else if (rc == 0 && !known) {
        call->detail = "no such review";
        rc = PV_ENOTFOUND;
    } else if ((rc == 0 && !open_now) || rc == PV_ENOTFOUND) {
        /* Closed before, or by someone else a moment ago. */
        call->detail = "this review is closed already";
        rc = PV_ECONFLICT;
    } else if (rc == 0 && (rc = pv_store_grant_get(c, id, &x->g)) == 0) {
        *out = review_json(v, c, &x->g, &rc);
    }
    pv_wipe(x, sizeof *x);
    free(x);
    return rc;
}
