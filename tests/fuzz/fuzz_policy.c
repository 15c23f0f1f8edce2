/*
 * fuzz_policy.c: the policy loader (policy/load.c) on arbitrary bytes, and
 * the decision function on every policy it accepts.
 *
 * A refused policy must say why, each problem on a line of its own as
 * NAME:LINE:COLUMN: message. An accepted one is asked for a decision for
 * every role, purpose, collection and action: a permit must say "permit"
 * and stay inside the collection's fields, a denial must carry an error and
 * a reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

#include "crypto/crypto.h"
#include "policy/policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
    fuzz_check(ok, "fuzz_policy", what);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    check(pv_crypto_init(1) == 0, "libsodium");
    return 0;
}

/* Every line is "fuzz.yaml:LINE:COLUMN: message". */
static void
check_errors(const struct pv_buf *errors)
{
    const char *p = errors->data, *nl;

    check(errors->len > 0 && p != NULL, "a refused policy without a message");
    for (; *p; p = nl + 1) {
        const char *q = p + strlen("fuzz.yaml:");
        nl = strchr(p, '\n');
        check(nl != NULL, "a message without its newline");
        check(strncmp(p, "fuzz.yaml:", strlen("fuzz.yaml:")) == 0, "a message without the file");
        check(*q >= '1' && *q <= '9', "a message without a line");
        while (*q >= '0' && *q <= '9')
            q++;
        check(*q++ == ':' && *q >= '1' && *q <= '9', "a message without a column");
        while (*q >= '0' && *q <= '9')
            q++;
        check(q[0] == ':' && q[1] == ' ' && q + 2 < nl, "a message without its text");
    }
}

static void
check_decisions(const struct pv_policy *p)
{
    for (int r = -1; r < p->nroles; r++)
        for (int u = -1; u < p->npurposes; u++)
            for (int c = 0; c < p->ncollections; c++)
                for (int a = 0; a < PV_ACT_COUNT_; a++) {
                    const struct pv_collection *col = &p->collections[c];
                    uint64_t all =
                        col->nfields >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << col->nfields) - 1;
                    struct pv_facts f;
                    struct pv_decision d;

                    memset(&f, 0, sizeof f);
                    f.role = r;
                    f.purpose = u >= 0 ? p->purposes[u].key : NULL;
                    f.action = (enum pv_action)a;
                    f.collection = c;
                    f.fields = all;
                    f.self = f.assigned = (r + u) & 1;
                    f.policy_version = p->version;
                    f.age = p->minimum_age;
                    pv_policy_decide(p, &f, &d);
                    check(d.reason != NULL && d.reason[0] != '\0', "a decision without a reason");
                    if (d.permit) {
                        check(d.err == 0 && strcmp(d.reason, "permit") == 0, "a strange permit");
                        check((d.fields & ~all) == 0, "a permit beyond the collection's fields");
                        check(r >= 0 && u >= 0, "a permit without a role or a purpose");
                    } else {
                        check(d.err < 0, "a denial without an error");
                    }
                }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pv_policy *p = NULL;
    struct pv_buf errors;
    int rc;

    pv_buf_init(&errors, (size_t)1024 * 1024);
    rc = pv_policy_parse("fuzz.yaml", (const char *)data, size, &p, &errors);
    if (rc == 0) {
        check(p != NULL && strlen(p->version) == PV_POLICY_VERSION_LEN, "no version");
        check(errors.len == 0, "messages for an accepted policy");
        check_decisions(p);
        pv_policy_free(p);
    } else {
        check(p == NULL, "a policy returned with an error");
        check(rc == PV_EPOLICY || rc == PV_ENOMEM || rc == PV_ETOOBIG || rc == PV_EIO,
              "unexpected error code");
        if (rc == PV_EPOLICY)
            check_errors(&errors);
    }
    pv_buf_fini(&errors);
    return 0;
}
