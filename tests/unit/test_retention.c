/*
 * test_retention.c: when values expire, and the decisions retention relies
 * on (closing, holds, deletion under a hold, usage data and its consent
 * gate), over the bundled example policy and policies/good/retention.yaml.
 */
#include "testutil.h"

#include "policy/policy.h"

#define DAY INT64_C(86400000)

/* Milliseconds of a UTC date and time. */
static int64_t
at(int y, int m, int d, int hh, int mm)
{
    return (pv_days_from_civil(y, m, d) * 86400 + (int64_t)hh * 3600 + (int64_t)mm * 60) * 1000;
}

static struct pv_policy *
load(const char *rel)
{
    char path[512];
    struct pv_policy *p = NULL;

    test_snprintf(path, sizeof path, "%s/%s", source_dir(), rel);
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    return p;
}

static const struct pv_category *
cat(const struct pv_policy *p, const char *key)
{
    int i = pv_policy_category(p, key);

    assert_true(i >= 0);
    return &p->categories[i];
}

static void
test_months_are_calendar_months(void **state)
{
    (void)state;
    /* The day is clamped to the end of a shorter month; the time of day stays. */
    assert_int_equal(pv_time_add_months(at(2027, 1, 31, 10, 30) / 1000, 1),
                     at(2027, 2, 28, 10, 30) / 1000);
    assert_int_equal(pv_time_add_months(at(2028, 1, 31, 0, 0) / 1000, 1),
                     at(2028, 2, 29, 0, 0) / 1000);
    assert_int_equal(pv_time_add_months(at(2028, 2, 29, 23, 59) / 1000, 12),
                     at(2029, 2, 28, 23, 59) / 1000);
    assert_int_equal(pv_time_add_months(at(2026, 11, 15, 8, 0) / 1000, 13),
                     at(2027, 12, 15, 8, 0) / 1000);
    assert_int_equal(pv_time_add_months(at(2026, 3, 31, 0, 0) / 1000, -1),
                     at(2026, 2, 28, 0, 0) / 1000);
}

static void
test_expiry_counts_from_the_named_event(void **state)
{
    struct pv_policy *p = load("tests/unit/policies/good/retention.yaml");
    struct pv_retention_facts f = {at(2026, 1, 10, 9, 0), 0, 0, 0};
    const struct pv_category *name = cat(p, "user.name"), *cond = cat(p, "user.health.condition");
    const struct pv_category *card = cat(p, "user.financial.credit_card");
    const struct pv_category *pay = cat(p, "user.payment"), *ip = cat(p, "user.device.ip_address");

    (void)state;
    /* account: kept while open, gone the moment it closes */
    assert_true(pv_retention_expiry(name, &f) == PV_NEVER);
    /* forever */
    assert_true(pv_retention_expiry(cat(p, "system.operations"), &f) == PV_NEVER);
    /* from created: days, years */
    assert_int_equal(pv_retention_expiry(ip, &f), f.created + 90 * DAY);
    assert_int_equal(pv_retention_expiry(pay, &f), at(2033, 1, 10, 9, 0));
    /* from closed: nothing expires before the account closes */
    assert_true(pv_retention_expiry(card, &f) == PV_NEVER);
    /* from the last visit: no visit yet, then the record's own creation counts */
    assert_int_equal(pv_retention_expiry(cond, &f), at(2036, 1, 10, 9, 0));
    f.last_visit = at(2030, 6, 1, 12, 0);
    assert_int_equal(pv_retention_expiry(cond, &f), at(2040, 6, 1, 12, 0));
    /* a visit before the record was made never shortens it */
    f.last_visit = at(2025, 6, 1, 12, 0);
    assert_int_equal(pv_retention_expiry(cond, &f), at(2036, 1, 10, 9, 0));

    f.closed = at(2031, 4, 30, 17, 0);
    assert_int_equal(pv_retention_expiry(name, &f), f.closed);
    assert_int_equal(pv_retention_expiry(card, &f), at(2037, 4, 30, 17, 0));
    /* closing changes nothing of what counts from creation */
    assert_int_equal(pv_retention_expiry(pay, &f), at(2033, 1, 10, 9, 0));
    pv_policy_free(p);
}

static void
test_policy_model_of_retention(void **state)
{
    struct pv_policy *p = load("tests/unit/policies/good/retention.yaml");
    char text[16];

    (void)state;
    assert_int_equal(cat(p, "user.health.condition")->retention.from, PV_FROM_LAST_VISIT);
    assert_int_equal(cat(p, "user.financial.credit_card")->retention.from, PV_FROM_CLOSED);
    assert_int_equal(cat(p, "user.payment")->retention.from, PV_FROM_CREATED);
    assert_int_equal(cat(p, "user.payment")->disposal, PV_DISPOSE_ANONYMIZE);
    assert_int_equal(cat(p, "user.device.ip_address")->disposal, PV_DISPOSE_PURGE);
    assert_int_equal(cat(p, "user.name")->consent, -1);
    assert_int_equal(cat(p, "user.behavior.browsing_history")->consent,
                     pv_policy_consent(p, "analytics_cookies"));
    assert_int_equal(p->visit_collection, pv_policy_collection(p, "visits"));
    assert_int_equal(p->usage, pv_policy_collection(p, "usage"));
    assert_true(p->roles[pv_policy_role(p, "counsel")].powers & PV_POWER_HOLDS);
    pv_retention_format(&cat(p, "user.device.ip_address")->retention, text);
    assert_string_equal(text, "90d");
    pv_retention_format(&cat(p, "user.name")->retention, text);
    assert_string_equal(text, "account");
    pv_policy_free(p);

    /* The example: 7 years from the last visit, payments anonymized, privacy officers hold. */
    p = load("policies/example.yaml");
    assert_int_equal(cat(p, "user.health.medical_record")->retention.from, PV_FROM_LAST_VISIT);
    assert_int_equal(cat(p, "user.payment")->disposal, PV_DISPOSE_ANONYMIZE);
    assert_int_equal(p->visit_collection, pv_policy_collection(p, "visits"));
    assert_true(p->usage >= 0);
    assert_true(p->roles[pv_policy_role(p, "privacy_officer")].powers & PV_POWER_HOLDS);
    assert_false(p->roles[pv_policy_role(p, "staff")].powers & PV_POWER_HOLDS);
    /* A policy without the new keys keeps the old meaning: from creation, purge, no consent. */
    pv_policy_free(p);
    p = load("tests/unit/policies/good/minimal.yaml");
    assert_int_equal(p->visit_collection, -1);
    assert_int_equal(p->usage, -1);
    for (int i = 0; i < p->ncategories; i++) {
        assert_int_equal(p->categories[i].retention.from, PV_FROM_CREATED);
        assert_int_equal(p->categories[i].disposal, PV_DISPOSE_PURGE);
        assert_int_equal(p->categories[i].consent, -1);
    }
    pv_policy_free(p);
}

/* ---- decisions --------------------------------------------------------------------- */

struct ask {
    const char *role, *purpose;
    enum pv_action action;
    const char *collection, *fields, *consents;
    int self, assigned, held;
};

static uint64_t
mask(const struct pv_policy *p, const struct pv_collection *c, const char *list, int consents)
{
    char buf[256], *s, *comma;
    uint64_t m = 0;

    test_snprintf(buf, sizeof buf, "%s", list ? list : "");
    for (s = buf; *s; s = comma ? comma + 1 : s + strlen(s)) {
        int i;
        if ((comma = strchr(s, ',')) != NULL)
            *comma = '\0';
        i = consents ? pv_policy_consent(p, s) : pv_policy_field(c, s);
        assert_true(i >= 0);
        m |= UINT64_C(1) << i;
    }
    return m;
}

static void
decide(const struct pv_policy *p, const struct ask *q, struct pv_decision *d)
{
    struct pv_facts f;
    const struct pv_collection *c = NULL;

    memset(&f, 0, sizeof f);
    f.role = pv_policy_role(p, q->role);
    f.purpose = q->purpose;
    f.action = q->action;
    f.collection = q->collection ? pv_policy_collection(p, q->collection) : -1;
    if (f.collection >= 0)
        c = &p->collections[f.collection];
    f.fields = c ? mask(p, c, q->fields, 0) : 0;
    f.consents = mask(p, NULL, q->consents, 1);
    f.self = q->self;
    f.assigned = q->assigned;
    f.held = q->held;
    pv_policy_decide(p, &f, d);
}

static void
expect(const struct pv_policy *p, const struct ask *q, int permit, int err, const char *reason,
       const char *fields)
{
    struct pv_decision d;
    int ci = q->collection ? pv_policy_collection(p, q->collection) : -1;

    decide(p, q, &d);
    if (d.permit != permit || d.err != err || strcmp(d.reason, reason) != 0)
        fail_msg("%s %s %s: got %s (%s), expected %s (%s)", q->role, q->purpose,
                 pv_action_name(q->action), d.permit ? "permit" : "deny", d.reason,
                 permit ? "permit" : "deny", reason);
    if (fields)
        assert_int_equal(d.fields, mask(p, &p->collections[ci], fields, 0));
}

static void
test_closing_needs_the_whole_profile(void **state)
{
    struct pv_policy *p = load("policies/example.yaml");

    (void)state;
    /* Front desk for operations sees the whole profile: may close. */
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "operations",
                         .action = PV_ACT_CLOSE,
                         .collection = "profile"},
           1, 0, "permit", NULL);
    /* The person themselves may close their own account, not another's. */
    expect(p,
           &(struct ask){.role = "patient",
                         .purpose = "self",
                         .action = PV_ACT_CLOSE,
                         .collection = "profile",
                         .self = 1},
           1, 0, "permit", NULL);
    expect(
        p,
        &(struct ask){
            .role = "patient", .purpose = "self", .action = PV_ACT_CLOSE, .collection = "profile"},
        0, PV_EDENIED, "not-own-subject", NULL);
    /* A provider for treatment does not see contact details: cannot close the account. */
    expect(p,
           &(struct ask){.role = "provider",
                         .purpose = "treatment",
                         .action = PV_ACT_CLOSE,
                         .collection = "profile",
                         .assigned = 1},
           0, PV_EDENIED, "purpose-excludes-field", NULL);
    expect(p,
           &(struct ask){.role = "admin",
                         .purpose = "operations",
                         .action = PV_ACT_CLOSE,
                         .collection = "profile"},
           0, PV_EDENIED, "role-not-allowed-purpose", NULL);
    assert_string_equal(pv_action_name(PV_ACT_CLOSE), "close");
    pv_policy_free(p);
}

static void
test_holds_need_the_holds_power_and_block_deletion(void **state)
{
    struct pv_policy *p = load("policies/example.yaml");

    (void)state;
    expect(p,
           &(struct ask){.role = "privacy_officer", .purpose = "operations", .action = PV_ACT_HOLD},
           1, 0, "permit", NULL);
    expect(p, &(struct ask){.role = "staff", .purpose = "operations", .action = PV_ACT_HOLD}, 0,
           PV_EDENIED, "role-cannot-hold", NULL);
    expect(p, &(struct ask){.role = "patient", .purpose = "self", .action = PV_ACT_HOLD, .self = 1},
           0, PV_EDENIED, "role-cannot-hold", NULL);
    /* The same deletion, permitted without a hold, refused as a conflict under one. */
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "payment",
                         .action = PV_ACT_DELETE,
                         .collection = "payments"},
           1, 0, "permit", NULL);
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "payment",
                         .action = PV_ACT_DELETE,
                         .collection = "payments",
                         .held = 1},
           0, PV_ECONFLICT, "legal-hold", NULL);
    /* Policy denials still come first: a hold reveals nothing to whom may not delete at all. */
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "operations",
                         .action = PV_ACT_DELETE,
                         .collection = "payments",
                         .held = 1},
           0, PV_EDENIED, "purpose-excludes-field", NULL);
    /* A hold keeps data; it does not stop reading or writing. */
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "payment",
                         .action = PV_ACT_READ,
                         .collection = "payments",
                         .held = 1},
           1, 0, "permit", "card_last4,amount");
    pv_policy_free(p);
}

static void
test_usage_keeps_only_what_consent_allows(void **state)
{
    struct pv_policy *p = load("policies/example.yaml");

    (void)state;
    /* Without cookie consent only the necessary part (the address) is kept. */
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "site",
                         .action = PV_ACT_COLLECT,
                         .collection = "usage",
                         .fields = "ip,device,page"},
           1, 0, "permit", "ip");
    expect(p,
           &(struct ask){.role = "patient",
                         .purpose = "site",
                         .action = PV_ACT_COLLECT,
                         .collection = "usage",
                         .fields = "ip,device,page",
                         .consents = "cookies_functional",
                         .self = 1},
           1, 0, "permit", "ip,device");
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "site",
                         .action = PV_ACT_COLLECT,
                         .collection = "usage",
                         .fields = "ip,page",
                         .consents = "cookies_analytics,cookies_functional"},
           1, 0, "permit", "ip,page");
    /* Nothing given, nothing kept; a purpose that does not cover usage data is refused. */
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "site",
                         .action = PV_ACT_COLLECT,
                         .collection = "usage",
                         .fields = "page"},
           1, 0, "permit", "");
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "operations",
                         .action = PV_ACT_COLLECT,
                         .collection = "usage",
                         .fields = "ip"},
           0, PV_EDENIED, "purpose-excludes-field", NULL);
    expect(p,
           &(struct ask){.role = "patient",
                         .purpose = "site",
                         .action = PV_ACT_COLLECT,
                         .collection = "usage",
                         .fields = "ip"},
           0, PV_EDENIED, "not-own-subject", NULL);
    /* Through an ordinary write a consent-gated value is refused, never silently kept. */
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "site",
                         .action = PV_ACT_CREATE,
                         .collection = "usage",
                         .fields = "ip,page"},
           0, PV_EDENIED, "consent-required", NULL);
    expect(p,
           &(struct ask){.role = "staff",
                         .purpose = "site",
                         .action = PV_ACT_CREATE,
                         .collection = "usage",
                         .fields = "ip,page",
                         .consents = "cookies_analytics"},
           1, 0, "permit", NULL);
    pv_policy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_months_are_calendar_months),
        cmocka_unit_test(test_expiry_counts_from_the_named_event),
        cmocka_unit_test(test_policy_model_of_retention),
        cmocka_unit_test(test_closing_needs_the_whole_profile),
        cmocka_unit_test(test_holds_need_the_holds_power_and_block_deletion),
        cmocka_unit_test(test_usage_keeps_only_what_consent_allows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
