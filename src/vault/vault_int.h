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
    int profile; /* index of the profile collection */
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
    const char *undeclared;   /* a field the collection lacks */
    const char *policy_version;
    int age;
    int subject_exists;          /* the vault checked the subject exists (or is being enrolled) */
    struct pv_decision *decided; /* if set, receives the decision before apply runs */
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

/* Packed record bodies: fields in order of the collection. */
int pv_body_add(struct pv_buf *body, const char *field, const unsigned char *sealed, size_t len);
/* Find field in body; *sealed points into body. PV_ENOTFOUND if absent. */
int pv_body_find(const struct pv_buf *body, const char *field, const unsigned char **sealed,
                 size_t *len);
/* Unseal every field in mask of collection c into obj; withheld names go to withheld. */
int pv_body_open(struct pv_vault *v, const struct pv_dkey *dk, const char *subject,
                 const char *record, int c, const struct pv_buf *body, uint64_t mask, json_t *obj,
                 json_t *withheld);

/* Create the first administrator (init only). */
int pv_vault_bootstrap_admin(struct pv_vault *v, const char *password);

/* ISO 8601 text of a millisecond time, as a new JSON string. */
json_t *pv_json_time(int64_t ms);

/* Normalize a value for its blind index (trim, case, digits of phone numbers). */
int pv_index_normalize(const char *category, const char *value, char *out, size_t cap);

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

#endif
