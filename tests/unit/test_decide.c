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
    /* the consent ledger: recording needs a role and scope, never a consent already held */
    {"patient", "self", PV_ACT_CONSENT, NULL, "", NULL, 1, 0, 1, "", NULL, 0, 1, 0, "permit", NULL},
    {"patient", "self", PV_ACT_CONSENT, NULL, "", NULL, 0, 0, 1, "", NULL, 0, 0, PV_EDENIED,
     "not-own-subject", NULL},
    {"staff", "marketing", PV_ACT_CONSENT, NULL, "", NULL, 0, 0, 0, "", NULL, 0, 1, 0, "permit",
     NULL},
    {"staff", "operations", PV_ACT_CONSENT, NULL, "", NULL, 0, 0, 0, "", NULL, 0, 1, 0, "permit",
     NULL},
    {"provider", "treatment", PV_ACT_CONSENT, NULL, "", NULL, 0, 0, 0, "", NULL, 0, 0, PV_EDENIED,
     "not-assigned", NULL},
    {"admin", "operations", PV_ACT_CONSENT, NULL, "", NULL, 0, 0, 0, "", NULL, 0, 0, PV_EDENIED,
     "role-not-allowed-purpose", NULL},
    {"staff", "operations", PV_ACT_READ, NULL, "", NULL, 0, 0, 0, "", NULL, 0, 1, 0, "permit",
     NULL},
    /* withdrawal stops future use: marketing with the consent withdrawn is refused */
    {"staff", "marketing", PV_ACT_READ, "profile", "", NULL, 0, 0, 0, "marketing_sms,service_sms",
     NULL, 0, 0, PV_EDENIED, "consent-required", NULL},
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

/*
 * Who acts for whom. Facts beyond role, purpose, action, collection and
 * fields are named in one string, comma-separated: self, assigned, guardian,
 * has-subject, restricted, visible, glass (an open break-glass grant), key,
 * key-purpose, age=N (the subject's age), enroll-age=N, guardian-age=N (a
 * guardian enrolls), consent (verified parental consent), dob-change=N (the
 * birth date changes to an age of N), version (enroll: the version in force).
 */
/* A table row, in reading order: padding does not matter here. */
struct xrow { /* NOLINT(clang-analyzer-optin.performance.Padding) */
    const char *role, *purpose;
    enum pv_action action;
    const char *collection;
    const char *fields;
    const char *facts;
    int permit, err;
    const char *reason;
    const char *visible; /* reads: the fields returned */
    int erase;
};

static const struct xrow xrows[] = {
    /* guardians act for a minor ward as the ward would, until the ward is an adult */
    {"patient", "self", PV_ACT_READ, "visits", "", "guardian,age=9", 1, 0, "guardian",
     "date,reason,notes", 0},
    {"patient", "self", PV_ACT_CREATE, "visits", "date", "guardian,age=16", 1, 0, "guardian", NULL,
     0},
    {"patient", "self", PV_ACT_READ, "visits", "", "guardian,age=18", 0, PV_EDENIED,
     "not-own-subject", NULL, 0},
    {"patient", "self", PV_ACT_READ, "visits", "", "guardian", 0, PV_EDENIED, "not-own-subject",
     NULL, 0},
    {"patient", "treatment", PV_ACT_READ, "visits", "", "guardian,age=9", 0, PV_EDENIED,
     "role-not-allowed-purpose", NULL, 0},
    /* enrollment of minors: by a guardian, who is an adult, with verified consent under 13 */
    {"patient", "self", PV_ACT_ENROLL, "profile", "name",
     "version,has-subject,enroll-age=15,"
     "guardian-age=40",
     1, 0, "permit", NULL, 0},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name",
     "version,enroll-age=10,"
     "guardian-age=40,consent",
     1, 0, "permit", NULL, 0},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name",
     "version,enroll-age=10,"
     "guardian-age=40",
     0, PV_EAGE, "parental-consent-required", NULL, 0},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name",
     "version,enroll-age=15,"
     "guardian-age=17",
     0, PV_EAGE, "guardian-under-age", NULL, 0},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name",
     "version,enroll-age=30,"
     "guardian-age=60",
     0, PV_EDENIED, "not-a-minor", NULL, 0},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name", "version,enroll-age=15", 0, PV_EAGE,
     "under-minimum-age", NULL, 0},
    {"staff", "operations", PV_ACT_ENROLL, "profile", "name", "enroll-age=15,guardian-age=40", 0,
     PV_EPOLICYVER, "policy-not-accepted", NULL, 0},
    /* minors may use only the collections the policy lists (and their profile) */
    {"staff", "payment", PV_ACT_CREATE, "payments", "amount", "age=15", 0, PV_EDENIED,
     "minor-feature-limited", NULL, 0},
    {"staff", "payment", PV_ACT_READ, "payments", "", "age=15", 0, PV_EDENIED,
     "minor-feature-limited", NULL, 0},
    {"staff", "payment", PV_ACT_CREATE, "payments", "amount", "age=18", 1, 0, "permit", NULL, 0},
    {"provider", "treatment", PV_ACT_CREATE, "visits", "date", "assigned,age=15", 1, 0, "permit",
     NULL, 0},
    {"staff", "payment", PV_ACT_READ, "profile", "", "age=15", 1, 0, "permit", "name,email,phone",
     0},
    {"staff", "operations", PV_ACT_DELETE, "payments", "", "age=15", 0, PV_EDENIED,
     "purpose-excludes-field", NULL, 0},
    /* a birth date that shows a child under 13 without verified parental consent: erase */
    {"staff", "operations", PV_ACT_UPDATE, "profile", "birth_date", "dob-change=11", 1, 0,
     "under-consent-age", NULL, 1},
    {"staff", "operations", PV_ACT_UPDATE, "profile", "birth_date", "dob-change=11,consent", 1, 0,
     "permit", NULL, 0},
    {"staff", "operations", PV_ACT_UPDATE, "profile", "birth_date", "dob-change=13", 1, 0, "permit",
     NULL, 0},
    {"staff", "payment", PV_ACT_UPDATE, "profile", "", "dob-change=30", 0, PV_EDENIED,
     "purpose-excludes-field", NULL, 0},
    {"provider", "treatment", PV_ACT_UPDATE, "profile", "birth_date", "dob-change=11", 0,
     PV_EDENIED, "not-assigned", NULL, 0},
    /* profile visibility: every provider reads the profile but contact details, for treatment */
    {"provider", "treatment", PV_ACT_READ, "profile", "", "visible", 1, 0, "profile-visible",
     "name,birth_date", 0},
    {"provider", "treatment", PV_ACT_READ, "profile", "", "", 0, PV_EDENIED, "not-assigned", NULL,
     0},
    {"provider", "emergency", PV_ACT_READ, "profile", "", "visible", 0, PV_EDENIED, "not-assigned",
     NULL, 0},
    {"provider", "treatment", PV_ACT_READ, "visits", "", "visible", 0, PV_EDENIED, "not-assigned",
     NULL, 0},
    {"provider", "treatment", PV_ACT_UPDATE, "profile", "name", "visible", 0, PV_EDENIED,
     "not-assigned", NULL, 0},
    {"patient", "self", PV_ACT_VISIBILITY, NULL, "", "self", 1, 0, "permit", NULL, 0},
    {"patient", "self", PV_ACT_VISIBILITY, NULL, "", "guardian,age=12", 1, 0, "guardian", NULL, 0},
    {"staff", "operations", PV_ACT_VISIBILITY, NULL, "", "", 0, PV_EDENIED, "only-the-subject",
     NULL, 0},
    /* restriction: stored only; the subject and the legal purposes still reach it */
    {"provider", "treatment", PV_ACT_READ, "visits", "", "assigned,restricted", 0, PV_EDENIED,
     "processing-restricted", NULL, 0},
    {"staff", "payment", PV_ACT_CREATE, "payments", "amount", "restricted", 0, PV_EDENIED,
     "processing-restricted", NULL, 0},
    {"staff", "operations", PV_ACT_ASSIGN, NULL, "", "restricted", 0, PV_EDENIED,
     "processing-restricted", NULL, 0},
    {"patient", "self", PV_ACT_READ, "visits", "", "self,restricted", 1, 0, "permit",
     "date,reason,notes", 0},
    {"privacy_officer", "legal", PV_ACT_READ, "visits", "", "restricted", 1, 0, "permit",
     "date,reason,notes", 0},
    {"patient", "self", PV_ACT_RESTRICT, NULL, "", "self", 1, 0, "permit", NULL, 0},
    {"patient", "self", PV_ACT_UNRESTRICT, NULL, "", "self,restricted", 1, 0, "permit", NULL, 0},
    {"privacy_officer", "operations", PV_ACT_UNRESTRICT, NULL, "", "restricted", 1, 0, "permit",
     NULL, 0},
    {"staff", "operations", PV_ACT_RESTRICT, NULL, "", "", 0, PV_EDENIED, "role-cannot-restrict",
     NULL, 0},
    {"patient", "self", PV_ACT_RESTRICT, NULL, "", "", 0, PV_EDENIED, "role-cannot-restrict", NULL,
     0},
    /* break-glass: an unassigned provider, for the emergency purpose, while the grant lasts */
    {"provider", "emergency", PV_ACT_BREAK_GLASS, NULL, "", "", 1, 0, "permit", NULL, 0},
    {"provider", "treatment", PV_ACT_BREAK_GLASS, NULL, "", "", 0, PV_EDENIED,
     "break-glass-purpose-required", NULL, 0},
    {"staff", "emergency", PV_ACT_BREAK_GLASS, NULL, "", "", 0, PV_EDENIED,
     "role-not-allowed-purpose", NULL, 0},
    {"provider", "emergency", PV_ACT_READ, "visits", "", "glass", 1, 0, "break-glass",
     "date,reason,notes", 0},
    {"provider", "emergency", PV_ACT_CREATE, "visits", "notes", "glass", 1, 0, "break-glass", NULL,
     0},
    {"provider", "treatment", PV_ACT_READ, "visits", "", "glass", 0, PV_EDENIED, "not-assigned",
     NULL, 0},
    {"provider", "emergency", PV_ACT_READ, "visits", "", "", 0, PV_EDENIED, "not-assigned", NULL,
     0},
    {"provider", "emergency", PV_ACT_READ, "profile", "", "glass", 1, 0, "break-glass",
     "name,birth_date", 0},
    {"provider", "emergency", PV_ACT_READ, "visits", "", "glass,restricted", 0, PV_EDENIED,
     "processing-restricted", NULL, 0},
    {"provider", "emergency", PV_ACT_READ, "visits", "", "assigned", 1, 0, "permit",
     "date,reason,notes", 0},
    /* service keys act only for the purposes they hold */
    {"staff", "payment", PV_ACT_READ, "profile", "", "key", 0, PV_EDENIED,
     "key-purpose-not-allowed", NULL, 0},
    {"staff", "payment", PV_ACT_READ, "profile", "", "key,key-purpose", 1, 0, "permit",
     "name,email,phone", 0},
    {"staff", "curiosity", PV_ACT_READ, "profile", "", "key", 0, PV_EPURPOSE, "unknown-purpose",
     NULL, 0},
};

/* The value of "name=N" in a facts string, or -1. */
static int
fact_int(const char *facts, const char *name)
{
    char key[32];
    const char *s;

    test_snprintf(key, sizeof key, "%s=", name);
    for (s = strstr(facts, key); s; s = strstr(s + 1, key))
        if (s == facts || s[-1] == ',')
            return (int)strtol(s + strlen(key), NULL, 10);
    return -1;
}

static int
fact(const char *facts, const char *name)
{
    size_t n = strlen(name);

    for (const char *s = strstr(facts, name); s; s = strstr(s + 1, name))
        if ((s == facts || s[-1] == ',') && (s[n] == '\0' || s[n] == ','))
            return 1;
    return 0;
}

static void
test_who_acts_for_whom(void **state)
{
    char path[512];
    struct pv_policy *p;

    (void)state;
    test_snprintf(path, sizeof path, "%s/policies/example.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    for (size_t i = 0; i < PV_ARRAY_LEN(xrows); i++) {
        const struct xrow *r = &xrows[i];
        struct pv_facts f;
        struct pv_decision d;
        int n;

        memset(&f, 0, sizeof f);
        f.role = pv_policy_role(p, r->role);
        if (f.role < 0)
            fail_msg("xrow %zu: no role %s", i, r->role);
        f.purpose = r->purpose;
        f.action = r->action;
        f.collection = r->collection ? pv_policy_collection(p, r->collection) : -1;
        f.fields = mask_of(p, f.collection, r->fields, 0);
        f.self = fact(r->facts, "self");
        f.assigned = fact(r->facts, "assigned");
        f.guardian = fact(r->facts, "guardian");
        f.has_subject = fact(r->facts, "has-subject");
        f.restricted = fact(r->facts, "restricted");
        f.profile_visible = fact(r->facts, "visible");
        f.break_glass = fact(r->facts, "glass");
        f.key = fact(r->facts, "key");
        f.key_purpose = fact(r->facts, "key-purpose");
        f.parental_consent = fact(r->facts, "consent");
        if ((n = fact_int(r->facts, "age")) >= 0) {
            f.subject_age_known = 1;
            f.subject_age = n;
        }
        if ((n = fact_int(r->facts, "enroll-age")) >= 0)
            f.age = n;
        if ((n = fact_int(r->facts, "guardian-age")) >= 0) {
            f.enroll_guardian = 1;
            f.guardian_age = n;
        }
        if ((n = fact_int(r->facts, "dob-change")) >= 0) {
            f.birth_date_change = 1;
            f.age = n;
        }
        if (fact(r->facts, "version"))
            f.policy_version = p->version;
        pv_policy_decide(p, &f, &d);
        if (d.permit != r->permit || d.err != r->err || strcmp(d.reason, r->reason) != 0 ||
            d.erase != r->erase)
            fail_msg("xrow %zu (%s %s %s %s [%s]): got %s/%s%s, want %s/%s%s", i, r->role,
                     r->purpose, pv_action_name(r->action), r->collection ? r->collection : "-",
                     r->facts, d.permit ? "permit" : "deny", d.reason, d.erase ? " erase" : "",
                     r->permit ? "permit" : "deny", r->reason, r->erase ? " erase" : "");
        if (r->visible && d.fields != mask_of(p, f.collection, r->visible, 0))
            fail_msg("xrow %zu: fields %llx, want %s", i, (unsigned long long)d.fields, r->visible);
        if (!d.permit)
            assert_int_equal(d.fields, 0);
    }
    pv_policy_free(p);
}

/*
 * What the law keeps is not deleted before its time, whoever asks. Each row
 * is a delete (or, to show the rule is only about deleting, another action)
 * with the facts the vault gathers for it: the fields holding a value whose
 * retention has not ended, and whether a legal hold is in force.
 */
/* A table row, in reading order: padding does not matter here. */
struct krow {           /* NOLINT(clang-analyzer-optin.performance.Padding) */
    const char *policy; /* under tests/unit/policies/good, or NULL: the example policy */
    const char *role, *purpose;
    enum pv_action action;
    const char *collection;
    int self, assigned, held;
    const char *unexpired; /* comma-separated fields */
    int permit, err;
    const char *reason;
};

#define KD "keep-and-dispose.yaml"

static const struct krow krows[] = {
    /* a visit is a medical record, kept 7 years: neither its provider nor its patient deletes it */
    {NULL, "provider", "treatment", PV_ACT_DELETE, "visits", 0, 1, 0, "date,reason,notes", 0,
     PV_ECONFLICT, "retention-keeps"},
    {NULL, "patient", "self", PV_ACT_DELETE, "visits", 1, 0, 0, "date", 0, PV_ECONFLICT,
     "retention-keeps"},
    {NULL, "privacy_officer", "legal", PV_ACT_DELETE, "visits", 0, 0, 0, "notes", 0, PV_ECONFLICT,
     "retention-keeps"},
    /* past its retention (nothing unexpired), or no such record: the delete may go on */
    {NULL, "provider", "treatment", PV_ACT_DELETE, "visits", 0, 1, 0, "", 1, 0, "permit"},
    /* payments are kept 7 years too (the card's last digits and the amount) */
    {NULL, "staff", "payment", PV_ACT_DELETE, "payments", 0, 0, 0, "amount", 0, PV_ECONFLICT,
     "retention-keeps"},
    /* the person's own messages: a deletion disposes of them, so they go at any time */
    {NULL, "patient", "self", PV_ACT_DELETE, "messages", 1, 0, 0, "text,sent_at", 1, 0, "permit"},
    /* a legal hold is checked first */
    {NULL, "provider", "treatment", PV_ACT_DELETE, "visits", 0, 1, 1, "date,reason,notes", 0,
     PV_ECONFLICT, "legal-hold"},
    {NULL, "patient", "self", PV_ACT_DELETE, "messages", 1, 0, 1, "text", 0, PV_ECONFLICT,
     "legal-hold"},
    /* and the policy's own denials before both: a refusal tells a stranger nothing of the record */
    {NULL, "provider", "treatment", PV_ACT_DELETE, "visits", 0, 0, 1, "date", 0, PV_EDENIED,
     "not-assigned"},
    {NULL, "patient", "self", PV_ACT_DELETE, "visits", 0, 0, 0, "date", 0, PV_EDENIED,
     "not-own-subject"},
    {NULL, "staff", "operations", PV_ACT_DELETE, "visits", 0, 0, 0, "date", 0, PV_EDENIED,
     "purpose-excludes-field"},
    /* only deleting is refused: the record is still read, corrected and amended */
    {NULL, "provider", "treatment", PV_ACT_READ, "visits", 0, 1, 0, "date,reason,notes", 1, 0,
     "permit"},
    {NULL, "provider", "treatment", PV_ACT_UPDATE, "visits", 0, 1, 0, "date,reason,notes", 1, 0,
     "permit"},
    /* a collection holding both: only an unexpired value of a kept category refuses the delete */
    {KD, "provider", "treatment", PV_ACT_DELETE, "chart", 0, 1, 0, "note", 0, PV_ECONFLICT,
     "retention-keeps"},
    {KD, "provider", "treatment", PV_ACT_DELETE, "chart", 0, 1, 0, "note,reading,memo", 0,
     PV_ECONFLICT, "retention-keeps"},
    {KD, "provider", "treatment", PV_ACT_DELETE, "chart", 0, 1, 0, "reading,memo", 1, 0, "permit"},
    {KD, "patient", "self", PV_ACT_DELETE, "chart", 1, 0, 0, "memo", 1, 0, "permit"},
    {KD, "patient", "self", PV_ACT_DELETE, "chart", 1, 0, 0, "note,memo", 0, PV_ECONFLICT,
     "retention-keeps"},
    {KD, "provider", "triage", PV_ACT_DELETE, "chart", 0, 1, 0, "note", 0, PV_EDENIED,
     "purpose-excludes-field"},
};

static void
test_deletion_keeps_what_the_law_keeps(void **state)
{
    struct pv_policy *example, *p;
    char path[512];

    (void)state;
    test_snprintf(path, sizeof path, "%s/policies/example.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &example, NULL), 0);
    for (size_t i = 0; i < PV_ARRAY_LEN(krows); i++) {
        const struct krow *r = &krows[i];
        struct pv_facts f;
        struct pv_decision d;

        p = example;
        if (r->policy) {
            test_snprintf(path, sizeof path, "%s/tests/unit/policies/good/%s", source_dir(),
                          r->policy);
            assert_int_equal(pv_policy_load(path, &p, NULL), 0);
        }
        memset(&f, 0, sizeof f);
        f.role = pv_policy_role(p, r->role);
        if (f.role < 0)
            fail_msg("krow %zu: no role %s", i, r->role);
        f.purpose = r->purpose;
        f.action = r->action;
        f.collection = pv_policy_collection(p, r->collection);
        if (f.collection < 0)
            fail_msg("krow %zu: no collection %s", i, r->collection);
        f.self = r->self;
        f.has_subject = r->self;
        f.assigned = r->assigned;
        f.held = r->held;
        f.unexpired = mask_of(p, f.collection, r->unexpired, 0);
        if (r->action == PV_ACT_UPDATE)
            f.fields = f.unexpired;
        pv_policy_decide(p, &f, &d);
        if (d.permit != r->permit || d.err != r->err || strcmp(d.reason, r->reason) != 0)
            fail_msg("krow %zu (%s %s %s %s [%s]%s): got %s/%s, want %s/%s", i, r->role, r->purpose,
                     pv_action_name(r->action), r->collection, r->unexpired, r->held ? " held" : "",
                     d.permit ? "permit" : "deny", d.reason, r->permit ? "permit" : "deny",
                     r->reason);
        if (!d.permit)
            assert_int_equal(d.fields, 0);
        if (p != example)
            pv_policy_free(p);
    }
    /* The mask of what a deletion keeps, from the categories alone. */
    assert_int_equal(
        pv_kept_fields(example, &example->collections[pv_policy_collection(example, "visits")]),
        mask_of(example, pv_policy_collection(example, "visits"), "date,reason,notes", 0));
    assert_int_equal(
        pv_kept_fields(example, &example->collections[pv_policy_collection(example, "messages")]),
        0);
    pv_policy_free(example);
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

/*
 * Contacting, disclosing and marketing on health data: each row adds the
 * facts those decisions read (the channel, the person's confidential-
 * communications choice, what is on file, a STOP, restriction, the
 * recipient and the ledgers disclosed) to the facts of the table above.
 */
/* A table row, in reading order: padding does not matter here. */
struct crow { /* NOLINT(clang-analyzer-optin.performance.Padding) */
    const char *role, *purpose;
    enum pv_action action;
    const char *collection, *fields;
    int assigned;
    const char *consents; /* held */
    const char *channel;  /* contact */
    const char *allowed;  /* contact: channels the person allows, "" for no choice */
    int has_address, opted_out, restricted;
    const char *recipient; /* disclose: NULL for none */
    const char *disclosed; /* disclose: consent kinds whose ledger goes out */
    int permit;
    const char *reason;
    const char *visible;
};

static const struct crow example_rows[] = {
    /* marketing needs the channel's marketing consent; purpose requires stay per channel */
    {"staff", "marketing", PV_ACT_CONTACT, NULL, "", 0, "", "email", "", 1, 0, 0, NULL, "", 0,
     "consent-required", NULL},
    {"staff", "marketing", PV_ACT_CONTACT, NULL, "", 0, "marketing_email", "email", "", 1, 0, 0,
     NULL, "", 1, "permit", NULL},
    {"staff", "marketing", PV_ACT_CONTACT, NULL, "", 0, "marketing_email", "sms", "", 1, 0, 0, NULL,
     "", 0, "channel-consent-required", NULL},
    {"staff", "marketing", PV_ACT_CONTACT, NULL, "", 0, "marketing_sms", "sms", "", 1, 0, 0, NULL,
     "", 1, "permit", NULL},
    {"staff", "marketing", PV_ACT_CONTACT, NULL, "", 0, "marketing_email", "phone", "", 1, 0, 0,
     NULL, "", 0, "channel-consent-required", NULL},
    /* service messages: SMS needs service_sms; email, phone and mail need no consent */
    {"staff", "operations", PV_ACT_CONTACT, NULL, "", 0, "service_sms", "sms", "", 1, 0, 0, NULL,
     "", 1, "permit", NULL},
    {"staff", "operations", PV_ACT_CONTACT, NULL, "", 0, "", "sms", "", 1, 0, 0, NULL, "", 0,
     "channel-consent-required", NULL},
    {"staff", "operations", PV_ACT_CONTACT, NULL, "", 0, "", "email", "", 1, 0, 0, NULL, "", 1,
     "permit", NULL},
    {"staff", "payment", PV_ACT_CONTACT, NULL, "", 0, "", "phone", "", 1, 0, 0, NULL, "", 1,
     "permit", NULL},
    /* STOP means stop: a number that texted STOP gets nothing, service included */
    {"staff", "operations", PV_ACT_CONTACT, NULL, "", 0, "service_sms,marketing_sms", "sms", "", 1,
     1, 0, NULL, "", 0, "sms-stopped", NULL},
    {"staff", "marketing", PV_ACT_CONTACT, NULL, "", 0, "marketing_sms", "sms", "", 1, 1, 0, NULL,
     "", 0, "sms-stopped", NULL},
    {"staff", "operations", PV_ACT_CONTACT, NULL, "", 0, "", "email", "", 1, 1, 0, NULL, "", 1,
     "permit", NULL},
    /* confidential communications, something on file, restriction */
    {"staff", "operations", PV_ACT_CONTACT, NULL, "", 0, "", "email", "mail", 1, 0, 0, NULL, "", 0,
     "confidential-communications", NULL},
    {"staff", "operations", PV_ACT_CONTACT, NULL, "", 0, "", "mail", "mail", 1, 0, 0, NULL, "", 1,
     "permit", NULL},
    {"staff", "operations", PV_ACT_CONTACT, NULL, "", 0, "service_sms", "sms", "sms,mail", 1, 0, 0,
     NULL, "", 1, "permit", NULL},
    {"staff", "operations", PV_ACT_CONTACT, NULL, "", 0, "", "mail", "", 0, 0, 0, NULL, "", 0,
     "no-address", NULL},
    {"staff", "operations", PV_ACT_CONTACT, NULL, "", 0, "", "email", "", 1, 0, 1, NULL, "", 0,
     "subject-restricted", NULL},
    {"staff", "marketing", PV_ACT_CONTACT, NULL, "", 0, "marketing_email", "email", "", 1, 0, 1,
     NULL, "", 0, "subject-restricted", NULL},
    /* who may ask at all */
    {"provider", "treatment", PV_ACT_CONTACT, NULL, "", 0, "", "phone", "", 1, 0, 0, NULL, "", 0,
     "not-assigned", NULL},
    {"provider", "treatment", PV_ACT_CONTACT, NULL, "", 1, "", "phone", "", 1, 0, 0, NULL, "", 1,
     "permit", NULL},
    {"admin", "operations", PV_ACT_CONTACT, NULL, "", 0, "", "email", "", 1, 0, 0, NULL, "", 0,
     "role-not-allowed-purpose", NULL},
    /* disclosure: SMS numbers and SMS consent are never shared (the policy's flag) */
    {"staff", "payment", PV_ACT_DISCLOSE, "payments", "card_last4,amount", 0, "", NULL, "", 0, 0, 0,
     "acme-billing", "", 1, "permit", NULL},
    {"staff", "payment", PV_ACT_DISCLOSE, "profile", "name,phone", 0, "", NULL, "", 0, 0, 0,
     "acme-billing", "", 0, "sms-never-shared", NULL},
    {"staff", "payment", PV_ACT_DISCLOSE, "profile", "name,email", 0, "", NULL, "", 0, 0, 0,
     "acme-billing", "", 1, "permit", NULL},
    {"staff", "payment", PV_ACT_DISCLOSE, NULL, "", 0, "", NULL, "", 0, 0, 0, "acme-billing",
     "marketing_sms", 0, "sms-never-shared", NULL},
    {"staff", "payment", PV_ACT_DISCLOSE, NULL, "", 0, "", NULL, "", 0, 0, 0, "acme-billing",
     "service_sms,marketing_email", 0, "sms-never-shared", NULL},
    {"staff", "payment", PV_ACT_DISCLOSE, NULL, "", 0, "", NULL, "", 0, 0, 0, "acme-billing",
     "marketing_email", 1, "permit", NULL},
    {"staff", "payment", PV_ACT_DISCLOSE, "profile", "name", 0, "", NULL, "", 0, 0, 0, NULL, "", 0,
     "unknown-recipient", NULL},
    {"staff", "payment", PV_ACT_DISCLOSE, "visits", "date", 0, "", NULL, "", 0, 0, 0,
     "acme-billing", "", 0, "purpose-excludes-field", NULL},
};

/* Over sale.yaml: a sale or sharing (a purpose or a recipient marked so) needs the sale
 * consent held; the opt-out (GPC) withdraws it. */
static const struct crow sale_rows[] = {
    {"staff", "operations", PV_ACT_DISCLOSE, "profile", "name,email", 0, "sale_sharing", NULL, "",
     0, 0, 0, "ad-network", "", 1, "permit", NULL},
    {"staff", "operations", PV_ACT_DISCLOSE, "profile", "name,email", 0, "", NULL, "", 0, 0, 0,
     "ad-network", "", 0, "sale-opted-out", NULL},
    {"staff", "operations", PV_ACT_DISCLOSE, "profile", "name,email", 0, "", NULL, "", 0, 0, 0,
     "mail-house", "", 1, "permit", NULL},
    {"staff", "advertising", PV_ACT_READ, "profile", "", 0, "sale_sharing", NULL, "", 0, 0, 0, NULL,
     "", 1, "permit", "name,email"},
    {"staff", "advertising", PV_ACT_READ, "profile", "", 0, "", NULL, "", 0, 0, 0, NULL, "", 0,
     "sale-opted-out", NULL},
    {"staff", "advertising", PV_ACT_DISCLOSE, "profile", "name", 0, "", NULL, "", 0, 0, 0,
     "mail-house", "", 0, "sale-opted-out", NULL},
    {"privacy_officer", "legal", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0,
     0, "court", "", 1, "permit", NULL},
};

/* Over marketing-health.yaml, whose marketing purposes cover every category. */
static const struct crow health_rows[] = {
    /* marketing on health data without a written authorization is denied, always */
    {"staff", "marketing", PV_ACT_READ, "conditions", "", 0, "marketing_email", NULL, "", 0, 0, 0,
     NULL, "", 0, "marketing-needs-authorization", NULL},
    {"staff", "marketing", PV_ACT_LIST, "conditions", "", 0, "", NULL, "", 0, 0, 0, NULL, "", 0,
     "marketing-needs-authorization", NULL},
    {"staff", "marketing", PV_ACT_CREATE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0, NULL,
     "", 0, "marketing-needs-authorization", NULL},
    {"staff", "marketing", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0,
     "mailer", "", 0, "marketing-needs-authorization", NULL},
    /* an authorization for another purpose does not count */
    {"staff", "marketing", PV_ACT_READ, "conditions", "", 0, "research_use", NULL, "", 0, 0, 0,
     NULL, "", 0, "marketing-needs-authorization", NULL},
    {"staff", "promotions", PV_ACT_READ, "conditions", "", 0, "health_marketing", NULL, "", 0, 0, 0,
     NULL, "", 0, "marketing-needs-authorization", NULL},
    /* with the authorization held, marketing may use what its categories cover */
    {"staff", "marketing", PV_ACT_READ, "conditions", "", 0, "health_marketing", NULL, "", 0, 0, 0,
     NULL, "", 1, "permit", "condition"},
    {"staff", "marketing", PV_ACT_DISCLOSE, "conditions", "condition", 0, "health_marketing", NULL,
     "", 0, 0, 0, "mailer", "", 1, "permit", NULL},
    /* marketing without health data, other purposes on health data, recording consent */
    {"staff", "marketing", PV_ACT_READ, "profile", "", 0, "", NULL, "", 0, 0, 0, NULL, "", 1,
     "permit", "name,email,phone"},
    /* B1: any other purpose that is not TPO reaches health data only under an authorization
     * naming it; the uses the law allows without one carry their basis */
    {"staff", "research", PV_ACT_READ, "conditions", "", 0, "", NULL, "", 0, 0, 0, NULL, "", 0,
     "authorization-required", NULL},
    {"staff", "research", PV_ACT_READ, "conditions", "", 0, "health_marketing", NULL, "", 0, 0, 0,
     NULL, "", 0, "authorization-required", NULL},
    {"staff", "research", PV_ACT_CREATE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0, NULL,
     "", 0, "authorization-required", NULL},
    {"staff", "research", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0,
     "mailer", "", 0, "authorization-required", NULL},
    {"staff", "research", PV_ACT_READ, "conditions", "", 0, "research_use", NULL, "", 0, 0, 0, NULL,
     "", 1, "permit", "condition"},
    {"privacy_officer", "legal", PV_ACT_READ, "conditions", "", 0, "", NULL, "", 0, 0, 0, NULL, "",
     1, "permit", "condition"},
    {"privacy_officer", "rights", PV_ACT_READ, "conditions", "", 0, "", NULL, "", 0, 0, 0, NULL, "",
     1, "permit", "condition"},
    /* B6: a de-identified purpose reaches no record, only the de-identified store and counts */
    {"staff", "stats", PV_ACT_READ, "conditions", "", 0, "", NULL, "", 0, 0, 0, NULL, "", 0,
     "deidentified-only", NULL},
    {"staff", "stats", PV_ACT_READ, "profile", "", 0, "", NULL, "", 0, 0, 0, NULL, "", 0,
     "deidentified-only", NULL},
    {"staff", "stats", PV_ACT_DISCLOSE, "profile", "name", 0, "", NULL, "", 0, 0, 0, "mailer", "",
     0, "deidentified-only", NULL},
    {"staff", "stats", PV_ACT_AGGREGATE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0, NULL,
     "", 1, "permit", "condition"},
    {"staff", "stats", PV_ACT_DEIDENTIFIED, "conditions", "", 0, "", NULL, "", 0, 0, 0, NULL, "", 1,
     "permit", "condition"},
    /* only a purpose declared de-identified reads them: research on people needs their records */
    {"staff", "research", PV_ACT_AGGREGATE, "profile", "", 0, "", NULL, "", 0, 0, 0, NULL, "", 0,
     "purpose-not-deidentified", NULL},
    {"staff", "research", PV_ACT_AGGREGATE, "conditions", "", 0, "", NULL, "", 0, 0, 0, NULL, "", 0,
     "purpose-not-deidentified", NULL},
    {"provider", "treatment", PV_ACT_DEIDENTIFIED, "conditions", "", 1, "", NULL, "", 0, 0, 0, NULL,
     "", 0, "purpose-not-deidentified", NULL},
    {"admin", "stats", PV_ACT_AGGREGATE, "conditions", "", 0, "", NULL, "", 0, 0, 0, NULL, "", 0,
     "role-not-allowed-purpose", NULL},
    {"provider", "treatment", PV_ACT_READ, "conditions", "", 1, "", NULL, "", 0, 0, 0, NULL, "", 1,
     "permit", "condition"},
    {"staff", "marketing", PV_ACT_CONSENT, NULL, "", 0, "", NULL, "", 0, 0, 0, NULL, "", 1,
     "permit", NULL},
    /* marketing by a channel with no marketing consent kind: there is no way to have consented */
    {"staff", "marketing", PV_ACT_CONTACT, NULL, "", 0, "marketing_email", "sms", "", 1, 0, 0, NULL,
     "", 0, "channel-consent-required", NULL},
    {"staff", "marketing", PV_ACT_CONTACT, NULL, "", 0, "", "email", "", 1, 0, 0, NULL, "", 0,
     "channel-consent-required", NULL},
    /* the SMS number is found by its category (the first phone field) and never shared */
    {"staff", "operations", PV_ACT_DISCLOSE, "profile", "phone", 0, "", NULL, "", 0, 0, 0, "mailer",
     "", 0, "sms-never-shared", NULL},
};

static unsigned
channels_of(const char *list)
{
    char buf[64], *s, *save = NULL;
    unsigned m = 0;

    pv_strlcpy(buf, list, sizeof buf);
    for (s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        if (pv_channel_parse(s) == PV_CH_NONE)
            fail_msg("no channel '%s'", s);
        m |= 1u << pv_channel_parse(s);
    }
    return m;
}

static void
run_crows(const char *policy, const struct crow *rows_, size_t n)
{
    char path[512];
    struct pv_policy *p;

    test_snprintf(path, sizeof path, "%s/%s", source_dir(), policy);
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        const struct crow *r = &rows_[i];
        struct pv_facts f;
        struct pv_decision d;

        memset(&f, 0, sizeof f);
        f.role = pv_policy_role(p, r->role);
        f.purpose = r->purpose;
        f.action = r->action;
        f.collection = r->collection ? pv_policy_collection(p, r->collection) : -1;
        if (r->collection && f.collection < 0)
            fail_msg("row %zu: no collection %s", i, r->collection);
        f.fields = mask_of(p, f.collection, r->fields, 0);
        f.assigned = r->assigned;
        f.consents = mask_of(p, 0, r->consents, 1);
        f.channel = r->channel ? pv_channel_parse(r->channel) : PV_CH_NONE;
        f.channels_allowed = channels_of(r->allowed);
        f.has_address = r->has_address;
        f.number_opted_out = r->opted_out;
        f.restricted = r->restricted;
        f.recipient = -1;
        for (int k = 0; r->recipient && k < p->nrecipients; k++)
            if (strcmp(p->recipients[k].key, r->recipient) == 0)
                f.recipient = k;
        f.consents_disclosed = mask_of(p, 0, r->disclosed, 1);
        pv_policy_decide(p, &f, &d);
        if (d.permit != r->permit || strcmp(d.reason, r->reason) != 0)
            fail_msg("%s row %zu (%s %s %s %s): got %s/%s, want %s/%s", policy, i, r->role,
                     r->purpose, pv_action_name(r->action), r->channel ? r->channel : "-",
                     d.permit ? "permit" : "deny", d.reason, r->permit ? "permit" : "deny",
                     r->reason);
        if (r->visible && d.fields != mask_of(p, f.collection, r->visible, 0))
            fail_msg("%s row %zu: fields %llx, want %s", policy, i, (unsigned long long)d.fields,
                     r->visible);
        if (!d.permit)
            assert_int_equal(d.err, PV_EDENIED);
    }
    pv_policy_free(p);
}

static void
test_contact_and_disclosure(void **state)
{
    (void)state;
    run_crows("policies/example.yaml", example_rows, PV_ARRAY_LEN(example_rows));
}

static void
test_marketing_on_health_data(void **state)
{
    (void)state;
    run_crows("tests/unit/policies/good/sale.yaml", sale_rows, PV_ARRAY_LEN(sale_rows));
    run_crows("tests/unit/policies/good/marketing-health.yaml", health_rows,
              PV_ARRAY_LEN(health_rows));
}

/* Over disclosures.yaml: the rules of the recipient registry, one kind after another. */
static const struct crow registry_rows[] = {
    /* health data to a service provider, an affiliate or a buyer: only under an agreement */
    {"staff", "sharing", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0,
     "mailer", "", 0, "baa-required", NULL},
    {"staff", "sharing", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0,
     "lab", "", 1, "permit", NULL},
    {"staff", "sharing", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0,
     "sister-clinic", "", 0, "baa-required", NULL},
    {"staff", "sharing", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0,
     "acquirer", "", 1, "permit", NULL},
    /* personal data that is not health data needs no agreement */
    {"staff", "sharing", PV_ACT_DISCLOSE, "profile", "name,email", 0, "", NULL, "", 0, 0, 0,
     "mailer", "", 1, "permit", NULL},
    /* a business partner gets personal data, never health data */
    {"staff", "sharing", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0,
     "partner", "", 0, "business-partner-no-health-data", NULL},
    {"staff", "sharing", PV_ACT_DISCLOSE, "profile", "name,email", 0, "", NULL, "", 0, 0, 0,
     "partner", "", 1, "permit", NULL},
    /* SMS numbers never go, whoever the recipient */
    {"staff", "sharing", PV_ACT_DISCLOSE, "profile", "phone", 0, "", NULL, "", 0, 0, 0, "partner",
     "", 0, "sms-never-shared", NULL},
    /* a provider for care and the law need no agreement; each gets only its categories */
    {"staff", "sharing", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0,
     "specialist", "", 1, "permit", NULL},
    {"staff", "sharing", PV_ACT_DISCLOSE, "profile", "email", 0, "", NULL, "", 0, 0, 0,
     "specialist", "", 0, "recipient-excludes-field", NULL},
    {"privacy_officer", "legal", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0,
     0, "court", "", 1, "permit", NULL},
    /* the purpose's own coverage comes first */
    {"staff", "operations", PV_ACT_DISCLOSE, "conditions", "condition", 0, "", NULL, "", 0, 0, 0,
     "court", "", 0, "purpose-excludes-field", NULL},
};

/* Over no-service-providers.yaml: a kind of recipient the policy forbids gets nothing. */
static const struct crow forbidden_rows[] = {
    {"staff", "payment", PV_ACT_DISCLOSE, "payments", "card_last4", 0, "", NULL, "", 0, 0, 0,
     "card-processor", "", 0, "recipient-kind-forbidden", NULL},
    {"staff", "payment", PV_ACT_DISCLOSE, NULL, "", 0, "", NULL, "", 0, 0, 0, "card-processor", "",
     0, "recipient-kind-forbidden", NULL},
    {"privacy_officer", "legal", PV_ACT_DISCLOSE, "visits", "notes", 0, "", NULL, "", 0, 0, 0,
     "county-court", "", 1, "permit", NULL},
};

static void
test_recipient_registry(void **state)
{
    (void)state;
    run_crows("tests/unit/policies/good/disclosures.yaml", registry_rows,
              PV_ARRAY_LEN(registry_rows));
    run_crows("tests/unit/policies/good/no-service-providers.yaml", forbidden_rows,
              PV_ARRAY_LEN(forbidden_rows));
}

/*
 * Rights requests, over the example policy: the person (or a guardian) files and follows their
 * own; the rights power files for people and alone handles requests; an amendment's fields
 * must be covered by the purpose; a restriction stops neither.
 */
struct rrow {
    const char *role, *purpose;
    enum pv_action action;
    int self, guardian, restricted;
    const char *collection, *fields;
    int permit;
    const char *reason;
};

static const struct rrow rights_rows[] = {
    {"patient", "self", PV_ACT_REQUEST, 1, 0, 0, NULL, "", 1, "permit"},
    {"patient", "self", PV_ACT_REQUEST, 0, 0, 0, NULL, "", 0, "not-own-subject"},
    {"patient", "self", PV_ACT_REQUEST, 0, 1, 0, NULL, "", 1, "guardian"},
    {"patient", "self", PV_ACT_REQUEST, 1, 0, 1, NULL, "", 1, "permit"},
    {"patient", "self", PV_ACT_FULFIL, 1, 0, 0, NULL, "", 0, "role-cannot-handle-requests"},
    {"staff", "operations", PV_ACT_REQUEST, 0, 0, 0, NULL, "", 0, "role-cannot-handle-requests"},
    {"staff", "operations", PV_ACT_FULFIL, 0, 0, 0, NULL, "", 0, "role-cannot-handle-requests"},
    {"provider", "treatment", PV_ACT_REQUEST, 0, 0, 0, NULL, "", 0, "role-cannot-handle-requests"},
    {"privacy_officer", "rights", PV_ACT_REQUEST, 0, 0, 0, NULL, "", 1, "permit"},
    {"privacy_officer", "rights", PV_ACT_FULFIL, 0, 0, 1, NULL, "", 1, "permit"},
    {"privacy_officer", "operations", PV_ACT_FULFIL, 0, 0, 1, NULL, "", 1, "permit"},
    {"privacy_officer", "operations", PV_ACT_FULFIL, 0, 0, 0, "visits", "notes", 0,
     "purpose-excludes-field"},
    {"privacy_officer", "rights", PV_ACT_FULFIL, 0, 0, 0, "visits", "notes", 1, "permit"},
    {"admin", "operations", PV_ACT_FULFIL, 0, 0, 0, NULL, "", 0, "role-not-allowed-purpose"},
    /* an export reads each collection as a list: restricted, only the restriction's purposes */
    {"privacy_officer", "rights", PV_ACT_LIST, 0, 0, 1, "visits", "", 1, "permit"},
    {"privacy_officer", "operations", PV_ACT_LIST, 0, 0, 1, "profile", "", 0,
     "processing-restricted"},
};

static void
test_rights_requests(void **state)
{
    char path[512];
    struct pv_policy *p;

    (void)state;
    test_snprintf(path, sizeof path, "%s/policies/example.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    for (size_t i = 0; i < PV_ARRAY_LEN(rights_rows); i++) {
        const struct rrow *r = &rights_rows[i];
        struct pv_decision d;
        struct pv_facts f;

        memset(&f, 0, sizeof f);
        f.role = pv_policy_role(p, r->role);
        f.purpose = r->purpose;
        f.action = r->action;
        f.collection = r->collection ? pv_policy_collection(p, r->collection) : -1;
        f.fields = mask_of(p, f.collection, r->fields, 0);
        f.self = r->self;
        f.has_subject = r->self;
        f.guardian = r->guardian;
        f.subject_age_known = r->guardian;
        f.subject_age = 12;
        f.restricted = r->restricted;
        f.recipient = -1;
        pv_policy_decide(p, &f, &d);
        if (d.permit != r->permit || strcmp(d.reason, r->reason) != 0)
            fail_msg("rights row %zu (%s %s %s): got %s/%s, want %s/%s", i, r->role, r->purpose,
                     pv_action_name(r->action), d.permit ? "permit" : "deny", d.reason,
                     r->permit ? "permit" : "deny", r->reason);
    }
    pv_policy_free(p);
}

/* The deadlines of rights: the policy's, else the law's defaults; extensions likewise. */
static void
test_right_deadlines(void **state)
{
    static const char mapping[] =
        "phivault: 1\n"
        "organization: {name: C, role: covered_entity}\n"
        "effective: 2026-01-01\n"
        "minimum_age: 0\n"
        "categories:\n"
        "  user.name: {retention: 7y}\n"
        "  user.contact.email: {retention: account}\n"
        "  user.device.ip_address: {retention: 13mo, deletion: dispose}\n"
        "collections: {profile: {name: user.name, email: user.contact.email}}\n"
        "roles: [patient]\n"
        "purposes: {self: {roles: [patient], categories: [user]}}\n"
        "rights: {access: {deadline: 30d, extension: 10d}, amend: 60}\n";
    char path[512];
    struct pv_policy *p;
    int days, ext;

    (void)state;
    test_snprintf(path, sizeof path, "%s/policies/example.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    assert_int_equal(pv_policy_right(p, "access", &days, &ext), 0);
    assert_int_equal(days, 15);
    assert_int_equal(ext, 30);
    assert_int_equal(pv_policy_right(p, "know", &days, &ext), 0);
    assert_int_equal(days, 45);
    assert_int_equal(ext, 45);
    assert_int_equal(pv_policy_right(p, "complaint", &days, &ext), 0);
    assert_int_equal(days, 30);
    assert_int_equal(pv_policy_right(p, "forget", &days, &ext), PV_EINVAL);
    for (int i = 0; i < PV_RIGHTS_COUNT; i++)
        assert_non_null(pv_right_name(i));
    assert_null(pv_right_name(PV_RIGHTS_COUNT));
    pv_policy_free(p);
    /* The mapping form: a deadline and its own extension; the plain form keeps the default. */
    assert_int_equal(pv_policy_parse("mapping", mapping, strlen(mapping), &p, NULL), 0);
    assert_int_equal(pv_policy_right(p, "access", &days, &ext), 0);
    assert_int_equal(days, 30);
    assert_int_equal(ext, 10);
    assert_int_equal(pv_policy_right(p, "amend", &days, &ext), 0);
    assert_int_equal(days, 60);
    assert_int_equal(ext, 30);
    /* A period is kept through a deletion unless the category says dispose; account is not. */
    assert_true(p->categories[pv_policy_category(p, "user.name")].deletion_keep);
    assert_false(p->categories[pv_policy_category(p, "user.contact.email")].deletion_keep);
    assert_false(p->categories[pv_policy_category(p, "user.device.ip_address")].deletion_keep);
    pv_policy_free(p);
}

/* A subject without ledger entries holds exactly the kinds the policy presumes. */
static void
test_consent_defaults(void **state)
{
    char path[512];
    struct pv_policy *p;

    (void)state;
    test_snprintf(path, sizeof path, "%s/policies/example.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    assert_int_equal(pv_policy_consent_defaults(p), mask_of(p, 0, "service_sms", 1));
    pv_policy_free(p);
}

/* OMBRE assigns a provider at the first session: not before one is scheduled, whoever asks. */
static void
test_assignment_after_first_session(void **state)
{
    static const struct {
        const char *role, *purpose;
        int first_record, permit, err;
        const char *reason;
    } arows[] = {
        {"staff", "operations", 0, 0, PV_ECONFLICT, "assign-awaits-record"},
        {"staff", "operations", 1, 1, 0, "permit"},
        /* the policy's own refusals come first: a provider never assigns */
        {"provider", "treatment", 0, 0, PV_EDENIED, "role-cannot-assign"},
        {"provider", "treatment", 1, 0, PV_EDENIED, "role-cannot-assign"},
    };
    char path[512];
    struct pv_policy *p;

    (void)state;
    test_snprintf(path, sizeof path, "%s/policies/ombre.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    assert_int_equal(p->assign_after, pv_policy_collection(p, "sessions"));
    for (size_t i = 0; i < PV_ARRAY_LEN(arows); i++) {
        struct pv_facts f;
        struct pv_decision d;

        memset(&f, 0, sizeof f);
        f.role = pv_policy_role(p, arows[i].role);
        f.purpose = arows[i].purpose;
        f.action = PV_ACT_ASSIGN;
        f.collection = -1;
        f.has_subject = 1;
        f.policy_version = p->version;
        f.first_record = arows[i].first_record;
        f.assigned = 1; /* a provider assigned already still may not assign another */
        pv_policy_decide(p, &f, &d);
        if (d.permit != arows[i].permit || d.err != arows[i].err ||
            strcmp(d.reason, arows[i].reason) != 0)
            fail_msg("row %zu: got %s, want %s", i, d.reason, arows[i].reason);
    }
    pv_policy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),
        cmocka_unit_test(test_assignment_after_first_session),
        cmocka_unit_test(test_deletion_keeps_what_the_law_keeps),
        cmocka_unit_test(test_who_acts_for_whom),
        cmocka_unit_test(test_contact_and_disclosure),
        cmocka_unit_test(test_marketing_on_health_data),
        cmocka_unit_test(test_consent_defaults),
        cmocka_unit_test(test_recipient_registry),
        cmocka_unit_test(test_rights_requests),
        cmocka_unit_test(test_right_deadlines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
