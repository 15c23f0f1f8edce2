/*
 * parse: the parsers of request bodies, shared by the server and its fuzz
 * targets (tests/fuzz/).
 *
 *  - pv_http_json_body(): a JSON request body as the server takes it: well
 *    formed, no duplicate keys, an object at the top.
 *  - pv_form_parse(): an application/x-www-form-urlencoded body, such as
 *    the inbound-SMS webhook's (From, To, Body, ...). Names and values are
 *    percent-decoded ('+' is a space) and must be valid UTF-8 without NUL
 *    bytes; names are unique and not empty; the number of fields and the
 *    size of each are bounded. A body that breaks any rule is refused as a
 *    whole (PV_EINVAL, or PV_ETOOBIG for a limit) and nothing is kept.
 *
 * Error texts are fixed sentences: none quotes the input, which may hold
 * personal data (an SMS body, a phone number).
 *
 * Thread safety: no shared state; a parsed form belongs to its caller.
 */
#ifndef PV_HTTP_PARSE_H
#define PV_HTTP_PARSE_H

#include <stddef.h>

#include <jansson.h>

/*
 * Parse a JSON request body into *out (a new reference, an object). On
 * failure returns PV_EJSON (not well-formed, or a duplicate key) or
 * PV_EINVAL (not an object), with *detail a fixed sentence saying which.
 */
int pv_http_json_body(const char *body, size_t len, json_t **out, const char **detail);

/* Limits of a form; zero fields take the defaults below. */
struct pv_form_limits {
    int max_fields;   /* default 64 */
    size_t max_name;  /* decoded bytes of a name, default 64 */
    size_t max_value; /* decoded bytes of a value, default 4096 */
};

#define PV_FORM_MAX_FIELDS 64
#define PV_FORM_MAX_NAME 64
#define PV_FORM_MAX_VALUE 4096

struct pv_form_field {
    const char *name;  /* NUL-terminated, valid UTF-8 */
    const char *value; /* NUL-terminated, valid UTF-8, may be "" */
    size_t value_len;
};

struct pv_form {
    struct pv_form_field *fields; /* in the order of the body (pv_form_sort() reorders) */
    int n;
    char *text; /* the decoded names and values: wiped and freed by pv_form_fini() */
    size_t text_cap;
};

/*
 * Parse len bytes of body. limits may be NULL (the defaults). On success
 * fills *out, which the caller releases with pv_form_fini(); on failure
 * returns PV_EINVAL, PV_ETOOBIG or PV_ENOMEM with *detail a fixed sentence
 * (detail may be NULL) and leaves *out untouched.
 */
int pv_form_parse(const char *body, size_t len, const struct pv_form_limits *limits,
                  struct pv_form *out, const char **detail);
/* Wipe (values may be personal) and free; pv_form_fini() of a zeroed form is a no-op. */
void pv_form_fini(struct pv_form *f);
/* The value of name, or NULL when the form has no such field. */
const char *pv_form_get(const struct pv_form *f, const char *name);
/* Order the fields by name, bytewise (how Twilio's request signature lists them). */
void pv_form_sort(struct pv_form *f);

#endif
