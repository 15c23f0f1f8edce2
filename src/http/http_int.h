/* http_int.h: private to the HTTP layer. */
#ifndef PV_HTTP_INT_H
#define PV_HTTP_INT_H

#include <microhttpd.h>

#include "http/http.h"

#define PV_MAX_PARAMS 4

enum pv_auth {
    PV_AUTH_NONE, /* anyone */
    PV_AUTH_USER, /* a session */
    PV_AUTH_DATA, /* a session and X-Purpose; every attempt audited */
};

struct pv_req;

/* What a route's body is. */
enum pv_body {
    PV_BODY_JSON, /* application/json, parsed into req.json (the default) */
    PV_BODY_FORM, /* application/x-www-form-urlencoded, parsed into req.form */
    PV_BODY_ANY,  /* any type, read up to the limit and not used (RFC 8058 one-click posts) */
};

/* The answer a handler gives: status and JSON body (owned), or 204 with none. */
struct pv_resp {
    int status;
    json_t *body;
    const char *content_type; /* NULL: application/json */
    char *text;               /* a non-JSON body (owned), used when body is NULL */
};

typedef int (*pv_handler)(struct pv_req *r, struct pv_resp *out);

struct pv_route {
    const char *method;
    const char *pattern; /* segments; "{name}" captures one */
    pv_handler handler;
    enum pv_auth auth;
    size_t max_body;    /* 0: the route takes no body */
    const char *action; /* audit action of unauthenticated attempts */
};

/* One request in flight. */
struct pv_req {
    struct pv_vault *v;
    struct MHD_Connection *conn;
    const struct pv_route *route;
    const char *params[PV_MAX_PARAMS];
    char param_buf[PV_MAX_PARAMS][PV_NAME_MAX + 1];
    struct pv_buf body;
    size_t discarded; /* body bytes dropped after the limit */
    int early;        /* answered before the body was read */
    json_t *json;     /* the parsed body, if any */
    struct pv_actor actor;
    struct pv_call call;
    int64_t t0;
    char client[64];     /* the client's address (an IPv6 one by its /64), for login throttling */
    struct pv_form form; /* the parsed body of a PV_BODY_FORM route */
    int gpc_honored;     /* Sec-GPC: 1 was recorded as an opt-out of sale and sharing */
};

extern const struct pv_route pv_routes[];
extern const size_t pv_nroutes;

/* How a route's body is read: the routes that take other than JSON, in a table of their own. */
enum pv_body pv_route_body(const struct pv_route *rt);

/*
 * Find the route of method and path, filling r->params. PV_ENOROUTE if no
 * pattern matches the path, PV_EMETHOD if one does for another method.
 */
int pv_route_match(const char *method, const char *path, struct pv_req *r);

/* A problem+json body for err, with the call's reason, detail and field. */
json_t *pv_problem(int err, const struct pv_call *call, int *status);
int pv_problem_status(int err);
/* The HTML page that documents a problem type; NULL if unknown. */
char *pv_problem_page(const char *slug);

/* Query-string argument, or NULL. */
const char *pv_req_arg(struct pv_req *r, const char *name);

/* Handlers (h_*.c). */
int pv_h_healthz(struct pv_req *r, struct pv_resp *out);
int pv_h_policy(struct pv_req *r, struct pv_resp *out);
int pv_h_problem(struct pv_req *r, struct pv_resp *out);
int pv_h_login(struct pv_req *r, struct pv_resp *out);
int pv_h_logout(struct pv_req *r, struct pv_resp *out);
int pv_h_user_create(struct pv_req *r, struct pv_resp *out);
int pv_h_user_list(struct pv_req *r, struct pv_resp *out);
int pv_h_enroll(struct pv_req *r, struct pv_resp *out);
int pv_h_subject_get(struct pv_req *r, struct pv_resp *out);
int pv_h_subject_lookup(struct pv_req *r, struct pv_resp *out);
int pv_h_assign(struct pv_req *r, struct pv_resp *out);
int pv_h_record_create(struct pv_req *r, struct pv_resp *out);
int pv_h_record_list(struct pv_req *r, struct pv_resp *out);
int pv_h_record_get(struct pv_req *r, struct pv_resp *out);
int pv_h_record_update(struct pv_req *r, struct pv_resp *out);
int pv_h_record_delete(struct pv_req *r, struct pv_resp *out);
int pv_h_audit(struct pv_req *r, struct pv_resp *out);
/* Who acts for whom, and credentials (h_access.c). */
int pv_h_birth_date(struct pv_req *r, struct pv_resp *out);
int pv_h_visibility(struct pv_req *r, struct pv_resp *out);
int pv_h_restrict(struct pv_req *r, struct pv_resp *out);
int pv_h_unrestrict(struct pv_req *r, struct pv_resp *out);
int pv_h_break_glass(struct pv_req *r, struct pv_resp *out);
int pv_h_review_list(struct pv_req *r, struct pv_resp *out);
int pv_h_review_close(struct pv_req *r, struct pv_resp *out);
int pv_h_key_create(struct pv_req *r, struct pv_resp *out);
int pv_h_key_list(struct pv_req *r, struct pv_resp *out);
int pv_h_key_revoke(struct pv_req *r, struct pv_resp *out);
int pv_h_totp_begin(struct pv_req *r, struct pv_resp *out);
int pv_h_totp_confirm(struct pv_req *r, struct pv_resp *out);
int pv_h_totp_reset(struct pv_req *r, struct pv_resp *out);
int pv_h_logout_all(struct pv_req *r, struct pv_resp *out);
int pv_h_user_sessions_end(struct pv_req *r, struct pv_resp *out);
/* The policy's rules on who acts for whom, added to the policy's JSON. */
void pv_policy_access_json(const struct pv_policy *p, json_t *j);
/* Consent, communications and policy versions (h_consent.c). */
int pv_h_consent_list(struct pv_req *r, struct pv_resp *out);
int pv_h_consent_record(struct pv_req *r, struct pv_resp *out);
int pv_h_cookies_get(struct pv_req *r, struct pv_resp *out);
int pv_h_cookies_set(struct pv_req *r, struct pv_resp *out);
int pv_h_policy_status(struct pv_req *r, struct pv_resp *out);
int pv_h_policy_notice(struct pv_req *r, struct pv_resp *out);
int pv_h_contact_check(struct pv_req *r, struct pv_resp *out);
int pv_h_contact_prefs_get(struct pv_req *r, struct pv_resp *out);
int pv_h_contact_prefs_set(struct pv_req *r, struct pv_resp *out);
int pv_h_disclosure_check(struct pv_req *r, struct pv_resp *out);
int pv_h_unsubscribe_page(struct pv_req *r, struct pv_resp *out);
int pv_h_unsubscribe(struct pv_req *r, struct pv_resp *out);
int pv_h_sms_inbound(struct pv_req *r, struct pv_resp *out);
int pv_h_gpc_json(struct pv_req *r, struct pv_resp *out);
/* Add the consent kinds, channels and change of p to GET /v1/policy's answer j. */
void pv_h_policy_consent_json(const struct pv_policy *p, json_t *j);
/* Retention, holds, usage data (h_retention.c). */
int pv_h_close(struct pv_req *r, struct pv_resp *out);
int pv_h_hold_place(struct pv_req *r, struct pv_resp *out);
int pv_h_hold_list(struct pv_req *r, struct pv_resp *out);
int pv_h_hold_release(struct pv_req *r, struct pv_resp *out);
int pv_h_usage_collect(struct pv_req *r, struct pv_resp *out);
int pv_h_usage_list(struct pv_req *r, struct pv_resp *out);
/* Individual rights (h_rights.c). */
int pv_h_request_file(struct pv_req *r, struct pv_resp *out);
int pv_h_subject_requests(struct pv_req *r, struct pv_resp *out);
int pv_h_request_list(struct pv_req *r, struct pv_resp *out);
int pv_h_request_get(struct pv_req *r, struct pv_resp *out);
int pv_h_request_verify(struct pv_req *r, struct pv_resp *out);
int pv_h_request_extend(struct pv_req *r, struct pv_resp *out);
int pv_h_request_complete(struct pv_req *r, struct pv_resp *out);
int pv_h_request_deny(struct pv_req *r, struct pv_resp *out);
int pv_h_request_disagree(struct pv_req *r, struct pv_resp *out);
int pv_h_export(struct pv_req *r, struct pv_resp *out);
int pv_h_know(struct pv_req *r, struct pv_resp *out);
int pv_h_disclosure_record(struct pv_req *r, struct pv_resp *out);
int pv_h_disclosure_accounting(struct pv_req *r, struct pv_resp *out);
int pv_h_records_delete_all(struct pv_req *r, struct pv_resp *out);
/* the privacy notice, breach look-up, vendor register (h_transparency.c) */
int pv_h_notice(struct pv_req *r, struct pv_resp *out);
int pv_h_touched(struct pv_req *r, struct pv_resp *out);
int pv_h_vendors(struct pv_req *r, struct pv_resp *out);
/* de-identified and aggregate data (h_deid.c) */
int pv_h_deid_list(struct pv_req *r, struct pv_resp *out);
int pv_h_aggregate(struct pv_req *r, struct pv_resp *out);
/* end-to-end values: public keys */
int pv_h_public_key_set(struct pv_req *r, struct pv_resp *out);
int pv_h_public_keys(struct pv_req *r, struct pv_resp *out);

#endif
