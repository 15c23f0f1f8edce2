/* h_transparency.c: the privacy notice, whose data a credential or period touched, vendors. */
#include <string.h>

#include "http/http_int.h"

#define NOTICE_MAX ((size_t)4 * 1024 * 1024)

/*
 * The notice of the policy in force: ?format=md|html wins; else an Accept
 * naming text/html gets the page (a browser), anything else Markdown.
 */
int
pv_h_notice(struct pv_req *r, struct pv_resp *out)
{
    const char *format = pv_req_arg(r, "format");
    const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
    struct pv_buf b;
    int f, rc;

    if (format)
        f = pv_policy_notice_format(format);
    else
        f = accept && strstr(accept, "text/html") ? PV_NOTICE_HTML : PV_NOTICE_MD;
    if (f < 0) {
        r->call.detail = "format is md or html";
        pv_strlcpy(r->call.field, "format", sizeof r->call.field);
        return PV_EINVAL;
    }
    pv_buf_init(&b, NOTICE_MAX);
    if ((rc = pv_policy_notice(pv_vault_policy(r->v), f, &b)) != 0 || b.data == NULL) {
        pv_buf_fini(&b);
        return rc ? rc : PV_ENOMEM;
    }
    out->text = b.data; /* the buffer's malloc'd bytes, handed over */
    out->content_type =
        f == PV_NOTICE_HTML ? "text/html; charset=utf-8" : "text/markdown; charset=utf-8";
    return 0;
}

/*
 * A query time: milliseconds since the epoch, or an ISO date: its first
 * millisecond (UTC), or its last when it ends a period (end). 0 if absent.
 */
static int
time_arg(struct pv_req *r, const char *name, int end, int64_t *ms)
{
    const char *s = pv_req_arg(r, name);
    int y, m, d;

    *ms = 0;
    if (s == NULL || pv_parse_i64(s, 1, INT64_MAX, ms) == 0)
        return 0;
    if (strlen(s) == 10 && pv_date_parse(s, &y, &m, &d) == 0) {
        *ms = (pv_days_from_civil(y, m, d) + (end ? 1 : 0)) * 86400 * 1000 - (end ? 1 : 0);
        return 0;
    }
    r->call.detail = "from and to must be dates YYYY-MM-DD or milliseconds since 1970";
    pv_strlcpy(r->call.field, name, sizeof r->call.field);
    return PV_EINVAL;
}

int
pv_h_touched(struct pv_req *r, struct pv_resp *out)
{
    struct pv_touched_filter f;
    int rc;

    memset(&f, 0, sizeof f);
    f.actor = pv_req_arg(r, "actor");
    f.credential = pv_req_arg(r, "credential");
    if ((rc = time_arg(r, "from", 0, &f.from_ms)) != 0 ||
        (rc = time_arg(r, "to", 1, &f.to_ms)) != 0)
        return rc;
    if (f.actor == NULL && f.credential == NULL && f.from_ms == 0 && f.to_ms == 0) {
        r->call.detail = "name a credential (actor= a user or key id, credential= a session id "
                         "or key:NAME) or a period (from=, to=)";
        return PV_EINVAL;
    }
    if ((f.actor && f.actor[0] == '\0') || (f.credential && f.credential[0] == '\0') ||
        (f.from_ms && f.to_ms && f.from_ms > f.to_ms)) {
        r->call.detail = "actor and credential may not be empty, and from may not follow to";
        return PV_EINVAL;
    }
    return pv_vault_audit_touched(r->v, &r->call, &f, &out->body);
}

int
pv_h_vendors(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_vendors(r->v, &r->call, &out->body);
}
