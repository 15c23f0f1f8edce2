/* h_system.c: liveness, the policy in force, problem pages, the audit search. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int
pv_h_healthz(struct pv_req *r, struct pv_resp *out)
{
    out->text = pv_strdup("{\"status\":\"ok\"}");
    return out->text ? 0 : PV_ENOMEM;
}

static json_t *
str_list(const char **list, int n)
{
    json_t *a = json_array();

    for (int i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}

static json_t *
retention_json(const struct pv_retention *r)
{
    static const char *const units[] = {"account", "forever", "d", "mo", "y"};
    char buf[32];

    if (r->unit == PV_RET_ACCOUNT || r->unit == PV_RET_FOREVER)
        return json_string(units[r->unit]);
    (void)snprintf(buf, sizeof buf, "%d%s", r->n, units[r->unit]);
    return json_string(buf);
}

/* The retention keys beyond the period: what it counts from, disposal, consent. */
static void
category_retention_json(const struct pv_policy *p, const struct pv_category *c, json_t *j)
{
    static const char *const froms[] = {"created", "closed", "last_visit"};

    if (j == NULL)
        return;
    if (c->retention.unit != PV_RET_ACCOUNT && c->retention.unit != PV_RET_FOREVER)
        json_object_set_new(j, "from", json_string(froms[c->retention.from]));
    json_object_set_new(j, "disposal",
                        json_string(c->disposal == PV_DISPOSE_ANONYMIZE ? "anonymize" : "purge"));
    json_object_set_new(j, "consent",
                        c->consent >= 0 ? json_string(p->consents[c->consent]) : json_null());
    json_object_set_new(j, "deletion", json_string(c->deletion_keep ? "keep" : "dispose"));
}

static json_t *
policy_json(const struct pv_policy *p)
{
    static const char *const scopes[] = {"none", "self", "assigned", "all"};
    static const char *const stores[] = {
        [PV_STORE_FULL] = "full", [PV_STORE_LAST4] = "last4", [PV_STORE_E2E] = "end_to_end"};
    static const char *const powers[] = {"users",    "audit", "assign", "review",
                                         "restrict", "holds", "rights"};
    json_t *cats = json_object(), *cols = json_object(), *roles = json_object();
    json_t *purposes = json_object(), *recips = json_object(), *rights = json_object(), *j;

    for (int i = 0; i < p->ncategories; i++) {
        const struct pv_category *c = &p->categories[i];
        json_object_set_new(cats, c->key,
                            json_pack("{s:b, s:b, s:s, s:o}", "phi", c->phi, "index", c->index,
                                      "store", stores[c->store], "retention",
                                      retention_json(&c->retention)));
        category_retention_json(p, c, json_object_get(cats, c->key));
    }
    for (int i = 0; i < p->ncollections; i++) {
        json_t *f = json_object();
        for (int k = 0; k < p->collections[i].nfields; k++)
            json_object_set_new(
                f, p->collections[i].fields[k].name,
                json_string(p->categories[p->collections[i].fields[k].category].key));
        json_object_set_new(cols, p->collections[i].name, f);
    }
    for (int i = 0; i < p->nroles; i++) {
        json_t *pw = json_array();
        for (size_t k = 0; k < PV_ARRAY_LEN(powers); k++)
            if (p->roles[i].powers & (1u << k))
                json_array_append_new(pw, json_string(powers[k]));
        json_object_set_new(
            roles, p->roles[i].name,
            json_pack("{s:s, s:o}", "scope", scopes[p->roles[i].scope], "powers", pw));
    }
    for (int i = 0; i < p->npurposes; i++) {
        const struct pv_purpose *u = &p->purposes[i];
        json_t *rl = json_array(), *req = json_array();
        for (int k = 0; k < p->nroles; k++)
            if (u->roles & (1u << k))
                json_array_append_new(rl, json_string(p->roles[k].name));
        for (int k = 0; k < p->nconsents; k++)
            if (u->requires & (UINT64_C(1) << k))
                json_array_append_new(req, json_string(p->consents[k]));
        json_object_set_new(purposes, u->key,
                            json_pack("{s:s?, s:b, s:o, s:o, s:o, s:s, s:b, s:b, s:b}",
                                      "description", u->description, "tpo", u->tpo, "roles", rl,
                                      "categories", str_list(u->categories, u->ncategories),
                                      "requires", req, "basis", pv_basis_name(u->basis),
                                      "deidentified", u->deidentified, "sale", u->sale, "marketing",
                                      u->marketing));
    }
    for (int i = 0; i < p->nrecipients; i++) {
        const struct pv_recipient *rc = &p->recipients[i];
        json_object_set_new(recips, rc->key,
                            json_pack("{s:s, s:b, s:o, s:b}", "kind", rc->kind, "baa", rc->baa,
                                      "categories", str_list(rc->categories, rc->ncategories),
                                      "sale", rc->sale));
    }
    for (int i = 0; i < p->nrights; i++) {
        char d[16];
        (void)snprintf(d, sizeof d, "%dd", p->rights[i].days);
        json_object_set_new(rights, p->rights[i].name, json_string(d));
    }
    j = json_pack("{s:s, s:s, s:{s:s, s:s, s:s?, s:s?, s:s?, s:o}, s:i, s:o, s:o, s:o, s:o, s:o,"
                  " s:o, s:o}",
                  "version", p->version, "effective", p->effective, "organization", "name",
                  p->org.name, "role", p->org.role, "email", p->org.email, "phone", p->org.phone,
                  "address", p->org.address, "complaints",
                  str_list(p->org.complaints, p->org.ncomplaints), "minimum_age", p->minimum_age,
                  "categories", cats, "collections", cols, "roles", roles, "purposes", purposes,
                  "consents", str_list(p->consents, p->nconsents), "recipients", recips, "rights",
                  rights);
    pv_policy_access_json(p, j);
    if (j) {
        /* Every right, its deadline and longest extension (the policy's or the default). */
        json_t *deadlines = json_object(), *kinds = json_array();
        for (int i = 0; deadlines && pv_right_name(i); i++) {
            int days, ext;
            pv_policy_right(p, pv_right_name(i), &days, &ext);
            json_object_set_new(
                deadlines, pv_right_name(i),
                json_pack("{s:i, s:i}", "deadline_days", days, "extension_days", ext));
        }
        for (int k = 0; kinds && k < PV_RK_COUNT_; k++)
            if (p->disclosure.forbidden_kinds & (1u << k))
                json_array_append_new(kinds, json_string(pv_recipient_kind_name(k)));
        json_object_set_new(j, "request_deadlines", deadlines);
        json_object_set_new(j, "disclosure",
                            json_pack("{s:o, s:b}", "forbidden_kinds", kinds, "never_sell",
                                      p->disclosure.never_sell));
        json_object_set_new(j, "aggregates",
                            json_pack("{s:i}", "min_cell", p->aggregates.min_cell));
        json_object_set_new(j, "recordings",
                            p->recordings.declared
                                ? json_pack("{s:b, s:s}", "recorded", p->recordings.recorded,
                                            "category", p->recordings.category)
                                : json_null());
    }
    if (j)
        json_object_set_new(
            j, "payment_cards",
            json_pack("{s:b, s:s?}", "refuse_numbers", p->cards.refuse, "last4", p->cards.last4));
    if (j && p->assign_after >= 0)
        json_object_set_new(j, "assign_after", json_string(p->collections[p->assign_after].name));
    if (j && p->visit_collection >= 0)
        json_object_set_new(j, "visit_collection",
                            json_string(p->collections[p->visit_collection].name));
    if (j && p->sms.program)
        json_object_set_new(
            j, "communications",
            json_pack("{s:{s:s, s:s}}", "sms", "program", p->sms.program, "help", p->sms.help));
    if (j)
        pv_h_policy_consent_json(p, j);
    return j;
}

int
pv_h_policy(struct pv_req *r, struct pv_resp *out)
{
    out->body = policy_json(pv_vault_policy(r->v));
    return out->body ? 0 : PV_ENOMEM;
}

int
pv_h_problem(struct pv_req *r, struct pv_resp *out)
{
    if ((out->text = pv_problem_page(r->params[0])) == NULL)
        return PV_ENOTFOUND;
    out->content_type = "text/html; charset=utf-8";
    return 0;
}

/* A query time: an ISO date or date-time, or milliseconds since the epoch. */
static int
time_arg(struct pv_req *r, const char *name, int64_t *ms)
{
    const char *s = pv_req_arg(r, name);
    char date[11];
    int y, m, d;

    *ms = 0;
    if (s == NULL)
        return 0;
    if (pv_parse_i64(s, 0, INT64_MAX, ms) == 0)
        return 0;
    if (strlen(s) >= 10) {
        memcpy(date, s, 10);
        date[10] = '\0';
        if (pv_date_parse(date, &y, &m, &d) == 0 && (s[10] == '\0' || s[10] == 'T')) {
            *ms = pv_days_from_civil(y, m, d) * 86400 * 1000;
            return 0;
        }
    }
    r->call.detail = "from and to must be dates YYYY-MM-DD or milliseconds since 1970";
    pv_strlcpy(r->call.field, name, sizeof r->call.field);
    return PV_EINVAL;
}

int
pv_h_audit(struct pv_req *r, struct pv_resp *out)
{
    struct pv_audit_filter f;
    const char *limit = pv_req_arg(r, "limit"), *after = pv_req_arg(r, "after");
    int64_t n = 100;
    int rc;

    memset(&f, 0, sizeof f);
    f.subject = pv_req_arg(r, "subject");
    f.actor = pv_req_arg(r, "actor");
    if ((rc = time_arg(r, "from", &f.from_ms)) != 0 || (rc = time_arg(r, "to", &f.to_ms)) != 0)
        return rc;
    if ((limit && pv_parse_i64(limit, 1, 1000, &n) != 0) ||
        (after && pv_parse_i64(after, 0, INT64_MAX, &f.after_seq) != 0)) {
        r->call.detail = "limit must be 1 to 1000 and after a sequence number";
        return PV_EINVAL;
    }
    f.limit = (int)n;
    return pv_vault_audit_query(r->v, &r->call, &f, &out->body);
}
