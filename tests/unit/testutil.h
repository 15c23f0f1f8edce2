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

#include <cmocka.h>

/* A fresh empty directory under /tmp; the caller removes it with rm_tree(). */
static inline void
make_temp_dir(char out[64])
{
    snprintf(out, 64, "/tmp/pvtest.XXXXXX");
    assert_non_null(mkdtemp(out));
}

static inline void
rm_tree(const char *dir)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The source tree (for policies), from the environment CTest sets. */
static inline const char *
source_dir(void)
{
    const char *s = getenv("PV_SOURCE_DIR");
    return s ? s : ".";
}

#endif
