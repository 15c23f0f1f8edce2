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

int
pv_access(struct pv_vault *v, struct pv_call *call, const struct pv_access *a, pv_apply_fn apply,
          void *arg, struct pv_decision *dout)
{
    const struct pv_policy *p = v->policy;
    const struct pv_actor *act = call->actor;
    struct pv_audit_row row;
    struct pv_decision d;
    struct pv_facts f;
    struct pv_conn *c;
    struct pv_buf cats;
    int rc;

    memset(&f, 0, sizeof f);
    f.role = act ? act->role : -1;
    f.purpose = call->purpose;
    f.action = a->action;
    f.collection = a->collection;
    f.fields = a->fields;
    f.undeclared = a->undeclared;
    f.policy_version = a->policy_version;
    f.age = a->age;
    if (act) {
        f.has_subject = act->subject_id[0] != '\0';
        if (a->subject) {
            f.self = f.has_subject && strcmp(act->subject_id, a->subject) == 0;
            if (p->roles[act->role].scope == PV_SCOPE_ASSIGNED) {
                if ((rc = pv_store_reader(v->store, &c)) != 0)
                    return rc;
                rc = pv_store_assign_get(c, a->subject, act->user_id);
                if (rc != 0 && rc != PV_ENOTFOUND)
                    return rc;
                f.assigned = rc == 0;
            }
        }
    }
    if (a->action == PV_ACT_DELETE && a->subject && a->subject_exists) {
        /* A legal hold blocks deletion: the decision refuses it, and the refusal is audited. */
        if ((rc = pv_store_reader(v->store, &c)) != 0)
            return rc;
        rc = pv_store_hold_active(c, a->subject, pv_now_ms());
        if (rc != 0 && rc != PV_ENOTFOUND)
            return rc;
        f.held = rc == 0;
    }
    pv_policy_decide(p, &f, &d);
    if (d.permit && a->subject && !a->subject_exists) {
        d.permit = 0;
        d.err = PV_ENOTFOUND;
        d.reason = "no-such-subject";
        d.fields = 0;
    }

    pv_buf_init(&cats, 4096);
    /* Collected usage data names what is stored, not what the consent gate dropped. */
    rc = pv_vault_categories(v, a->collection,
                             !d.permit                     ? a->fields
                             : a->action == PV_ACT_COLLECT ? d.fields
                                                           : (a->fields | d.fields),
                             &cats);
    memset(&row, 0, sizeof row);
    row.actor = act ? act->user_id : "anonymous";
    row.role = act ? p->roles[act->role].name : "";
    row.credential = act ? act->session_id : "";
    row.action = a->audit_action;
    /* A refused enrollment created no subject: its would-be id names nothing. */
    row.subject = a->action == PV_ACT_ENROLL && !d.permit ? "" : safe_id(a->subject, "sub");
    row.collection = a->collection >= 0 ? p->collections[a->collection].name : "";
    row.record = a->record && (pv_id_valid(a->record, "usr") || pv_id_valid(a->record, "hld"))
                     ? a->record
                     : safe_id(a->record, "rec");
    row.categories = cats.data ? cats.data : "";
    /* A purpose the policy does not know is client text: it is not logged. */
    row.purpose = d.purpose >= 0 ? p->purposes[d.purpose].key : call->purpose ? "?" : "";
    row.decision = d.permit ? "permit" : "deny";
    row.reason = d.reason;
    if (a->decided)
        *a->decided = d;
    if (rc == 0)
        rc = pv_audit_commit(v->audit, &row, 1, d.permit ? apply : NULL, arg);
    pv_buf_fini(&cats);
    if (rc == PV_EAUDIT || rc == PV_EUNAVAIL || rc == PV_ENOMEM)
        return PV_EAUDIT;
    if (!d.permit) {
        call->reason = d.reason;
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
pv_vault_audit_query(struct pv_vault *v, struct pv_call *call, const struct pv_audit_filter *f,
                     json_t **out)
{
    const struct pv_policy *p = v->policy;
    const struct pv_actor *act = call->actor;
    struct pv_audit_row row;
    struct pv_conn *c;
    json_t *list;
    int permit = act && (p->roles[act->role].powers & PV_POWER_AUDIT), rc;

    memset(&row, 0, sizeof row);
    row.actor = act->user_id;
    row.role = p->roles[act->role].name;
    row.credential = act->session_id;
    row.action = "audit.read";
    row.subject = safe_id(f->subject, "sub");
    row.decision = permit ? "permit" : "deny";
    row.reason = permit ? "permit" : "role-cannot-read-audit";
    if ((rc = pv_audit_commit(v->audit, &row, 1, NULL, NULL)) != 0)
        return PV_EAUDIT;
    if (!permit) {
        call->reason = row.reason;
        return PV_EDENIED;
    }
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
