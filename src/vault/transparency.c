/*
 * transparency.c: whose data a credential or a period touched (breach
 * notification, HITECH), and the register of vendors and their business
 * associate agreements.
 *
 * Both answer from what the server already keeps (the audit log, the
 * policy's recipients, the disclosures table), never from personal values:
 * they name subject ids, category keys and recipients only. Both are for a
 * role with the audit power, and every asking, allowed or not, is itself an
 * audit entry.
 */
#include <string.h>

#include "vault/vault_int.h"

/* Append each item of the comma-separated list s to array a, once. */
static int
append_distinct(json_t *a, const char *s)
{
    while (s && *s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        int seen = 0;
        size_t i;
        json_t *e;

        json_array_foreach(a, i, e)
        {
            seen |= json_string_length(e) == n && memcmp(json_string_value(e), s, n) == 0;
        }
        if (n > 0 && !seen && json_array_append_new(a, json_stringn(s, n)) != 0)
            return PV_ENOMEM;
        s = comma ? comma + 1 : NULL;
    }
    return 0;
}

static int
touched_json(const struct pv_touched *t, void *arg)
{
    json_t *list = arg, *actions = json_array(), *cats = json_array(), *creds = json_array(), *e;

    if (actions == NULL || cats == NULL || creds == NULL ||
        append_distinct(actions, t->actions) != 0 || append_distinct(cats, t->categories) != 0 ||
        append_distinct(creds, t->credentials) != 0) {
        json_decref(actions);
        json_decref(cats);
        json_decref(creds);
        return PV_ENOMEM;
    }
    e = json_pack("{s:s, s:o, s:o, s:I, s:o, s:o, s:o}", "subject", t->subject, "first",
                  pv_json_time(t->first_ms), "last", pv_json_time(t->last_ms), "entries",
                  (json_int_t)t->entries, "actions", actions, "categories", cats, "credentials",
                  creds);
    if (e == NULL || json_array_append_new(list, e) != 0)
        return PV_ENOMEM;
    return 0;
}

int
pv_vault_audit_touched(struct pv_vault *v, struct pv_call *call, const struct pv_touched_filter *f,
                       json_t **out)
{
    struct pv_conn *c;
    json_t *list, *filter;
    int rc;

    if ((rc = pv_access_audit_power(v, call, "audit.touched", NULL)) != 0)
        return rc;
    if ((list = json_array()) == NULL)
        return PV_ENOMEM;
    rc = pv_store_reader(v->store, &c);
    if (rc == 0)
        rc = pv_store_audit_touched(c, f, touched_json, list);
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    filter = json_pack("{s:s?, s:s?, s:o, s:o}", "actor", f->actor, "credential", f->credential,
                       "from", f->from_ms ? pv_json_time(f->from_ms) : json_null(), "to",
                       f->to_ms ? pv_json_time(f->to_ms) : json_null());
    *out = json_pack("{s:o, s:I, s:o}", "filter", filter ? filter : json_object(), "count",
                     (json_int_t)json_array_size(list), "subjects", list);
    return *out ? 0 : PV_ENOMEM;
}

/* ---- the vendor register ------------------------------------------------------- */

/*
 * Whether recipient rc may ever receive health information under the
 * decision's disclosure rules (policy/decide.c): not a forbidden kind, never a
 * business partner, a service provider, affiliate or buyer only with a signed
 * agreement, and some category it lists covers a phi category.
 */
static int
may_receive_phi(const struct pv_policy *p, const struct pv_recipient *rc)
{
    int kind = pv_recipient_kind_parse(rc->kind);

    if (kind < 0 || (p->disclosure.forbidden_kinds & (1u << kind)) ||
        kind == PV_RK_BUSINESS_PARTNER)
        return 0;
    if (!rc->baa && kind != PV_RK_PROVIDER && kind != PV_RK_LEGAL)
        return 0;
    for (int i = 0; i < p->ncategories; i++)
        for (int k = 0; p->categories[i].phi && k < rc->ncategories; k++)
            if (pv_category_covers(rc->categories[k], p->categories[i].key))
                return 1;
    return 0;
}

static int
declared(const struct pv_policy *p, const char *name)
{
    for (int i = 0; i < p->nrecipients; i++)
        if (strcmp(p->recipients[i].key, name) == 0)
            return 1;
    return 0;
}

static const char *
agreement(const struct pv_recipient *rc)
{
    int kind = pv_recipient_kind_parse(rc->kind);

    if (rc->baa)
        return "signed";
    /* HIPAA needs none for a provider receiving for care, or where the law compels. */
    return kind == PV_RK_PROVIDER || kind == PV_RK_LEGAL ? "not-required" : "none";
}

static int
totals_json(const char *recipient, int64_t disclosures, int64_t subjects, int64_t last_ms,
            void *arg)
{
    json_t *totals = arg;

    return json_object_set_new(totals, recipient,
                               json_pack("{s:I, s:I, s:o}", "disclosures", (json_int_t)disclosures,
                                         "subjects", (json_int_t)subjects, "last",
                                         pv_json_time(last_ms))) == 0
               ? 0
               : PV_ENOMEM;
}

static json_t *
vendor_json(const struct pv_policy *p, const struct pv_recipient *rc, json_t *totals)
{
    int kind = pv_recipient_kind_parse(rc->kind);
    json_t *cats = json_array(), *t = json_object_get(totals, rc->key);
    json_t *disclosed =
        t ? json_incref(t) : json_pack("{s:i, s:i, s:n}", "disclosures", 0, "subjects", 0, "last");

    for (int k = 0; cats && k < rc->ncategories; k++)
        json_array_append_new(cats, json_string(rc->categories[k]));
    return json_pack("{s:s, s:s, s:b, s:s, s:o, s:b, s:b, s:o}", "name", rc->key, "kind", rc->kind,
                     "baa", rc->baa, "agreement", agreement(rc), "categories",
                     cats ? cats : json_array(), "health_data", may_receive_phi(p, rc), "forbidden",
                     kind >= 0 && (p->disclosure.forbidden_kinds & (1u << kind)), "disclosed",
                     disclosed ? disclosed : json_object());
}

int
pv_vault_vendors(struct pv_vault *v, struct pv_call *call, json_t **out)
{
    const struct pv_policy *p = v->policy;
    json_t *totals, *vendors, *gone, *kinds, *e;
    struct pv_conn *c;
    const char *key;
    int rc;

    if ((rc = pv_access_audit_power(v, call, "vendors.read", NULL)) != 0)
        return rc;
    if ((totals = json_object()) == NULL)
        return PV_ENOMEM;
    rc = pv_store_reader(v->store, &c);
    if (rc == 0)
        rc = pv_store_disclosure_totals(c, totals_json, totals);
    if (rc != 0) {
        json_decref(totals);
        return rc;
    }
    vendors = json_array();
    gone = json_array();
    kinds = json_array();
    for (int i = 0; vendors && i < p->nrecipients; i++)
        json_array_append_new(vendors, vendor_json(p, &p->recipients[i], totals));
    /* Recipients that received data under an earlier policy and are no longer in this one. */
    json_object_foreach(totals, key, e)
    {
        if (gone && !declared(p, key))
            json_array_append_new(gone, json_pack("{s:s, s:O}", "name", key, "disclosed", e));
    }
    for (int k = 0; kinds && k < PV_RK_COUNT_; k++)
        if (p->disclosure.forbidden_kinds & (1u << k))
            json_array_append_new(kinds, json_string(pv_recipient_kind_name(k)));
    json_decref(totals);
    *out = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b}", "organization", p->org.name,
                     "organization_role", p->org.role, "policy_version", p->version, "vendors",
                     vendors ? vendors : json_array(), "former", gone ? gone : json_array(),
                     "forbidden_kinds", kinds ? kinds : json_array(), "sms_never_shared",
                     p->sms.never_shared);
    return *out ? 0 : PV_ENOMEM;
}
