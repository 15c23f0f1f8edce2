/*
 * log.c: JSON lines on a file descriptor, one write(2) per line so lines
 * from different threads never interleave.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <unistd.h>

#include "base/base.h"

static _Atomic int log_level = PV_LOG_INFO;
static _Atomic int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
pv_log_set_level(enum pv_log_level level)
{
    atomic_store(&log_level, (int)level);
}

void
pv_log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

void
pv_log(enum pv_log_level level, const char *event, ...)
{
    char ts[21];
    struct pv_buf b;
    const char *k, *v;
    va_list ap;
    int rc;

    if ((int)level < atomic_load(&log_level) || level >= PV_LOG_OFF)
        return;
    pv_buf_init(&b, 4096);
    pv_time_format(pv_now(), ts);
    rc = pv_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, level_names[level]);
    if (rc == 0)
        rc = pv_buf_json_str(&b, event);
    va_start(ap, event);
    while (rc == 0 && (k = va_arg(ap, const char *)) != NULL) {
        v = va_arg(ap, const char *);
        rc = pv_buf_puts(&b, ",");
        if (rc == 0)
            rc = pv_buf_json_str(&b, k);
        if (rc == 0)
            rc = pv_buf_puts(&b, ":");
        if (rc == 0)
            rc = pv_buf_json_str(&b, v ? v : "");
    }
    va_end(ap);
    if (rc == 0)
        rc = pv_buf_puts(&b, "}\n");
    if (rc == 0 && write(atomic_load(&log_fd), b.data, b.len) < 0)
        rc = PV_EIO; /* nowhere left to report it */
    (void)rc;
    pv_buf_fini(&b);
}
