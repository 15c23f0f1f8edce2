/* fuzz_util.h: what the fuzz targets share: failing loudly, formatting, scratch directories. */
#ifndef PV_FUZZ_UTIL_H
#define PV_FUZZ_UTIL_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A broken promise of the code under test: report it and abort, which the fuzzer records. */
static inline void
fuzz_check(int ok, const char *target, const char *what)
{
    if (!ok) {
        (void)fprintf(stderr, "%s: %s\n", target, what);
        abort();
    }
}

static inline void fuzz_fmt(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf() that aborts rather than truncate. */
static inline void
fuzz_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    fuzz_check(r >= 0 && (size_t)r < n, "fuzz", "a path or statement did not fit its buffer");
}

/* A scratch directory on tmpfs when there is one (its fsyncs cost nothing), else in /tmp. */
static inline void
fuzz_temp_dir(char out[64])
{
    fuzz_fmt(out, 64, "%s/pvfuzz.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    fuzz_check(mkdtemp(out) != NULL, "fuzz", "no scratch directory");
}

static inline int
fuzz_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void
fuzz_rm_tree(const char *dir)
{
    if (nftw(dir, fuzz_rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        (void)fprintf(stderr, "fuzz: could not remove %s\n", dir);
}

#endif
