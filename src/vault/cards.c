/*
 * cards.c: a full payment card number is refused wherever it is sent.
 *
 * A policy that keeps only the last 4 digits of a card (payment_cards:
 * refuse_numbers) must not let a whole number in by another door: a note, a
 * name, the reason of a hold, the evidence of a consent. So the body of every
 * request that stores something is searched before its handler runs: every
 * string, every number and every member name, at any depth. A refusal names
 * where the number was (a path of member names and indices), never the
 * number, and is audited like any other denial.
 */
#include <stdio.h>
#include <string.h>

#include "vault/vault_int.h"

/* Members whose values are never stored as sent (a password is kept only as its hash). */
static const char *const unstored[] = {"password", NULL};

static int
unstored_member(const char *key)
{
    for (int i = 0; unstored[i]; i++)
        if (strcmp(key, unstored[i]) == 0)
            return 1;
    return 0;
}

/* Whether a scalar holds a card number: a string's text, or a number's decimal digits. */
static int
scalar_has_card(const json_t *v)
{
    char digits[48];
    int n;

    if (json_is_string(v))
        return pv_card_number_in(json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        n = snprintf(digits, sizeof digits, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        /* A card sent as a number past 64 bits arrives as a real: its integral digits count. */
        n = snprintf(digits, sizeof digits, "%.0f", json_real_value(v));
    else
        return 0;
    return n > 0 && (size_t)n < sizeof digits && pv_card_number_in(digits, (size_t)n);
}

/*
 * Append one segment to path (at len), dot-separated; client text (raw 0) is
 * reduced to safe characters.
 */
static void
path_push(char *path, size_t cap, size_t len, const char *seg, int raw)
{
    size_t i = len;

    if (i > 0 && i + 1 < cap)
        path[i++] = '.';
    for (; *seg && i + 1 < cap; seg++) {
        char ch = *seg;
        if (!raw && !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            ch = '?';
        path[i++] = ch;
    }
    path[i] = '\0';
}

/*
 * Whether v (at path, of length len) holds a card number anywhere; on 1, path
 * names the place: the member or element whose value holds it, or
 * "(member name)" under the object whose member name does.
 */
/* Recursion is bounded by the JSON parser's nesting limit (2048), a few hundred KiB of the
 * request fiber's 1 MiB stack at most. */
static int
find_card(const json_t *v, char *path, size_t cap, int top) /* NOLINT(misc-no-recursion) */
{
    size_t len = strlen(path);
    const char *key;
    json_t *m;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, m)
        {
            if (pv_card_number_in(key, strlen(key))) {
                path_push(path, cap, len, "(member name)", 1);
                return 1;
            }
            if (top && unstored_member(key))
                continue;
            path_push(path, cap, len, key, 0);
            if (find_card(m, path, cap, 0))
                return 1;
            path[len] = '\0';
        }
        return 0;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            char idx[24];
            (void)snprintf(idx, sizeof idx, "%zu", i);
            path_push(path, cap, len, idx, 1);
            if (find_card(m, path, cap, 0))
                return 1;
            path[len] = '\0';
        }
        return 0;
    }
    return scalar_has_card(v);
}

int
pv_vault_card_check(struct pv_vault *v, struct pv_call *call, const char *action,
                    const char *subject, const json_t *body)
{
    char path[PV_NAME_MAX];

    if (!v->policy->cards.refuse || body == NULL)
        return 0;
    path[0] = '\0';
    if (!find_card(body, path, sizeof path, 1))
        return 0;
    /* Member names are client text: a path that spells a card number itself names nothing. */
    if (path[0] == '\0' || pv_card_number_in(path, strlen(path)))
        pv_strlcpy(path, "(body)", sizeof path);
    pv_strlcpy(call->field, path, sizeof call->field);
    call->detail = "only the last 4 digits of a payment card may be stored; a full card number "
                   "was sent in field, and nothing was stored";
    return pv_access_reject(v, call, action, subject, "card-number", PV_ECARD);
}
