/*
 * vault: phivault's services, and the only layer that sees plaintext.
 *
 * Every operation on personal data goes through pv_access() (access.c):
 * gather the facts, ask the policy for a decision, append the decision to
 * the audit log, and only then touch data; a write is applied in the same
 * transaction as its audit entry. If the audit log cannot be written the
 * operation fails with PV_EAUDIT and nothing is applied or returned.
 *
 * Services take a struct pv_call (who is asking, for what purpose) and JSON
 * (jansson) in, and give JSON out. On failure they return a pv_err and may
 * set call->reason (the decision's stable code), call->detail (a fixed
 * sentence) and call->field (a field name the client sent); none of these
 * ever carries a personal value.
 *
 * Thread safety: a vault is shared by all server threads; every function
 * is thread-safe.
 */
#ifndef PV_VAULT_H
#define PV_VAULT_H

#include <jansson.h>

#include "audit/audit.h"
#include "crypto/crypto.h"
#include "policy/policy.h"
#include "store/store.h"

struct pv_vault;

struct pv_vault_config {
    const char *dir;         /* the data directory */
    const char *policy_path; /* NULL: DIR/policy.yaml */
    int64_t session_ttl_s;   /* 0: the policy's session_lifetime (default 8 hours) */
};

/* The files of a data directory. */
#define PV_FILE_KEYS "master.key"
#define PV_FILE_AUDIT_KEY "audit.key"
#define PV_FILE_AUDIT_PUB "audit.pub"
#define PV_FILE_POLICY "policy.yaml"

/*
 * Create a data directory: dir (0700, must not exist), the key file, the
 * audit key pair, a copy of the policy, the databases, and a user "admin"
 * of the policy's role with the users power, whose password is password.
 * On failure nothing is left behind.
 */
int pv_vault_init(const char *dir, const char *policy_path, const char *password,
                  struct pv_buf *errors);

int pv_vault_open(const struct pv_vault_config *cfg, struct pv_vault **out, struct pv_buf *errors);
void pv_vault_close(struct pv_vault *v);
const struct pv_policy *pv_vault_policy(const struct pv_vault *v);
struct pv_store *pv_vault_store(struct pv_vault *v);

/* Who is asking: filled by pv_vault_authenticate(). */
struct pv_actor {
    char user_id[PV_ID_MAX];    /* the user's id, or a service key's id (key_...) */
    char session_id[PV_ID_MAX]; /* the session's id, or "key:<name>" for a service key */
    char subject_id[PV_ID_MAX]; /* the subject the account belongs to, "" if none */
    int role;                   /* index into the policy's roles */
    int key;                    /* a service API key, not a person's session */
    uint32_t key_roles;         /* the key's roles (bit i: role i); it acts as the first
                                   of them that the request's purpose allows */
    uint64_t key_purposes;      /* the purposes the key may state (bit i: purpose i) */
    int mfa_pending;            /* a session of a role that needs a second factor, whose
                                   user has none yet: it may only enroll one */
};

struct pv_call {
    const struct pv_actor *actor; /* NULL when not authenticated */
    const char *purpose;          /* the X-Purpose header, NULL if absent */
    /* out */
    const char *reason;      /* the decision's reason when denied */
    const char *detail;      /* a fixed sentence for the problem's detail */
    char field[PV_NAME_MAX]; /* the field a PV_EFIELD or PV_EINVAL names */
    int retry_after;         /* PV_ETHROTTLE: seconds until another attempt may succeed */
};

/* ---- accounts (accounts.c) ---------------------------------------------- */

/*
 * {token, expires_at, role, user_id, subject_id, mfa_enrollment_required};
 * PV_ELOGIN alike for unknown users and bad passwords; PV_EMFA when the role
 * logs in with a TOTP code and none was given; PV_ETHROTTLE (call->retry_after
 * set) after too many failures for the user or from the client address
 * (client: the address as text, used only in memory).
 */
int pv_vault_login(struct pv_vault *v, struct pv_call *call, const char *client, const json_t *body,
                   json_t **out);
int pv_vault_authenticate(struct pv_vault *v, const char *token, struct pv_actor *out);
int pv_vault_logout(struct pv_vault *v, struct pv_call *call, const char *token);
int pv_vault_user_create(struct pv_vault *v, struct pv_call *call, const json_t *body,
                         json_t **out);
int pv_vault_user_list(struct pv_vault *v, struct pv_call *call, json_t **out);

/* ---- subjects (subjects.c) ---------------------------------------------- */

int pv_vault_enroll(struct pv_vault *v, struct pv_call *call, const json_t *body, json_t **out);
int pv_vault_subject_get(struct pv_vault *v, struct pv_call *call, const char *id, json_t **out);
/* Find subjects by an indexed profile field (e.g. email); only those the actor may see. */
int pv_vault_subject_lookup(struct pv_vault *v, struct pv_call *call, const char *field,
                            const char *value, json_t **out);
int pv_vault_assign(struct pv_vault *v, struct pv_call *call, const char *subject,
                    const json_t *body, json_t **out);

/* ---- records (records.c) ------------------------------------------------ */

int pv_vault_record_create(struct pv_vault *v, struct pv_call *call, const char *subject,
                           const char *collection, const json_t *body, json_t **out);
int pv_vault_record_list(struct pv_vault *v, struct pv_call *call, const char *subject,
                         const char *collection, const char *after, int limit, json_t **out);
int pv_vault_record_get(struct pv_vault *v, struct pv_call *call, const char *subject,
                        const char *collection, const char *rid, json_t **out);
int pv_vault_record_update(struct pv_vault *v, struct pv_call *call, const char *subject,
                           const char *collection, const char *rid, const json_t *body,
                           json_t **out);
int pv_vault_record_delete(struct pv_vault *v, struct pv_call *call, const char *subject,
                           const char *collection, const char *rid);

/* ---- audit (access.c) ----------------------------------------------------- */

/* Audit an attempt on a data route without valid credentials. */
int pv_vault_deny_unauthenticated(struct pv_vault *v, const char *action, const char *subject);
int pv_vault_audit_query(struct pv_vault *v, struct pv_call *call, const struct pv_audit_filter *f,
                         json_t **out);

/* ---- who acts for whom (minors.c, protect.c) -------------------------------------- */

/* Record a subject's true birth date; a child under the parental consent age without
 * verified parental consent is erased at once. {subject_id, status}. */
int pv_vault_birth_date_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                            const json_t *body, json_t **out);
/* The subject opens their profile to the policy's providers, or closes it. */
int pv_vault_visibility_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                            const json_t *body, json_t **out);
/* Restrict processing of a subject's data (restrict 1) or lift the restriction (0). */
int pv_vault_restriction_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                             int restrict_it, json_t **out);
/* Break the glass: an unassigned provider opens a subject's record for a while. */
int pv_vault_break_glass(struct pv_vault *v, struct pv_call *call, const char *subject,
                         const json_t *body, json_t **out);
/* The break-glass reviews (state "open", "closed" or "all") and their accesses. */
int pv_vault_review_list(struct pv_vault *v, struct pv_call *call, const char *state, json_t **out);
int pv_vault_review_close(struct pv_vault *v, struct pv_call *call, const char *id,
                          const json_t *body, json_t **out);

/* ---- credentials (credentials.c) ------------------------------------------------- */

/* Service API keys: created once (the key is shown once), listed, revoked. */
int pv_vault_key_create(struct pv_vault *v, struct pv_call *call, const json_t *body, json_t **out);
int pv_vault_key_list(struct pv_vault *v, struct pv_call *call, json_t **out);
int pv_vault_key_revoke(struct pv_vault *v, struct pv_call *call, const char *id);
/* TOTP enrollment of the caller: a new secret, then its confirmation with a code. */
int pv_vault_totp_begin(struct pv_vault *v, struct pv_call *call, json_t **out);
int pv_vault_totp_confirm(struct pv_vault *v, struct pv_call *call, const json_t *body,
                          json_t **out);
/* An administrator removes a user's second factor (and ends their sessions). */
int pv_vault_totp_reset(struct pv_vault *v, struct pv_call *call, const char *user);
/* End every session of the caller (user NULL) or, for an administrator, of a user. */
int pv_vault_logout_all(struct pv_vault *v, struct pv_call *call, const char *user);
/* Audit a session that must enroll a second factor trying anything else. */
int pv_vault_deny_pending(struct pv_vault *v, const struct pv_actor *act, const char *action,
                          const char *subject);
/* ---- the consent ledger (consent.c) ---------------------------------------- */

/* A grant or withdrawal to record. */
struct pv_consent_change {
    const char *kind;           /* a consent kind the policy declares */
    int grant;                  /* 1: grant, 0: withdraw */
    const char *source;         /* web, app, staff, phone, written or api */
    const char *evidence;       /* at most 2,048 bytes; required to grant an authorization */
    const char *policy_version; /* acceptance: the version accepted (NULL: the one in force) */
};

/*
 * Record ch for subject: decided (action consent), audited, appended in the
 * same transaction; *out is the new entry. Withdrawing is never refused for
 * want of a consent. Rights requests ("withdraw") call this.
 */
int pv_vault_consent_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                         const struct pv_consent_change *ch, json_t **out);
/* The same from a JSON body {kind, action: grant|withdraw, source?, evidence?, policy_version?}. */
int pv_vault_consent_record(struct pv_vault *v, struct pv_call *call, const char *subject,
                            const json_t *body, json_t **out);
/* The whole ledger of a subject, oldest first, and what is held now. */
int pv_vault_consent_list(struct pv_vault *v, struct pv_call *call, const char *subject,
                          json_t **out);
/*
 * Whether subject holds consent kind now (its latest ledger entry, else the
 * policy's default): a fact for the vault's own decisions, such as whether
 * usage data may be kept; it writes no audit entry. PV_EINVAL if the
 * policy declares no such kind.
 */
int pv_vault_consent_held(struct pv_vault *v, const char *subject, const char *kind, int *held);
/* Cookie categories chosen on the web pages: {necessary: true, <category>: bool, ...}. */
int pv_vault_cookies_get(struct pv_vault *v, struct pv_call *call, const char *subject,
                         json_t **out);
int pv_vault_cookies_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                         const json_t *body, json_t **out);
/*
 * Global Privacy Control: a request with Sec-GPC: 1 from a user whose
 * account belongs to a subject records their opt-out of sale and sharing
 * (once); *honored is 1 when the opt-out is in effect.
 */
int pv_vault_gpc(struct pv_vault *v, const struct pv_call *call, int *honored);

/* ---- communications (comms.c, sms.c) ----------------------------------------- */

/* May call->purpose's message reach subject on channel? {allowed, reason, to, unsubscribe?}. */
int pv_vault_contact_check(struct pv_vault *v, struct pv_call *call, const char *subject,
                           const char *channel, json_t **out);
/* Confidential communications: {channels: [...] or null, addresses: {channel: address}}. */
int pv_vault_contact_prefs_get(struct pv_vault *v, struct pv_call *call, const char *subject,
                               json_t **out);
int pv_vault_contact_prefs_set(struct pv_vault *v, struct pv_call *call, const char *subject,
                               const json_t *body, json_t **out);
/* May these data of subject go to recipient for call->purpose? {allowed, reason}. */
int pv_vault_disclosure_check(struct pv_vault *v, struct pv_call *call, const char *subject,
                              const char *recipient, const char *collection, const char *fields,
                              const char *consents, json_t **out);
/* A signed one-click unsubscribe link (RFC 8058): the token alone authorizes it. */
int pv_vault_unsubscribe(struct pv_vault *v, const char *token, json_t **out);
/* What the link would do, for the page a browser shows: {kind, description, organization}. */
int pv_vault_unsubscribe_peek(struct pv_vault *v, const char *token, json_t **out);
/*
 * Twilio's inbound SMS webhook: the form's parameters and X-Twilio-Signature
 * (NULL if absent). A bad or missing signature is PV_EDENIED and changes
 * nothing. Keywords opt out, in, or get help; twiml receives the reply.
 */
int pv_vault_sms_inbound(struct pv_vault *v, const struct pv_form *form, const char *signature,
                         struct pv_buf *twiml);
/* Write DIR/twilio.conf (0600): the account's auth token and the webhook URL Twilio calls. */
int pv_vault_sms_setup(const char *dir, const char *auth_token, const char *webhook_url);

/* ---- policy versions (versions.c) ---------------------------------------------- */

/* Which version governs subject, what they accepted, what they were notified of. */
int pv_vault_policy_status(struct pv_vault *v, struct pv_call *call, const char *subject,
                           json_t **out);
/* Record that subject was notified of the version in force: {channel}. */
int pv_vault_policy_notice(struct pv_vault *v, struct pv_call *call, const char *subject,
                           const json_t *body, json_t **out);
/* ---- retention and disposal (retention.c) ------------------------------------ */

/*
 * Close a subject's account: retention counted from closing starts, values
 * kept "while the account is open" expire, and the accounts linked to the
 * subject are disabled. The answer says, per category still held, until when
 * it is kept and why (legal requirement, hold).
 */
int pv_vault_close_account(struct pv_vault *v, struct pv_call *call, const char *subject,
                           json_t **out);

struct pv_sweep_report {
    int64_t subjects;           /* subjects looked at */
    int64_t records_purged;     /* records destroyed whole */
    int64_t records_anonymized; /* records removed, their anonymizable values kept apart */
    int64_t fields_purged;      /* records trimmed of expired values */
    int64_t usage_purged;       /* usage events destroyed */
    int64_t keys_destroyed;     /* subjects erased: their data key destroyed */
    int64_t held;               /* expired rows kept because of a legal hold */
};

/*
 * Dispose of everything whose retention has ended at the current time:
 * purge or anonymize as each category says, every disposal audited in the
 * same transaction; destroy the data key of a closed subject with nothing
 * left; skip subjects under a legal hold. Then checkpoint the store so no
 * disposed value survives in its write-ahead log. progress may be NULL.
 */
int pv_vault_sweep(struct pv_vault *v, struct pv_sweep_report *rep,
                   void (*progress)(int64_t done, int64_t total, void *arg), void *arg);

/*
 * Bring the store's files to a state where nothing deleted survives in them:
 * a truncating write-ahead-log checkpoint (deleted cells are already zeroed
 * by secure_delete). Called after every deletion; failure is logged and the
 * next call catches up.
 */
int pv_vault_scrub(struct pv_vault *v);

/* ---- legal holds (holds.c) ------------------------------------------------------- */

/* {reason, until?}: a hold that keeps the subject's data past retention and blocks deletion. */
int pv_vault_hold_place(struct pv_vault *v, struct pv_call *call, const char *subject,
                        const json_t *body, json_t **out);
int pv_vault_hold_list(struct pv_vault *v, struct pv_call *call, const char *subject, json_t **out);
int pv_vault_hold_release(struct pv_vault *v, struct pv_call *call, const char *subject,
                          const char *hold, json_t **out);

/* ---- usage data (usage.c) ---------------------------------------------------------- */

/*
 * Store a usage event (the policy's collection "usage"): the fields whose
 * category needs a consent the person has not given are dropped, not stored;
 * the answer names what was stored and what was dropped.
 */
int pv_vault_usage_collect(struct pv_vault *v, struct pv_call *call, const char *subject,
                           const json_t *body, json_t **out);
int pv_vault_usage_list(struct pv_vault *v, struct pv_call *call, const char *subject,
                        const char *after, int limit, json_t **out);

/* ---- de-identified and aggregate data (deid.c) ------------------------------------------- */

/*
 * The de-identified rows of collection (values kept apart from their person
 * at disposal), {collection, rows: [{id, month, fields}], next}: the fields
 * the purpose covers. Decided (action deidentified) and audited, no subject.
 */
int pv_vault_deid_list(struct pv_vault *v, struct pv_call *call, const char *collection,
                       const char *after, int limit, json_t **out);
/*
 * Counts over the records of collection of people whose data may be used,
 * by "month" of creation or by the value of one field the purpose covers:
 * {collection, by, min_cell, cells: [{month|value, records, people} |
 * {month, suppressed}], suppressed_values}. Cells below the policy's
 * min_cell are suppressed (a rare value is not named at all). Decided
 * (action aggregate) and audited, no subject.
 */
int pv_vault_aggregate(struct pv_vault *v, struct pv_call *call, const char *collection,
                       const char *by, json_t **out);

/* ---- keys (keys.c) -------------------------------------------------------------------- */

struct pv_keys_report {
    uint32_t version;    /* the master version now in force */
    int64_t keys;        /* data keys looked at */
    int64_t rewrapped;   /* data keys rewrapped under the new version */
    int64_t unreadable;  /* data keys no master version opens (check) */
    uint32_t retired[8]; /* versions retired */
    int nretired;
};

/*
 * A new master key version; every data key rewrapped under it while the
 * server keeps serving; the old versions retired from the key file. A
 * running server learns each step from the key file and the database.
 */
int pv_vault_keys_rotate(struct pv_vault *v, struct pv_keys_report *rep,
                         void (*progress)(int64_t done, int64_t total, void *arg), void *arg);
/* Open every data key; rep->unreadable counts those that fail. */
int pv_vault_keys_check(struct pv_vault *v, struct pv_keys_report *rep,
                        void (*progress)(int64_t done, int64_t total, void *arg), void *arg);

/* ---- backup and restore (backup.c) ----------------------------------------------------- */

#define PV_FILE_BACKUP_MANIFEST "backup.json"

struct pv_backup_report {
    int64_t bytes;     /* size of the data snapshot */
    int64_t subjects;  /* subjects in the backup */
    int64_t erased;    /* restore: subjects whose key was destroyed since: erased */
    int64_t entries;   /* restore: audit entries verified */
    int64_t keys_kept; /* restore: data keys carried over */
};

/*
 * A consistent backup of the data while the server runs: dest (a new
 * directory) receives the data snapshot, the policy, the audit public key
 * and a manifest, and no key material. With keys_dest, the key material
 * (master.key, keys.db, audit.key) is written there too, replacing the
 * previous copy: only one copy of keys may exist, or erasure would not be.
 */
int pv_vault_backup(struct pv_vault *v, const char *dest, const char *keys_dest,
                    struct pv_backup_report *rep, struct pv_buf *errors,
                    void (*progress)(int64_t done, int64_t total, void *arg), void *arg);
/*
 * A new data directory dir from backup and the key material in keys_dir (a
 * key copy or a data directory). The audit log is verified first; subjects
 * whose data key no longer exists are erased, so what was destroyed after
 * the backup stays destroyed. On failure nothing is left behind.
 *
 * Both tell progress (may be NULL) how far their long part is: the bytes of
 * the data snapshot written, the audit entries of the restored log checked.
 */
int pv_vault_restore(const char *backup, const char *keys_dir, const char *dir,
                     struct pv_backup_report *rep, struct pv_buf *errors,
                     void (*progress)(int64_t done, int64_t total, void *arg), void *arg);

/* ---- maintenance (maintenance.c) --------------------------------------------------------- */

/*
 * The server's background thread: a retention sweep every sweep_interval_s
 * seconds (0: none), and the key file watched so a rotation by another
 * process is taken up at once.
 */
int pv_vault_maintenance_start(struct pv_vault *v, int64_t sweep_interval_s);
void pv_vault_maintenance_stop(struct pv_vault *v);

/* ---- individual rights (rights.c, export.c, disclosures.c, deletion.c) ---------------------- */

/*
 * File a rights request for subject: {type, requester?: {kind, name?,
 * evidence?}, source?, details?}. Its due date is the policy's deadline
 * for the right from now; it starts received. *out is the request.
 */
int pv_vault_request_file(struct pv_vault *v, struct pv_call *call, const char *subject,
                          const json_t *body, json_t **out);

/* What a list of requests is filtered by; NULL or 0 for any. */
struct pv_request_query {
    const char *state; /* received, verified, completed, denied, or open */
    const char *type;
    int overdue; /* 0: either; 1: open past due; 2: not so */
    const char *after;
    int limit;
    /* everyone's requests (the rights power): only this person's, erased or not */
    const char *subject;
};

/* The requests of subject (NULL: of everyone, the rights power only), oldest first. */
int pv_vault_request_list(struct pv_vault *v, struct pv_call *call, const char *subject,
                          const struct pv_request_query *q, json_t **out);
int pv_vault_request_get(struct pv_vault *v, struct pv_call *call, const char *rid, json_t **out);
/*
 * A transition of request rid: "verify", "extend", "complete", "deny" (the
 * rights power) or "disagreement" (the person's statement after a denied
 * amendment). An illegal transition is refused with PV_ECONFLICT, audited.
 */
int pv_vault_request_transition(struct pv_vault *v, struct pv_call *call, const char *rid,
                                const char *transition, const json_t *body, json_t **out);

enum pv_export_format { PV_EXPORT_JSON, PV_EXPORT_FHIR, PV_EXPORT_HTML };

/*
 * Everything held on subject that the purpose may see, opened, each value
 * with its category and source: as phivault's JSON (*text), as a FHIR R4
 * Bundle (*json), or as a printable HTML page (*text). *text is
 * NUL-terminated, for free() after it is wiped: it holds plaintext.
 */
int pv_vault_export(struct pv_vault *v, struct pv_call *call, const char *subject,
                    enum pv_export_format format, json_t **json, char **text);
/* The right to know: the past 12 months' categories, sources, purposes, recipients, pieces. */
int pv_vault_know(struct pv_vault *v, struct pv_call *call, const char *subject, json_t **out);

/* Record a disclosure of subject's data to a recipient: {recipient, collection?, fields?,
 * records?, consents?, description?}; refused where the policy forbids it. */
int pv_vault_disclosure_record(struct pv_vault *v, struct pv_call *call, const char *subject,
                               const json_t *body, json_t **out);
/* The accounting of disclosures: the past 6 years, other than for treatment, payment or
 * health-care operations. */
int pv_vault_disclosure_accounting(struct pv_vault *v, struct pv_call *call, const char *subject,
                                   json_t **out);
/* Delete every record of one of subject's collections (all of a person's messages). */
int pv_vault_records_delete_all(struct pv_vault *v, struct pv_call *call, const char *subject,
                                const char *collection, json_t **out);

/* ---- breach notification and the vendor register (transparency.c) ------------------ */

/*
 * Whose data the permitted audit entries matching f touched: each subject
 * with the first and last time, the count, the actions, categories and
 * credentials; no one else. The audit power only; audited (audit.touched).
 */
int pv_vault_audit_touched(struct pv_vault *v, struct pv_call *call,
                           const struct pv_touched_filter *f, json_t **out);
/*
 * The register of vendors: each recipient of the policy with its kind, its
 * business associate agreement, the categories it may receive, whether it may
 * ever receive health information, and what was disclosed to it; recipients
 * of earlier policies that received data. The audit power only; audited
 * (vendors.read).
 */
int pv_vault_vendors(struct pv_vault *v, struct pv_call *call, json_t **out);

/* ---- public keys for end-to-end values (e2e.c) ------------------------------------ */

/* Register or replace the caller's own X25519 public key ({public_key: base64}); audited. */
int pv_vault_public_key_set(struct pv_vault *v, struct pv_call *call, const json_t *body,
                            json_t **out);
/*
 * The public keys of the users around subject (their accounts, guardians and
 * assigned users) who may read the end-to-end fields of collection: the
 * readers a client seals a value for. Decided and audited as a read of those
 * fields (public-key.read).
 */
int pv_vault_public_keys(struct pv_vault *v, struct pv_call *call, const char *subject,
                         const char *collection, json_t **out);

/* ---- payment cards (cards.c) ---------------------------------------------------- */

/*
 * Where the policy refuses full payment card numbers (payment_cards), search
 * body (a request's whole JSON: every string, number and member name, except
 * a password, which is only hashed) for one. Found: the refusal is audited
 * (action, subject, reason card-number) and PV_ECARD returned with
 * call->field naming where it was, never the number. 0 otherwise.
 */
int pv_vault_card_check(struct pv_vault *v, struct pv_call *call, const char *action,
                        const char *subject, const json_t *body);

#endif
