/* cmd_audit.c: phivault audit verify --data DIR. */
#include <getopt.h>
#include <stdio.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "vault/vault.h"

static void
progress(int64_t done, int64_t total, void *arg)
{
    pv_progress_update(arg, done, total);
}

int
pv_cmd_audit_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    unsigned char pk[PV_SIGN_PK_BYTES];
    struct pv_audit_report rep;
    struct pv_progress bar;
    struct pv_store *s = NULL;
    const char *dir = NULL;
    char path[4200];
    int ch, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        if (ch != 'd')
            return 2;
        dir = optarg;
    }
    if (dir == NULL || optind != argc) {
        (void)fprintf(stderr, "usage: phivault audit verify --data DIR\n");
        return 2;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, PV_FILE_AUDIT_PUB) >= sizeof path) {
        (void)fprintf(stderr, "phivault: the data directory's path is too long\n");
        return 2;
    }
    if ((rc = pv_sig_load_public(path, pk)) != 0) {
        (void)fprintf(stderr, "%s: cannot read the audit public key (%s)\n", path, pv_strerror(rc));
        return 1;
    }
    if ((rc = pv_store_open(dir, &s)) != 0) {
        (void)fprintf(stderr, "%s: cannot open the store (%s)\n", dir, pv_strerror(rc));
        pv_store_close(s);
        return 1;
    }
    pv_progress_start(&bar, "verifying");
    rc = pv_audit_verify_store(s, 0, pk, &rep, progress, &bar);
    pv_progress_end(&bar);
    pv_store_close(s);
    if (rc == PV_ETAMPER) {
        printf("audit log FAILED verification: %s\n", rep.problem);
        printf("first bad entry: %lld\n", (long long)rep.bad_seq);
        return 1;
    }
    if (rc != 0) {
        (void)fprintf(stderr, "%s: cannot read the audit log (%s)\n", dir, pv_strerror(rc));
        return 1;
    }
    printf("audit log intact: %lld entries, %lld signatures checked\n", (long long)rep.entries,
           (long long)rep.checkpoints);
    return 0;
}
