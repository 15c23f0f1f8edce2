/*
 * access.c: the one rule (decide, audit, then act) and the audit services.
 */
#include <string.h>

#include "vault/vault_int.h"

int
pv_vault_categories(const struct pv_vault *v, int c, uint64_t mask, struct pv_buf *out)
{
    const struct pv_policy *p = v->policy;
    const struct pv_collection *col;
    int rc = 0, seen[PV_MAX_FIELDS], nseen = 0;

    if (c < 0 || c >= p->ncollections)
        return 0;
    col = &p->collections[c];
    for (int i = 0; rc == 0 && i < col->nfields; i++) {
        int cat = col->fields[i].category, dupe = 0;
        if (!(mask & (UINT64_C(1) << i)))
            continue;
        for (int j = 0; j < nseen; j++)
            dupe |= seen[j] == cat;
        if (dupe)
            continue;
        seen[nseen++] = cat;
        if (out->len)
            rc = pv_buf_puts(out, ",");
        if (rc == 0)
            rc = pv_buf_puts(out, p->categories[cat].key);
    }
    return rc;
}

/* An id from a request goes into the audit log only if it has the shape of one. */
static const char *
safe_id(const char *s, const char *prefix)
{
    return s && pv_id_valid(s, prefix) ? s : "";
}

/* The role a service key acts in for a purpose: the first of its roles the purpose allows. */
static int
actor_role(const struct pv_policy *p, const struct pv_actor *act, int purpose)
{
    if (!act->key || purpose < 0)
        return act->role;
    for (int i = 0; i < p->nroles; i++)
        if ((act->key_roles & (1u << i)) && (p->purposes[purpose].roles & (1u << i)))
            return i;
    return act->role;
}

/*
 * Gather the facts of an access: the one place that reads what a decision
 * depends on. Facts that can matter only to some actors (a guardianship, a
 * break-glass grant, a visible profile, the subject's age) are read only
 * for them. *exists tells whether the subject exists and is not erased.
 */
static int
gather(struct pv_vault *v, struct pv_call *call, const struct pv_access *a, struct pv_facts *f,
       int *exists)
{
    const struct pv_policy *p = v->policy;
    const struct pv_actor *act = call->actor;
    int purpose = call->purpose ? pv_policy_purpose(p, call->purpose) : -1, rc, known;
    struct pv_guardian g;
    struct pv_subject s;
    struct pv_conn *c;
    enum pv_scope scope;
    int destroys;

    memset(f, 0, sizeof *f);
    f->role = act ? actor_role(p, act, purpose) : -1;
    f->purpose = call->purpose;
    f->action = a->action;
    f->collection = a->collection;
    f->fields = a->fields;
    f->removes = a->removes;
    f->undeclared = a->undeclared;
    f->policy_version = a->policy_version;
    f->age = a->age;
    f->enroll_guardian = a->enroll_guardian;
    f->guardian_age = a->guardian_age;
    f->parental_consent = a->parental_consent;
    f->birth_date_change = a->birth_date_change;
    *exists = a->subject_exists;
    if (act == NULL)
        return 0;
    f->key = act->key;
    f->key_purpose =
        act->key && purpose >= 0 && purpose < 64 && ((act->key_purposes >> purpose) & 1);
    f->has_subject = act->subject_id[0] != '\0';
    if (a->subject == NULL)
        return 0;
    f->self = f->has_subject && strcmp(act->subject_id, a->subject) == 0;
    /* The consent ledger is a fact of every decision about a subject. */
    if (a->action != PV_ACT_ENROLL && (rc = pv_consent_facts(v, p, a->subject, &f->consents)) != 0)
        return rc;
    if ((rc = pv_store_reader(v->store, &c)) != 0)
        return rc;
    if (*exists && a->action != PV_ACT_ENROLL) {
        rc = pv_store_subject_get(c, a->subject, &s);
        if (rc != 0 && rc != PV_ENOTFOUND)
            return rc;
        /* An erased subject is gone; a restricted one's data is only stored. */
        *exists = rc == 0 && strcmp(s.status, "erased") != 0;
        f->restricted = *exists && strcmp(s.status, "restricted") == 0;
    }
    /* A subject being enrolled has no grants, guardians or age on record yet. */
    known = *exists && a->action != PV_ACT_ENROLL;
    /* A legal hold blocks deletion, and removing a value is deleting it: the decision refuses
     * both, and the refusal is audited. */
    destroys = a->action == PV_ACT_DELETE || (a->action == PV_ACT_UPDATE && a->removes != 0);
    if (known && destroys) {
        rc = pv_store_hold_active(c, a->subject, pv_now_ms());
        if (rc != 0 && rc != PV_ENOTFOUND)
            return rc;
        f->held = rc == 0;
    }
    /* What the law keeps is not deleted before its time: the values of the record (or of every
     * record of the collection) whose retention has not ended, as the sweep reckons it. Read only
     * where the collection holds a category a deletion keeps. */
    if (known && destroys && a->collection >= 0 && a->collection < p->ncollections &&
        pv_kept_fields(p, &p->collections[a->collection]) != 0) {
        rc = pv_retention_unexpired(v, c, a->subject, a->collection, a->record, pv_now_ms(),
                                    &f->unexpired);
        if (rc != 0)
            return rc;
    }
    if (known && a->action == PV_ACT_ASSIGN && p->assign_after >= 0) {
        int64_t ms = 0;

        rc = pv_store_record_last_created(c, a->subject, p->collections[p->assign_after].name, &ms);
        if (rc != 0)
            return rc;
        f->first_record = ms > 0;
    }
    scope = p->roles[f->role].scope;
    if (scope == PV_SCOPE_ASSIGNED) {
        rc = pv_store_assign_get(c, a->subject, act->user_id);
        if (rc != 0 && rc != PV_ENOTFOUND)
            return rc;
        f->assigned = rc == 0;
        if (!f->assigned && known && purpose >= 0 && purpose == p->break_glass.purpose) {
            rc = pv_store_grant_active(c, a->subject, act->user_id, pv_now_ms());
            if (rc != 0 && rc != PV_ENOTFOUND)
                return rc;
            f->break_glass = rc == 0;
        }
        if (!f->assigned && known && a->action == PV_ACT_READ && a->collection == v->profile) {
            rc = pv_store_visibility_get(c, a->subject);
            if (rc != 0 && rc != PV_ENOTFOUND)
                return rc;
            f->profile_visible = rc == 0;
        }
    }
    if (scope == PV_SCOPE_SELF && !f->self && known && !act->key) {
        rc = pv_store_guardian_get(c, a->subject, act->user_id, &g);
        if (rc != 0 && rc != PV_ENOTFOUND)
            return rc;
        f->guardian = rc == 0;
    }
    /* The age: for the minors rules, and because a guardian's authority ends at adulthood. */
    if (known && (f->guardian || p->minors.features)) {
        if ((rc = pv_subject_age(v, c, &s, &f->subject_age)) != 0)
            return rc;
        f->subject_age_known = 1;
    }
    return 0;
}

static int
decide(struct pv_vault *v, struct pv_call *call, const struct pv_access *a, struct pv_facts *f,
       struct pv_decision *d)
{
    int rc, exists;

    if ((rc = gather(v, call, a, f, &exists)) != 0)
        return rc;
    if (a->more)
        pv_facts_merge(f, a->more);
    pv_policy_decide(v->policy, f, d);
    if (d->permit && a->subject && !exists) {
        d->permit = 0;
        d->err = PV_ENOTFOUND;
        d->reason = "no-such-subject";
        d->fields = 0;
        d->erase = 0;
    }
    /* A person still governed by an earlier version: the stricter outcome stands. */
    if (d->permit && a->subject && (rc = pv_versions_check(v, call, a, f, d)) != 0)
        return rc;
    return 0;
}

int
pv_access_preview(struct pv_vault *v, struct pv_call *call, const struct pv_access *a,
                  struct pv_decision *d)
{
    struct pv_facts f;

    return decide(v, call, a, &f, d);
}

/* Whether d refuses a delete because the record holds what the law keeps. */
static int
kept_refusal(const struct pv_policy *p, const struct pv_access *a, const struct pv_facts *f,
             const struct pv_decision *d)
{
    return !d->permit && f->unexpired != 0 && strcmp(d->reason, "retention-keeps") == 0 &&
           a->collection >= 0 && a->collection < p->ncollections;
}

int
pv_access(struct pv_vault *v, struct pv_call *call, const struct pv_access *a, pv_apply_fn apply,
          void *arg, struct pv_decision *dout)
{
    const struct pv_policy *p = v->policy;
    const struct pv_actor *act = call->actor;
    struct pv_audit_row rows[2];
    struct pv_decision d;
    struct pv_facts f;
    struct pv_buf cats;
    int rc, n = 1;

    if ((rc = decide(v, call, a, &f, &d)) != 0)
        return rc;
    pv_buf_init(&cats, 4096);
    /* Collected usage data names what is stored, not what the consent gate dropped; a delete
     * refused for what the law keeps names the categories kept. */
    rc = pv_vault_categories(v, a->collection,
                             kept_refusal(p, a, &f, &d)
                                 ? f.unexpired & pv_kept_fields(p, &p->collections[a->collection]) &
                                       (a->action == PV_ACT_UPDATE ? a->removes : ~0ULL)
                             : !d.permit                   ? a->fields
                             : a->action == PV_ACT_COLLECT ? d.fields
                                                           : (a->fields | d.fields),
                             &cats);
    memset(rows, 0, sizeof rows);
    rows[0].actor = act ? act->user_id : "anonymous";
    rows[0].role = act ? p->roles[f.role].name : "";
    rows[0].credential = act ? act->session_id : "";
    rows[0].action = a->audit_action;
    /* A refused enrollment created no subject: its would-be id names nothing. */
    rows[0].subject = a->action == PV_ACT_ENROLL && !d.permit ? ""
                      : a->subject                            ? safe_id(a->subject, "sub")
                                                              : safe_id(a->audit_subject, "sub");
    rows[0].collection = a->audit_collection  ? a->audit_collection
                         : a->collection >= 0 ? p->collections[a->collection].name
                                              : "";
    rows[0].record = a->record && (pv_id_valid(a->record, "usr") || pv_id_valid(a->record, "brk") ||
                                   pv_id_valid(a->record, "cns") || pv_id_valid(a->record, "hld") ||
                                   pv_id_valid(a->record, "req") || pv_id_valid(a->record, "dsc"))
                         ? a->record
                         : safe_id(a->record, "rec");
    rows[0].recipient = a->audit_recipient ? a->audit_recipient : "";
    rows[0].categories = cats.data ? cats.data : "";
    /* A purpose the policy does not know is client text: it is not logged. */
    rows[0].purpose = d.purpose >= 0 ? p->purposes[d.purpose].key : call->purpose ? "?" : "";
    rows[0].decision = d.permit ? "permit" : "deny";
    rows[0].reason = d.reason;
    if (d.permit && d.erase) {
        /* The erasure the decision orders is an entry of its own, in the same commit. */
        rows[1].actor = "system";
        rows[1].action = "subject.erase";
        rows[1].subject = rows[0].subject;
        rows[1].purpose = rows[0].purpose;
        rows[1].decision = "permit";
        rows[1].reason = d.reason;
        n = 2;
    }
    if (a->decided)
        *a->decided = d;
    if (rc == 0)
        rc = pv_audit_commit(v->audit, rows, n, d.permit ? apply : NULL, arg);
    pv_buf_fini(&cats);
    if (rc == PV_EAUDIT || rc == PV_EUNAVAIL || rc == PV_ENOMEM)
        return PV_EAUDIT;
    if (!d.permit) {
        call->reason = d.reason;
        if (strcmp(d.reason, "retention-keeps") == 0)
            call->detail = "a record the law keeps is kept until its retention ends (GET "
                           "/v1/policy gives each category's); a correction goes through an "
                           "amendment request (POST /v1/subjects/{id}/requests, type amend)";
        return d.err;
    }
    if (dout)
        *dout = d;
    return rc;
}

int
pv_access_reject(struct pv_vault *v, struct pv_call *call, const char *audit_action,
                 const char *subject, const char *reason, int err)
{
    const struct pv_actor *act = call->actor;
    struct pv_audit_row row;
    int purpose = call->purpose ? pv_policy_purpose(v->policy, call->purpose) : -1;

    memset(&row, 0, sizeof row);
    row.actor = act ? act->user_id : "anonymous";
    row.role = act ? v->policy->roles[act->role].name : "";
    row.credential = act ? act->session_id : "";
    row.action = audit_action;
    row.subject = safe_id(subject, "sub");
    row.purpose = purpose >= 0 ? v->policy->purposes[purpose].key : call->purpose ? "?" : "";
    row.decision = "deny";
    row.reason = reason;
    if (pv_audit_commit(v->audit, &row, 1, NULL, NULL) != 0)
        return PV_EAUDIT;
    call->reason = reason;
    return err;
}

int
pv_vault_deny_unauthenticated(struct pv_vault *v, const char *action, const char *subject)
{
    struct pv_audit_row row;
    int rc;

    memset(&row, 0, sizeof row);
    row.actor = "anonymous";
    row.action = action;
    row.subject = safe_id(subject, "sub");
    row.decision = "deny";
    row.reason = "unauthenticated";
    rc = pv_audit_commit(v->audit, &row, 1, NULL, NULL);
    return rc == 0 ? PV_EAUTH : PV_EAUDIT;
}

/* ---- audit search ------------------------------------------------------------ */

static int
row_json(const struct pv_audit_row *r, void *arg)
{
    json_t *list = arg, *e, *cats = json_array();
    char hex[2 * PV_HASH_BYTES + 1];
    const char *s = r->categories, *comma;

    while (cats && s && *s) {
        comma = strchr(s, ',');
        json_array_append_new(cats, json_stringn(s, comma ? (size_t)(comma - s) : strlen(s)));
        s = comma ? comma + 1 : NULL;
    }
    pv_hex(r->hash, PV_HASH_BYTES, hex);
    e = json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s}",
                  "seq", (json_int_t)r->seq, "time", pv_json_time(r->ts_ms), "actor", r->actor,
                  "role", r->role, "credential", r->credential, "action", r->action, "subject",
                  r->subject, "collection", r->collection, "record", r->record, "categories",
                  cats ? cats : json_array(), "purpose", r->purpose, "recipient", r->recipient,
                  "decision", r->decision, "reason", r->reason, "hash", hex);
    if (e == NULL || json_array_append_new(list, e) != 0)
        return PV_ENOMEM;
    return 0;
}

int
pv_access_audit_power(struct pv_vault *v, struct pv_call *call, const char *action,
                      const char *subject)
{
    const struct pv_policy *p = v->policy;
    const struct pv_actor *act = call->actor;
    struct pv_audit_row row;
    int permit;

    if (act == NULL)
        return PV_EAUTH; /* the routes need a session: never reached without one */
    permit = (p->roles[act->role].powers & PV_POWER_AUDIT) != 0;
    memset(&row, 0, sizeof row);
    row.actor = act->user_id;
    row.role = p->roles[act->role].name;
    row.credential = act->session_id;
    row.action = action;
    row.subject = subject;
    row.decision = permit ? "permit" : "deny";
    row.reason = permit ? "permit" : "role-cannot-read-audit";
    if (pv_audit_commit(v->audit, &row, 1, NULL, NULL) != 0)
        return PV_EAUDIT;
    if (!permit) {
        call->reason = row.reason;
        return PV_EDENIED;
    }
    return 0;
}

int
pv_vault_audit_query(struct pv_vault *v, struct pv_call *call, const struct pv_audit_filter *f,
                     json_t **out)
{
    struct pv_conn *c;
    json_t *list;
    int rc;

    if ((rc = pv_access_audit_power(v, call, "audit.read", safe_id(f->subject, "sub"))) != 0)
        return rc;
    if ((list = json_array()) == NULL)
        return PV_ENOMEM;
    rc = pv_store_reader(v->store, &c);
    if (rc == 0)
        rc = pv_store_audit_query(c, f, row_json, list);
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    *out = json_pack("{s:o}", "entries", list);
    return *out ? 0 : PV_ENOMEM;
}
