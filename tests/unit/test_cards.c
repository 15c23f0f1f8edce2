/*
 * test_cards.c: finding a full payment card number in text (base/card.c),
 * and the policy's payment_cards section as loaded.
 *
 * Card numbers here are the networks' published test numbers; each "near
 * miss" differs from one of them in a way the rule must see.
 */
#include "testutil.h"

#include "base/base.h"
#include "policy/policy.h"

static int
has(const char *s)
{
    return pv_card_number_in(s, strlen(s));
}

static void
test_whole_numbers(void **state)
{
    (void)state;
    assert_true(has("4111111111111111"));    /* Visa, 16 */
    assert_true(has("5555555555554444"));    /* Mastercard */
    assert_true(has("378282246310005"));     /* American Express, 15 */
    assert_true(has("6011111111111117"));    /* Discover */
    assert_true(has("4222222222222"));       /* Visa, 13 */
    assert_true(has("6250941006528599"));    /* UnionPay */
    assert_true(has("4111111111111111110")); /* 19 digits, Luhn-valid */
}

static void
test_written_in_groups(void **state)
{
    (void)state;
    assert_true(has("4111 1111 1111 1111"));
    assert_true(has("4111-1111-1111-1111"));
    assert_true(has("3782 822463 10005"));
    assert_true(has("5555-5555 5555-4444"));
}

static void
test_inside_text(void **state)
{
    (void)state;
    assert_true(has("paid with card 4111111111111111 yesterday"));
    assert_true(has("card:4111-1111-1111-1111."));
    assert_true(has("x4111111111111111y"));
    /* Digits put in front of or after the number do not hide it. */
    assert_true(has("ref 12 4111 1111 1111 1111"));
    assert_true(has("4111 1111 1111 1111 exp 12 27"));
    assert_true(has("call 555 0142 4111-1111-1111-1111"));
}

static void
test_not_cards(void **state)
{
    (void)state;
    assert_false(has(""));
    assert_false(has("4111111111111112"));       /* check digit wrong */
    assert_false(has("411111111111"));           /* 12 digits */
    assert_false(has("41111111111111111111"));   /* 20 digits in one group: no card */
    assert_false(has("0000000000000000"));       /* begins with 0: no issuer */
    assert_false(has("4111"));                   /* the last 4 digits alone */
    assert_false(has("+1 555 0142"));            /* a phone number */
    assert_false(has("2026-11-20"));             /* a date */
    assert_false(has("4111  1111  1111  1111")); /* two spaces end a run: groups of 4 */
    assert_false(has("4111.1111.1111.1111"));    /* dots are not a card's separators */
    assert_false(has("no digits at all"));
}

static void
test_length_is_respected(void **state)
{
    /* The text is not NUL-terminated where the length ends: nothing past it is read. */
    const char s[] = "41111111111111111111";

    (void)state;
    assert_false(pv_card_number_in(s, 15)); /* "411111111111111" fails Luhn */
    assert_true(pv_card_number_in(s, 16));  /* "4111111111111111" */
    assert_false(pv_card_number_in("4111111111111111", 0));
}

static void
test_policy_section(void **state)
{
    static const char text[] =
        "phivault: 1\n"
        "organization: {name: Card Clinic, role: covered_entity}\n"
        "effective: 2026-01-01\n"
        "minimum_age: 18\n"
        "categories:\n"
        "  user.name: {retention: account}\n"
        "  user.financial.credit_card: {retention: 7y, store: last4}\n"
        "collections:\n"
        "  profile: {name: user.name}\n"
        "  payments: {card_last4: user.financial.credit_card}\n"
        "roles: [patient]\n"
        "purposes:\n"
        "  self: {roles: [patient], categories: [user]}\n"
        "payment_cards: {refuse_numbers: true, last4: payments.card_last4}\n";
    struct pv_policy *p = NULL;
    struct pv_buf errors;

    (void)state;
    pv_buf_init(&errors, 4096);
    assert_int_equal(pv_policy_parse("cards.yaml", text, strlen(text), &p, &errors), 0);
    assert_int_equal(p->cards.refuse, 1);
    assert_string_equal(p->cards.last4, "payments.card_last4");
    pv_policy_free(p);
    pv_buf_fini(&errors);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_numbers),       cmocka_unit_test(test_written_in_groups),
        cmocka_unit_test(test_inside_text),         cmocka_unit_test(test_not_cards),
        cmocka_unit_test(test_length_is_respected), cmocka_unit_test(test_policy_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
