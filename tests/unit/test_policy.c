/*
 * test_policy.c: the policy loader.
 *
 * Data-driven: every file in policies/good must load; every file in
 * policies/bad must fail, and its first line "# expect: LINE:COL: text"
 * must appear in the errors as "PATH:LINE:COL: text".
 */
#include <dirent.h>

#include "testutil.h"

#include "policy/policy.h"

static void
dir_path(char *out, size_t n, const char *sub)
{
    test_snprintf(out, n, "%s/tests/unit/policies/%s", source_dir(), sub);
}

static void
test_good_files_load(void **state)
{
    char dir[512], path[1024];
    struct pv_policy *p;
    struct pv_buf errors;
    struct dirent *e;
    DIR *d;
    int n = 0;

    (void)state;
    dir_path(dir, sizeof dir, "good");
    assert_non_null(d = opendir(dir));
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".yaml") == NULL)
            continue;
        test_snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        pv_buf_init(&errors, 65536);
        if (pv_policy_load(path, &p, &errors) != 0)
            fail_msg("%s should load:\n%s", path, errors.data);
        assert_int_equal(strlen(p->version), PV_POLICY_VERSION_LEN);
        pv_policy_free(p);
        pv_buf_fini(&errors);
        n++;
    }
    closedir(d);
    assert_true(n >= 2);
}

static void
test_bad_files_name_line_column(void **state)
{
    char dir[512], path[1024], first[512], want[1536];
    struct pv_policy *p = NULL;
    struct pv_buf errors;
    struct dirent *e;
    FILE *f;
    DIR *d;
    int n = 0;

    (void)state;
    dir_path(dir, sizeof dir, "bad");
    assert_non_null(d = opendir(dir));
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".yaml") == NULL)
            continue;
        test_snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        assert_non_null(f = fopen(path, "r"));
        assert_non_null(fgets(first, sizeof first, f));
        (void)fclose(f);
        first[strcspn(first, "\n")] = '\0';
        assert_int_equal(strncmp(first, "# expect: ", 10), 0);
        test_snprintf(want, sizeof want, "%s:%s", path, first + 10);
        pv_buf_init(&errors, 65536);
        assert_int_equal(pv_policy_load(path, &p, &errors), PV_EPOLICY);
        assert_non_null(errors.data);
        if (strstr(errors.data, want) == NULL)
            fail_msg("%s: expected\n  %s\nin\n%s", e->d_name, want, errors.data);
        pv_buf_fini(&errors);
        n++;
    }
    closedir(d);
    assert_true(n >= 25);
}

static void
test_every_error_is_reported(void **state)
{
    static const char text[] = "phivault: 2\n"
                               "organization: {name: X, role: clinic}\n"
                               "effective: someday\n"
                               "minimum_age: -1\n"
                               "categories: {user.name: {retention: account}}\n"
                               "collections: {profile: {name: user.nam}}\n"
                               "roles: [patient]\n"
                               "purposes: {self: {roles: [ghost], categories: [user]}}\n";
    struct pv_policy *p = NULL;
    struct pv_buf errors;
    int lines = 0;

    (void)state;
    pv_buf_init(&errors, 65536);
    assert_int_equal(pv_policy_parse("many.yaml", text, sizeof text - 1, &p, &errors), PV_EPOLICY);
    assert_null(p);
    for (const char *s = errors.data; (s = strchr(s, '\n')) != NULL; s++)
        lines++;
    assert_int_equal(lines, 6);
    assert_non_null(strstr(errors.data, "many.yaml:1:11: expected 1 for phivault"));
    assert_non_null(strstr(errors.data, "many.yaml:2:31: expected covered_entity"));
    assert_non_null(strstr(errors.data, "many.yaml:3:12: expected a date"));
    assert_non_null(strstr(errors.data, "many.yaml:4:14: expected an integer"));
    assert_non_null(strstr(errors.data, "many.yaml:6:31: category 'user.nam' is not declared"));
    assert_non_null(strstr(errors.data, "many.yaml:8:27: role 'ghost' is not declared"));
    pv_buf_fini(&errors);
}

static void
test_example_model(void **state)
{
    char path[512];
    struct pv_policy *p;
    const struct pv_purpose *t;
    int c;

    (void)state;
    test_snprintf(path, sizeof path, "%s/policies/example.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    assert_string_equal(p->org.name, "Example Medical Spa");
    assert_int_equal(p->minimum_age, 18);
    /* The collections and roles the core issue names. */
    assert_true((c = pv_policy_collection(p, "profile")) >= 0);
    assert_true(pv_policy_field(&p->collections[c], "birth_date") >= 0);
    assert_true((c = pv_policy_collection(p, "visits")) >= 0);
    assert_int_equal(p->collections[c].nfields, 3);
    for (const char *const *r = (const char *const[]){"patient", "provider", "staff",
                                                      "privacy_officer", "admin", NULL};
         *r; r++)
        assert_true(pv_policy_role(p, *r) >= 0);
    for (const char *const *u =
             (const char *const[]){"treatment", "payment", "operations", "marketing", "self", NULL};
         *u; u++)
        assert_true(pv_policy_purpose(p, *u) >= 0);
    /* A purpose naming user.health covers every key below it, and nothing beside it. */
    t = &p->purposes[pv_policy_purpose(p, "treatment")];
    assert_true(pv_purpose_covers(t, "user.health.medical_record"));
    assert_false(pv_purpose_covers(t, "user.contact.email"));
    assert_false(pv_category_covers("user.health", "user.healthcare"));
    assert_int_equal(p->categories[pv_policy_category(p, "user.financial.credit_card")].store,
                     PV_STORE_LAST4);
    assert_int_equal(
        p->categories[pv_policy_category(p, "user.health.medical_record")].retention.unit,
        PV_RET_YEARS);
    pv_policy_free(p);
}

static void
test_version_is_content_hash(void **state)
{
    static const char a[] = "phivault: 1\norganization: {name: A, role: covered_entity}\n"
                            "effective: 2026-01-01\nminimum_age: 0\n"
                            "categories: {user.name: {retention: account}}\n"
                            "collections: {profile: {name: user.name}}\nroles: [patient]\n"
                            "purposes: {self: {roles: [patient], categories: [user]}}\n";
    char b[sizeof a];
    struct pv_policy *p1, *p2;

    (void)state;
    memcpy(b, a, sizeof a);
    b[strlen("phivault: 1\norganization: {name: ")] = 'B';
    assert_int_equal(pv_policy_parse("a", a, sizeof a - 1, &p1, NULL), 0);
    assert_int_equal(pv_policy_parse("b", b, sizeof b - 1, &p2, NULL), 0);
    assert_string_not_equal(p1->version, p2->version);
    pv_policy_free(p2);
    assert_int_equal(pv_policy_parse("a2", a, sizeof a - 1, &p2, NULL), 0);
    assert_string_equal(p1->version, p2->version);
    pv_policy_free(p1);
    pv_policy_free(p2);
}

/* The sections on who may act for whom, as loaded; and their defaults when absent. */
static void
test_access_rules_model(void **state)
{
    static const char plain[] = "phivault: 1\norganization: {name: A, role: covered_entity}\n"
                                "effective: 2026-01-01\nminimum_age: 0\n"
                                "categories: {user.name: {retention: account}}\n"
                                "collections: {profile: {name: user.name}}\nroles: [patient]\n"
                                "purposes: {self: {roles: [patient], categories: [user]}}\n";
    char path[512];
    struct pv_policy *p;

    (void)state;
    test_snprintf(path, sizeof path, "%s/tests/unit/policies/good/access-rules.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    assert_int_equal(p->minors.adult_age, 18);
    assert_int_equal(p->minors.consent_age, 13);
    assert_int_equal(p->minors.guardian_enrollment, 1);
    assert_int_equal(p->minors.guardian_age, 21);
    assert_int_equal(p->minors.nfeatures, 1);
    assert_int_equal(p->minors.features[0], pv_policy_collection(p, "notes"));
    assert_int_equal(p->visibility.roles, 1u << pv_policy_role(p, "clinician"));
    assert_int_equal(p->visibility.npurposes, 1);
    assert_int_equal(p->visibility.purposes[0], pv_policy_purpose(p, "treatment"));
    assert_int_equal(p->visibility.nwithheld, 1);
    assert_string_equal(p->visibility.withheld[0], "user.contact");
    assert_int_equal(p->restriction.npurposes, 1);
    assert_int_equal(p->restriction.purposes[0], pv_policy_purpose(p, "legal"));
    assert_int_equal(p->break_glass.purpose, pv_policy_purpose(p, "urgent"));
    assert_int_equal(p->break_glass.duration_s, 90 * 60);
    assert_int_equal(p->auth.mfa_roles, (1u << pv_policy_role(p, "clinician")) |
                                            (1u << pv_policy_role(p, "officer")) |
                                            (1u << pv_policy_role(p, "owner")));
    assert_int_equal(p->auth.idle_s, 15 * 60);
    assert_int_equal(p->auth.lifetime_s, 12 * 3600);
    assert_int_equal(p->auth.max_user_failures, 3);
    assert_int_equal(p->auth.max_address_failures, 50);
    assert_int_equal(p->auth.failure_window_s, 3600);
    assert_int_equal(p->roles[pv_policy_role(p, "officer")].powers,
                     PV_POWER_AUDIT | PV_POWER_REVIEW | PV_POWER_RESTRICT);
    pv_policy_free(p);

    assert_int_equal(pv_policy_parse("plain", plain, sizeof plain - 1, &p, NULL), 0);
    assert_int_equal(p->minors.adult_age, 18);
    assert_int_equal(p->minors.consent_age, 13);
    assert_int_equal(p->minors.guardian_enrollment, 0);
    assert_null(p->minors.features);
    assert_int_equal(p->visibility.npurposes, 0);
    assert_int_equal(p->restriction.npurposes, 0);
    assert_int_equal(p->break_glass.purpose, -1);
    assert_int_equal(p->auth.mfa_roles, 0);
    assert_int_equal(p->auth.idle_s, 0);
    assert_int_equal(p->auth.lifetime_s, 8 * 3600);
    assert_int_equal(p->auth.max_user_failures, 5);
    assert_int_equal(p->auth.max_address_failures, 20);
    assert_int_equal(p->auth.failure_window_s, 15 * 60);
    pv_policy_free(p);
}

static void
test_consent_model(void **state)
{
    char path[512];
    struct pv_policy *p;
    const struct pv_consent_kind *k;
    int i;

    (void)state;
    test_snprintf(path, sizeof path, "%s/policies/example.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    k = &p->consent_kinds[pv_policy_consent(p, "marketing_sms")];
    assert_int_equal(k->type, PV_CONSENT_MARKETING);
    assert_int_equal(k->channel, PV_CH_SMS);
    assert_false(k->default_granted);
    k = &p->consent_kinds[pv_policy_consent(p, "service_sms")];
    assert_int_equal(k->type, PV_CONSENT_SERVICE);
    assert_true(k->default_granted);
    k = &p->consent_kinds[pv_policy_consent(p, "health_marketing")];
    assert_int_equal(k->type, PV_CONSENT_AUTHORIZATION);
    assert_int_equal(k->nauthorizes, 1);
    assert_int_equal(k->authorizes[0], pv_policy_purpose(p, "marketing"));
    assert_string_equal(p->consent_kinds[pv_policy_consent(p, "cookies_analytics")].cookie,
                        "analytics");
    assert_int_equal(p->consent_kinds[p->policy_kind].type, PV_CONSENT_POLICY);
    assert_true(p->purposes[pv_policy_purpose(p, "marketing")].marketing);
    assert_false(p->purposes[pv_policy_purpose(p, "operations")].marketing);
    assert_int_equal(p->sms.phone_field,
                     pv_policy_field(&p->collections[pv_policy_collection(p, "profile")], "phone"));
    assert_true(p->sms.never_shared);
    assert_int_equal(p->channels, 0xf);
    assert_false(p->change.material);
    pv_policy_free(p);

    /* Without consents, acceptance of the policy is still recorded under a kind of its own. */
    test_snprintf(path, sizeof path, "%s/tests/unit/policies/good/minimal.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    assert_int_equal(p->nconsents, 1);
    assert_string_equal(p->consents[p->policy_kind], "policy");
    assert_int_equal(p->sms.phone_field, -1);
    pv_policy_free(p);

    /* The list form: kinds of type other, held once granted. */
    test_snprintf(path, sizeof path, "%s/tests/unit/policies/good/roles-map.yaml", source_dir());
    assert_int_equal(pv_policy_load(path, &p, NULL), 0);
    i = pv_policy_consent(p, "research");
    assert_int_equal(p->consent_kinds[i].type, PV_CONSENT_OTHER);
    assert_int_equal(p->consent_kinds[i].channel, PV_CH_NONE);
    assert_int_equal(pv_policy_consent_defaults(p), 0);
    assert_true(p->purposes[pv_policy_purpose(p, "research")].marketing == 0);
    pv_policy_free(p);
}

static void
test_change_section(void **state)
{
    static const char text[] = "phivault: 1\norganization: {name: A, role: covered_entity}\n"
                               "effective: 2026-07-01\nminimum_age: 0\n"
                               "categories: {user.name: {retention: account}}\n"
                               "collections: {profile: {name: user.name}}\nroles: [patient]\n"
                               "purposes: {self: {roles: [patient], categories: [user]}}\n"
                               "change: {material: true, notice: 45d, summary: Wider use.}\n";
    struct pv_policy *p;

    (void)state;
    assert_int_equal(pv_policy_parse("c", text, sizeof text - 1, &p, NULL), 0);
    assert_true(p->change.material);
    assert_int_equal(p->change.notice_days, 45);
    assert_string_equal(p->change.summary, "Wider use.");
    pv_policy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_files_load),
        cmocka_unit_test(test_bad_files_name_line_column),
        cmocka_unit_test(test_every_error_is_reported),
        cmocka_unit_test(test_example_model),
        cmocka_unit_test(test_version_is_content_hash),
        cmocka_unit_test(test_access_rules_model),
        cmocka_unit_test(test_consent_model),
        cmocka_unit_test(test_change_section),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
