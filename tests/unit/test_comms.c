/*
 * test_comms.c: the pieces of the SMS webhook below the server: the form
 * parser, HMAC-SHA1 (RFC 2202's vectors) and Twilio's signature, checked
 * against the worked example of Twilio's webhook security documentation.
 */
#include "testutil.h"

#include "crypto/crypto.h"
#include "vault/vault_int.h"

static void
test_form_parse(void **state)
{
    static const char body[] = "From=%2B15550102&Body=Stop+now&Empty=&Flag&&To=%2b1%20555";
    struct pv_form f;

    (void)state;
    assert_int_equal(pv_form_parse(body, sizeof body - 1, &f), 0);
    assert_int_equal(f.n, 5);
    assert_string_equal(pv_form_get(&f, "From"), "+15550102");
    assert_string_equal(pv_form_get(&f, "Body"), "Stop now");
    assert_string_equal(pv_form_get(&f, "Empty"), "");
    assert_string_equal(pv_form_get(&f, "Flag"), "");
    assert_string_equal(pv_form_get(&f, "To"), "+1 555");
    assert_null(pv_form_get(&f, "from"));
    pv_form_fini(&f);
    assert_int_equal(pv_form_parse("", 0, &f), 0);
    assert_int_equal(f.n, 0);
    pv_form_fini(&f);
}

static void
test_form_refuses_malformed(void **state)
{
    static const char *const bad[] = {"a=%", "a=%4", "a=%zz", "=value", "a=%00", "%00=x"};
    char many[64 * 4 + 8];
    struct pv_form f;
    size_t n = 0;

    (void)state;
    for (size_t i = 0; i < PV_ARRAY_LEN(bad); i++)
        if (pv_form_parse(bad[i], strlen(bad[i]), &f) != PV_EINVAL)
            fail_msg("'%s' should be refused", bad[i]);
    for (int i = 0; i < PV_FORM_MAX_PARAMS + 1; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "a=%d&", i % 10);
    assert_int_equal(pv_form_parse(many, n, &f), PV_ETOOBIG);
}

static void
hex_of(const unsigned char *p, size_t n, char *out)
{
    pv_hex(p, n, out);
}

static void
test_hmac_sha1_rfc2202(void **state)
{
    unsigned char key[20], mac[PV_SHA1_BYTES];
    char hex[2 * PV_SHA1_BYTES + 1];

    (void)state;
    memset(key, 0x0b, sizeof key);
    pv_hmac_sha1(key, 20, "Hi There", 8, mac);
    hex_of(mac, sizeof mac, hex);
    assert_string_equal(hex, "b617318655057264e28bc0b6fb378c8ef146be00");
    pv_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex_of(mac, sizeof mac, hex);
    assert_string_equal(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

static void
test_twilio_published_vector(void **state)
{
    /* The parameters in another order than the signature's: the signature sorts them. */
    static const char body[] = "To=%2B18005551212&From=%2B12349013030&Digits=1234"
                               "&Caller=%2B12349013030&CallSid=CA1234567890ABCDE";
    char sig[PV_TWILIO_SIG_CHARS];
    struct pv_form f;

    (void)state;
    assert_int_equal(pv_form_parse(body, sizeof body - 1, &f), 0);
    assert_int_equal(pv_twilio_signature((const unsigned char *)"12345", 5,
                                         "https://mycompany.com/myapp.php?foo=1&bar=2", &f, sig),
                     0);
    assert_string_equal(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    /* Any change to the URL, a value or the key is another signature. */
    assert_int_equal(pv_twilio_signature((const unsigned char *)"12346", 5,
                                         "https://mycompany.com/myapp.php?foo=1&bar=2", &f, sig),
                     0);
    assert_string_not_equal(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    assert_int_equal(pv_twilio_signature((const unsigned char *)"12345", 5,
                                         "https://mycompany.com/myapp.php?foo=1&bar=3", &f, sig),
                     0);
    assert_string_not_equal(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    pv_form_fini(&f);
}

/* pv_vault_consent_held(): the question other services ask ("is kind K held by S now?"). */
static void
test_consent_held(void **state)
{
    char dir[64], data[128], policy[512], subject[PV_ID_MAX];
    struct pv_vault_config cfg = {NULL, NULL, 0};
    struct pv_consent_change ch = {"marketing_email", 1, "web", NULL, NULL};
    const struct pv_policy *p;
    struct pv_actor staff;
    struct pv_call call;
    struct pv_vault *v;
    json_t *body, *out;
    int held;

    (void)state;
    make_temp_dir(dir);
    test_snprintf(data, sizeof data, "%s/data", dir);
    test_snprintf(policy, sizeof policy, "%s/policies/example.yaml", source_dir());
    assert_int_equal(pv_vault_init(data, policy, "a-long-admin-password", NULL), 0);
    cfg.dir = data;
    assert_int_equal(pv_vault_open(&cfg, &v, NULL), 0);
    p = pv_vault_policy(v);
    memset(&staff, 0, sizeof staff);
    pv_id_new("usr", staff.user_id);
    pv_id_new("ses", staff.session_id);
    staff.role = pv_policy_role(p, "staff");
    memset(&call, 0, sizeof call);
    call.actor = &staff;
    call.purpose = "operations";
    body = json_pack("{s:s, s:s, s:{s:s}}", "policy_version", p->version, "birth_date",
                     "1980-01-01", "profile", "name", "Test Person");
    assert_int_equal(pv_vault_enroll(v, &call, body, &out), 0);
    pv_strlcpy(subject, json_string_value(json_object_get(out, "id")), sizeof subject);
    json_decref(body);
    json_decref(out);

    /* Without entries, the policy's defaults; the acceptance made at enrollment. */
    assert_int_equal(pv_vault_consent_held(v, subject, "service_sms", &held), 0);
    assert_int_equal(held, 1);
    assert_int_equal(pv_vault_consent_held(v, subject, "marketing_email", &held), 0);
    assert_int_equal(held, 0);
    assert_int_equal(pv_vault_consent_held(v, subject, "policy", &held), 0);
    assert_int_equal(held, 1);
    assert_int_equal(pv_vault_consent_held(v, subject, "cookies_fax", &held), PV_EINVAL);
    /* The latest entry decides. */
    assert_int_equal(pv_vault_consent_set(v, &call, subject, &ch, &out), 0);
    json_decref(out);
    assert_int_equal(pv_vault_consent_held(v, subject, "marketing_email", &held), 0);
    assert_int_equal(held, 1);
    ch.grant = 0;
    assert_int_equal(pv_vault_consent_set(v, &call, subject, &ch, &out), 0);
    json_decref(out);
    assert_int_equal(pv_vault_consent_held(v, subject, "marketing_email", &held), 0);
    assert_int_equal(held, 0);
    pv_vault_close(v);
    rm_tree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_parse),        cmocka_unit_test(test_form_refuses_malformed),
        cmocka_unit_test(test_hmac_sha1_rfc2202), cmocka_unit_test(test_twilio_published_vector),
        cmocka_unit_test(test_consent_held),
    };

    if (pv_crypto_init(2) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
