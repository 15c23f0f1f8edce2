/*
 * test_throttle.c: the failed-login table: a key is throttled after max
 * failures in the window and free again after it; a reset forgets it; a
 * full neighbourhood gives way to the oldest window, never to a live count
 * of the key being counted.
 */
#include "testutil.h"

#include "vault/vault_int.h"

static void
key_of(int i, unsigned char k[PV_HASH_BYTES])
{
    char s[32];

    test_snprintf(s, sizeof s, "key-%d", i);
    pv_hash(s, strlen(s), k);
}

static void
test_window(void **state)
{
    struct pv_throttle *t;
    unsigned char a[PV_HASH_BYTES], b[PV_HASH_BYTES];
    int retry = 0;

    (void)state;
    assert_int_equal(pv_throttle_new(&t), 0);
    key_of(1, a);
    key_of(2, b);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pv_throttle_check(t, a, 3, 60000, 1000 + i, &retry), 0);
        pv_throttle_fail(t, a, 60000, 1000 + i);
    }
    assert_int_equal(pv_throttle_check(t, a, 3, 60000, 2000, &retry), PV_ETHROTTLE);
    assert_int_equal(retry, 59); /* the window began at 1000 ms: 59 s to go, rounded up */
    assert_int_equal(pv_throttle_check(t, b, 3, 60000, 2000, &retry), 0);
    /* The window passes; a new failure begins a new one. */
    assert_int_equal(pv_throttle_check(t, a, 3, 60000, 61000, &retry), 0);
    pv_throttle_fail(t, a, 60000, 61000);
    assert_int_equal(pv_throttle_check(t, a, 2, 60000, 61001, &retry), 0);
    pv_throttle_fail(t, a, 60000, 61002);
    assert_int_equal(pv_throttle_check(t, a, 2, 60000, 61003, &retry), PV_ETHROTTLE);
    pv_throttle_reset(t, a);
    assert_int_equal(pv_throttle_check(t, a, 2, 60000, 61004, &retry), 0);
    pv_throttle_free(t);
}

static void
test_many_keys(void **state)
{
    struct pv_throttle *t;
    unsigned char k[PV_HASH_BYTES];
    int retry, held = 0;

    (void)state;
    assert_int_equal(pv_throttle_new(&t), 0);
    /* Far more keys than slots: the table stays bounded and keeps counting. */
    for (int i = 0; i < 20000; i++) {
        key_of(i, k);
        pv_throttle_fail(t, k, 60000, 10000 + i);
    }
    for (int i = 19000; i < 20000; i++) {
        key_of(i, k);
        held += pv_throttle_check(t, k, 1, 60000, 40000, &retry) == PV_ETHROTTLE;
    }
    assert_true(held > 900); /* the newest are nearly all remembered */
    pv_throttle_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_many_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
