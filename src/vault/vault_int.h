/* vault_int.h: private to the vault layer. */
#ifndef PV_VAULT_INT_H
#define PV_VAULT_INT_H

#include "vault/vault.h"

#define PV_SYSTEM_OWNER "sys" /* owner of the data key that seals account data */

struct pv_vault {
    char dir[1024];
    struct pv_policy *policy;
    struct pv_keyring *keys;
    struct pv_store *store;
    struct pv_audit *audit;
    int64_t session_ttl_ms;
    int profile;                  /* index of the profile collection */
    struct pv_throttle *throttle; /* failed logins per user and per client address */

    /* comms.c: the unsubscribe key and the SMS webhook's secret. */
    struct pv_comms *comms;
    /* versions.c: the policy versions in force over time. */
    struct pv_versions *versions;
    /* the background thread of a server (maintenance.c); NULL if none */
    struct pv_maint *maint;
};

/* What an access is about; the facts about the actor are gathered by pv_access(). */
struct pv_access {
    enum pv_action action;
    const char *audit_action; /* e.g. "record.read" */
    const char *subject;      /* target subject id, NULL if none yet */
    int collection;           /* -1 for none */
    const char *record;       /* record id or NULL */
    uint64_t fields;          /* fields written or looked up */
    uint64_t removes;         /* update: the fields whose values it removes (sent as null) */
    const char *undeclared;   /* a field the collection lacks */
    const char *policy_version;
    int age;
    int subject_exists; /* the vault checked the subject exists (or is being enrolled) */
    /* who acts for whom */
    int enroll_guardian;         /* enroll: a guardian enrolls the person */
    int guardian_age;            /* ...whose age this is */
    int parental_consent;        /* enroll, birth-date change: verified parental consent */
    int birth_date_change;       /* update: the birth date changes to one of age `age` */
    struct pv_decision *decided; /* if set, receives the decision before apply runs */

    /* Facts the service gathered itself (contact, disclosure); NULL if none. */
    const struct pv_facts *more;
    /* The audit entry's collection column when the access is not to a collection: a consent
     * kind, a channel, a policy version. */
    const char *audit_collection;
    /* The audit entry's recipient column (a declared recipient). */
    const char *audit_recipient;
    /* The audit entry's subject when subject is NULL: a person erased, named by a record kept
     * after them (a rights request), whose decision no longer reads any fact about them. */
    const char *audit_subject;
};

/*
 * The one rule: decide, audit, then (on permit) apply in the same
 * transaction as the audit entry. Returns 0 (permitted and applied), the
 * denial's pv_err (call->reason set), PV_EAUDIT, or apply's error. d may be
 * NULL; when given it receives a permitting decision (a->decided receives
 * it before apply runs).
 */
int pv_access(struct pv_vault *v, struct pv_call *call, const struct pv_access *a,
              pv_apply_fn apply, void *arg, struct pv_decision *d);

/*
 * The decision pv_access() would make, without auditing or applying it
 * (used to filter look-up results subject by subject).
 */
int pv_access_preview(struct pv_vault *v, struct pv_call *call, const struct pv_access *a,
                      struct pv_decision *d);

/*
 * The gate of what reads the audit log or answers from it (audit search,
 * breach query, vendor register): the asking is audited as action (on
 * subject, may be NULL), permitted for a role with the audit power, else
 * PV_EDENIED with reason role-cannot-read-audit.
 */
int pv_access_audit_power(struct pv_vault *v, struct pv_call *call, const char *action,
                          const char *subject);

/* Record a denial that needs no decision (e.g. an unknown collection); returns err. */
int pv_access_reject(struct pv_vault *v, struct pv_call *call, const char *audit_action,
                     const char *subject, const char *reason, int err);

/* Comma-separated category keys of the fields in mask of collection c. */
int pv_vault_categories(const struct pv_vault *v, int c, uint64_t mask, struct pv_buf *out);

/* The subject's data key: created (not stored) or unwrapped. Wipe after use. */
int pv_vault_subject_key(struct pv_vault *v, struct pv_conn *c, const char *subject,
                         struct pv_dkey *dk);

/* Seal one JSON value as field of record of subject into out (appended). */
int pv_vault_seal_field(const struct pv_dkey *dk, const char *subject, const char *record,
                        const char *field, const json_t *value, struct pv_buf *out);

/* The fields of a JSON object checked against a collection (records.c). */
struct pv_fieldset {
    uint64_t mask;          /* declared fields given a value */
    uint64_t nulls;         /* declared fields given null (update: remove) */
    const char *undeclared; /* the first name the collection does not declare */
};

/* Copy a client-sent field name for an error message: safe characters only, '?' for others. */
void pv_field_name_copy(char out[PV_NAME_MAX], const char *name);
/*
 * Scan obj's keys against collection c. Undeclared names are reported in
 * fs->undeclared and call->field (the decision refuses them); a value a
 * category's storage rule refuses (last4) is PV_EINVAL here.
 */
int pv_fields_scan(struct pv_vault *v, int c, const json_t *obj, struct pv_fieldset *fs,
                   struct pv_call *call);
/* Seal the fields in mask of obj, in the collection's order, into body. */
int pv_fields_seal(struct pv_vault *v, const struct pv_dkey *dk, const char *subject,
                   const char *record, int c, const json_t *obj, uint64_t mask,
                   struct pv_buf *body);

/*
 * Inside a write transaction: merge into the stored record r (id, subject_id
 * and collection set, body initialized) the sealed fields in set from patch,
 * removing those in nulls, and store it with its categories (cats, empty).
 * On return r holds the record as updated.
 */
/*
 * After a change to the subject's profile record r (the fields touched), derive the blind-index
 * entries of every indexed category a touched field belongs to again from r as it now is, in the
 * write's transaction: a changed email is found by the new address and no longer by the old one.
 */
int pv_profile_reindex(struct pv_vault *v, struct pv_conn *w, const struct pv_record *r,
                       uint64_t touched);
int pv_record_patch(struct pv_vault *v, struct pv_conn *w, int ci, const struct pv_buf *patch,
                    uint64_t set, uint64_t nulls, struct pv_record *r, struct pv_buf *cats);

/* ---- end-to-end values (e2e.c) ---------------------------------------------------------- */

/* The fields of collection ci whose category is stored end_to_end (a mask). */
uint64_t pv_e2e_fields(const struct pv_policy *p, int ci);
/*
 * The shape of an end-to-end value of field: an object of 1 to 16 members,
 * each a user id naming base64 of a sealed box. PV_ESEALED (call->field,
 * reason and detail set; never the value) if not.
 */
int pv_e2e_shape(const char *field, const json_t *value, struct pv_call *call);
/*
 * The readers of the end-to-end fields in mask of obj, for the access a (its
 * subject, collection and record): each must be a user who may read the
 * field under the policy and who registered a public key. With gate, an
 * actor whose own access would be refused is not checked (pv_access() then
 * refuses it and says nothing about readers). A refusal is audited (a's
 * audit action, the reason) and is PV_ESEALED naming the field.
 */
int pv_e2e_check(struct pv_vault *v, struct pv_call *call, const struct pv_access *a, int gate,
                 const json_t *obj, uint64_t mask);

/* Packed record bodies: fields in order of the collection. */
int pv_body_add(struct pv_buf *body, const char *field, const unsigned char *sealed, size_t len);
/* Find field in body; *sealed points into body. PV_ENOTFOUND if absent. */
int pv_body_find(const struct pv_buf *body, const char *field, const unsigned char **sealed,
                 size_t *len);
/* Unseal every field in mask of collection c into obj; withheld names go to withheld. */
int pv_body_open(struct pv_vault *v, const struct pv_dkey *dk, const char *subject,
                 const char *record, int c, const struct pv_buf *body, uint64_t mask, json_t *obj,
                 json_t *withheld);

/* Append one account event to the audit log, with apply in its transaction. */
int pv_account_audit(struct pv_vault *v, const struct pv_actor *act, const char *action,
                     const char *target, int permit, const char *reason, pv_apply_fn apply,
                     void *arg);
/* A user's TOTP secret, unsealed (wipe it after use). */
int pv_totp_secret_open(struct pv_vault *v, struct pv_conn *c, const struct pv_totp *t,
                        unsigned char secret[PV_TOTP_SECRET_BYTES]);
/* A user's name, unsealed with the system data key dk into out (NUL-terminated). */
int pv_account_name(const struct pv_dkey *dk, const struct pv_user *u, char *out, size_t cap);
/* Authenticate a service API key (credentials.c). */
int pv_key_authenticate(struct pv_vault *v, const char *key, struct pv_actor *out);

/* Create the first administrator (init only). */
int pv_vault_bootstrap_admin(struct pv_vault *v, const char *password);

/* ISO 8601 text of a millisecond time, as a new JSON string. */
json_t *pv_json_time(int64_t ms);

/* Normalize a value for its blind index (trim, case, digits of phone numbers). */
int pv_index_normalize(const char *category, const char *value, char *out, size_t cap);

/* ---- who acts for whom (minors.c) ---------------------------------------------------- */

#define PV_DOB_CATEGORY "user.demographic.date_of_birth"

/* The profile field holding the birth date, as a mask (0 if the profile has none). */
uint64_t pv_dob_field_mask(const struct pv_vault *v);
/* The subject's age in whole years today, from their sealed birth date. */
int pv_subject_age(struct pv_vault *v, struct pv_conn *c, const struct pv_subject *s, int *age);
/*
 * Parse an enrollment's "guardian" object into g (user_id: the named user,
 * else the caller, who must act for themselves), with the guardian's age and
 * whether parental consent was verified. PV_EINVAL with call->field set.
 */
int pv_guardian_parse(struct pv_vault *v, struct pv_call *call, const json_t *gj,
                      struct pv_guardian *g, int *age, int *consent);

/* ---- failed-login throttling (throttle.c) --------------------------------------------- */

struct pv_throttle;

int pv_throttle_new(struct pv_throttle **out);
void pv_throttle_free(struct pv_throttle *t);
/* 0, or PV_ETHROTTLE with *retry_s when key has max failures in the window. */
int pv_throttle_check(struct pv_throttle *t, const unsigned char key[PV_HASH_BYTES], int max,
                      int64_t window_ms, int64_t now_ms, int *retry_s);
void pv_throttle_fail(struct pv_throttle *t, const unsigned char key[PV_HASH_BYTES],
                      int64_t window_ms, int64_t now_ms);
void pv_throttle_reset(struct pv_throttle *t, const unsigned char key[PV_HASH_BYTES]);
/* ---- consent, communications, policy versions -------------------------------- */

/* Held in sodium memory, read-only once loaded: the unsubscribe key, the SMS webhook's secret. */
struct pv_comms {
    unsigned char unsub_key[PV_KEY_BYTES]; /* derived from the keyring, never stored */
    int sms_configured;                    /* DIR/twilio.conf was read */
    char webhook_url[1024];                /* the URL Twilio calls (and signs) */
    unsigned char auth_token[256];         /* Twilio's auth token: the signature key */
    size_t auth_token_len;
};
struct pv_versions;

#define PV_TWILIO_SIG_CHARS 32
/* X-Twilio-Signature of a form posted to url: base64(HMAC-SHA1(token, url + sorted params)). */
int pv_twilio_signature(const unsigned char *token, size_t toklen, const char *url,
                        const struct pv_form *f, char out[PV_TWILIO_SIG_CHARS]);

/*
 * Bit i: consent kind i of policy p is held by subject now: the latest
 * ledger entry of the kind, or p's default when there is none.
 */
int pv_consent_facts(struct pv_vault *v, const struct pv_policy *p, const char *subject,
                     uint64_t *held);
/* Copy the facts a service gathered itself (struct pv_access.more) into f. */
void pv_facts_merge(struct pv_facts *f, const struct pv_facts *more);

/*
 * Append ledger rows the person made through a channel of their own (an
 * SMS keyword, a signed unsubscribe link, GPC from their session): no
 * decision is asked, since withdrawing is always allowed and the channel
 * proves who asks. One audit entry per row (action consent.grant or
 * consent.withdraw, collection the kind, reason given), after lead if not
 * NULL; more (may be NULL) runs in the same transaction.
 */
int pv_consent_direct(struct pv_vault *v, const struct pv_actor *act, const char *actor_name,
                      const char *reason, struct pv_consent_row *rows, int n,
                      const struct pv_audit_row *lead, pv_apply_fn more, void *more_arg);
/* The latest ledger entry of kind for subject: 1 and *granted, or 0 if there is none. */
int pv_consent_latest(struct pv_vault *v, const char *subject, const char *kind, int *granted,
                      char source[PV_SOURCE_MAX]);
/* Fill the fixed part of a new ledger row (id, subject, kind, time, version). */
void pv_consent_row_init(struct pv_vault *v, struct pv_consent_row *r, const char *subject,
                         const char *kind, int granted, const char *source, const char *actor);

int pv_comms_open(struct pv_vault *v, struct pv_buf *errors);
void pv_comms_close(struct pv_comms *cm);
int pv_versions_open(struct pv_vault *v);
void pv_versions_close(struct pv_versions *vs);
/*
 * A permitted decision about an existing subject still governed by an
 * earlier policy version (a material change they neither accepted nor were
 * notified of without objecting): decide again under that version and keep
 * the stricter outcome (deny "pending-policy-change", or fewer fields).
 */
int pv_versions_check(struct pv_vault *v, const struct pv_call *call, const struct pv_access *a,
                      const struct pv_facts *f, struct pv_decision *d);
/*
 * Store a subject's data key, wrapped under the master version in force: read
 * inside the write transaction (a rotation records it there), reloading the
 * key file when another process rotated it. For apply functions only.
 */
int pv_vault_key_store(struct pv_vault *v, struct pv_conn *w, const char *owner,
                       const struct pv_dkey *dk, int64_t now);

/*
 * The data directory's maintenance lock (an advisory file lock): key rotation
 * and backup take it so they never interleave. PV_EBUSY if another holds it.
 */
int pv_vault_lock(struct pv_vault *v, int *fd);
void pv_vault_unlock(int fd);

/* The facts retention counts from for a subject: closing and last visit. */
int pv_vault_retention_facts(struct pv_vault *v, struct pv_conn *c, const char *subject,
                             int64_t *closed, int64_t *last_visit);

/*
 * Walk the fields of a packed body: cb gets each name and sealed value.
 * Bodies are checked for bounds.
 */
int pv_body_each(const struct pv_buf *body,
                 int (*cb)(const char *name, size_t nlen, const unsigned char *s, size_t len,
                           void *arg),
                 void *arg);

/* ---- deletion requests (retention.c) --------------------------------------------------- */

/*
 * A deletion request carried out now: every value of the subject whose
 * category does not keep it (deletion: dispose, and what is kept while the
 * account is open) is disposed of at once, purged or anonymized as its
 * category says, each disposal audited (reason deletion-request). The
 * subject is not erased here: that is pv_retention_erase(), once the
 * request is recorded as completed.
 */
int pv_retention_delete(struct pv_vault *v, const char *subject, struct pv_sweep_report *rep);
/*
 * The fields of collection ci holding a value whose retention has not ended at now, in the
 * record of subject with id record (none: 0), or with record NULL in every record of the
 * collection: computed from the record's creation, the account's closing and the last visit
 * exactly as the sweep computes them. The decision of a delete refuses it while one of these
 * is of a category a deletion keeps. Works on any connection (a reader, or the writer in an
 * apply function).
 */
int pv_retention_unexpired(struct pv_vault *v, struct pv_conn *c, const char *subject, int ci,
                           const char *record, int64_t now, uint64_t *mask);
/* Erase a closed subject with nothing left (their data key destroyed); *erased 1 if done. */
int pv_retention_erase(struct pv_vault *v, const char *subject, int *erased);
/*
 * Set on out what the subject's data still holds, per category: kept (until
 * when, and why) and disposed_at_next_sweep, for an account closed at closed
 * and a deletion request carried out at deleted (0: none).
 */
int pv_retention_kept(struct pv_vault *v, struct pv_conn *c, const char *subject, int64_t closed,
                      int64_t deleted, json_t *out);

/* ---- individual rights (rights.c, export.c, disclosures.c, deletion.c) ---------------------- */

/* Carry out a verified deletion request r; *result receives what was kept and whether the
 * person is erased. Each step is decided and audited by the service that takes it. */
int pv_rights_delete(struct pv_vault *v, struct pv_call *call, const struct pv_request *r,
                     json_t **result);
/* Whether an audit entry of action for subject, permitted, exists at or after since: *seq, *ts. */
int pv_rights_provided(struct pv_vault *v, const char *subject, const char *action, int64_t since,
                       int64_t *seq, int64_t *ts);
/* Open a value sealed as field of record of subject: a new JSON value, or NULL. */
json_t *pv_open_value(const struct pv_dkey *dk, const char *subject, const char *record,
                      const char *field, const unsigned char *sealed, size_t len);
/* Seal text as field of record of subject into out (cap bytes); 0 or a pv_err. */
int pv_seal_text(const struct pv_dkey *dk, const char *subject, const char *record,
                 const char *field, const char *text, unsigned char *out, size_t cap, size_t *len);
/* Open text sealed by pv_seal_text as a new JSON string, or NULL (none, or unreadable). */
json_t *pv_open_text(const struct pv_dkey *dk, const char *subject, const char *record,
                     const char *field, const unsigned char *sealed, size_t len);
/* An export (pv_vault_export's JSON) as a FHIR R4 Bundle (fhir.c); NULL when out of memory. */
json_t *pv_fhir_bundle(const struct pv_policy *p, const json_t *export);
/* An export as a printable HTML page (fhir.c), NUL-terminated, free(); NULL out of memory. */
char *pv_export_html(const struct pv_policy *p, const json_t *export);

#endif
