/* h_access.c: who acts for whom, and credentials: thin adapters to the vault. */
#include <string.h>

#include "http/http_int.h"

int
pv_h_birth_date(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_birth_date_set(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_visibility(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_visibility_set(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_restrict(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_restriction_set(r->v, &r->call, r->params[0], 1, &out->body);
}

int
pv_h_unrestrict(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_restriction_set(r->v, &r->call, r->params[0], 0, &out->body);
}

int
pv_h_break_glass(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_break_glass(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_review_list(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_review_list(r->v, &r->call, pv_req_arg(r, "state"), &out->body);
}

int
pv_h_review_close(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_review_close(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_key_create(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_key_create(r->v, &r->call, r->json, &out->body);
}

int
pv_h_key_list(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_key_list(r->v, &r->call, &out->body);
}

int
pv_h_key_revoke(struct pv_req *r, struct pv_resp *out)
{
    out->status = 204;
    return pv_vault_key_revoke(r->v, &r->call, r->params[0]);
}

int
pv_h_totp_begin(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_totp_begin(r->v, &r->call, &out->body);
}

int
pv_h_totp_confirm(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_totp_confirm(r->v, &r->call, r->json, &out->body);
}

int
pv_h_totp_reset(struct pv_req *r, struct pv_resp *out)
{
    out->status = 204;
    return pv_vault_totp_reset(r->v, &r->call, r->params[0]);
}

int
pv_h_logout_all(struct pv_req *r, struct pv_resp *out)
{
    out->status = 204;
    return pv_vault_logout_all(r->v, &r->call, NULL);
}

int
pv_h_user_sessions_end(struct pv_req *r, struct pv_resp *out)
{
    out->status = 204;
    return pv_vault_logout_all(r->v, &r->call, r->params[0]);
}

static json_t *
purpose_names(const struct pv_policy *p, const int *list, int n)
{
    json_t *a = json_array();

    for (int i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(p->purposes[list[i]].key));
    return a;
}

static json_t *
role_names(const struct pv_policy *p, uint32_t mask)
{
    json_t *a = json_array();

    for (int i = 0; a && i < p->nroles; i++)
        if (mask & (1u << i))
            json_array_append_new(a, json_string(p->roles[i].name));
    return a;
}

void
pv_policy_access_json(const struct pv_policy *p, json_t *j)
{
    json_t *features = json_null(), *withheld = json_array();

    if (j == NULL)
        return;
    if (p->minors.features) {
        features = json_array();
        for (int i = 0; features && i < p->minors.nfeatures; i++)
            json_array_append_new(features,
                                  json_string(p->collections[p->minors.features[i]].name));
    }
    for (int i = 0; withheld && i < p->visibility.nwithheld; i++)
        json_array_append_new(withheld, json_string(p->visibility.withheld[i]));
    json_object_set_new(j, "minors",
                        json_pack("{s:i, s:i, s:b, s:i, s:o}", "adult_age", p->minors.adult_age,
                                  "parental_consent_age", p->minors.consent_age,
                                  "guardian_enrollment", p->minors.guardian_enrollment,
                                  "guardian_minimum_age", p->minors.guardian_age, "features",
                                  features));
    json_object_set_new(j, "profile_visibility",
                        json_pack("{s:o, s:o, s:o}", "roles", role_names(p, p->visibility.roles),
                                  "purposes",
                                  purpose_names(p, p->visibility.purposes, p->visibility.npurposes),
                                  "withheld", withheld));
    json_object_set_new(
        j, "restriction",
        json_pack("{s:o}", "purposes",
                  purpose_names(p, p->restriction.purposes, p->restriction.npurposes)));
    json_object_set_new(j, "break_glass",
                        p->break_glass.purpose < 0
                            ? json_null()
                            : json_pack("{s:s, s:I}", "purpose",
                                        p->purposes[p->break_glass.purpose].key, "duration_s",
                                        (json_int_t)p->break_glass.duration_s));
    json_object_set_new(j, "authentication",
                        json_pack("{s:o, s:I, s:I, s:i, s:i, s:I}", "mfa",
                                  role_names(p, p->auth.mfa_roles), "idle_timeout_s",
                                  (json_int_t)p->auth.idle_s, "session_lifetime_s",
                                  (json_int_t)p->auth.lifetime_s, "max_failures_per_user",
                                  p->auth.max_user_failures, "max_failures_per_address",
                                  p->auth.max_address_failures, "failure_window_s",
                                  (json_int_t)p->auth.failure_window_s));
}
