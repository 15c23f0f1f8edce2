/* test_parse.c: the JSON request-body parser, and text made safe for HTML and XML. */
#include "testutil.h"

#include "base/base.h"
#include "http/parse.h"

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

/* What a person or a policy wrote goes into pages and TwiML as text, never as markup. */
static void
test_markup(void **state)
{
    struct pv_buf b;

    (void)state;
    pv_buf_init(&b, 1024);
    assert_int_equal(pv_buf_markup(&b, "<script>alert(\"x\" & 'y')</script>"), 0);
    assert_int_equal(pv_buf_markup(&b, NULL), 0);
    assert_int_equal(pv_buf_markup(&b, " caf\xc3\xa9"), 0);
    assert_string_equal(
        b.data, "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt; caf\xc3\xa9");
    pv_buf_fini(&b);
    /* a buffer at its limit fails, never truncates silently */
    pv_buf_init(&b, 8);
    assert_int_not_equal(pv_buf_markup(&b, "<<<<"), 0);
    pv_buf_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_markup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
