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
 * for restriction; a minor's data only the collections the policy lists;
 * and a marketing purpose never touches health data without a written
 * authorization, whatever the policy's categories say; then the rules of
 * contacting and of disclosing.
 *
 * A deletion permitted so far is still refused (409) while a legal hold is
 * in force, and then while the record holds a value the law keeps: a
 * category whose deletion is keep, not yet past its retention.
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
    [PV_ACT_CONSENT] = "consent",
    [PV_ACT_CONTACT] = "contact",
    [PV_ACT_DISCLOSE] = "disclose",
    [PV_ACT_CLOSE] = "close",
    [PV_ACT_HOLD] = "hold",
    [PV_ACT_COLLECT] = "collect",
    [PV_ACT_REQUEST] = "request",
    [PV_ACT_FULFIL] = "fulfil",
    [PV_ACT_DEIDENTIFIED] = "deidentified",
    [PV_ACT_AGGREGATE] = "aggregate",
};

static const char *const channel_names[PV_CH_COUNT_] = {
    [PV_CH_EMAIL] = "email", [PV_CH_SMS] = "sms", [PV_CH_PHONE] = "phone", [PV_CH_MAIL] = "mail"};

static const char *const consent_type_names[PV_CONSENT_TYPE_COUNT_] = {
    [PV_CONSENT_OTHER] = "other",
    [PV_CONSENT_POLICY] = "policy",
    [PV_CONSENT_MARKETING] = "marketing",
    [PV_CONSENT_SERVICE] = "service",
    [PV_CONSENT_AUTHORIZATION] = "authorization",
    [PV_CONSENT_COOKIES] = "cookies",
    [PV_CONSENT_SALE] = "sale",
    [PV_CONSENT_RESEARCH] = "research",
};

int
pv_channel_parse(const char *s)
{
    for (int i = 0; s && i < PV_CH_COUNT_; i++)
        if (strcmp(s, channel_names[i]) == 0)
            return i;
    return PV_CH_NONE;
}

const char *
pv_channel_name(int ch)
{
    return ch >= 0 && ch < PV_CH_COUNT_ ? channel_names[ch] : "none";
}

const char *
pv_basis_name(int basis)
{
    return basis == PV_BASIS_LAW ? "law" : basis == PV_BASIS_PERSON ? "person" : "none";
}

int
pv_policy_sale_held(const struct pv_policy *p, uint64_t consents)
{
    int declared = 0;

    for (int i = 0; p->consent_kinds && i < p->nconsents; i++) {
        if (p->consent_kinds[i].type != PV_CONSENT_SALE)
            continue;
        declared = 1;
        if (!((consents >> i) & 1))
            return 0;
    }
    return declared;
}

const char *
pv_consent_type_name(enum pv_consent_type t)
{
    return (unsigned)t < PV_CONSENT_TYPE_COUNT_ ? consent_type_names[t] : "other";
}

uint64_t
pv_policy_consent_defaults(const struct pv_policy *p)
{
    uint64_t m = 0;

    for (int i = 0; p->consent_kinds && i < p->nconsents; i++)
        if (p->consent_kinds[i].default_granted)
            m |= UINT64_C(1) << i;
    return m;
}

int
pv_policy_touches_phi(const struct pv_policy *p, int c, uint64_t mask)
{
    if (c < 0 || c >= p->ncollections)
        return 0;
    for (int i = 0; i < p->collections[c].nfields; i++)
        if ((mask & (UINT64_C(1) << i)) && p->categories[p->collections[c].fields[i].category].phi)
            return 1;
    return 0;
}

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

uint64_t
pv_kept_fields(const struct pv_policy *p, const struct pv_collection *c)
{
    uint64_t m = 0;

    for (int i = 0; i < c->nfields; i++)
        if (p->categories[c->fields[i].category].deletion_keep)
            m |= UINT64_C(1) << i;
    return m;
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
    /* Rights requests: the person (or their guardian) files and follows their own; the rights
     * power files them on a person's behalf and alone verifies, extends, completes or denies. */
    if (f->action == PV_ACT_FULFIL)
        return r->powers & PV_POWER_RIGHTS ? NULL : "role-cannot-handle-requests";
    if (f->action == PV_ACT_REQUEST && r->scope != PV_SCOPE_SELF && !(r->powers & PV_POWER_RIGHTS))
        return "role-cannot-handle-requests";
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
    /* Recording a consent (a withdrawal above all) is never stopped by a restriction, and a
     * contact check answers "subject-restricted" by its own rule. */
    return a != PV_ACT_RESTRICT && a != PV_ACT_UNRESTRICT && a != PV_ACT_ENROLL &&
           a != PV_ACT_LOOKUP && a != PV_ACT_CONSENT && a != PV_ACT_CONTACT && a != PV_ACT_CLOSE &&
           a != PV_ACT_HOLD &&
           /* exercising a right is never stopped by a restriction (itself one of them) */
           a != PV_ACT_REQUEST && a != PV_ACT_FULFIL;
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

/*
 * The consents purpose u needs for this request. Contacting someone on a
 * channel needs the kinds of that channel only: a purpose that requires
 * marketing_email does not make a text message need the email consent.
 */
static uint64_t
required(const struct pv_policy *p, const struct pv_purpose *u, const struct pv_facts *f)
{
    uint64_t m = u->requires;

    if (f->action != PV_ACT_CONTACT)
        return m;
    for (int i = 0; p->consent_kinds && i < p->nconsents; i++)
        if (p->consent_kinds[i].channel != PV_CH_NONE && p->consent_kinds[i].channel != f->channel)
            m &= ~(UINT64_C(1) << i);
    return m;
}

/* The fields of the collection a request touches: what a read returns, what a write writes. */
static uint64_t
touched(const struct pv_facts *f, uint64_t covered, uint64_t all)
{
    switch (f->action) {
    case PV_ACT_READ:
    case PV_ACT_LIST:
        return covered;
    case PV_ACT_DELETE:
        return all;
    default:
        return f->fields;
    }
}

/* Whether a written authorization naming purpose u is held. */
static int
authorized(const struct pv_policy *p, int u, uint64_t held)
{
    for (int i = 0; p->consent_kinds && i < p->nconsents; i++) {
        const struct pv_consent_kind *k = &p->consent_kinds[i];
        if (k->type != PV_CONSENT_AUTHORIZATION || !(held & (UINT64_C(1) << i)))
            continue;
        for (int j = 0; j < k->nauthorizes; j++)
            if (k->authorizes[j] == u)
                return 1;
    }
    return 0;
}

/*
 * May a message for purpose u go to the subject on f->channel? In order: the
 * policy must offer the channel; a restricted subject is not contacted; the
 * person's confidential-communications choice must allow the channel;
 * something on file must reach them there; a number that texted STOP gets
 * no text at all; and the channel's consent for this kind of message
 * (marketing for a marketing purpose, service for any other) must be held
 * where the policy declares one. Marketing always needs one.
 */
static const char *
contact_denial(const struct pv_policy *p, const struct pv_purpose *u, const struct pv_facts *f)
{
    enum pv_consent_type want = u->marketing ? PV_CONSENT_MARKETING : PV_CONSENT_SERVICE;
    int declared = 0, held = 0;

    if (f->channel < 0 || f->channel >= PV_CH_COUNT_ || !(p->channels & (1u << f->channel)))
        return "channel-not-offered";
    if (f->restricted)
        return "subject-restricted";
    if (f->channels_allowed && !(f->channels_allowed & (1u << f->channel)))
        return "confidential-communications";
    if (!f->has_address)
        return "no-address";
    if (f->channel == PV_CH_SMS && f->number_opted_out)
        return "sms-stopped";
    for (int i = 0; p->consent_kinds && i < p->nconsents; i++) {
        const struct pv_consent_kind *k = &p->consent_kinds[i];
        if (k->channel != f->channel || k->type != want)
            continue;
        declared = 1;
        held |= (int)((f->consents >> i) & 1);
    }
    if ((declared || u->marketing) && !held)
        return "channel-consent-required";
    return NULL;
}

/*
 * May data go to f->recipient? It must be declared; and where the policy
 * says SMS numbers and SMS consent are never shared, neither the SMS
 * number's category (nor a broader one holding it) nor the ledger of an
 * SMS consent may be part of it. Then the rules of the recipient: a kind the
 * policy forbids gets nothing; health data goes to a business partner never,
 * and to a service provider, an affiliate or a buyer only under a business
 * associate agreement (a provider for care, and the law, need none); and a
 * recipient receives only the categories its entry names.
 */
static const char *
disclose_denial(const struct pv_policy *p, const struct pv_facts *f)
{
    const struct pv_recipient *rc;
    int kind, phi;

    if (f->recipient < 0 || f->recipient >= p->nrecipients)
        return "unknown-recipient";
    if (p->sms.never_shared && f->collection >= 0 && f->collection < p->ncollections &&
        p->sms.phone_category >= 0) {
        const struct pv_collection *c = &p->collections[f->collection];
        const char *sms = p->categories[p->sms.phone_category].key;
        for (int i = 0; i < c->nfields; i++) {
            const char *key = p->categories[c->fields[i].category].key;
            if (((f->fields >> i) & 1) &&
                (pv_category_covers(sms, key) || pv_category_covers(key, sms)))
                return "sms-never-shared";
        }
    }
    for (int i = 0; p->sms.never_shared && p->consent_kinds && i < p->nconsents; i++)
        if (((f->consents_disclosed >> i) & 1) && p->consent_kinds[i].channel == PV_CH_SMS)
            return "sms-never-shared";
    rc = &p->recipients[f->recipient];
    kind = pv_recipient_kind_parse(rc->kind);
    if (kind >= 0 && (p->disclosure.forbidden_kinds & (1u << kind)))
        return "recipient-kind-forbidden";
    if (f->collection < 0 || f->collection >= p->ncollections)
        return NULL;
    phi = pv_policy_touches_phi(p, f->collection, f->fields);
    if (phi && kind == PV_RK_BUSINESS_PARTNER)
        return "business-partner-no-health-data";
    if (phi && !rc->baa &&
        (kind == PV_RK_SERVICE_PROVIDER || kind == PV_RK_AFFILIATE || kind == PV_RK_BUYER))
        return "baa-required";
    for (int i = 0; i < p->collections[f->collection].nfields; i++) {
        const char *key = p->categories[p->collections[f->collection].fields[i].category].key;
        int covered = 0;
        if (!((f->fields >> i) & 1))
            continue;
        for (int k = 0; k < rc->ncategories && !covered; k++)
            covered = pv_category_covers(rc->categories[k], key);
        if (!covered)
            return "recipient-excludes-field";
    }
    return NULL;
}

/* Whether purpose u needs a written authorization to touch health data. */
static int
needs_authorization(const struct pv_purpose *u, int own)
{
    if (u->marketing)
        return 1; /* whoever acts, and whatever the policy says */
    return !u->tpo && u->basis == PV_BASIS_NONE && !own;
}

/* Whether the request is a sale or sharing: its purpose is one, or its recipient. */
static int
sale_of(const struct pv_policy *p, const struct pv_purpose *u, const struct pv_facts *f)
{
    if (u->sale)
        return 1;
    return f->action == PV_ACT_DISCLOSE && f->recipient >= 0 && f->recipient < p->nrecipients &&
           p->recipients[f->recipient].sale;
}

/*
 * Reading the de-identified store or an aggregate of collection f->collection
 * (no subject): only for a purpose declared de-identified (care, payment and
 * operations have the records they need, and no reason to read everyone's),
 * by any role the purpose allows (a scope of none included: nobody is
 * identified), for the fields the purpose covers; the
 * collection must be declared and some field covered. The aggregate's
 * grouping field, if any, is f->fields and must be covered. De-identified
 * data is no longer health information about anyone, so no authorization
 * applies (HIPAA 164.514).
 */
static void
aggregate_decision(const struct pv_policy *p, const struct pv_purpose *u, const struct pv_facts *f,
                   struct pv_decision *d)
{
    uint64_t covered;

    if (f->collection < 0 || f->collection >= p->ncollections) {
        deny(d, PV_ENOTFOUND, "unknown-collection");
        return;
    }
    if (!u->deidentified) {
        deny(d, PV_EDENIED, "purpose-not-deidentified");
        return;
    }
    if (f->undeclared) {
        deny(d, PV_EFIELD, "undeclared-field");
        return;
    }
    covered = pv_purpose_fields(p, u, &p->collections[f->collection]);
    if (covered == 0) {
        deny(d, PV_EDENIED, "purpose-excludes-collection");
        return;
    }
    if ((f->fields & ~covered) != 0) {
        deny(d, PV_EDENIED, "purpose-excludes-field");
        return;
    }
    d->permit = 1;
    d->err = 0;
    d->reason = "permit";
    d->fields = covered;
}

void
pv_policy_decide(const struct pv_policy *p, const struct pv_facts *f, struct pv_decision *d)
{
    const struct pv_collection *c = NULL;
    const struct pv_purpose *u;
    const struct pv_role *r;
    const char *why, *via = NULL;
    uint64_t covered = 0, all = 0;
    int own;
    int destroys; /* a delete, or an update removing a value */
    uint64_t gone;

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
    /* Beyond the purposes that serve the person, only de-identified or aggregate data: a
     * purpose marked so never reaches a person's records, whatever its categories say; and
     * nothing identified may be asked for that way. */
    if (f->action == PV_ACT_DEIDENTIFIED || f->action == PV_ACT_AGGREGATE) {
        aggregate_decision(p, u, f, d);
        return;
    }
    if (u->deidentified && f->action != PV_ACT_CONSENT) {
        deny(d, PV_EDENIED, "deidentified-only");
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
    if (f->action == PV_ACT_HOLD && !(r->powers & PV_POWER_HOLDS)) {
        deny(d, PV_EDENIED, "role-cannot-hold");
        return;
    }
    if (f->action != PV_ACT_CONSENT && (required(p, u, f) & f->consents) != required(p, u, f)) {
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
        case PV_ACT_DISCLOSE:
        case PV_ACT_FULFIL: /* an amendment writes the fields it names */
            if ((f->fields & ~covered) != 0) {
                deny(d, PV_EDENIED, "purpose-excludes-field");
                return;
            }
            /* A category that needs the person's consent is never stored without it. */
            if (f->action != PV_ACT_DISCLOSE &&
                (f->fields & ~pv_consented_fields(p, c, f->consents)) != 0) {
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
    if (f->birth_date_change && !pv_purpose_covers(u, "user.demographic.date_of_birth")) {
        deny(d, PV_EDENIED, "purpose-excludes-field");
        return;
    }
    /* Health data serves treatment, payment and operations, the person's own use, and the
     * uses the law allows without an authorization (the purpose's basis); any other purpose,
     * marketing above all, reaches it only under a written authorization naming it. */
    /* A person enrolling (themselves, or as the guardian of a minor) is their own use too. */
    if (f->action == PV_ACT_ENROLL && r->scope == PV_SCOPE_SELF)
        own = 1;
    if (f->action != PV_ACT_CONSENT && c != NULL && needs_authorization(u, own) &&
        pv_policy_touches_phi(p, f->collection, touched(f, covered, all)) &&
        !authorized(p, d->purpose, f->consents)) {
        deny(d, PV_EDENIED,
             u->marketing ? "marketing-needs-authorization" : "authorization-required");
        return;
    }
    /* A sale or sharing needs the person's consent to it held: the opt-out (Global Privacy
     * Control included) stops it. */
    if (f->action != PV_ACT_CONSENT && sale_of(p, u, f) && !pv_policy_sale_held(p, f->consents)) {
        deny(d, PV_EDENIED, "sale-opted-out");
        return;
    }
    if (f->action == PV_ACT_CONTACT && (why = contact_denial(p, u, f)) != NULL) {
        deny(d, PV_EDENIED, why);
        return;
    }
    if (f->action == PV_ACT_DISCLOSE && (why = disclose_denial(p, f)) != NULL) {
        deny(d, PV_EDENIED, why);
        return;
    }
    /* A provider is assigned at the first session, never before it is scheduled. */
    if (f->action == PV_ACT_ASSIGN && p->assign_after >= 0 && !f->first_record) {
        deny(d, PV_ECONFLICT, "assign-awaits-record");
        return;
    }
    destroys = f->action == PV_ACT_DELETE || (f->action == PV_ACT_UPDATE && f->removes != 0);
    if (destroys && f->held) {
        deny(d, PV_ECONFLICT, "legal-hold");
        return;
    }
    /* What the law keeps (a medical record for its years) is not deleted before its retention
     * ends, whoever asks: corrections go through amendment, which keeps the earlier values.
     * Removing such a value from a record (a PATCH with null) is deleting it. */
    gone = f->action == PV_ACT_UPDATE ? f->removes : ~0ULL; /* the values the action destroys */
    if (destroys && c != NULL && (f->unexpired & pv_kept_fields(p, c) & gone) != 0) {
        deny(d, PV_ECONFLICT, "retention-keeps");
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
