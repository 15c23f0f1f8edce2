/* cmd_init.c: phivault init: a new data directory. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "vault/vault.h"

#ifndef PV_DEFAULT_POLICY
#define PV_DEFAULT_POLICY "policies/example.yaml"
#endif

int
pv_cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"policy", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *policy = PV_DEFAULT_POLICY, *env;
    char generated[40];
    unsigned char r[18];
    struct pv_buf errors;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "d:p:", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'p')
            policy = optarg;
        else
            return 2;
    }
    if (dir == NULL || optind != argc) {
        (void)fprintf(stderr, "usage: phivault init --data DIR [--policy FILE]\n");
        return 2;
    }
    env = getenv("PHIVAULT_ADMIN_PASSWORD");
    if (env && *env == '\0')
        env = NULL; /* set but empty: generate one */
    if (env == NULL) {
        randombytes_buf(r, sizeof r);
        sodium_bin2base64(generated, sizeof generated, r, sizeof r,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(r, sizeof r);
    }
    pv_buf_init(&errors, (size_t)64 * 1024);
    rc = pv_vault_init(dir, policy, env ? env : generated, &errors);
    if (rc != 0) {
        (void)fputs(errors.data ? errors.data : "", stderr);
        if (rc == PV_EINVAL && env)
            (void)fprintf(stderr,
                          "phivault: PHIVAULT_ADMIN_PASSWORD must be 12 to 1024 characters\n");
        pv_buf_fini(&errors);
        sodium_memzero(generated, sizeof generated);
        return 1;
    }
    pv_buf_fini(&errors);
    (void)fprintf(stderr, "phivault: initialized %s\n", dir);
    if (env == NULL) {
        /* Shown once, on stdout, so it can be captured; never stored in the clear. */
        printf("admin password: %s\n", generated);
        (void)fflush(stdout);
        sodium_memzero(generated, sizeof generated);
    }
    return 0;
}
