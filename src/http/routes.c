/* routes.c: the route table and its matcher. */
#include <string.h>

#include "http/http_int.h"

#define KB ((size_t)1024)

const struct pv_route pv_routes[] = {
    {"GET", "/healthz", pv_h_healthz, PV_AUTH_NONE, 0, NULL},
    {"GET", "/v1/policy", pv_h_policy, PV_AUTH_NONE, 0, NULL},
    {"GET", "/problems/{type}", pv_h_problem, PV_AUTH_NONE, 0, NULL},
    {"POST", "/v1/auth/login", pv_h_login, PV_AUTH_NONE, 4 * KB, NULL},
    {"POST", "/v1/auth/logout", pv_h_logout, PV_AUTH_USER, 0, NULL},
    {"POST", "/v1/users", pv_h_user_create, PV_AUTH_USER, 4 * KB, NULL},
    {"GET", "/v1/users", pv_h_user_list, PV_AUTH_USER, 0, NULL},
    {"POST", "/v1/subjects", pv_h_enroll, PV_AUTH_DATA, 64 * KB, "subject.enroll"},
    {"GET", "/v1/subjects", pv_h_subject_lookup, PV_AUTH_DATA, 0, "subject.lookup"},
    {"GET", "/v1/subjects/{id}", pv_h_subject_get, PV_AUTH_DATA, 0, "subject.read"},
    {"POST", "/v1/subjects/{id}/assignments", pv_h_assign, PV_AUTH_DATA, 4 * KB, "subject.assign"},
    {"POST", "/v1/subjects/{id}/records/{collection}", pv_h_record_create, PV_AUTH_DATA, 256 * KB,
     "record.create"},
    {"GET", "/v1/subjects/{id}/records/{collection}", pv_h_record_list, PV_AUTH_DATA, 0,
     "record.list"},
    {"GET", "/v1/subjects/{id}/records/{collection}/{rid}", pv_h_record_get, PV_AUTH_DATA, 0,
     "record.read"},
    {"PATCH", "/v1/subjects/{id}/records/{collection}/{rid}", pv_h_record_update, PV_AUTH_DATA,
     256 * KB, "record.update"},
    {"DELETE", "/v1/subjects/{id}/records/{collection}/{rid}", pv_h_record_delete, PV_AUTH_DATA, 0,
     "record.delete"},
    {"GET", "/v1/audit", pv_h_audit, PV_AUTH_USER, 0, NULL},
    /* who acts for whom */
    {"PUT", "/v1/subjects/{id}/birth-date", pv_h_birth_date, PV_AUTH_DATA, 4 * KB,
     "subject.birth_date"},
    {"PUT", "/v1/subjects/{id}/profile-visibility", pv_h_visibility, PV_AUTH_DATA, 4 * KB,
     "subject.visibility"},
    {"POST", "/v1/subjects/{id}/restriction", pv_h_restrict, PV_AUTH_DATA, 0, "subject.restrict"},
    {"DELETE", "/v1/subjects/{id}/restriction", pv_h_unrestrict, PV_AUTH_DATA, 0,
     "subject.unrestrict"},
    {"POST", "/v1/subjects/{id}/break-glass", pv_h_break_glass, PV_AUTH_DATA, 4 * KB,
     "break-glass.open"},
    {"GET", "/v1/reviews", pv_h_review_list, PV_AUTH_USER, 0, NULL},
    {"POST", "/v1/reviews/{id}/close", pv_h_review_close, PV_AUTH_USER, 4 * KB, NULL},
    /* credentials */
    {"POST", "/v1/keys", pv_h_key_create, PV_AUTH_USER, 4 * KB, NULL},
    {"GET", "/v1/keys", pv_h_key_list, PV_AUTH_USER, 0, NULL},
    {"DELETE", "/v1/keys/{id}", pv_h_key_revoke, PV_AUTH_USER, 0, NULL},
    {"POST", "/v1/auth/totp", pv_h_totp_begin, PV_AUTH_USER, 0, NULL},
    {"POST", "/v1/auth/totp/confirm", pv_h_totp_confirm, PV_AUTH_USER, 4 * KB, NULL},
    {"DELETE", "/v1/auth/sessions", pv_h_logout_all, PV_AUTH_USER, 0, NULL},
    {"DELETE", "/v1/users/{id}/totp", pv_h_totp_reset, PV_AUTH_USER, 0, NULL},
    {"DELETE", "/v1/users/{id}/sessions", pv_h_user_sessions_end, PV_AUTH_USER, 0, NULL},
    /* consent, communications, policy versions */
    {"GET", "/v1/subjects/{id}/consents", pv_h_consent_list, PV_AUTH_DATA, 0, "consent.list"},
    {"POST", "/v1/subjects/{id}/consents", pv_h_consent_record, PV_AUTH_DATA, 8 * KB,
     "consent.record"},
    {"GET", "/v1/subjects/{id}/cookies", pv_h_cookies_get, PV_AUTH_DATA, 0, "consent.cookies"},
    {"PUT", "/v1/subjects/{id}/cookies", pv_h_cookies_set, PV_AUTH_DATA, 4 * KB, "consent.cookies"},
    {"GET", "/v1/subjects/{id}/policy-status", pv_h_policy_status, PV_AUTH_DATA, 0,
     "policy.status"},
    {"POST", "/v1/subjects/{id}/policy-notices", pv_h_policy_notice, PV_AUTH_DATA, 4 * KB,
     "policy.notify"},
    {"GET", "/v1/subjects/{id}/contact-check", pv_h_contact_check, PV_AUTH_DATA, 0,
     "contact.check"},
    {"GET", "/v1/subjects/{id}/contact-preferences", pv_h_contact_prefs_get, PV_AUTH_DATA, 0,
     "contact.preferences.read"},
    {"PUT", "/v1/subjects/{id}/contact-preferences", pv_h_contact_prefs_set, PV_AUTH_DATA, 4 * KB,
     "contact.preferences"},
    {"GET", "/v1/subjects/{id}/disclosure-check", pv_h_disclosure_check, PV_AUTH_DATA, 0,
     "disclosure.check"},
    {"GET", "/v1/unsubscribe/{token}", pv_h_unsubscribe_page, PV_AUTH_NONE, 0, NULL},
    {"POST", "/v1/unsubscribe/{token}", pv_h_unsubscribe, PV_AUTH_NONE, 4 * KB, NULL},
    {"POST", "/v1/sms/inbound", pv_h_sms_inbound, PV_AUTH_NONE, 16 * KB, NULL},
    {"GET", "/.well-known/gpc.json", pv_h_gpc_json, PV_AUTH_NONE, 0, NULL},
    /* retention, legal holds, usage data */
    {"POST", "/v1/subjects/{id}/close", pv_h_close, PV_AUTH_DATA, 0, "subject.close"},
    {"POST", "/v1/subjects/{id}/holds", pv_h_hold_place, PV_AUTH_DATA, 4 * KB, "hold.place"},
    {"GET", "/v1/subjects/{id}/holds", pv_h_hold_list, PV_AUTH_DATA, 0, "hold.list"},
    {"DELETE", "/v1/subjects/{id}/holds/{hold}", pv_h_hold_release, PV_AUTH_DATA, 0,
     "hold.release"},
    {"POST", "/v1/subjects/{id}/usage", pv_h_usage_collect, PV_AUTH_DATA, 16 * KB, "usage.collect"},
    {"GET", "/v1/subjects/{id}/usage", pv_h_usage_list, PV_AUTH_DATA, 0, "usage.list"},
    /* individual rights: requests, exports, the right to know, disclosures */
    {"POST", "/v1/subjects/{id}/requests", pv_h_request_file, PV_AUTH_DATA, 64 * KB,
     "request.file"},
    {"GET", "/v1/subjects/{id}/requests", pv_h_subject_requests, PV_AUTH_DATA, 0, "request.list"},
    {"GET", "/v1/requests", pv_h_request_list, PV_AUTH_DATA, 0, "request.list"},
    {"GET", "/v1/requests/{rid}", pv_h_request_get, PV_AUTH_DATA, 0, "request.read"},
    {"POST", "/v1/requests/{rid}/verify", pv_h_request_verify, PV_AUTH_DATA, 4 * KB,
     "request.verify"},
    {"POST", "/v1/requests/{rid}/extend", pv_h_request_extend, PV_AUTH_DATA, 8 * KB,
     "request.extend"},
    {"POST", "/v1/requests/{rid}/complete", pv_h_request_complete, PV_AUTH_DATA, 8 * KB,
     "request.complete"},
    {"POST", "/v1/requests/{rid}/deny", pv_h_request_deny, PV_AUTH_DATA, 8 * KB, "request.deny"},
    {"POST", "/v1/requests/{rid}/disagreement", pv_h_request_disagree, PV_AUTH_DATA, 8 * KB,
     "request.disagree"},
    {"GET", "/v1/subjects/{id}/export", pv_h_export, PV_AUTH_DATA, 0, "subject.export"},
    {"GET", "/v1/subjects/{id}/know", pv_h_know, PV_AUTH_DATA, 0, "subject.know"},
    {"POST", "/v1/subjects/{id}/disclosures", pv_h_disclosure_record, PV_AUTH_DATA, 64 * KB,
     "disclosure.record"},
    {"GET", "/v1/subjects/{id}/disclosures", pv_h_disclosure_accounting, PV_AUTH_DATA, 0,
     "disclosure.accounting"},
    {"DELETE", "/v1/subjects/{id}/records/{collection}", pv_h_records_delete_all, PV_AUTH_DATA, 0,
     "record.delete_all"},
    /* transparency: the notice, whose data a credential or period touched, the vendors */
    {"GET", "/v1/notice", pv_h_notice, PV_AUTH_NONE, 0, NULL},
    {"GET", "/v1/audit/touched", pv_h_touched, PV_AUTH_USER, 0, NULL},
    {"GET", "/v1/vendors", pv_h_vendors, PV_AUTH_USER, 0, NULL},
    /* de-identified and aggregate data: no subject, every read decided and audited */
    {"GET", "/v1/deidentified/{collection}", pv_h_deid_list, PV_AUTH_DATA, 0,
     "deidentified.read"},
    {"GET", "/v1/aggregates/{collection}", pv_h_aggregate, PV_AUTH_DATA, 0, "aggregate.read"},
    /* end-to-end values: each user's public key, and the keys of a subject's readers */
    {"PUT", "/v1/auth/public-key", pv_h_public_key_set, PV_AUTH_USER, 4 * KB, NULL},
    {"GET", "/v1/subjects/{id}/public-keys", pv_h_public_keys, PV_AUTH_DATA, 0, "public-key.read"},
};

const size_t pv_nroutes = PV_ARRAY_LEN(pv_routes);

/* Bodies other than JSON: Twilio posts a form; RFC 8058 one-click posts whatever it likes. */
static const struct {
    pv_handler handler;
    enum pv_body body;
} bodies[] = {
    {pv_h_sms_inbound, PV_BODY_FORM},
    {pv_h_unsubscribe, PV_BODY_ANY},
};

enum pv_body
pv_route_body(const struct pv_route *rt)
{
    for (size_t i = 0; i < PV_ARRAY_LEN(bodies); i++)
        if (bodies[i].handler == rt->handler)
            return bodies[i].body;
    return PV_BODY_JSON;
}

/* Match path against pattern; captures go to r->param_buf. 1 on a match. */
static int
match(const char *pattern, const char *path, struct pv_req *r)
{
    const char *p = pattern, *s = path, *pe, *se;
    int np = 0;

    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        pe = strchr(p, '/');
        se = strchr(s, '/');
        if (pe == NULL)
            pe = p + strlen(p);
        if (se == NULL)
            se = s + strlen(s);
        if (*p == '{') {
            size_t n = (size_t)(se - s);
            if (n == 0 || n > PV_NAME_MAX || np == PV_MAX_PARAMS)
                return 0;
            memcpy(r->param_buf[np], s, n);
            r->param_buf[np][n] = '\0';
            r->params[np] = r->param_buf[np];
            np++;
        } else if ((size_t)(pe - p) != (size_t)(se - s) || memcmp(p, s, (size_t)(pe - p)) != 0) {
            return 0;
        }
        p = pe;
        s = se;
    }
    return *p == '\0' && (*s == '\0' || (s[0] == '/' && s[1] == '\0'));
}

int
pv_route_match(const char *method, const char *path, struct pv_req *r)
{
    int other_method = 0;

    for (size_t i = 0; i < pv_nroutes; i++) {
        if (!match(pv_routes[i].pattern, path, r))
            continue;
        if (strcmp(pv_routes[i].method, method) == 0) {
            r->route = &pv_routes[i];
            return 0;
        }
        other_method = 1;
    }
    return other_method ? PV_EMETHOD : PV_ENOROUTE;
}

const char *
pv_http_route(size_t i, const char **method, const char **auth)
{
    static const char *const auths[] = {"none", "bearer", "bearer+purpose"};

    if (i >= pv_nroutes)
        return NULL;
    *method = pv_routes[i].method;
    *auth = auths[pv_routes[i].auth];
    return pv_routes[i].pattern;
}
