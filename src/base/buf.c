/* buf.c: bounded growable buffers and small string helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

void
pv_buf_init(struct pv_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
pv_buf_fini(struct pv_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void
pv_buf_reset(struct pv_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Make room for need more bytes plus the NUL. */
static int
reserve(struct pv_buf *b, size_t need)
{
    size_t want, ncap;
    char *p;

    if (need > b->max - b->len)
        return PV_ETOOBIG;
    want = b->len + need + 1;
    if (want <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 64;
    while (ncap < want)
        ncap *= 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    p = realloc(b->data, ncap);
    if (p == NULL)
        return PV_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int
pv_buf_append(struct pv_buf *b, const void *p, size_t n)
{
    int rc;

    if ((rc = reserve(b, n)) != 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
pv_buf_puts(struct pv_buf *b, const char *s)
{
    return pv_buf_append(b, s, strlen(s));
}

int
pv_buf_vprintf(struct pv_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n, rc;

    va_copy(cp, ap);
    /* The analyzer loses the va_copy() above when this is inlined into pv_buf_printf(). */
    n = vsnprintf(NULL, 0, fmt, cp); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(cp);
    if (n < 0)
        return PV_EINVAL;
    if ((rc = reserve(b, (size_t)n)) != 0)
        return rc;
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int
pv_buf_printf(struct pv_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = pv_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int
pv_buf_markup(struct pv_buf *b, const char *s)
{
    int rc = 0;

    for (; rc == 0 && s && *s; s++) {
        const char *e = *s == '&'    ? "&amp;"
                        : *s == '<'  ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '"'  ? "&quot;"
                        : *s == '\'' ? "&#39;"
                                     : NULL;

        rc = e ? pv_buf_puts(b, e) : pv_buf_append(b, s, 1);
    }
    return rc;
}

int
pv_buf_json_str(struct pv_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p;
    char esc[7];
    int rc = pv_buf_append(b, "\"", 1);

    for (p = (const unsigned char *)s; rc == 0 && *p; p++) {
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            rc = pv_buf_append(b, esc, 2);
        } else if (*p < 0x20) {
            /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): two digits follow */
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            rc = pv_buf_append(b, esc, 6);
        } else {
            rc = pv_buf_append(b, p, 1);
        }
    }
    if (rc == 0)
        rc = pv_buf_append(b, "\"", 1);
    return rc;
}

int
pv_strlcpy(char *dst, const char *src, size_t n)
{
    size_t len = strlen(src);

    if (n == 0)
        return PV_ETOOBIG;
    if (len >= n) {
        memcpy(dst, src, n - 1);
        dst[n - 1] = '\0';
        return PV_ETOOBIG;
    }
    memcpy(dst, src, len + 1);
    return 0;
}

int
pv_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
        return PV_EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return PV_EINVAL;
    *out = v;
    return 0;
}

char *
pv_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
pv_strdup(const char *s)
{
    return pv_strndup(s, strlen(s));
}
