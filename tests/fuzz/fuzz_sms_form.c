/*
 * fuzz_sms_form.c: the application/x-www-form-urlencoded parser that the
 * inbound-SMS webhook and one-click unsubscribe use (base/form.c).
 *
 * Besides running under the sanitizers, every accepted form is checked:
 * within the field limit, keys not empty, every key and value a C string
 * inside the form's own store, pv_form_get() finding each key's first
 * value, and encoding the fields again and parsing that giving the same
 * fields back, in the same order.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "fuzz_util.h"

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

static int
inside(const struct pv_form *f, const char *s)
{
    return s >= f->store && s + strlen(s) < f->store + f->store_len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pv_form f, g;
    struct pv_buf again;
    int rc = pv_form_parse((const char *)data, size, &f);

    if (rc != 0) {
        check(rc == PV_EINVAL || rc == PV_ETOOBIG || rc == PV_ENOMEM, "unexpected error code");
        return 0;
    }
    check(f.n >= 0 && f.n <= PV_FORM_MAX_PARAMS, "too many fields accepted");
    pv_buf_init(&again, (size_t)16 * 1024 * 1024);
    for (int i = 0; i < f.n; i++) {
        const char *k = f.params[i].key, *v = f.params[i].value, *first = pv_form_get(&f, k);
        check(k != NULL && v != NULL && k[0] != '\0', "an empty or missing key");
        check(inside(&f, k) && inside(&f, v), "a key or value outside the form's store");
        int firstj = i;
        for (int j = 0; j < i && firstj == i; j++)
            if (strcmp(f.params[j].key, k) == 0)
                firstj = j;
        check(first == f.params[firstj].value, "pv_form_get() did not return the first value");
        if (i)
            pv_buf_append(&again, "&", 1);
        encode(&again, k);
        pv_buf_append(&again, "=", 1);
        encode(&again, v);
    }
    rc = pv_form_parse(again.data ? again.data : "", again.len, &g);
    check(rc == 0, "the encoded form does not parse again");
    check(g.n == f.n, "the encoded form has other fields");
    for (int i = 0; i < f.n; i++) {
        check(strcmp(f.params[i].key, g.params[i].key) == 0, "a key changed on the way back");
        check(strcmp(f.params[i].value, g.params[i].value) == 0, "a value changed on the way back");
    }
    pv_form_fini(&g);
    pv_form_fini(&f);
    check(f.n == 0 && f.store == NULL, "pv_form_fini() left the form filled");
    pv_buf_fini(&again);
    return 0;
}
