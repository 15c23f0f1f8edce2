/* cmd_policy.c: phivault policy check FILE. */
#include <stdio.h>

#include "cli/cli.h"
#include "policy/policy.h"

int
pv_cmd_policy_check(int argc, char **argv)
{
    struct pv_policy *p;
    struct pv_buf errors;
    int rc;

    if (argc != 2) {
        (void)fprintf(stderr, "usage: phivault policy check FILE\n");
        return 2;
    }
    pv_buf_init(&errors, (size_t)256 * 1024);
    rc = pv_policy_load(argv[1], &p, &errors);
    if (rc != 0) {
        (void)fputs(errors.data ? errors.data : "", stderr);
        if (errors.len == 0)
            (void)fprintf(stderr, "%s:1:1: %s\n", argv[1], pv_strerror(rc));
        pv_buf_fini(&errors);
        return 1;
    }
    pv_buf_fini(&errors);
    printf("%s: ok: version %s, effective %s, %d categories, %d collections, %d roles, "
           "%d purposes, %d recipients\n",
           argv[1], p->version, p->effective, p->ncategories, p->ncollections, p->nroles,
           p->npurposes, p->nrecipients);
    pv_policy_free(p);
    return 0;
}
