/*
 * parse: the JSON request-body parser, shared by the server's dispatch and
 * its fuzz target (tests/fuzz/fuzz_request_json.c). Forms (the SMS webhook,
 * one-click unsubscribe) are parsed by base's pv_form_parse().
 *
 * Error texts are fixed sentences: none quotes the input, which may hold
 * personal data.
 *
 * Thread safety: no shared state.
 */
#ifndef PV_HTTP_PARSE_H
#define PV_HTTP_PARSE_H

#include <stddef.h>

#include <jansson.h>

/*
 * Parse a JSON request body into *out (a new reference, an object): well
 * formed, no duplicate keys, an object at the top. On failure returns
 * PV_EJSON (not well-formed, or a duplicate key) or PV_EINVAL (empty, or not
 * an object), with *detail a fixed sentence saying which, and *out untouched.
 */
int pv_http_json_body(const char *body, size_t len, json_t **out, const char **detail);

#endif
