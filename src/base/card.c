/*
 * card.c: finding a full payment card number in text.
 *
 * A service that keeps only the last 4 digits of a card must notice a whole
 * number wherever it is pasted: a note, a name, a reason. A card number is
 * 13 to 19 digits whose last one is the Luhn check digit; people write it
 * straight, or in groups joined by a space or a dash. Issuer numbers never
 * begin with 0, which keeps zero-padded counters out.
 */
#include "base/base.h"

#define CARD_MIN 13
#define CARD_MAX 19

static int
is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Whether s[i] joins two groups of one run: one space or dash between digits. */
static int
joins(const char *s, size_t len, size_t i)
{
    return i + 1 < len && (s[i] == ' ' || s[i] == '-') && is_digit(s[i + 1]);
}

/* The Luhn check: from the right, every second digit doubled (less 9 past 9), sum mod 10. */
static int
luhn(const char *d, int n)
{
    int sum = 0;

    for (int i = 0; i < n; i++) {
        int x = d[n - 1 - i] - '0';
        if (i & 1) {
            x *= 2;
            if (x > 9)
                x -= 9;
        }
        sum += x;
    }
    return sum % 10 == 0;
}

/*
 * Whether whole groups starting at the group at s[i] make a card number: the
 * groups are added one by one while the digits fit a card, each stretch
 * checked. A group longer than a card is no card, whatever surrounds it.
 */
static int
card_from(const char *s, size_t len, size_t i)
{
    char d[CARD_MAX];
    int n = 0;

    if (s[i] == '0')
        return 0;
    for (;;) {
        while (i < len && is_digit(s[i])) {
            if (n == CARD_MAX)
                return 0;
            d[n++] = s[i++];
        }
        if (n >= CARD_MIN && luhn(d, n))
            return 1;
        if (!joins(s, len, i))
            return 0;
        i++;
    }
}

int
pv_card_number_in(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        if (!is_digit(s[i])) {
            i++;
            continue;
        }
        /* s[i] starts a group: try every stretch of groups from here, then the next group. */
        if (card_from(s, len, i))
            return 1;
        while (i < len && is_digit(s[i]))
            i++;
        if (joins(s, len, i))
            i++;
    }
    return 0;
}
