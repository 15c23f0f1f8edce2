/* cmd_sweep.c: phivault sweep --data DIR: dispose of what retention says has expired. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "vault/vault.h"

int
pv_cli_vault_open(const char *dir, struct pv_vault **out)
{
    struct pv_vault_config cfg = {dir, NULL, 0};
    struct pv_buf errors;
    int rc;

    pv_buf_init(&errors, (size_t)64 * 1024);
    if ((rc = pv_vault_open(&cfg, out, &errors)) != 0) {
        (void)fputs(errors.data ? errors.data : "", stderr);
        (void)fprintf(stderr, "phivault: cannot open %s (%s)\n", dir, pv_strerror(rc));
    }
    pv_buf_fini(&errors);
    return rc;
}

static void
progress(int64_t done, int64_t total, void *arg)
{
    pv_progress_update(arg, done, total);
}

int
pv_cmd_sweep(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    struct pv_sweep_report r;
    struct pv_progress bar;
    struct pv_vault *v = NULL;
    const char *dir = NULL;
    int ch, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        if (ch != 'd')
            return 2;
        dir = optarg;
    }
    if (dir == NULL || optind != argc) {
        (void)fprintf(stderr, "usage: phivault sweep --data DIR\n");
        return 2;
    }
    if (pv_cli_vault_open(dir, &v) != 0)
        return 1;
    pv_progress_start(&bar, "sweeping");
    rc = pv_vault_sweep(v, &r, progress, &bar);
    pv_progress_end(&bar);
    pv_vault_close(v);
    if (rc != 0) {
        (void)fprintf(stderr,
                      "phivault: the sweep stopped (%s); what it disposed of is recorded in the "
                      "audit log, the rest waits for the next sweep\n",
                      pv_strerror(rc));
        return 1;
    }
    printf("subjects looked at: %lld\n", (long long)r.subjects);
    printf("records purged: %lld\n", (long long)r.records_purged);
    printf("records anonymized: %lld\n", (long long)r.records_anonymized);
    printf("records trimmed of expired values: %lld\n", (long long)r.fields_purged);
    printf("usage events purged: %lld\n", (long long)r.usage_purged);
    printf("subjects erased (data key destroyed): %lld\n", (long long)r.keys_destroyed);
    printf("expired rows kept under a legal hold: %lld\n", (long long)r.held);
    return 0;
}
