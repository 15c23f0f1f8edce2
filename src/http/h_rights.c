/*
 * h_rights.c: rights requests and their transitions, exports, the right to
 * know, disclosures and their accounting, deleting all of a collection's
 * records: thin adapters to the vault.
 */
#include <string.h>

#include "http/http_int.h"

int
pv_h_request_file(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_request_file(r->v, &r->call, r->params[0], r->json, &out->body);
}

/* ?state=&type=&overdue=&after=&limit= */
static int
query(struct pv_req *r, struct pv_request_query *q)
{
    const char *overdue = pv_req_arg(r, "overdue"), *limit = pv_req_arg(r, "limit");
    int64_t n = 50;

    memset(q, 0, sizeof *q);
    q->state = pv_req_arg(r, "state");
    q->type = pv_req_arg(r, "type");
    q->after = pv_req_arg(r, "after");
    if (overdue && strcmp(overdue, "true") == 0)
        q->overdue = 1;
    else if (overdue && strcmp(overdue, "false") == 0)
        q->overdue = 2;
    else if (overdue) {
        r->call.detail = "overdue is true or false";
        pv_strlcpy(r->call.field, "overdue", sizeof r->call.field);
        return PV_EINVAL;
    }
    if (limit && pv_parse_i64(limit, 1, 200, &n) != 0) {
        r->call.detail = "limit must be 1 to 200";
        pv_strlcpy(r->call.field, "limit", sizeof r->call.field);
        return PV_EINVAL;
    }
    q->limit = (int)n;
    return 0;
}

int
pv_h_subject_requests(struct pv_req *r, struct pv_resp *out)
{
    struct pv_request_query q;
    int rc = query(r, &q);

    return rc ? rc : pv_vault_request_list(r->v, &r->call, r->params[0], &q, &out->body);
}

int
pv_h_request_list(struct pv_req *r, struct pv_resp *out)
{
    struct pv_request_query q;
    int rc = query(r, &q);

    q.subject = pv_req_arg(r, "subject");
    return rc ? rc : pv_vault_request_list(r->v, &r->call, NULL, &q, &out->body);
}

int
pv_h_request_get(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_request_get(r->v, &r->call, r->params[0], &out->body);
}

int
pv_h_request_verify(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_request_transition(r->v, &r->call, r->params[0], "verify", r->json, &out->body);
}

int
pv_h_request_extend(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_request_transition(r->v, &r->call, r->params[0], "extend", r->json, &out->body);
}

int
pv_h_request_complete(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_request_transition(r->v, &r->call, r->params[0], "complete", r->json,
                                       &out->body);
}

int
pv_h_request_deny(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_request_transition(r->v, &r->call, r->params[0], "deny", r->json, &out->body);
}

int
pv_h_request_disagree(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_request_transition(r->v, &r->call, r->params[0], "disagreement", r->json,
                                       &out->body);
}

int
pv_h_export(struct pv_req *r, struct pv_resp *out)
{
    static const struct {
        const char *name;
        enum pv_export_format format;
        const char *content_type;
    } formats[] = {
        {"json", PV_EXPORT_JSON, NULL},
        {"fhir", PV_EXPORT_FHIR, "application/fhir+json"},
        {"html", PV_EXPORT_HTML, "text/html; charset=utf-8"},
    };
    const char *format = pv_req_arg(r, "format");

    for (size_t i = 0; i < PV_ARRAY_LEN(formats); i++) {
        if (strcmp(format ? format : "json", formats[i].name) != 0)
            continue;
        out->content_type = formats[i].content_type;
        return pv_vault_export(r->v, &r->call, r->params[0], formats[i].format, &out->body,
                               &out->text);
    }
    r->call.detail = "format is json, fhir or html";
    pv_strlcpy(r->call.field, "format", sizeof r->call.field);
    return PV_EINVAL;
}

int
pv_h_know(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_know(r->v, &r->call, r->params[0], &out->body);
}

int
pv_h_disclosure_record(struct pv_req *r, struct pv_resp *out)
{
    out->status = 201;
    return pv_vault_disclosure_record(r->v, &r->call, r->params[0], r->json, &out->body);
}

int
pv_h_disclosure_accounting(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_disclosure_accounting(r->v, &r->call, r->params[0], &out->body);
}

int
pv_h_records_delete_all(struct pv_req *r, struct pv_resp *out)
{
    return pv_vault_records_delete_all(r->v, &r->call, r->params[0], r->params[1], &out->body);
}
