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
    int64_t session_ttl_s;   /* 0: the default, 8 hours */
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
    char user_id[PV_ID_MAX];
    char session_id[PV_ID_MAX];
    char subject_id[PV_ID_MAX]; /* the subject the account belongs to, "" if none */
    int role;                   /* index into the policy's roles */
};

struct pv_call {
    const struct pv_actor *actor; /* NULL when not authenticated */
    const char *purpose;          /* the X-Purpose header, NULL if absent */
    /* out */
    const char *reason;      /* the decision's reason when denied */
    const char *detail;      /* a fixed sentence for the problem's detail */
    char field[PV_NAME_MAX]; /* the field a PV_EFIELD or PV_EINVAL names */
};

/* ---- accounts (accounts.c) ---------------------------------------------- */

/* {token, expires_at, role, user_id, subject_id}; PV_ELOGIN alike for unknown users and bad
 * passwords. */
int pv_vault_login(struct pv_vault *v, const json_t *body, json_t **out);
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

#endif
