/*
 * test_decide.c: the decision function, as a table of cases over the
 * bundled example policy. Each row is one request's facts and the decision
 * a reader of the policy file expects.
 */
#include "testutil.h"

#include "policy/policy.h"

#define CURRENT "(current)"

/* A table row, in the order a reader takes it in: padding does not matter here. */
struct row {             /* NOLINT(clang-analyzer-optin.performance.Padding) */
    const char *role;    /* NULL: not authenticated */
    const char *purpose; /* NULL: none given */
    enum pv_action action;
    const char *collection;
    const char *fields; /* comma-separated: written or looked up */
    const char *undeclared;
    int self, assigned, has_subject;
    const char *consents; /* comma-separated consent kinds held */
    const char *version;  /* enroll: CURRENT or another */
    int age;
    int permit;
    int err;
    const char *reason;
    const char *visible; /* reads: the fields returned, comma-separated */
};

static const struct row rows[] = {
    /* who is asking and for what */
    {NULL, "treatment", PV_ACT_READ, "visits", "", NULL, 0, 1, 0, "", NULL, 0, 0, PV_EAUTH,
     "unauthenticated", NULL},
    {"provider", NULL, PV_ACT_READ, "visits", "", NULL, 0, 1, 0, "", NULL, 0, 0, PV_ENOPURPOSE,
     "purpose-required", NULL},
    {"provider", "", PV_ACT_READ, "visits", "", NULL, 0, 1, 0, "", NULL, 0, 0, PV_ENOPURPOSE,
     "purpose-required", NULL},
    {"provider", "curiosity", PV_ACT_READ, "visits", "", NULL, 0, 1, 0, "", NULL, 0, 0, PV_EPURPOSE,
     "unknown-purpose", NULL},
    {"provider", "payment", PV_ACT_READ, "visits", "", NULL, 0, 1, 0, "", NULL, 0, 0, PV_EDENIED,
     "role-not-allowed-purpose", NULL},
    {"staff", "self", PV_ACT_READ, "profile", "", NULL, 0, 0, 0, "", NULL, 0, 0, PV_EDENIED,
     "role-not-allowed-purpose", NULL},
    {"admin", "treatment", PV_ACT_READ, "visits", "", NULL, 0, 0, 0, "", NULL, 0, 0, PV_EDENIED,
     "role-not-allowed-purpose", NULL},
    /* whose data: assignment and self */
    {"provider", "treatment", PV_ACT_READ, "visits", "", NULL, 0, 0, 0, "", NULL, 0, 0, PV_EDENIED,
     "not-assigned", NULL},
    {"provider", "treatment", PV_ACT_READ, "visits", "", NULL, 0, 1, 0, "", NULL, 0, 1, 0, "permit",
     "date,reason,notes"},
    {"patient", "self", PV_ACT_READ, "visits", "", NULL, 1, 0, 1, "", NULL, 0, 1, 0, "permit",
     "date,reason,notes"},
    {"patient", "self", PV_ACT_READ, "visits", "", NULL, 0, 0, 1, "", NULL, 0, 0, PV_EDENIED,
     "not-own-subject", NULL},
    {"patient", "self", PV_ACT_LIST, "payments", "", NULL, 1, 0, 1, "", NULL, 0, 1, 0, "permit",
     "card_last4,amount"},
    /* minimum necessary */
    {"provider", "treatment", PV_ACT_READ, "profile", "", NULL, 0, 1, 0, "", NULL, 0, 1, 0,
     "permit", "name,birth_date"},
    {"staff", "payment", PV_ACT_READ, "profile", "", NULL, 0, 0, 0, "", NULL, 0, 1, 0, "permit",
     "name,email,phone"},
    {"staff", "operations", PV_ACT_READ, "profile", "", NULL, 0, 0, 0, "", NULL, 0, 1, 0, "permit",
     "name,email,phone,birth_date"},
    {"privacy_officer", "operations", PV_ACT_READ, "profile", "", NULL, 0, 0, 0, "", NULL, 0, 1, 0,
     "permit", "name,email,phone,birth_date"},
    {"staff", "payment", PV_ACT_READ, "visits", "", NULL, 0, 0, 0, "", NULL, 0, 0, PV_EDENIED,
     "purpose-excludes-collection", NULL},
    {"staff", "operations", PV_ACT_LIST, "visits", "", NULL, 0, 0, 0, "", NULL, 0, 0, PV_EDENIED,
     "purpose-excludes-collection", NULL},
    /* consent: marketing needs marketing_email, and never reaches health data */
    {"staff", "marketing", PV_ACT_READ, "profile", "", NULL, 0, 0, 0, "", NULL, 0, 0, PV_EDENIED,
     "consent-required", NULL},
    {"staff", "marketing", PV_ACT_READ, "profile", "", NULL, 0, 0, 0, "marketing_sms", NULL, 0, 0,
     PV_EDENIED, "consent-required", NULL},
    {"staff", "marketing", PV_ACT_READ, "profile", "", NULL, 0, 0, 0, "marketing_email", NULL, 0, 1,
     0, "permit", "name,email,phone"},
    {"staff", "marketing", PV_ACT_READ, "visits", "", NULL, 0, 0, 0, "marketing_email", NULL, 0, 0,
     PV_EDENIED, "purpose-excludes-collection", NULL},
    /* writes */
    {"provider", "treatment", PV_ACT_CREATE, "visits", "date,reason", NULL, 0, 1, 0, "", NULL, 0, 1,
     0, "permit", NULL},
    {"provider", "treatment", PV_ACT_CREATE, "visits", "date", "ssn", 0, 1, 0, "", NULL, 0, 0,
     PV_EFIELD, "undeclared-field", NULL},
    {"provider", "treatment", PV_ACT_CREATE, "visits", "date", NULL, 0, 0, 0, "", NULL, 0, 0,
     PV_EDENIED, "not-assigned", NULL},
    {"staff", "payment", PV_ACT_CREATE, "payments", "card_last4,amount", NULL, 0, 0, 0, "", NULL, 0,
     1, 0, "permit", NULL},
    {"provider", "treatment", PV_ACT_UPDATE, "profile", "email", NULL, 0, 1, 0, "", NULL, 0, 0,
     PV_EDENIED, "purpose-excludes-field", NULL},
    {"provider", "treatment", PV_ACT_UPDATE, "profile", "name", NULL, 0, 1, 0, "", NULL, 0, 1, 0,
     "permit", NULL},
    {"patient", "self", PV_ACT_UPDATE, "profile", "email,phone", NULL, 1, 0, 1, "", NULL, 0, 1, 0,
     "permit", NULL},
    {"provider", "treatment", PV_ACT_DELETE, "visits", "", NULL, 0, 1, 0, "", NULL, 0, 1, 0,
     "permit", NULL},
    {"staff", "operations", PV_ACT_DELETE, "visits", "", NULL, 0, 0, 0, "", NULL, 0, 0, PV_EDENIED,
     "purpose-excludes-field", NULL},
    {"provider", "treatment", PV_ACT_DELETE, "profile", "", NULL, 0, 1, 0, "", NULL, 0, 0,
     PV_EDENIED, "purpose-excludes-field", NULL},
    /* enrollment: policy version and minimum age */
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name,email", NULL, 0, 0, 0, "", CURRENT, 30,
     1, 0, "permit", NULL},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name,email", NULL, 0, 0, 0, "", "0123abcd",
     30, 0, PV_EPOLICYVER, "policy-not-accepted", NULL},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name,email", NULL, 0, 0, 0, "", NULL, 30, 0,
     PV_EPOLICYVER, "policy-not-accepted", NULL},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name", NULL, 0, 0, 0, "", CURRENT, 17, 0,
     PV_EAGE, "under-minimum-age", NULL},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name", NULL, 0, 0, 0, "", CURRENT, 18, 1, 0,
     "permit", NULL},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name", "ssn", 0, 0, 0, "", CURRENT, 40, 0,
     PV_EFIELD, "undeclared-field", NULL},
    {"staff", "payment", PV_ACT_ENROLL, "profile", "name,birth_date", NULL, 0, 0, 0, "", CURRENT,
     40, 0, PV_EDENIED, "purpose-excludes-field", NULL},
    {"patient", "self", PV_ACT_ENROLL, "profile", "name", NULL, 0, 0, 0, "", CURRENT, 40, 1, 0,
     "permit", NULL},
    {"patient", "self", PV_ACT_ENROLL, "profile", "name", NULL, 0, 0, 1, "", CURRENT, 40, 0,
     PV_EDENIED, "already-enrolled", NULL},
    {"provider", "treatment", PV_ACT_ENROLL, "profile", "name", NULL, 0, 0, 0, "", CURRENT, 40, 1,
     0, "permit", NULL},
    {"admin", "operations", PV_ACT_ENROLL, "profile", "name", NULL, 0, 0, 0, "", CURRENT, 40, 0,
     PV_EDENIED, "role-not-allowed-purpose", NULL},
    /* assignment and look-up */
    {"staff", "operations", PV_ACT_ASSIGN, NULL, "", NULL, 0, 0, 0, "", NULL, 0, 1, 0, "permit",
     NULL},
    {"provider", "treatment", PV_ACT_ASSIGN, NULL, "", NULL, 0, 1, 0, "", NULL, 0, 0, PV_EDENIED,
     "role-cannot-assign", NULL},
    {"staff", "operations", PV_ACT_LOOKUP, "profile", "email", NULL, 0, 0, 0, "", NULL, 0, 1, 0,
     "permit", NULL},
    {"provider", "treatment", PV_ACT_LOOKUP, "profile", "email", NULL, 0, 0, 0, "", NULL, 0, 0,
     PV_EDENIED, "purpose-excludes-field", NULL},
    {"patient", "self", PV_ACT_LOOKUP, "profile", "email", NULL, 0, 0, 1, "", NULL, 0, 1, 0,
     "permit", NULL},
};

/* Mask of comma-separated field names of collection c; consents likewise. */
static uint64_t
mask_of(const struct pv_policy *p, int c, const char *list, int consents)
{
    char buf[256], *s, *save = NULL;
    uint64_t m = 0;
    int i;

    if (list == NULL || *list == '\0')
        return 0;
    pv_strlcpy(buf, list, sizeof buf);
    for (s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        i = consents ? pv_policy_consent(p, s) : pv_policy_field(&p->collections[c], s);
        if (i < 0)
            fail_msg("no such %s '%s'", consents ? "consent" : "field", s);
        m |= UINT64_C(1) << i;
    }
    return m;
}

static void
test_decision_table(void **state)
{
    char path[512];
    struct pv_policy *p;

    (void)state;
    test_snprintf(path, sizeof path, "%s/policies/example.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    for (size_t i = 0; i < PV_ARRAY_LEN(rows); i++) {
        const struct row *r = &rows[i];
        struct pv_facts f;
        struct pv_decision d;

        memset(&f, 0, sizeof f);
        f.role = r->role ? pv_policy_role(p, r->role) : -1;
        if (r->role && f.role < 0)
            fail_msg("row %zu: no role %s", i, r->role);
        f.purpose = r->purpose;
        f.action = r->action;
        f.collection = r->collection ? pv_policy_collection(p, r->collection) : -1;
        f.fields = mask_of(p, f.collection, r->fields, 0);
        f.undeclared = r->undeclared;
        f.self = r->self;
        f.assigned = r->assigned;
        f.has_subject = r->has_subject;
        f.consents = mask_of(p, 0, r->consents, 1);
        f.policy_version = r->version && strcmp(r->version, CURRENT) == 0 ? p->version : r->version;
        f.age = r->age;
        pv_policy_decide(p, &f, &d);
        if (d.permit != r->permit || d.err != r->err || strcmp(d.reason, r->reason) != 0)
            fail_msg("row %zu (%s %s %s %s): got %s/%s, want %s/%s", i, r->role ? r->role : "-",
                     r->purpose ? r->purpose : "-", pv_action_name(r->action),
                     r->collection ? r->collection : "-", d.permit ? "permit" : "deny", d.reason,
                     r->permit ? "permit" : "deny", r->reason);
        if (r->visible && d.fields != mask_of(p, f.collection, r->visible, 0))
            fail_msg("row %zu: fields %llx, want %s", i, (unsigned long long)d.fields, r->visible);
        if (!d.permit)
            assert_int_equal(d.fields, 0);
    }
    pv_policy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
