/*
 * policy: the machine-readable privacy policy, its loader and the decision
 * function.
 *
 * A policy is loaded once from YAML (libyaml), validated completely (every
 * problem is reported as FILE:LINE:COLUMN: what was expected) and is then
 * immutable: all threads share it read-only. Its version is the hash of the
 * file's bytes, so any edit is a new version.
 *
 * pv_policy_decide() is pure: the policy and the facts of one request in, a
 * decision out (permit or deny, a stable reason, and the fields of the
 * collection the purpose may see). It reads nothing else and has no effect;
 * the vault gathers the facts and writes the audit entry.
 *
 * Category keys follow fideslang (user.contact.email, user.health.condition).
 * A purpose naming a key covers every key below it: user.health covers
 * user.health.condition, and user covers everything.
 */
#ifndef PV_POLICY_H
#define PV_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define PV_POLICY_VERSION_LEN 32 /* hex digits of the content hash */
#define PV_MAX_FIELDS 64         /* per collection: fields fit a uint64_t mask */
#define PV_MAX_ROLES 32          /* roles fit a uint32_t mask */
#define PV_MAX_CONSENTS 64       /* consent kinds fit a uint64_t mask */
#define PV_NAME_MAX 64           /* longest collection, field, role or purpose name */

/* Which subjects a role may act on at all (purposes then narrow the data). */
enum pv_scope {
    PV_SCOPE_NONE,     /* no subject data (an administrator) */
    PV_SCOPE_SELF,     /* the subject the user account belongs to */
    PV_SCOPE_ASSIGNED, /* subjects assigned to the user (a provider) */
    PV_SCOPE_ALL,      /* every subject (staff) */
};

/* Powers beyond data access. */
enum pv_power {
    PV_POWER_USERS = 1u << 0,    /* create and list user accounts */
    PV_POWER_AUDIT = 1u << 1,    /* search the audit log */
    PV_POWER_ASSIGN = 1u << 2,   /* assign providers to subjects */
    PV_POWER_REVIEW = 1u << 3,   /* review break-glass accesses and close them with a finding */
    PV_POWER_RESTRICT = 1u << 4, /* restrict and lift restriction of processing for people */
    PV_POWER_HOLDS = 1u << 5,    /* place and release legal holds */
    /* handle people's rights requests: verify, extend, complete and deny them */
    PV_POWER_RIGHTS = 1u << 6,
};

struct pv_role {
    const char *name;
    enum pv_scope scope;
    unsigned powers; /* enum pv_power bits */
};

/* How long data of a category is kept. */
enum pv_ret_unit {
    PV_RET_ACCOUNT, /* while the account is open */
    PV_RET_FOREVER, /* no end (aggregate or legal records) */
    PV_RET_DAYS,
    PV_RET_MONTHS,
    PV_RET_YEARS,
};

/* The event a retention period counts from. */
enum pv_ret_from {
    PV_FROM_CREATED,    /* the record holding the value was created (the default) */
    PV_FROM_CLOSED,     /* the subject's account was closed */
    PV_FROM_LAST_VISIT, /* the subject's latest record of the policy's visit collection */
};

struct pv_retention {
    enum pv_ret_unit unit;
    int n; /* count of unit; 0 for ACCOUNT and FOREVER */
    /* what a period counts from (periods only) */
    enum pv_ret_from from;
};

/* What happens to a value when its retention ends. */
enum pv_disposal {
    PV_DISPOSE_PURGE,     /* destroyed */
    PV_DISPOSE_ANONYMIZE, /* kept apart from the person, in the de-identified store */
};

/* How a category's values are stored. */
enum pv_store_mode {
    PV_STORE_FULL,  /* the whole value, sealed */
    PV_STORE_LAST4, /* only the last four digits (payment cards) */
    /* sealed by the clients for each reader (a JSON object of user id to sealed box); the
       server checks the shape and the readers, seals it at rest like any value, and never
       opens it */
    PV_STORE_E2E,
};

struct pv_category {
    const char *key; /* fideslang key */
    int phi;         /* protected health information */
    int index;       /* exact-match blind index for look-ups */
    enum pv_store_mode store;
    struct pv_retention retention;
    enum pv_disposal disposal;
    int consent; /* consent kind the subject must hold for values to be stored; -1: none */
    /* a deletion request keeps values of this category until their retention ends (the law
       requires them); 0: it disposes of them at once */
    int deletion_keep;
};

struct pv_field {
    const char *name;
    int category; /* index into pv_policy.categories */
};

struct pv_collection {
    const char *name;
    struct pv_field *fields;
    int nfields;
};

struct pv_purpose {
    const char *key;
    const char *description; /* may be NULL */
    int tpo;                 /* treatment, payment or health-care operations */
    uint32_t roles;          /* bit i: role i may use this purpose */
    const char **categories; /* category prefixes this purpose may touch */
    int ncategories;
    uint64_t requires; /* bit i: consent kind i must be held */
    int marketing;     /* a marketing purpose: never reaches health data without authorization */
    /* why a purpose that is not TPO may reach health data without the person's written
       authorization: enum pv_basis (docs/policy.md: purposes) */
    int basis;
    /* reads only the de-identified store and aggregates: never a person's records */
    int deidentified;
    /* a sale or sharing of personal information: needs the subject's sale consent held */
    int sale;
};

/* The lawful ground of a purpose that is neither TPO nor marketing, for health data. */
enum pv_basis {
    PV_BASIS_NONE,   /* health data only under a written authorization naming the purpose */
    PV_BASIS_LAW,    /* a use the law requires or allows (legal requests, public health) */
    PV_BASIS_PERSON, /* answering the person: their rights requests */
};

struct pv_recipient {
    const char *key;
    const char *kind; /* provider, service_provider, affiliate, business_partner, legal, buyer */
    int baa;          /* a business associate agreement is signed */
    const char **categories;
    int ncategories;
    int sale; /* a disclosure to it is a sale or sharing: needs the subject's sale consent */
};

struct pv_right {
    const char *name; /* access, amend, delete, ... */
    int days;         /* deadline */
    /* the most one extension may add to the deadline, in days */
    int extension_days;
};

/* The channels people are contacted by. */
enum pv_channel { PV_CH_NONE = -1, PV_CH_EMAIL, PV_CH_SMS, PV_CH_PHONE, PV_CH_MAIL, PV_CH_COUNT_ };

/* What a consent kind is about; the decision and the services read the type, never the name. */
enum pv_consent_type {
    PV_CONSENT_OTHER,         /* a kind the policy names for its own purposes' requires */
    PV_CONSENT_POLICY,        /* acceptance of a policy version (withdrawal: objection) */
    PV_CONSENT_MARKETING,     /* marketing messages on a channel */
    PV_CONSENT_SERVICE,       /* account and service messages on a channel */
    PV_CONSENT_AUTHORIZATION, /* a written authorization (HIPAA 164.508), with evidence */
    PV_CONSENT_COOKIES,       /* a cookie category of the web pages */
    PV_CONSENT_SALE,          /* sale and sharing (withdrawal: the opt-out, e.g. GPC) */
    PV_CONSENT_RESEARCH,      /* use of data for research */
    PV_CONSENT_TYPE_COUNT_
};

struct pv_consent_kind {
    const char *name;
    enum pv_consent_type type;
    int channel;           /* marketing and service: enum pv_channel; else PV_CH_NONE */
    int default_granted;   /* held until withdrawn (opt-out) rather than until granted */
    const int *authorizes; /* authorization: the purposes it authorizes */
    int nauthorizes;
    const char *cookie;      /* cookies: the category (functional, analytics, ...) */
    const char *description; /* may be NULL */
};

/* Fields follow the sections of the file; one policy per process, so padding is no concern. */
struct pv_policy { /* NOLINT(clang-analyzer-optin.performance.Padding) */
    int format;
    char version[PV_POLICY_VERSION_LEN + 1];
    char effective[11]; /* YYYY-MM-DD */
    struct {
        const char *name;
        const char *role; /* covered_entity or business_associate */
        const char *email, *phone, *address;
        const char **complaints;
        int ncomplaints;
    } org;
    int minimum_age;
    struct pv_category *categories;
    int ncategories;
    struct pv_collection *collections;
    int ncollections;
    struct pv_role *roles;
    int nroles;
    struct pv_purpose *purposes;
    int npurposes;
    const char **consents; /* consent kinds */
    int nconsents;
    struct pv_recipient *recipients;
    int nrecipients;
    struct pv_right *rights;
    int nrights;
    struct {
        const char *program;
        const char *help;
        int phone_field;    /* profile field texts go to; -1 without sms */
        int phone_category; /* its category (blind-indexed); -1 without sms */
        int never_shared;   /* SMS numbers and SMS consent are never disclosed */
    } sms;
    char *source; /* the file's bytes, NUL-terminated */
    size_t source_len;
    struct pv_arena *arena; /* owns every string and array above */

    /* ---- who may act for whom (docs/policy.md: minors ... authentication) ---- */
    struct {
        int adult_age;           /* below it a person is a minor (default 18) */
        int consent_age;         /* below it data is held only with verified parental consent */
        int guardian_enrollment; /* a guardian may enroll a minor below minimum_age */
        int guardian_age;        /* the youngest a guardian may be (default 18) */
        int *features;           /* collections minors may use (the profile always); NULL: all */
        int nfeatures;
    } minors;
    struct {
        uint32_t roles; /* roles that may read a visible profile without assignment */
        int *purposes;  /* ...for these purposes (indices); none: visibility is off */
        int npurposes;
        const char **withheld; /* category prefixes never shown this way */
        int nwithheld;
    } visibility;
    struct {
        int *purposes; /* purposes still allowed on a restricted subject's data */
        int npurposes;
    } restriction;
    struct {
        int purpose;        /* the emergency purpose; -1: no break-glass access */
        int64_t duration_s; /* how long an opened record stays open */
    } break_glass;
    struct {
        uint32_t mfa_roles;       /* roles that log in with a TOTP second factor */
        int64_t idle_s;           /* idle timeout of a session; 0: none */
        int64_t lifetime_s;       /* absolute session lifetime */
        int max_user_failures;    /* failed logins per user in a window before 429 */
        int max_address_failures; /* failed logins per client address in a window */
        int64_t failure_window_s; /* the window */
    } auth;
    /* The consent kinds, parallel to consents. */
    struct pv_consent_kind *consent_kinds;
    /* The kind recording policy acceptance. */
    int policy_kind;
    /* Bit c: channel c is offered. */
    unsigned channels;
    struct {
        int material;        /* this version changes how personal data is used */
        int notice_days;     /* people notified may object within this period */
        const char *summary; /* what changed, for people; may be NULL */
    } change;
    /* the collection whose records are visits (retention from last_visit); -1: none */
    int visit_collection;
    /* a provider is assigned to a subject only once the subject has a record of this collection
     * (OMBRE: the first session scheduled); -1: at any time */
    int assign_after;
    /* the usage-data collection "usage"; -1 if not declared */
    int usage;
    /* disclosure rules beyond each recipient's own (docs/policy.md: disclosure) */
    struct {
        unsigned forbidden_kinds; /* bit k: recipients of enum pv_recipient_kind k get nothing */
        int never_sell; /* the service sells and shares nothing: no sale purpose or recipient */
    } disclosure;
    /* aggregates (docs/policy.md: aggregates) */
    struct {
        int min_cell; /* a count below this is reported as suppressed, never given */
    } aggregates;
    /* whether sessions are recorded (docs/policy.md: recordings); declared 0: the policy
       says nothing */
    struct {
        int declared;
        int recorded;         /* 1: recorded, and the recordings are health data */
        const char *category; /* the category key recordings fall under */
    } recordings;
    /* payment cards (docs/policy.md: payment_cards) */
    struct {
        int refuse; /* a full card number anywhere in stored input is refused */
        /* "collection.field" where the last 4 digits belong (a store: last4 category), named
           in the refusal; NULL: not named */
        const char *last4;
    } cards;
};

/*
 * Load and validate the policy at path. On failure returns PV_EPOLICY (or
 * PV_EIO / PV_ENOMEM) and appends one line per problem to errors, each
 * "PATH:LINE:COLUMN: message\n"; errors may be NULL.
 */
int pv_policy_load(const char *path, struct pv_policy **out, struct pv_buf *errors);
/* The same from bytes in memory; name stands in for the path in messages. */
int pv_policy_parse(const char *name, const char *text, size_t len, struct pv_policy **out,
                    struct pv_buf *errors);
void pv_policy_free(struct pv_policy *p);

/* Look-ups by name; -1 when there is none. */
int pv_policy_role(const struct pv_policy *p, const char *name);
int pv_policy_purpose(const struct pv_policy *p, const char *key);
int pv_policy_collection(const struct pv_policy *p, const char *name);
int pv_policy_category(const struct pv_policy *p, const char *key);
int pv_policy_consent(const struct pv_policy *p, const char *kind);
int pv_policy_field(const struct pv_collection *c, const char *name);
/* "email", "sms", "phone", "mail"; PV_CH_NONE for anything else. */
int pv_channel_parse(const char *s);
const char *pv_channel_name(int ch);
const char *pv_consent_type_name(enum pv_consent_type t);
/* Bit i set: consent kind i is held, for a subject without any ledger entry. */
uint64_t pv_policy_consent_defaults(const struct pv_policy *p);
/* Whether collection c's fields in mask include protected health information. */
int pv_policy_touches_phi(const struct pv_policy *p, int c, uint64_t mask);
/* Whether category prefix covers key (equal, or key lies below it). */
int pv_category_covers(const char *prefix, const char *key);
/* Whether purpose may touch category key. */
int pv_purpose_covers(const struct pv_purpose *u, const char *key);

/* ---- decisions ---------------------------------------------------------- */

enum pv_action {
    PV_ACT_READ,        /* one record or a subject's profile */
    PV_ACT_LIST,        /* records of a collection */
    PV_ACT_CREATE,      /* a new record */
    PV_ACT_UPDATE,      /* change fields of a record */
    PV_ACT_DELETE,      /* remove a record */
    PV_ACT_ENROLL,      /* a new subject with their profile */
    PV_ACT_LOOKUP,      /* find subjects by an indexed profile field */
    PV_ACT_ASSIGN,      /* assign a provider to a subject */
    PV_ACT_BREAK_GLASS, /* open an unassigned subject's record in an emergency */
    PV_ACT_RESTRICT,    /* restrict processing of a subject's data */
    PV_ACT_UNRESTRICT,  /* lift that restriction */
    PV_ACT_VISIBILITY,  /* make one's profile viewable by providers, or stop */

    /* Record a grant or withdrawal in the consent ledger. */
    PV_ACT_CONSENT,
    /* Send a message to the subject on a channel. */
    PV_ACT_CONTACT,
    /* Release data to a recipient. */
    PV_ACT_DISCLOSE,
    /* close a subject's account (starts retention counted from closing) */
    PV_ACT_CLOSE,
    /* place, list or release a legal hold on a subject */
    PV_ACT_HOLD,
    /* store usage data: fields without the consent they need are dropped */
    PV_ACT_COLLECT,
    /* file a rights request, or see one's own (the subject, a guardian, or the rights power) */
    PV_ACT_REQUEST,
    /* verify, extend, complete or deny a rights request (the rights power only); completing an
       amendment names its collection and fields */
    PV_ACT_FULFIL,
    /* read the de-identified store of a collection (no subject) */
    PV_ACT_DEIDENTIFIED,
    /* count records of a collection, small cells suppressed (no subject) */
    PV_ACT_AGGREGATE,
    PV_ACT_COUNT_
};

/* The names used in audit entries: "read", "list", ... */
const char *pv_action_name(enum pv_action a);

/* Everything the decision depends on, gathered by the vault. */
struct pv_facts {
    int role;            /* the actor's role index; -1: not authenticated */
    const char *purpose; /* the purpose asked for; NULL or "" if none */
    enum pv_action action;
    int collection;             /* collection index, -1 for actions on none */
    uint64_t fields;            /* fields written (create, update, enroll) or looked up */
    const char *undeclared;     /* a field name the collection does not declare */
    int self;                   /* the actor acts for this very subject */
    int assigned;               /* the actor is assigned to this subject */
    int has_subject;            /* enroll: the actor already has a subject of their own */
    uint64_t consents;          /* bit i: consent kind i is held by the subject */
    const char *policy_version; /* enroll: the version the person accepted */
    int age;                    /* enroll, birth-date change: the person's age in whole years */
    /* who acts for whom */
    int guardian;          /* the actor is a guardian of this subject */
    int subject_age_known; /* subject_age holds the subject's age (needed by the minors rules) */
    int subject_age;       /* the subject's age in whole years */
    int restricted;        /* the subject has restricted processing of their data */
    int profile_visible;   /* the subject made their profile viewable by providers */
    int break_glass;       /* the actor holds an unexpired break-glass grant on this subject */
    int key;               /* the actor is a service API key... */
    int key_purpose;       /* ...whose purposes include the one asked for */
    int enroll_guardian;   /* enroll: a guardian enrolls the person and will act for them */
    int guardian_age;      /* enroll: that guardian's age in whole years */
    int parental_consent;  /* enroll, birth-date change: verified parental consent is held */
    int birth_date_change; /* update: the birth date changes; age is the new age */
    int channel;           /* contact: enum pv_channel */
    unsigned channels_allowed;   /* contact: channels their confidential-communications choice
                                    leaves (bit c); 0: they made none */
    int has_address;             /* contact: something on file reaches them on the channel */
    int number_opted_out;        /* contact by SMS: the number texted STOP */
    int recipient;               /* disclose: recipient index, -1 if none or unknown */
    uint64_t consents_disclosed; /* disclose: kinds whose ledger entries would be released */
    int held;                    /* delete, removal: the subject is under an active legal hold */
    uint64_t removes;            /* update: the fields whose values it removes (null) */
    int first_record; /* assign: the subject has a record of the assign_after collection */
    /* delete, removal: fields of the collection that hold a value (in the record, or in any record of
       the collection for a delete of them all) whose retention has not ended, computed as the
       retention sweep computes it; the decision refuses the delete while one of them is of a
       category a deletion keeps */
    uint64_t unexpired;
};

struct pv_decision {
    int permit;
    int err;            /* 0 on permit; else the enum pv_err the denial maps to */
    const char *reason; /* a stable code: "permit", "not-assigned", ... */
    int purpose;        /* purpose index, -1 if none matched */
    uint64_t fields;    /* read: fields to return; write: fields the purpose covers */
    int erase;          /* permit of a birth-date change that shows a child under the parental
                           consent age without verified consent: the subject is to be erased */
};

void pv_policy_decide(const struct pv_policy *p, const struct pv_facts *f, struct pv_decision *d);

/* The basis names: "none", "law", "person". */
const char *pv_basis_name(int basis);
/* Whether the subject holds every consent kind of type sale (consents: bit i held); a policy
 * with none declares no opt-out, and nothing can be held. */
int pv_policy_sale_held(const struct pv_policy *p, uint64_t consents);

/* Whether purpose index u is among the n purpose indices of list. */
int pv_purpose_listed(const int *list, int n, int u);

/* Mask of the fields of collection c that purpose u covers. */
uint64_t pv_purpose_fields(const struct pv_policy *p, const struct pv_purpose *u,
                           const struct pv_collection *c);
/* Mask of the fields of collection c whose category's consent is held (or needs none). */
uint64_t pv_consented_fields(const struct pv_policy *p, const struct pv_collection *c,
                             uint64_t consents);
/* Mask of the fields of collection c whose category a deletion keeps until its retention ends
 * (deletion: keep): what the law requires to keep, such as medical records. */
uint64_t pv_kept_fields(const struct pv_policy *p, const struct pv_collection *c);

/* ---- retention (retention.c) ------------------------------------------------- */

#define PV_NEVER INT64_MAX /* an expiry that never comes */

/* The events a value's retention may count from, in milliseconds; 0: has not happened. */
struct pv_retention_facts {
    int64_t created;    /* the record holding the value was created */
    int64_t closed;     /* the subject's account was closed */
    int64_t last_visit; /* the subject's latest visit */
    /* a deletion request was carried out: values of categories it does not keep expire then */
    int64_t deleted;
};

/*
 * When a value of category cat expires (milliseconds), or PV_NEVER: forever;
 * account while the account is open; a period from an event that has not
 * happened. A period from the last visit never ends before the same period
 * from the record's own creation.
 */
int64_t pv_retention_expiry(const struct pv_category *cat, const struct pv_retention_facts *f);
/* The retention as the policy writes it ("7y", "account"), into out (at least 16 bytes). */
void pv_retention_format(const struct pv_retention *r, char out[16]);

/* ---- rights and recipients (rights.c) ---------------------------------------------- */

/* The kinds of recipient, in the order the policy file names them. */
enum pv_recipient_kind {
    PV_RK_PROVIDER,
    PV_RK_SERVICE_PROVIDER,
    PV_RK_AFFILIATE,
    PV_RK_BUSINESS_PARTNER,
    PV_RK_LEGAL,
    PV_RK_BUYER,
    PV_RK_COUNT_
};

/* "provider", "service_provider", ...; -1 / NULL for anything else. */
int pv_recipient_kind_parse(const char *s);
const char *pv_recipient_kind_name(int kind);

#define PV_RIGHTS_COUNT 10

/* The rights people may exercise: access, amend, delete, restrict, portability, object,
 * withdraw, know, accounting, complaint. NULL past the last. */
const char *pv_right_name(int i);
/*
 * The deadline and the longest extension of a right, in days: the policy's
 * rights section, else the right's default (docs/policy.md). PV_EINVAL if
 * name is not a right.
 */
int pv_policy_right(const struct pv_policy *p, const char *name, int *days, int *extension_days);

/* ---- the privacy notice (notice.c) ------------------------------------------------ */

enum pv_notice_fmt { PV_NOTICE_MD, PV_NOTICE_HTML };

/* "md" or "html" to enum pv_notice_fmt; -1 for anything else. */
int pv_policy_notice_format(const char *s);
/*
 * Append the privacy notice people read, rendered from p, to out: what is
 * collected, why, who receives it, the choices, the rights with their
 * deadlines, retention, age, contacts and complaint channels, version and
 * effective date. HTML is a whole page, every text from the policy escaped.
 * PV_EINVAL for an unknown format, PV_ETOOBIG past out's maximum.
 */
int pv_policy_notice(const struct pv_policy *p, int format, struct pv_buf *out);

#endif
