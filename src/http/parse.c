/* parse.c: request bodies: JSON, and urlencoded forms with limits. */
#include <stdlib.h>
#include <string.h>

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

/* ---- forms ------------------------------------------------------------------ */

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

/* Whether s[0..n) is UTF-8 as RFC 3629 defines it: no overlong forms, surrogates or NULs. */
static int
utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;

        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

/*
 * Percent-decode src[0..n) into dst ('+' is a space), NUL-terminated. The
 * result is never longer than the input. PV_EINVAL on a malformed escape.
 */
static int
decode(const char *src, size_t n, char *dst, size_t *outlen)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (src[i] == '%') {
            int hi, lo;
            if (n - i < 3 || (hi = hexval(src[i + 1])) < 0 || (lo = hexval(src[i + 2])) < 0)
                return PV_EINVAL;
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            char c = src[i];
            if (c == '+')
                c = ' ';
            dst[o++] = c;
        }
    }
    dst[o] = '\0';
    *outlen = o;
    return 0;
}

static int
fail(const char **detail, const char *why, int err)
{
    if (detail)
        *detail = why;
    return err;
}

int
pv_form_parse(const char *body, size_t len, const struct pv_form_limits *limits,
              struct pv_form *out, const char **detail)
{
    int max_fields = limits && limits->max_fields > 0 ? limits->max_fields : PV_FORM_MAX_FIELDS;
    size_t max_name = limits && limits->max_name ? limits->max_name : PV_FORM_MAX_NAME;
    size_t max_value = limits && limits->max_value ? limits->max_value : PV_FORM_MAX_VALUE;
    struct pv_form f = {NULL, 0, NULL, 0};
    const char *p, *end = body + len, *amp, *eq;
    size_t used = 0, nlen, vlen;
    int count = 0, rc = 0;

    /* Count the fields first (empty pieces between '&' are skipped), so nothing grows later. */
    for (p = body; p < end; p = amp + 1) {
        amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        if (amp > p && ++count > max_fields)
            return fail(detail, "the form has too many fields", PV_ETOOBIG);
    }
    /* Decoded text is never longer than the body, plus a NUL after each name and value. */
    f.text_cap = len + 2 * (size_t)count + 1;
    f.fields = calloc(count ? (size_t)count : 1, sizeof *f.fields);
    f.text = malloc(f.text_cap);
    if (f.fields == NULL || f.text == NULL) {
        free(f.fields);
        free(f.text);
        return fail(detail, "out of memory", PV_ENOMEM);
    }
    for (p = body; rc == 0 && p < end; p = amp + 1) {
        struct pv_form_field *fd;
        char *name, *value;

        amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        if (amp == p)
            continue;
        eq = memchr(p, '=', (size_t)(amp - p));
        if (eq == p) {
            rc = fail(detail, "a form field has no name", PV_EINVAL);
            break;
        }
        name = f.text + used;
        if (decode(p, (size_t)((eq ? eq : amp) - p), name, &nlen) != 0) {
            rc = fail(detail, "a form field has a malformed percent escape", PV_EINVAL);
            break;
        }
        used += nlen + 1;
        value = f.text + used;
        if (decode(eq ? eq + 1 : amp, eq ? (size_t)(amp - eq - 1) : 0, value, &vlen) != 0) {
            rc = fail(detail, "a form field has a malformed percent escape", PV_EINVAL);
            break;
        }
        used += vlen + 1;
        if (nlen == 0)
            rc = fail(detail, "a form field has no name", PV_EINVAL);
        else if (nlen > max_name)
            rc = fail(detail, "a form field's name is too long", PV_ETOOBIG);
        else if (vlen > max_value)
            rc = fail(detail, "a form field's value is too long", PV_ETOOBIG);
        else if (!utf8_valid((const unsigned char *)name, nlen) ||
                 !utf8_valid((const unsigned char *)value, vlen))
            rc = fail(detail, "form fields must be UTF-8 text without NUL bytes", PV_EINVAL);
        else if (pv_form_get(&f, name) != NULL)
            rc = fail(detail, "a form field appears twice", PV_EINVAL);
        if (rc != 0)
            break;
        fd = &f.fields[f.n++];
        fd->name = name;
        fd->value = value;
        fd->value_len = vlen;
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
    if (f->text) {
        pv_wipe(f->text, f->text_cap);
        free(f->text);
    }
    free(f->fields);
    f->fields = NULL;
    f->text = NULL;
    f->text_cap = 0;
    f->n = 0;
}

const char *
pv_form_get(const struct pv_form *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->fields[i].name, name) == 0)
            return f->fields[i].value;
    return NULL;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const struct pv_form_field *)a)->name, ((const struct pv_form_field *)b)->name);
}

void
pv_form_sort(struct pv_form *f)
{
    if (f->n > 1)
        qsort(f->fields, (size_t)f->n, sizeof *f->fields, by_name);
}
