/* h_deid.c: the de-identified store and aggregates (no subject in the path or the answer). */
#include "http/http_int.h"

int
pv_h_deid_list(struct pv_req *r, struct pv_resp *out)
{
    const char *limit = pv_req_arg(r, "limit");
    int64_t n = 100;

    if (limit && pv_parse_i64(limit, 1, 500, &n) != 0) {
        r->call.detail = "limit must be 1 to 500";
        pv_strlcpy(r->call.field, "limit", sizeof r->call.field);
        return PV_EINVAL;
    }
    return pv_vault_deid_list(r->v, &r->call, r->params[0], pv_req_arg(r, "after"), (int)n,
                              &out->body);
}

int
pv_h_aggregate(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_aggregate(r->v, &r->call, r->params[0], pv_req_arg(r, "by"), &out->body);
}
