/*
 * rights.c: the people's rights and their deadlines, and the kinds of
 * recipient.
 *
 * A right the policy's rights section does not name still exists: people
 * may always exercise it, and its deadline is the default below, taken
 * from the law that sets one (HIPAA: access 30 days, amendment 60,
 * accounting 60, each extendable once by 30; CCPA: deletion and the right
 * to know 45 days, extendable once by 45). The others default to 30 days.
 */
#include <string.h>

#include "policy/policy_int.h"

static const struct {
    const char *name;
    int days, extension;
} rights[PV_RIGHTS_COUNT] = {
    {"access", 30, 30},      {"amend", 60, 30},     {"delete", 45, 45},   {"restrict", 30, 30},
    {"portability", 30, 30}, {"object", 30, 30},    {"withdraw", 30, 30}, {"know", 45, 45},
    {"accounting", 60, 30},  {"complaint", 30, 30},
};

static const char *const kinds[PV_RK_COUNT_] = {
    [PV_RK_PROVIDER] = "provider",   [PV_RK_SERVICE_PROVIDER] = "service_provider",
    [PV_RK_AFFILIATE] = "affiliate", [PV_RK_BUSINESS_PARTNER] = "business_partner",
    [PV_RK_LEGAL] = "legal",         [PV_RK_BUYER] = "buyer",
};

int
pv_recipient_kind_parse(const char *s)
{
    for (int i = 0; s && i < PV_RK_COUNT_; i++)
        if (strcmp(s, kinds[i]) == 0)
            return i;
    return -1;
}

const char *
pv_recipient_kind_name(int kind)
{
    return kind >= 0 && kind < PV_RK_COUNT_ ? kinds[kind] : NULL;
}

const char *
pv_right_name(int i)
{
    return i >= 0 && i < PV_RIGHTS_COUNT ? rights[i].name : NULL;
}

int
pv_policy_right(const struct pv_policy *p, const char *name, int *days, int *extension_days)
{
    for (int i = 0; name && i < PV_RIGHTS_COUNT; i++) {
        if (strcmp(rights[i].name, name) != 0)
            continue;
        *days = rights[i].days;
        *extension_days = rights[i].extension;
        for (int k = 0; k < p->nrights; k++)
            if (strcmp(p->rights[k].name, name) == 0) {
                *days = p->rights[k].days;
                *extension_days = p->rights[k].extension_days;
            }
        return 0;
    }
    return PV_EINVAL;
}
