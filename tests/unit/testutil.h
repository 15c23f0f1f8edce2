/* testutil.h: helpers shared by the unit tests. */
#ifndef PV_TESTUTIL_H
#define PV_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ftw.h>
#include <sys/stat.h>

#include <cmocka.h>

/* snprintf() that fails the test rather than truncate. */
static inline void test_snprintf(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void
test_snprintf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    assert_true(r >= 0 && (size_t)r < n);
}

/* A fresh empty directory under /tmp; the caller removes it with rm_tree(). */
static inline void
make_temp_dir(char out[64])
{
    test_snprintf(out, 64, "/tmp/pvtest.XXXXXX");
    assert_non_null(mkdtemp(out));
}

static inline int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove dir and everything below it (no shell: paths are passed as they are). */
static inline void
rm_tree(const char *dir)
{
    assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* The source tree (for policies), from the environment CTest sets. */
static inline const char *
source_dir(void)
{
    const char *s = getenv("PV_SOURCE_DIR");
    return s ? s : ".";
}

#endif
