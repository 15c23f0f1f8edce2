/* h_e2e.c: the public keys that end-to-end values are sealed to. */
#include "http/http_int.h"

int
pv_h_public_key_set(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_public_key_set(r->v, &r->call, r->json, &out->body);
}

int
pv_h_public_keys(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_public_keys(r->v, &r->call, r->params[0], pv_req_arg(r, "collection"),
                                &out->body);
}
