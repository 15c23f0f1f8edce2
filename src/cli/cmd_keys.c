/* cmd_keys.c: phivault keys rotate | keys check --data DIR. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vault/vault.h"

static void
progress(int64_t done, int64_t total, void *arg)
{
    pv_progress_update(arg, done, total);
}

/* The --data DIR of a keys subcommand; NULL on a usage error. */
static const char *
data_arg(int argc, char **argv, const char *usage)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        if (ch != 'd')
            return NULL;
        dir = optarg;
    }
    if (dir == NULL || optind != argc) {
        (void)fprintf(stderr, "usage: phivault %s\n", usage);
        return NULL;
    }
    return dir;
}

int
pv_cmd_keys_rotate(int argc, char **argv)
{
    struct pv_keys_report r;
    struct pv_progress bar;
    struct pv_vault *v = NULL;
    const char *dir = data_arg(argc, argv, "keys rotate --data DIR");
    int rc;

    if (dir == NULL)
        return 2;
    if (pv_cli_vault_open(dir, &v) != 0)
        return 1;
    pv_progress_start(&bar, "rewrapping");
    rc = pv_vault_keys_rotate(v, &r, progress, &bar);
    pv_progress_end(&bar);
    pv_vault_close(v);
    if (rc != 0) {
        (void)fprintf(
            stderr,
            "phivault: key rotation stopped (%s); every key opens as before, run it again\n",
            rc == PV_EBUSY ? "a backup or another rotation is running" : pv_strerror(rc));
        return 1;
    }
    printf("master key version %u in force\n", (unsigned)r.version);
    printf("data keys rewrapped: %lld of %lld\n", (long long)r.rewrapped, (long long)r.keys);
    for (int i = 0; i < r.nretired; i++)
        printf("retired master key version %u\n", (unsigned)r.retired[i]);
    return 0;
}

int
pv_cmd_keys_check(int argc, char **argv)
{
    struct pv_keys_report r;
    struct pv_progress bar;
    struct pv_vault *v = NULL;
    const char *dir = data_arg(argc, argv, "keys check --data DIR");
    int rc;

    if (dir == NULL)
        return 2;
    if (pv_cli_vault_open(dir, &v) != 0)
        return 1;
    pv_progress_start(&bar, "checking");
    rc = pv_vault_keys_check(v, &r, progress, &bar);
    pv_progress_end(&bar);
    pv_vault_close(v);
    if (rc != 0) {
        (void)fprintf(stderr, "phivault: cannot read the data keys (%s)\n", pv_strerror(rc));
        return 1;
    }
    printf("master key version %u in force\n", (unsigned)r.version);
    printf("data keys: %lld, opened: %lld, unreadable: %lld\n", (long long)r.keys,
           (long long)(r.keys - r.unreadable), (long long)r.unreadable);
    return r.unreadable ? 1 : 0;
}
