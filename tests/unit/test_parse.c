/* test_parse.c: the JSON request-body parser. */
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_body),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
