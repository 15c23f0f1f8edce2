/*
 * decide.c: the decision function and the policy's look-ups.
 *
 * The order of the checks is part of the contract (the decision table in
 * tests/unit/test_decide.c pins it): who is asking, for what purpose, may
 * their role use it, may they act on this subject at all, are the consents
 * the purpose needs held, are the fields declared and covered by the
 * purpose, and for enrollment the policy version and the minimum age.
 *
 * Who acts for whom comes into the same order: a service key must hold the
 * purpose; a guardian acts as the subject while the subject is a minor; an
 * unassigned provider may act through an open break-glass grant (emergency
 * purpose only) or read a profile its subject made visible; a restricted
 * subject's data serves only the subject and the purposes the policy keeps
 * for restriction; a minor's data only the collections the policy lists.
 */
#include <string.h>

#include "policy/policy_int.h"

static const char *const action_names[PV_ACT_COUNT_] = {
    [PV_ACT_READ] = "read",
    [PV_ACT_LIST] = "list",
    [PV_ACT_CREATE] = "create",
    [PV_ACT_UPDATE] = "update",
    [PV_ACT_DELETE] = "delete",
    [PV_ACT_ENROLL] = "enroll",
    [PV_ACT_LOOKUP] = "lookup",
    [PV_ACT_ASSIGN] = "assign",
    [PV_ACT_BREAK_GLASS] = "break-glass",
    [PV_ACT_RESTRICT] = "restrict",
    [PV_ACT_UNRESTRICT] = "unrestrict",
    [PV_ACT_VISIBILITY] = "visibility",
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

int
pv_purpose_listed(const int *list, int n, int u)
{
    for (int i = 0; i < n; i++)
        if (list[i] == u)
            return 1;
    return 0;
}

static void
deny(struct pv_decision *d, int err, const char *reason)
{
    d->permit = 0;
    d->err = err;
    d->reason = reason;
    d->fields = 0;
    d->erase = 0;
}

static int
is_profile(const struct pv_policy *p, int c)
{
    return c >= 0 && c < p->ncollections && strcmp(p->collections[c].name, "profile") == 0;
}

/* A guardian acts for the subject only while the subject is a minor. */
static int
acts_as_guardian(const struct pv_policy *p, const struct pv_facts *f)
{
    return f->guardian && f->subject_age_known && f->subject_age < p->minors.adult_age;
}

/* Whether an unassigned actor may read this profile because its subject made it visible. */
static int
visible_profile(const struct pv_policy *p, const struct pv_facts *f, int purpose)
{
    return f->profile_visible && f->action == PV_ACT_READ && is_profile(p, f->collection) &&
           (p->visibility.roles & (1u << f->role)) &&
           pv_purpose_listed(p->visibility.purposes, p->visibility.npurposes, purpose);
}

/* The fields of collection c whose categories profile visibility never shows. */
static uint64_t
withheld_fields(const struct pv_policy *p, const struct pv_collection *c)
{
    uint64_t m = 0;

    for (int i = 0; i < c->nfields; i++)
        for (int k = 0; k < p->visibility.nwithheld; k++)
            if (pv_category_covers(p->visibility.withheld[k],
                                   p->categories[c->fields[i].category].key))
                m |= UINT64_C(1) << i;
    return m;
}

/*
 * Whether the role's scope lets it act on the subject of f at all. *via
 * names how an actor acts on a subject not their own or assigned
 * ("guardian", "break-glass", "profile-visible"); it becomes the reason of
 * the permit, so the audit log flags every such access.
 */
static const char *
scope_denial(const struct pv_policy *p, const struct pv_facts *f, int purpose, const char **via)
{
    const struct pv_role *r = &p->roles[f->role];
    int guardian = acts_as_guardian(p, f);

    if (r->scope == PV_SCOPE_NONE)
        return "no-data-access";
    if (f->action == PV_ACT_LOOKUP)
        return NULL; /* results are filtered subject by subject */
    if (f->action == PV_ACT_ENROLL)
        return r->scope == PV_SCOPE_SELF && f->has_subject && !f->enroll_guardian
                   ? "already-enrolled"
                   : NULL;
    if (f->action == PV_ACT_BREAK_GLASS) {
        if (p->break_glass.purpose < 0)
            return "no-break-glass";
        if (purpose != p->break_glass.purpose)
            return "break-glass-purpose-required";
        return r->scope == PV_SCOPE_ASSIGNED ? NULL : "role-cannot-break-glass";
    }
    if (f->action == PV_ACT_VISIBILITY && !f->self && !guardian)
        return "only-the-subject";
    if ((f->action == PV_ACT_RESTRICT || f->action == PV_ACT_UNRESTRICT) && !f->self && !guardian &&
        !(r->powers & PV_POWER_RESTRICT))
        return "role-cannot-restrict";
    if (r->scope == PV_SCOPE_SELF) {
        if (f->self)
            return NULL;
        if (guardian) {
            *via = "guardian";
            return NULL;
        }
        return "not-own-subject";
    }
    if (r->scope == PV_SCOPE_ASSIGNED && !f->assigned) {
        if (f->break_glass && purpose == p->break_glass.purpose) {
            *via = "break-glass";
            return NULL;
        }
        if (visible_profile(p, f, purpose)) {
            *via = "profile-visible";
            return NULL;
        }
        return "not-assigned";
    }
    return NULL;
}

/* Actions that use a subject's data (what a restriction stops). */
static int
is_use(enum pv_action a)
{
    return a != PV_ACT_RESTRICT && a != PV_ACT_UNRESTRICT && a != PV_ACT_ENROLL &&
           a != PV_ACT_LOOKUP;
}

/* Whether the minors rules keep a minor subject out of this collection. */
static int
minor_limited(const struct pv_policy *p, const struct pv_facts *f)
{
    int a = f->action;

    if (!f->subject_age_known || f->subject_age >= p->minors.adult_age ||
        p->minors.features == NULL || f->collection < 0 || is_profile(p, f->collection))
        return 0;
    if (a != PV_ACT_READ && a != PV_ACT_LIST && a != PV_ACT_CREATE && a != PV_ACT_UPDATE)
        return 0;
    return !pv_purpose_listed(p->minors.features, p->minors.nfeatures, f->collection);
}

void
pv_policy_decide(const struct pv_policy *p, const struct pv_facts *f, struct pv_decision *d)
{
    const struct pv_collection *c = NULL;
    const struct pv_purpose *u;
    const struct pv_role *r;
    const char *why, *via = NULL;
    uint64_t covered = 0, all;
    int own;

    d->purpose = -1;
    d->erase = 0;
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
    if (f->key && !f->key_purpose) {
        deny(d, PV_EDENIED, "key-purpose-not-allowed");
        return;
    }
    if ((why = scope_denial(p, f, d->purpose, &via)) != NULL) {
        deny(d, PV_EDENIED, why);
        return;
    }
    if (f->action == PV_ACT_ASSIGN && !(r->powers & PV_POWER_ASSIGN)) {
        deny(d, PV_EDENIED, "role-cannot-assign");
        return;
    }
    own = f->self || acts_as_guardian(p, f);
    if (f->restricted && is_use(f->action) && !own &&
        !pv_purpose_listed(p->restriction.purposes, p->restriction.npurposes, d->purpose)) {
        deny(d, PV_EDENIED, "processing-restricted");
        return;
    }
    if ((u->requires & f->consents) != u->requires) {
        deny(d, PV_EDENIED, "consent-required");
        return;
    }
    if (minor_limited(p, f)) {
        deny(d, PV_EDENIED, "minor-feature-limited");
        return;
    }

    if (f->collection >= 0 && f->collection < p->ncollections) {
        c = &p->collections[f->collection];
        if (f->undeclared) {
            deny(d, PV_EFIELD, "undeclared-field");
            return;
        }
        covered = pv_purpose_fields(p, u, c);
        if (via && strcmp(via, "profile-visible") == 0)
            covered &= ~withheld_fields(p, c);
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
            break;
        case PV_ACT_DELETE:
            if (covered != all) {
                deny(d, PV_EDENIED, "purpose-excludes-field");
                return;
            }
            break;
        default:
            break;
        }
    }
    if (f->birth_date_change && !pv_purpose_covers(u, "user.demographic.date_of_birth")) {
        deny(d, PV_EDENIED, "purpose-excludes-field");
        return;
    }
    if (f->action == PV_ACT_ENROLL) {
        if (f->policy_version == NULL || strcmp(f->policy_version, p->version) != 0) {
            deny(d, PV_EPOLICYVER, "policy-not-accepted");
            return;
        }
        if (f->enroll_guardian) {
            if (!p->minors.guardian_enrollment) {
                deny(d, PV_EDENIED, "guardian-enrollment-not-allowed");
                return;
            }
            if (f->guardian_age < p->minors.guardian_age) {
                deny(d, PV_EAGE, "guardian-under-age");
                return;
            }
            if (f->age >= p->minors.adult_age) {
                deny(d, PV_EDENIED, "not-a-minor");
                return;
            }
        } else if (f->age < p->minimum_age) {
            deny(d, PV_EAGE, "under-minimum-age");
            return;
        }
        if (f->age < p->minors.consent_age && !(f->enroll_guardian && f->parental_consent)) {
            deny(d, PV_EAGE, "parental-consent-required");
            return;
        }
    }
    d->permit = 1;
    d->err = 0;
    d->reason = via ? via : "permit";
    d->fields = covered;
    /* A child found under the consent age without verified parental consent is erased at once. */
    if (f->birth_date_change && f->age < p->minors.consent_age && !f->parental_consent) {
        d->erase = 1;
        d->reason = "under-consent-age";
    }
}
