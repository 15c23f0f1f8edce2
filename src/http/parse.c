/* parse.c: JSON request bodies. */
#include "base/base.h"
#include "crypto/crypto.h"
#include "http/parse.h"

int
pv_http_json_body(const char *body, size_t len, json_t **out, const char **detail)
{
    json_error_t jerr;
    json_t *j;

    if (len == 0) {
        *detail = "this route needs a JSON object as its body";
        return PV_EINVAL;
    }
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    /* jerr quotes the input: it is never logged nor returned. */
    pv_wipe(&jerr, sizeof jerr);
    if (j == NULL) {
        *detail = "the body is not well-formed JSON";
        return PV_EJSON;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *detail = "the body must be a JSON object";
        return PV_EINVAL;
    }
    *out = j;
    return 0;
}
