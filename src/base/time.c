/* time.c: wall clock with a settable offset, calendar arithmetic. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/base.h"

static _Atomic int64_t clock_offset;
static char clock_file[1024];

void
pv_clock_set_offset(int64_t seconds)
{
    atomic_store(&clock_offset, seconds);
}

void
pv_clock_set_file(const char *path)
{
    pv_strlcpy(clock_file, path ? path : "", sizeof clock_file);
}

/* The offset from the clock file, if one is set and readable. */
static void
read_clock_file(void)
{
    char buf[32];
    int64_t v;
    size_t n;
    FILE *f;

    if (clock_file[0] == '\0' || (f = fopen(clock_file, "r")) == NULL)
        return;
    n = fread(buf, 1, sizeof buf - 1, f);
    (void)fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, " \r\n")] = '\0';
    if (pv_parse_i64(buf, -(INT64_C(1) << 40), INT64_C(1) << 40, &v) == 0)
        atomic_store(&clock_offset, v);
}

int64_t
pv_now_ms(void)
{
    struct timespec ts;

    read_clock_file();
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&clock_offset) * 1000;
}

int64_t
pv_now(void)
{
    return pv_now_ms() / 1000;
}

int64_t
pv_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Howard Hinnant's days_from_civil: proleptic Gregorian, exact for all int years. */
int64_t
pv_days_from_civil(int y, int m, int d)
{
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

void
pv_time_format(int64_t t, char out[21])
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    int y, m, d;

    civil_from_days(days, &y, &m, &d);
    /* Years outside 0..9999 do not occur in phivault's data; clamp for the format. */
    y = y < 0 ? 0 : y > 9999 ? 9999 : y;
    (void)snprintf(out, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y % 10000u,
                   (unsigned)m % 100u, (unsigned)d % 100u, (unsigned)(secs / 3600) % 100u,
                   (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

int
pv_date_parse(const char *s, int *y, int *m, int *d)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int i, yy, mm, dd;

    for (i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return PV_EINVAL;
        } else if (s[i] < '0' || s[i] > '9') {
            return PV_EINVAL;
        }
    }
    if (s[10] != '\0')
        return PV_EINVAL;
    yy = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    mm = (s[5] - '0') * 10 + (s[6] - '0');
    dd = (s[8] - '0') * 10 + (s[9] - '0');
    if (yy < 1850 || mm < 1 || mm > 12 || dd < 1 || dd > mdays[mm - 1])
        return PV_EINVAL;
    if (mm == 2 && dd == 29 && !(yy % 4 == 0 && (yy % 100 != 0 || yy % 400 == 0)))
        return PV_EINVAL;
    *y = yy;
    *m = mm;
    *d = dd;
    return 0;
}

int
pv_age_years(int by, int bm, int bd, int64_t t)
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int y, m, d, age;

    civil_from_days(days, &y, &m, &d);
    age = y - by;
    if (m < bm || (m == bm && d < bd))
        age--;
    return age;
}

int64_t
pv_time_add_months(int64_t t, int months)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400, m0;
    int y, m, d, last;

    civil_from_days(days, &y, &m, &d);
    m0 = (int64_t)y * 12 + (m - 1) + months;
    y = (int)(m0 >= 0 ? m0 / 12 : (m0 - 11) / 12);
    m = (int)(m0 - (int64_t)y * 12) + 1;
    last = mdays[m - 1] + (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
    if (d > last)
        d = last;
    return pv_days_from_civil(y, m, d) * 86400 + secs;
}
