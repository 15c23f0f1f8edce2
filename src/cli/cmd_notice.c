/* cmd_notice.c: phivault notice POLICY [--format md|html]: the privacy notice, from the policy. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "policy/policy.h"

#define NOTICE_MAX ((size_t)4 * 1024 * 1024)

int
pv_cmd_notice(int argc, char **argv)
{
    const char *path = NULL, *fmt = "md";
    struct pv_policy *p;
    struct pv_buf errors, out;
    int rc, format, bad = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            fmt = argv[++i];
        else if (argv[i][0] != '-' && path == NULL)
            path = argv[i];
        else
            bad = 1;
    }
    format = pv_policy_notice_format(fmt);
    if (bad || path == NULL || format < 0) {
        (void)fprintf(stderr, "usage: phivault notice POLICY [--format md|html]\n");
        return 2;
    }
    pv_buf_init(&errors, (size_t)256 * 1024);
    if ((rc = pv_policy_load(path, &p, &errors)) != 0) {
        (void)fputs(errors.data ? errors.data : "", stderr);
        if (errors.len == 0)
            (void)fprintf(stderr, "%s:1:1: %s\n", path, pv_strerror(rc));
        pv_buf_fini(&errors);
        return 1;
    }
    pv_buf_fini(&errors);
    pv_buf_init(&out, NOTICE_MAX);
    rc = pv_policy_notice(p, format, &out);
    if (rc == 0 && fwrite(out.data, 1, out.len, stdout) != out.len)
        rc = PV_EIO;
    if (rc == 0 && fflush(stdout) != 0)
        rc = PV_EIO;
    if (rc != 0)
        (void)fprintf(stderr, "phivault notice: %s\n", pv_strerror(rc));
    pv_buf_fini(&out);
    pv_policy_free(p);
    return rc == 0 ? 0 : 1;
}
