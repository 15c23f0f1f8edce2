/* h_auth.c: login, logout and user accounts. */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

int
pv_h_login(struct pv_req *r, struct pv_resp *out)
{
    int rc = pv_vault_login(r->v, &r->call, r->client, r->json, &out->body);

    if (rc == PV_EINVAL)
        r->call.detail = "username and password are required strings";
    return rc;
}

int
pv_h_logout(struct pv_req *r, struct pv_resp *out)
{
    const char *h =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    int rc = pv_vault_logout(r->v, &r->call, h + 7);

    out->status = 204;
    return rc;
}

int
pv_h_user_create(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_user_create(r->v, &r->call, r->json, &out->body);
}

int
pv_h_user_list(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_user_list(r->v, &r->call, &out->body);
}
