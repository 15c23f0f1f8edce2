/*
 * fuzz_sms_form.c: the urlencoded form parser that the inbound-SMS webhook
 * uses (http/parse.c).
 *
 * Besides running under the sanitizers, every accepted form is checked:
 * within the limits, names unique and not empty, value lengths right, and
 * encoding the fields again and parsing that gives the same fields back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

#include "base/base.h"
#include "http/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    fuzz_check(ok, "fuzz_sms_form", what);
}

/* Percent-encode everything but RFC 3986's unreserved characters. */
static void
encode(struct pv_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            pv_buf_append(b, p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            pv_buf_append(b, esc, 3);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pv_form f, g;
    const char *detail = NULL;
    struct pv_buf again;
    int rc = pv_form_parse((const char *)data, size, NULL, &f, &detail);

    if (rc != 0) {
        check(rc == PV_EINVAL || rc == PV_ETOOBIG || rc == PV_ENOMEM, "unexpected error code");
        check(detail != NULL, "a refusal without a reason");
        return 0;
    }
    check(f.n >= 0 && f.n <= PV_FORM_MAX_FIELDS, "too many fields accepted");
    pv_buf_init(&again, (size_t)16 * 1024 * 1024);
    for (int i = 0; i < f.n; i++) {
        size_t nlen = strlen(f.fields[i].name);
        check(nlen > 0 && nlen <= PV_FORM_MAX_NAME, "a name out of bounds");
        check(f.fields[i].value_len == strlen(f.fields[i].value), "value_len is wrong");
        check(f.fields[i].value_len <= PV_FORM_MAX_VALUE, "a value out of bounds");
        check(pv_form_get(&f, f.fields[i].name) == f.fields[i].value, "names are not unique");
        if (i)
            pv_buf_append(&again, "&", 1);
        encode(&again, f.fields[i].name);
        pv_buf_append(&again, "=", 1);
        encode(&again, f.fields[i].value);
    }
    rc = pv_form_parse(again.data ? again.data : "", again.len, NULL, &g, &detail);
    check(rc == 0, "the encoded form does not parse again");
    check(g.n == f.n, "the encoded form has other fields");
    for (int i = 0; i < f.n; i++) {
        check(strcmp(f.fields[i].name, g.fields[i].name) == 0, "a name changed on the way back");
        check(strcmp(f.fields[i].value, g.fields[i].value) == 0, "a value changed on the way back");
    }
    pv_form_sort(&g);
    for (int i = 1; i < g.n; i++)
        check(strcmp(g.fields[i - 1].name, g.fields[i].name) < 0, "sorted out of order");
    pv_form_fini(&g);
    pv_form_fini(&f);
    pv_buf_fini(&again);
    return 0;
}
