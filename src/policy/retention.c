/*
 * retention.c: when a value's retention ends.
 *
 * Pure arithmetic over the policy and the dates of a few events; the vault's
 * sweep gathers the events (record created, account closed, last visit) and
 * disposes of what this says has expired.
 */
#include <stdio.h>

#include "policy/policy_int.h"

#define DAY_MS INT64_C(86400000)

/* ref moved forward by the period r, or PV_NEVER when it would overflow. */
static int64_t
add_period(const struct pv_retention *r, int64_t ref)
{
    int64_t secs = ref / 1000, ms = ref % 1000;

    switch (r->unit) {
    case PV_RET_DAYS:
        return ref + (int64_t)r->n * DAY_MS;
    case PV_RET_MONTHS:
        return pv_time_add_months(secs, r->n) * 1000 + ms;
    case PV_RET_YEARS:
        return pv_time_add_months(secs, 12 * r->n) * 1000 + ms;
    default:
        return PV_NEVER;
    }
}

/* When a value expires by its retention alone. */
static int64_t
retention_expiry(const struct pv_category *cat, const struct pv_retention_facts *f)
{
    const struct pv_retention *r = &cat->retention;
    int64_t ref;

    switch (r->unit) {
    case PV_RET_FOREVER:
        return PV_NEVER;
    case PV_RET_ACCOUNT:
        return f->closed > 0 ? f->closed : PV_NEVER;
    default:
        break;
    }
    switch (r->from) {
    case PV_FROM_CLOSED:
        if (f->closed <= 0)
            return PV_NEVER;
        ref = f->closed;
        break;
    case PV_FROM_LAST_VISIT:
        /* A record made after the last visit (or with no visit at all) counts from itself. */
        ref = f->last_visit > f->created ? f->last_visit : f->created;
        break;
    default:
        ref = f->created;
        break;
    }
    return add_period(r, ref);
}

int64_t
pv_retention_expiry(const struct pv_category *cat, const struct pv_retention_facts *f)
{
    int64_t until = retention_expiry(cat, f);

    /* A deletion request ends at once what the law does not require to keep. */
    if (f->deleted > 0 && !cat->deletion_keep && f->deleted < until)
        return f->deleted;
    return until;
}

void
pv_retention_format(const struct pv_retention *r, char out[16])
{
    static const char *const units[] = {"account", "forever", "d", "mo", "y"};

    if (r->unit == PV_RET_ACCOUNT || r->unit == PV_RET_FOREVER)
        (void)snprintf(out, 16, "%s", units[r->unit]);
    else
        (void)snprintf(out, 16, "%d%s", r->n, units[r->unit]);
}
