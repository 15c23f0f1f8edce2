/* test_parse.c: request-body parsers: JSON bodies and urlencoded forms with their limits. */
#include "testutil.h"

#include "base/base.h"
#include "http/parse.h"

static void
test_twilio_style_form(void **state)
{
    static const char body[] = "ToCountry=US&From=%2B15551234567&To=%2B15550100&Body=Stop+please%21"
                               "&MessageSid=SM123&NumMedia=0";
    struct pv_form f;
    const char *detail = NULL;

    (void)state;
    assert_int_equal(pv_form_parse(body, strlen(body), NULL, &f, &detail), 0);
    assert_int_equal(f.n, 6);
    assert_string_equal(pv_form_get(&f, "From"), "+15551234567");
    assert_string_equal(pv_form_get(&f, "Body"), "Stop please!");
    assert_string_equal(pv_form_get(&f, "NumMedia"), "0");
    assert_null(pv_form_get(&f, "body")); /* names are case-sensitive */
    assert_null(pv_form_get(&f, "AccountSid"));
    /* In body order until sorted; sorted bytewise, as a request signature lists them. */
    assert_string_equal(f.fields[0].name, "ToCountry");
    pv_form_sort(&f);
    assert_string_equal(f.fields[0].name, "Body");
    assert_string_equal(f.fields[1].name, "From");
    assert_string_equal(f.fields[2].name, "MessageSid");
    assert_string_equal(f.fields[3].name, "NumMedia");
    assert_string_equal(f.fields[4].name, "To");
    assert_string_equal(f.fields[5].name, "ToCountry");
    assert_int_equal(f.fields[0].value_len, strlen("Stop please!"));
    pv_form_fini(&f);
    pv_form_fini(&f); /* a finished form is empty: again is harmless */
    assert_int_equal(f.n, 0);
}

static void
test_form_shapes(void **state)
{
    struct pv_form f;

    (void)state;
    assert_int_equal(pv_form_parse("", 0, NULL, &f, NULL), 0);
    assert_int_equal(f.n, 0);
    pv_form_fini(&f);
    /* Empty pieces are skipped; a name without '=' has an empty value. */
    assert_int_equal(pv_form_parse("&a=1&&flag&b=&", 14, NULL, &f, NULL), 0);
    assert_int_equal(f.n, 3);
    assert_string_equal(pv_form_get(&f, "a"), "1");
    assert_string_equal(pv_form_get(&f, "flag"), "");
    assert_string_equal(pv_form_get(&f, "b"), "");
    pv_form_fini(&f);
    /* Escapes decode to any byte of valid UTF-8; '=' in a value is data. */
    assert_int_equal(pv_form_parse("k=%E2%9C%93%F0%9F%98%80a%3Db=c", 30, NULL, &f, NULL), 0);
    assert_string_equal(pv_form_get(&f, "k"), "\xe2\x9c\x93\xf0\x9f\x98\x80"
                                              "a=b=c");
    pv_form_fini(&f);
    /* Only the given length is read. */
    assert_int_equal(pv_form_parse("a=12&b=3", 4, NULL, &f, NULL), 0);
    assert_int_equal(f.n, 1);
    assert_string_equal(pv_form_get(&f, "a"), "12");
    pv_form_fini(&f);
}

/* Each body is refused with err, and the form passed in is left as it was. */
static void
refused(const char *body, int err)
{
    struct pv_form f = {(struct pv_form_field *)1, 42, (char *)2, 3};
    const char *detail = NULL;

    assert_int_equal(pv_form_parse(body, strlen(body), NULL, &f, &detail), err);
    assert_non_null(detail);
    assert_null(strstr(detail, "secret")); /* fixed sentences, never the input */
    assert_int_equal(f.n, 42);
    assert_ptr_equal(f.text, (char *)2);
}

static void
test_form_refusals(void **state)
{
    (void)state;
    refused("=secret", PV_EINVAL);  /* no name */
    refused("%=secret", PV_EINVAL); /* malformed escapes */
    refused("a=%4", PV_EINVAL);
    refused("a=%zzsecret", PV_EINVAL);
    refused("a=secret%", PV_EINVAL);
    refused("a=se%00cret", PV_EINVAL);          /* NUL */
    refused("a=%C3%28secret", PV_EINVAL);       /* not UTF-8 */
    refused("a=%C0%AFsecret", PV_EINVAL);       /* overlong */
    refused("a=%ED%A0%80secret", PV_EINVAL);    /* a surrogate */
    refused("a=%F4%90%80%80secret", PV_EINVAL); /* past U+10FFFF */
    refused("a=%E2%9Csecret", PV_EINVAL);       /* truncated sequence */
    refused("%FF=secret", PV_EINVAL);           /* names too */
    refused("a=secret&b=2&a=3", PV_EINVAL);     /* duplicate */
    refused("a=secret&%61=3", PV_EINVAL);       /* duplicate once decoded */
}

static void
test_form_limits(void **state)
{
    struct pv_form_limits lim = {2, 4, 5};
    char body[8192];
    struct pv_form f;
    size_t n = 0;

    (void)state;
    /* 64 fields pass, 65 do not. */
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%sf%d=v", i ? "&" : "", i);
    assert_int_equal(pv_form_parse(body, n - strlen("&f64=v"), NULL, &f, NULL), 0);
    assert_int_equal(f.n, 64);
    pv_form_fini(&f);
    refused(body, PV_ETOOBIG);
    /* A name of 64 decoded bytes passes, 65 do not; escapes count once decoded. */
    memset(body, 'n', 64);
    memcpy(body + 64, "=v", 3);
    assert_int_equal(pv_form_parse(body, strlen(body), NULL, &f, NULL), 0);
    pv_form_fini(&f);
    memmove(body + 1, body, strlen(body) + 1);
    refused(body, PV_ETOOBIG);
    /* A value of 4096 bytes passes, 4097 do not. */
    memcpy(body, "v=", 2);
    memset(body + 2, 'x', 4096);
    body[4098] = '\0';
    assert_int_equal(pv_form_parse(body, strlen(body), NULL, &f, NULL), 0);
    assert_int_equal(f.fields[0].value_len, 4096);
    pv_form_fini(&f);
    memcpy(body + 4098, "x", 2);
    refused(body, PV_ETOOBIG);
    /* Limits of the caller's own. */
    assert_int_equal(pv_form_parse("ab=12345&cd=1", 13, &lim, &f, NULL), 0);
    pv_form_fini(&f);
    assert_int_equal(pv_form_parse("ab=1&cd=1&ef=1", 14, &lim, &f, NULL), PV_ETOOBIG);
    assert_int_equal(pv_form_parse("abcde=1", 7, &lim, &f, NULL), PV_ETOOBIG);
    assert_int_equal(pv_form_parse("ab=123456", 9, &lim, &f, NULL), PV_ETOOBIG);
    assert_int_equal(pv_form_parse("ab=%41%41%41%41%41", 18, &lim, &f, NULL), 0);
    assert_string_equal(pv_form_get(&f, "ab"), "AAAAA");
    pv_form_fini(&f);
}

static void
test_json_body(void **state)
{
    const char *detail = NULL;
    json_t *j = NULL;

    (void)state;
    assert_int_equal(pv_http_json_body("{\"a\":1}", 7, &j, &detail), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    json_decref(j);
    j = NULL;
    assert_int_equal(pv_http_json_body("", 0, &j, &detail), PV_EINVAL);
    assert_string_equal(detail, "this route needs a JSON object as its body");
    assert_int_equal(pv_http_json_body("{\"a\":1,\"a\":2}", 13, &j, &detail), PV_EJSON);
    assert_int_equal(pv_http_json_body("{\"secret\":", 10, &j, &detail), PV_EJSON);
    assert_string_equal(detail, "the body is not well-formed JSON");
    assert_int_equal(pv_http_json_body("[1,2]", 5, &j, &detail), PV_EINVAL);
    assert_string_equal(detail, "the body must be a JSON object");
    /* jansson takes only an object or an array at the top. */
    assert_int_equal(pv_http_json_body("\"secret\"", 8, &j, &detail), PV_EJSON);
    assert_null(j); /* nothing returned on failure */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twilio_style_form), cmocka_unit_test(test_form_shapes),
        cmocka_unit_test(test_form_refusals),     cmocka_unit_test(test_form_limits),
        cmocka_unit_test(test_json_body),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
