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

#endif
