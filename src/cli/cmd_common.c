/* cmd_common.c: what every command shares: set-up and the progress bar. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/base.h"
#include "cli/cli.h"
#include "crypto/crypto.h"

/* jansson's memory holds plaintext opened from the store: wipe it when freed. */
static void
wiping_free(void *p)
{
    if (p) {
        pv_wipe(p, malloc_usable_size(p));
        free(p);
    }
}

int
pv_cli_setup(void)
{
    struct rlimit none = {0, 0};

    /* Everything phivault creates is for its own user alone. */
    umask(077);
    /* A core dump would hold keys and plaintext. */
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    json_set_alloc_funcs(malloc, wiping_free);
    if (getenv("PHIVAULT_TEST_CLOCK_FILE")) {
        pv_clock_set_file(getenv("PHIVAULT_TEST_CLOCK_FILE"));
        pv_log(PV_LOG_WARN, "clock.test_file", "note",
               "the clock is offset by PHIVAULT_TEST_CLOCK_FILE; for tests only", (char *)NULL);
    }
    if (pv_crypto_init(2) != 0) {
        (void)fprintf(stderr, "phivault: libsodium failed to initialize\n");
        return -1;
    }
    return 0;
}

void
pv_progress_start(struct pv_progress *p, const char *label)
{
    p->label = label;
    p->tty = isatty(2);
    p->last_ms = 0;
}

void
pv_progress_update(struct pv_progress *p, int64_t done, int64_t total)
{
    char bar[41];
    int64_t now = pv_mono_ms();
    int fill;

    if (!p->tty || (now - p->last_ms < 100 && done != total))
        return;
    p->last_ms = now;
    fill = total > 0 ? (int)(done * 40 / total) : 40;
    if (fill > 40)
        fill = 40;
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(40 - fill));
    bar[40] = '\0';
    (void)fprintf(stderr, "\r%s [%s] %lld/%lld", p->label, bar, (long long)done, (long long)total);
}

void
pv_progress_end(struct pv_progress *p)
{
    if (p->tty)
        (void)fprintf(stderr, "\n");
}
