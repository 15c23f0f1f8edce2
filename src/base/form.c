/*
 * form.c: application/x-www-form-urlencoded bodies (the HTML form encoding
 * Twilio's webhooks and RFC 8058 one-click unsubscribe use).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/base.h"

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..n) into out (room for n + 1); 0, or PV_EINVAL on a bad escape or a NUL. */
static int
decode(const char *s, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            int hi, lo;
            if (n - i < 3 || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
                return PV_EINVAL;
            ch = (char)(hi << 4 | lo);
            i += 2;
        }
        if (ch == '\0')
            return PV_EINVAL;
        out[o++] = ch;
    }
    out[o] = '\0';
    return 0;
}

int
pv_form_parse(const char *body, size_t len, struct pv_form *out)
{
    struct pv_form f;
    const char *p = body, *end = body + len, *amp, *eq;
    char *w;
    int rc = 0;

    memset(&f, 0, sizeof f);
    /* Decoded text is never longer than the input; two NULs per pair at most. */
    f.store_len = 3 * len + 2;
    if ((f.store = malloc(f.store_len)) == NULL)
        return PV_ENOMEM;
    w = f.store;
    while (rc == 0 && p < end) {
        amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        if (amp == p) { /* an empty pair, as in "a=1&&b=2" */
            p = amp + 1;
            continue;
        }
        if (f.n == PV_FORM_MAX_PARAMS) {
            rc = PV_ETOOBIG;
            break;
        }
        eq = memchr(p, '=', (size_t)(amp - p));
        if (eq == NULL)
            eq = amp;
        if (eq == p) {
            rc = PV_EINVAL; /* no key */
            break;
        }
        f.params[f.n].key = w;
        if ((rc = decode(p, (size_t)(eq - p), w)) != 0)
            break;
        w += strlen(w) + 1;
        f.params[f.n].value = w;
        rc = eq < amp ? decode(eq + 1, (size_t)(amp - eq - 1), w) : decode("", 0, w);
        if (rc != 0)
            break;
        w += strlen(w) + 1;
        f.n++;
        p = amp < end ? amp + 1 : end;
    }
    if (rc != 0) {
        pv_form_fini(&f);
        return rc;
    }
    *out = f;
    return 0;
}

void
pv_form_fini(struct pv_form *f)
{
    if (f->store) {
        /* The body may carry personal data (a phone number, a message); leave none behind. */
        sodium_memzero(f->store, f->store_len);
        free(f->store);
    }
    f->store = NULL;
    f->n = 0;
}

const char *
pv_form_get(const struct pv_form *f, const char *key)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->params[i].key, key) == 0)
            return f->params[i].value;
    return NULL;
}
