/*
 * problem.c: the one table from enum pv_err to HTTP status and RFC 9457
 * problem type. Each type is a stable slug; its URI is /problems/<slug>,
 * which the server documents.
 */
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"

struct problem {
    int err;
    int status;
    const char *slug;
    const char *title;
    const char *about; /* what it means and what to do */
};

static const struct problem problems[] = {
    {PV_EINVAL, 400, "invalid-request", "Invalid request",
     "The request is not of the shape the route takes; detail and field say what to change."},
    {PV_EJSON, 400, "malformed-json", "Malformed JSON", "The body is not well-formed JSON."},
    {PV_ENOPURPOSE, 400, "purpose-required", "A purpose is required",
     "Every data route needs an X-Purpose header naming one of the policy's purposes."},
    {PV_EPURPOSE, 400, "unknown-purpose", "Unknown purpose",
     "X-Purpose names no purpose of the policy in force (GET /v1/policy lists them)."},
    {PV_EAUTH, 401, "unauthenticated", "Authentication required",
     "Send Authorization: Bearer with a token from POST /v1/auth/login that has not expired."},
    {PV_ELOGIN, 401, "invalid-credentials", "Invalid credentials",
     "The username or the password is wrong."},
    {PV_EDENIED, 403, "forbidden", "Denied by policy",
     "The policy does not let this actor do this for this purpose; reason names the rule."},
    {PV_ENOTFOUND, 404, "not-found", "Not found", "There is no such object, or none you may see."},
    {PV_ENOROUTE, 404, "no-such-route", "No such route", "No route of the API has this path."},
    {PV_EMETHOD, 405, "method-not-allowed", "Method not allowed",
     "The path exists, but not with this method."},
    {PV_EEXIST, 409, "conflict", "Conflict", "The request conflicts with what exists."},
    {PV_ECONFLICT, 409, "conflict", "Conflict", "The request conflicts with what exists."},
    {PV_ETOOBIG, 413, "payload-too-large", "Payload too large",
     "The body is larger than this route accepts."},
    {PV_ECTYPE, 415, "unsupported-media-type", "Unsupported media type",
     "Bodies must be sent as Content-Type: application/json."},
    {PV_EFIELD, 422, "undeclared-field", "Undeclared field",
     "The policy does not declare this field for the collection, so it cannot be stored."},
    {PV_EPOLICYVER, 422, "policy-not-accepted", "Policy not accepted",
     "Enrollment needs policy_version equal to the version of the policy in force."},
    {PV_EAGE, 422, "under-minimum-age", "Under the minimum age",
     "The birth date is below the policy's minimum age, or the age at which a guardian or "
     "verified parental consent is needed; reason names the rule."},
    {PV_ETHROTTLE, 429, "too-many-attempts", "Too many attempts",
     "Too many failed attempts for this account or from this address; Retry-After says when "
     "to try again."},
    {PV_EMFA, 401, "mfa-required", "A second factor is required",
     "This account logs in with a code from its authenticator (send totp), or must first "
     "enroll one: POST /v1/auth/totp, then POST /v1/auth/totp/confirm."},
    {PV_EAUDIT, 503, "audit-unavailable", "Audit log unavailable",
     "The audit log could not be written, so nothing was done and no data was returned."},
    {PV_EUNAVAIL, 503, "unavailable", "Service unavailable", "The server is shutting down."},
    {PV_EBUSY, 503, "busy", "Busy", "The store is busy; try again."},
    {PV_ECARD, 422, "card-number", "Payment card number refused",
     "Only the last 4 digits of a payment card may be stored, and the request held a full card "
     "number; field names where (never the number). Nothing was stored."},
    {PV_ESEALED, 422, "sealed-value-required", "End-to-end sealed value required",
     "The field is stored end to end: its value must be an object mapping each reader's user id "
     "to a sealed box made with that reader's public key, for readers who may read the record "
     "and have registered a key; field names the field, reason the rule. Nothing was stored."},
    {0, 500, "internal-error", "Internal error",
     "The server failed; the log has the error code, and nothing was half done."},
};

static const struct problem *
find(int err)
{
    for (size_t i = 0; i < PV_ARRAY_LEN(problems); i++)
        if (problems[i].err == err)
            return &problems[i];
    return &problems[PV_ARRAY_LEN(problems) - 1];
}

int
pv_problem_status(int err)
{
    return find(err)->status;
}

json_t *
pv_problem(int err, const struct pv_call *call, int *status)
{
    const struct problem *p = find(err);
    char type[96];
    json_t *j;

    (void)snprintf(type, sizeof type, "/problems/%s", p->slug);
    j = json_pack("{s:s, s:s, s:i}", "type", type, "title", p->title, "status", p->status);
    if (j && call) {
        if (call->detail)
            json_object_set_new(j, "detail", json_string(call->detail));
        if (call->reason)
            json_object_set_new(j, "reason", json_string(call->reason));
        if (call->field[0])
            json_object_set_new(j, "field", json_string(call->field));
    }
    *status = p->status;
    return j;
}

char *
pv_problem_page(const char *slug)
{
    struct pv_buf b;

    for (size_t i = 0; i < PV_ARRAY_LEN(problems); i++) {
        if (strcmp(problems[i].slug, slug) != 0)
            continue;
        pv_buf_init(&b, 4096);
        if (pv_buf_printf(&b,
                          "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
                          "<title>%s</title><h1>%s</h1><p>HTTP status %d.</p><p>%s</p></html>\n",
                          problems[i].title, problems[i].title, problems[i].status,
                          problems[i].about) != 0) {
            pv_buf_fini(&b);
            return NULL;
        }
        return b.data;
    }
    return NULL;
}

const char *
pv_http_problem(size_t i, int *status, const char **title)
{
    /* Several errors share a type (conflict): each type is listed once. */
    for (size_t k = 0; k < PV_ARRAY_LEN(problems); k++) {
        int seen = 0;
        for (size_t j = 0; j < k; j++)
            seen |= strcmp(problems[j].slug, problems[k].slug) == 0;
        if (seen)
            continue;
        if (i-- == 0) {
            *status = problems[k].status;
            *title = problems[k].title;
            return problems[k].slug;
        }
    }
    return NULL;
}
