/* h_retention.c: closing accounts, legal holds and usage data: thin adapters to the vault. */
#include "http/http_int.h"

int
pv_h_close(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_close_account(r->v, &r->call, r->params[0], &out->body);
}

int
pv_h_hold_place(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_hold_place(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_hold_list(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_hold_list(r->v, &r->call, r->params[0], &out->body);
}

int
pv_h_hold_release(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_hold_release(r->v, &r->call, r->params[0], r->params[1], &out->body);
}

int
pv_h_usage_collect(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_usage_collect(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_usage_list(struct pv_req *r, struct pv_resp *out)
{
    const char *limit = pv_req_arg(r, "limit");
    int64_t n = 50;

    if (limit && pv_parse_i64(limit, 1, 200, &n) != 0) {
        r->call.detail = "limit must be 1 to 200";
        pv_strlcpy(r->call.field, "limit", sizeof r->call.field);
        return PV_EINVAL;
    }
    return pv_vault_usage_list(r->v, &r->call, r->params[0], pv_req_arg(r, "after"), (int)n,
                               &out->body);
}
