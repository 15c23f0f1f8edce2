/*
 * decide.c: the decision function and the policy's look-ups.
 *
 * The order of the checks is part of the contract (the decision table in
 * tests/unit/test_decide.c pins it): who is asking, for what purpose, may
 * their role use it, may they act on this subject at all, are the consents
 * the purpose needs held, are the fields declared and covered by the
 * purpose, and for enrollment the policy version and the minimum age.
 */
#include <string.h>

#include "policy/policy_int.h"

static const char *const action_names[PV_ACT_COUNT_] = {
    [PV_ACT_READ] = "read",     [PV_ACT_LIST] = "list",       [PV_ACT_CREATE] = "create",
    [PV_ACT_UPDATE] = "update", [PV_ACT_DELETE] = "delete",   [PV_ACT_ENROLL] = "enroll",
    [PV_ACT_LOOKUP] = "lookup", [PV_ACT_ASSIGN] = "assign",   [PV_ACT_CLOSE] = "close",
    [PV_ACT_HOLD] = "hold",     [PV_ACT_COLLECT] = "collect",
};

const char *
pv_action_name(enum pv_action a)
{
    return (unsigned)a < PV_ACT_COUNT_ ? action_names[a] : "unknown";
}

int
pv_policy_role(const struct pv_policy *p, const char *name)
{
    for (int i = 0; i < p->nroles; i++)
        if (p->roles[i].name && strcmp(p->roles[i].name, name) == 0)
            return i;
    return -1;
}

int
pv_policy_purpose(const struct pv_policy *p, const char *key)
{
    for (int i = 0; i < p->npurposes; i++)
        if (strcmp(p->purposes[i].key, key) == 0)
            return i;
    return -1;
}

int
pv_policy_collection(const struct pv_policy *p, const char *name)
{
    for (int i = 0; i < p->ncollections; i++)
        if (strcmp(p->collections[i].name, name) == 0)
            return i;
    return -1;
}

int
pv_policy_category(const struct pv_policy *p, const char *key)
{
    for (int i = 0; i < p->ncategories; i++)
        if (strcmp(p->categories[i].key, key) == 0)
            return i;
    return -1;
}

int
pv_policy_consent(const struct pv_policy *p, const char *kind)
{
    for (int i = 0; i < p->nconsents; i++)
        if (strcmp(p->consents[i], kind) == 0)
            return i;
    return -1;
}

int
pv_policy_field(const struct pv_collection *c, const char *name)
{
    for (int i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i].name, name) == 0)
            return i;
    return -1;
}

int
pv_category_covers(const char *prefix, const char *key)
{
    size_t n = strlen(prefix);

    return strncmp(prefix, key, n) == 0 && (key[n] == '\0' || key[n] == '.');
}

int
pv_purpose_covers(const struct pv_purpose *u, const char *key)
{
    for (int i = 0; i < u->ncategories; i++)
        if (pv_category_covers(u->categories[i], key))
            return 1;
    return 0;
}

uint64_t
pv_purpose_fields(const struct pv_policy *p, const struct pv_purpose *u,
                  const struct pv_collection *c)
{
    uint64_t m = 0;

    for (int i = 0; i < c->nfields; i++)
        if (pv_purpose_covers(u, p->categories[c->fields[i].category].key))
            m |= UINT64_C(1) << i;
    return m;
}

uint64_t
pv_consented_fields(const struct pv_policy *p, const struct pv_collection *c, uint64_t consents)
{
    uint64_t m = 0;

    for (int i = 0; i < c->nfields; i++) {
        int k = p->categories[c->fields[i].category].consent;
        if (k < 0 || (consents & (UINT64_C(1) << k)))
            m |= UINT64_C(1) << i;
    }
    return m;
}

static void
deny(struct pv_decision *d, int err, const char *reason)
{
    d->permit = 0;
    d->err = err;
    d->reason = reason;
    d->fields = 0;
}

/* Whether the role's scope lets it act on the subject of f at all. */
static const char *
scope_denial(const struct pv_role *r, const struct pv_facts *f)
{
    if (r->scope == PV_SCOPE_NONE)
        return "no-data-access";
    if (f->action == PV_ACT_LOOKUP)
        return NULL; /* results are filtered subject by subject */
    if (f->action == PV_ACT_ENROLL)
        return r->scope == PV_SCOPE_SELF && f->has_subject ? "already-enrolled" : NULL;
    if (r->scope == PV_SCOPE_SELF && !f->self)
        return "not-own-subject";
    if (r->scope == PV_SCOPE_ASSIGNED && !f->assigned)
        return "not-assigned";
    return NULL;
}

void
pv_policy_decide(const struct pv_policy *p, const struct pv_facts *f, struct pv_decision *d)
{
    const struct pv_collection *c = NULL;
    const struct pv_purpose *u;
    const struct pv_role *r;
    const char *why;
    uint64_t covered = 0, all;

    d->purpose = -1;
    if (f->role < 0 || f->role >= p->nroles) {
        deny(d, PV_EAUTH, "unauthenticated");
        return;
    }
    r = &p->roles[f->role];
    if (f->purpose == NULL || f->purpose[0] == '\0') {
        deny(d, PV_ENOPURPOSE, "purpose-required");
        return;
    }
    if ((d->purpose = pv_policy_purpose(p, f->purpose)) < 0) {
        deny(d, PV_EPURPOSE, "unknown-purpose");
        return;
    }
    u = &p->purposes[d->purpose];
    if (!(u->roles & (1u << f->role))) {
        deny(d, PV_EDENIED, "role-not-allowed-purpose");
        return;
    }
    if ((why = scope_denial(r, f)) != NULL) {
        deny(d, PV_EDENIED, why);
        return;
    }
    if (f->action == PV_ACT_ASSIGN && !(r->powers & PV_POWER_ASSIGN)) {
        deny(d, PV_EDENIED, "role-cannot-assign");
        return;
    }
    if (f->action == PV_ACT_HOLD && !(r->powers & PV_POWER_HOLDS)) {
        deny(d, PV_EDENIED, "role-cannot-hold");
        return;
    }
    if ((u->requires & f->consents) != u->requires) {
        deny(d, PV_EDENIED, "consent-required");
        return;
    }

    if (f->collection >= 0 && f->collection < p->ncollections) {
        c = &p->collections[f->collection];
        if (f->undeclared) {
            deny(d, PV_EFIELD, "undeclared-field");
            return;
        }
        covered = pv_purpose_fields(p, u, c);
        all = c->nfields == 64 ? UINT64_MAX : (UINT64_C(1) << c->nfields) - 1;
        switch (f->action) {
        case PV_ACT_READ:
        case PV_ACT_LIST:
            if (covered == 0) {
                deny(d, PV_EDENIED, "purpose-excludes-collection");
                return;
            }
            break;
        case PV_ACT_LOOKUP:
            if ((f->fields & covered) != f->fields) {
                deny(d, PV_EDENIED, "purpose-excludes-field");
                return;
            }
            break;
        case PV_ACT_CREATE:
        case PV_ACT_UPDATE:
        case PV_ACT_ENROLL:
            if ((f->fields & ~covered) != 0) {
                deny(d, PV_EDENIED, "purpose-excludes-field");
                return;
            }
            /* A category that needs the person's consent is never stored without it. */
            if ((f->fields & ~pv_consented_fields(p, c, f->consents)) != 0) {
                deny(d, PV_EDENIED, "consent-required");
                return;
            }
            break;
        case PV_ACT_COLLECT:
            if ((f->fields & ~covered) != 0) {
                deny(d, PV_EDENIED, "purpose-excludes-field");
                return;
            }
            /* Usage data is kept only as far as consent allows: the rest is dropped. */
            covered &= f->fields & pv_consented_fields(p, c, f->consents);
            break;
        case PV_ACT_DELETE:
        case PV_ACT_CLOSE: /* closing ends the whole profile's account retention */
            if (covered != all) {
                deny(d, PV_EDENIED, "purpose-excludes-field");
                return;
            }
            break;
        default:
            break;
        }
    }
    if (f->action == PV_ACT_DELETE && f->held) {
        deny(d, PV_ECONFLICT, "legal-hold");
        return;
    }
    if (f->action == PV_ACT_ENROLL) {
        if (f->policy_version == NULL || strcmp(f->policy_version, p->version) != 0) {
            deny(d, PV_EPOLICYVER, "policy-not-accepted");
            return;
        }
        if (f->age < p->minimum_age) {
            deny(d, PV_EAGE, "under-minimum-age");
            return;
        }
    }
    d->permit = 1;
    d->err = 0;
    d->reason = "permit";
    d->fields = covered;
}
