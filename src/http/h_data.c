/* h_data.c: subjects and records: thin adapters to the vault. */
#include <string.h>

#include "http/http_int.h"

int
pv_h_enroll(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_enroll(r->v, &r->call, r->json, &out->body);
}

int
pv_h_subject_get(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_subject_get(r->v, &r->call, r->params[0], &out->body);
}

int
pv_h_subject_lookup(struct pv_req *r, struct pv_resp *out)
{
    const struct pv_policy *p = pv_vault_policy(r->v);
    const struct pv_collection *profile = &p->collections[pv_policy_collection(p, "profile")];

    /* The one query argument naming an indexed profile field is the look-up. */
    for (int i = 0; i < profile->nfields; i++) {
        const char *value = pv_req_arg(r, profile->fields[i].name);
        if (value)
            return pv_vault_subject_lookup(r->v, &r->call, profile->fields[i].name, value,
                                           &out->body);
    }
    r->call.detail = "look subjects up by one indexed profile field, e.g. ?email=";
    return PV_EINVAL;
}

int
pv_h_assign(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_assign(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_record_create(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_record_create(r->v, &r->call, r->params[0], r->params[1], r->json, &out->body);
}

int
pv_h_record_list(struct pv_req *r, struct pv_resp *out)
{
    const char *limit = pv_req_arg(r, "limit");
    int64_t n = 50;

    if (limit && pv_parse_i64(limit, 1, 200, &n) != 0) {
        r->call.detail = "limit must be 1 to 200";
        pv_strlcpy(r->call.field, "limit", sizeof r->call.field);
        return PV_EINVAL;
    }
    return pv_vault_record_list(r->v, &r->call, r->params[0], r->params[1], pv_req_arg(r, "after"),
                                (int)n, &out->body);
}

int
pv_h_record_get(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_record_get(r->v, &r->call, r->params[0], r->params[1], r->params[2],
                               &out->body);
}

int
pv_h_record_update(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_record_update(r->v, &r->call, r->params[0], r->params[1], r->params[2], r->json,
                                  &out->body);
}

int
pv_h_record_delete(struct pv_req *r, struct pv_resp *out)
{
    out->status = 204;
    return pv_vault_record_delete(r->v, &r->call, r->params[0], r->params[1], r->params[2]);
}
