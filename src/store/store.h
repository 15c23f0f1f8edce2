/*
 * store: where phivault's rows live. Only ciphertext of personal data ever
 * reaches this layer; it sees ids, timestamps, category keys, blind-index
 * digests and sealed blobs.
 *
 * Two levels, like SQLite's VFS:
 *  - struct pv_store_ops, a small table of functions a backend implements:
 *    connections, prepared statements (bind, step, column), transactions.
 *    SQLite (store/sqlite.c) is the embedded default. The SQL above the
 *    table is portable (positional '?' parameters, standard DML, ON
 *    CONFLICT), so a PostgreSQL backend implements the same table.
 *  - typed functions (pv_store_subject_get, pv_store_audit_insert, ...)
 *    written once on top of the table, one file per kind of row.
 *
 * Connections: one writer connection, used only by the audit committer
 * thread (see audit/audit.h: every write shares a transaction with its audit
 * entry), and one reader connection per thread, opened on first use by
 * pv_store_reader() and closed when the thread exits or the store closes.
 * Prepared statements are cached per connection.
 *
 * Typed getters fill caller-provided structs and return PV_ENOTFOUND when
 * there is no row; they write their out-parameters only on success.
 */
#ifndef PV_STORE_H
#define PV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "crypto/crypto.h"

struct pv_store;
struct pv_conn;
struct pv_stmt;

/*
 * A statement's text and its slot in every connection's statement cache.
 * Declare each as a static object: static struct pv_sql q = PV_SQL("...");
 */
struct pv_sql {
    const char *text;
    int slot; /* assigned on first use; 0 = not yet */
};
#define PV_SQL(t)                                                                                  \
    {                                                                                              \
        (t), 0                                                                                     \
    }

#define PV_ROW 1 /* pv_stmt_step: a row is ready */

struct pv_store_ops {
    const char *name;
    int (*open)(const char *dir, struct pv_store **out);
    void (*close)(struct pv_store *s);
    int (*conn_open)(struct pv_store *s, int writer, struct pv_conn **out);
    void (*conn_close)(struct pv_conn *c);
    /* Run SQL with no parameters and no result rows (DDL, savepoints). */
    int (*exec)(struct pv_conn *c, const char *sql);
    int (*begin)(struct pv_conn *c); /* a write transaction */
    int (*commit)(struct pv_conn *c);
    int (*rollback)(struct pv_conn *c);
    int (*prepare)(struct pv_conn *c, struct pv_sql *q, struct pv_stmt **out);
    int (*bind_int)(struct pv_stmt *st, int i, int64_t v);
    int (*bind_text)(struct pv_stmt *st, int i, const char *v); /* NULL binds NULL */
    int (*bind_blob)(struct pv_stmt *st, int i, const void *p, size_t n);
    /* PV_ROW, 0 when done, PV_EEXIST on a uniqueness violation, else < 0. */
    int (*step)(struct pv_stmt *st);
    int64_t (*col_int)(struct pv_stmt *st, int i);
    const char *(*col_text)(struct pv_stmt *st, int i); /* "" for NULL */
    const void *(*col_blob)(struct pv_stmt *st, int i, size_t *n);
    int (*col_is_null)(struct pv_stmt *st, int i);
    void (*reset)(struct pv_stmt *st); /* also clears bindings */
    int64_t (*changes)(struct pv_conn *c);
    /* Bring the files to a durable, compact state (WAL checkpoint). */
    int (*checkpoint)(struct pv_conn *c);
    /*
     * A consistent copy of the store's data (keys 0) or of its data keys
     * (keys 1), taken while others keep writing, as one new file at dest;
     * progress (may be NULL) is told the bytes written of those expected.
     */
    int (*snapshot)(struct pv_store *s, int keys, const char *dest,
                    void (*progress)(int64_t done, int64_t total, void *arg), void *arg);
    /* A consistent copy of the data-key file of another data directory into dest. */
    int (*copy_keys)(const char *src_dir, const char *dest);
};

/* Every store begins with this header; backends extend it. */
struct pv_store {
    const struct pv_store_ops *ops;
};

extern const struct pv_store_ops pv_store_sqlite;

/* Open the store of a data directory (creating tables as needed). */
int pv_store_open(const char *dir, struct pv_store **out);
void pv_store_close(struct pv_store *s);

/* This thread's reader connection (opened on first use). */
int pv_store_reader(struct pv_store *s, struct pv_conn **out);
/* Whether this thread's reader connection has a statement in progress. */
int pv_store_reader_busy(struct pv_store *s);
/*
 * Let this process's row caches (store/cache.c) take in every write committed
 * so far, by any process: the server calls it at the start of each request,
 * before any look-up. The caches stay off in a process until its first call.
 */
int pv_store_cache_sync(struct pv_store *s);
/* A connection of one's own (the committer's writer, CLI tools). */
int pv_store_conn_open(struct pv_store *s, int writer, struct pv_conn **out);
void pv_store_conn_close(struct pv_conn *c);

/* Transactions and savepoints on a writer connection. */
int pv_store_begin(struct pv_conn *c);
int pv_store_commit(struct pv_conn *c);
int pv_store_rollback(struct pv_conn *c);
int pv_store_exec(struct pv_conn *c, const char *sql);
int pv_store_checkpoint(struct pv_conn *c);

/* Statements: prepare (cached), bind from 1, step, read columns from 0, reset. */
int pv_stmt_prepare(struct pv_conn *c, struct pv_sql *q, struct pv_stmt **out);
int pv_stmt_int(struct pv_stmt *st, int i, int64_t v);
int pv_stmt_text(struct pv_stmt *st, int i, const char *v);
int pv_stmt_blob(struct pv_stmt *st, int i, const void *p, size_t n);
int pv_stmt_step(struct pv_stmt *st);
int64_t pv_col_int(struct pv_stmt *st, int i);
const char *pv_col_text(struct pv_stmt *st, int i);
const void *pv_col_blob(struct pv_stmt *st, int i, size_t *n);
int pv_col_is_null(struct pv_stmt *st, int i);
void pv_stmt_reset(struct pv_stmt *st);
int64_t pv_store_changes(struct pv_conn *c);
/* Copy a text column into a fixed buffer; PV_ESTORE if it does not fit. */
int pv_col_copy(struct pv_stmt *st, int i, char *out, size_t cap);

/* Backends only: the statement slot of q, assigned on first use. */
int pv_sql_slot(struct pv_sql *q);
#define PV_SQL_SLOTS 256

/* ---- meta and policies ----------------------------------------------------- */

int pv_store_meta_get(struct pv_conn *c, const char *key, char *out, size_t cap);
int pv_store_meta_put(struct pv_conn *c, const char *key, const char *value);
/* Remember a policy version and its text (kept once per version). */
int pv_store_policy_put(struct pv_conn *c, const char *version, const char *effective,
                        const char *text, size_t len, int64_t now);

/* ---- subjects ----------------------------------------------------------------- */

#define PV_STATUS_MAX 16
#define PV_SOURCE_MAX 16
#define PV_BIRTH_SEALED_MAX 64

struct pv_subject {
    char id[PV_ID_MAX];
    char status[PV_STATUS_MAX]; /* active, restricted, closed, erased */
    int64_t created, updated;
    char policy_version[40];                       /* version accepted at enrollment */
    int64_t accepted_at;                           /* when it was accepted */
    char accepted_source[PV_SOURCE_MAX];           /* web, app, staff, ... */
    unsigned char birth_date[PV_BIRTH_SEALED_MAX]; /* sealed "YYYY-MM-DD" */
    size_t birth_date_len;
};

int pv_store_subject_put(struct pv_conn *c, const struct pv_subject *s);
int pv_store_subject_get(struct pv_conn *c, const char *id, struct pv_subject *out);

/* A subject's wrapped data key (kept in its own file: see store/sqlite.c). */
struct pv_subject_key {
    uint32_t version;        /* data-key version */
    uint32_t master_version; /* master key that wraps it */
    unsigned char wrapped[PV_WRAPPED_BYTES];
};

int pv_store_key_put(struct pv_conn *c, const char *subject_id, const struct pv_subject_key *k,
                     int64_t now);
/* The newest key of a subject. */
int pv_store_key_get(struct pv_conn *c, const char *subject_id, struct pv_subject_key *out);

/* Blind index: digest of a normalized value under an index name -> subjects. */
int pv_store_index_put(struct pv_conn *c, const char *index, const unsigned char d[PV_HASH_BYTES],
                       const char *subject_id);
int pv_store_index_find(struct pv_conn *c, const char *index, const unsigned char d[PV_HASH_BYTES],
                        int (*cb)(const char *subject_id, void *arg), void *arg);

/* Provider assignments. */
int pv_store_assign_put(struct pv_conn *c, const char *subject_id, const char *user_id,
                        int64_t now);
/* 0 if assigned, PV_ENOTFOUND if not. */
int pv_store_assign_get(struct pv_conn *c, const char *subject_id, const char *user_id);

/* ---- records -------------------------------------------------------------------- */

#define PV_RECORD_BODY_MAX ((size_t)1024 * 1024)

struct pv_record {
    char id[PV_ID_MAX];
    char subject_id[PV_ID_MAX];
    char collection[64];
    int64_t created, updated;
    struct pv_buf body; /* packed sealed fields (vault/record.c); caller inits, finis */
};

int pv_store_record_put(struct pv_conn *c, const struct pv_record *r, const char *categories);
int pv_store_record_update(struct pv_conn *c, const struct pv_record *r, const char *categories);
int pv_store_record_get(struct pv_conn *c, const char *subject_id, const char *collection,
                        const char *id, struct pv_record *out);
/* PV_ENOTFOUND if there was no such record. */
int pv_store_record_delete(struct pv_conn *c, const char *subject_id, const char *collection,
                           const char *id);
/*
 * Records of a subject's collection in creation order, after the record
 * after (NULL: from the start), at most limit; cb sees each in turn.
 */
int pv_store_record_list(struct pv_conn *c, const char *subject_id, const char *collection,
                         const char *after, int limit,
                         int (*cb)(const struct pv_record *r, void *arg), void *arg);

/* ---- users and sessions -------------------------------------------------------- */

#define PV_USER_NAME_SEALED_MAX 160

struct pv_user {
    char id[PV_ID_MAX];
    unsigned char name_index[PV_HASH_BYTES]; /* blind index of the username */
    unsigned char name_sealed[PV_USER_NAME_SEALED_MAX];
    size_t name_sealed_len;
    char role[64];
    char subject_id[PV_ID_MAX]; /* "" if none */
    char pw_hash[PV_PWHASH_MAX];
    int64_t created;
    int disabled;
};

int pv_store_user_put(struct pv_conn *c, const struct pv_user *u);
int pv_store_user_get(struct pv_conn *c, const char *id, struct pv_user *out);
int pv_store_user_by_name(struct pv_conn *c, const unsigned char idx[PV_HASH_BYTES],
                          struct pv_user *out);
/* Users linked to a subject (its own account, later guardians). */
int pv_store_user_by_subject(struct pv_conn *c, const char *subject_id, struct pv_user *out);
int pv_store_user_set_subject(struct pv_conn *c, const char *user_id, const char *subject_id);
int pv_store_user_list(struct pv_conn *c, int (*cb)(const struct pv_user *u, void *arg), void *arg);

struct pv_session {
    unsigned char token_hash[PV_HASH_BYTES];
    char id[PV_ID_MAX]; /* names the session in audit entries */
    char user_id[PV_ID_MAX];
    int64_t created, expires;
    int64_t last_seen; /* the last activity recorded (pv_store_session_touch), else created */
};

int pv_store_session_put(struct pv_conn *c, const struct pv_session *s);
/* The session and its user, in one query. */
int pv_store_session_get(struct pv_conn *c, const unsigned char hash[PV_HASH_BYTES],
                         struct pv_session *out, struct pv_user *user);
int pv_store_session_delete(struct pv_conn *c, const unsigned char hash[PV_HASH_BYTES]);
/* Sessions that expired before now are removed. */
int pv_store_session_purge(struct pv_conn *c, int64_t now);

/* ---- audit rows ----------------------------------------------------------------- */

/* Text fields may be NULL (stored as ""). None ever holds a personal value. */
struct pv_audit_row {
    int64_t seq;
    int64_t ts_ms;
    const char *actor;      /* user id, key id, or "anonymous" */
    const char *role;       /* role name or "" */
    const char *credential; /* session id or "" */
    const char *action;     /* e.g. "record.read" */
    const char *subject;    /* subject id or "" */
    const char *collection;
    const char *record;
    const char *categories; /* comma-separated category keys touched */
    const char *purpose;
    const char *recipient;
    const char *decision; /* "permit" or "deny" */
    const char *reason;   /* the decision's reason code */
    unsigned char hash[PV_HASH_BYTES];
};

int pv_store_audit_insert(struct pv_conn *c, const struct pv_audit_row *r);
/* The last entry's sequence and hash; *seq = 0 if the log is empty. */
int pv_store_audit_last(struct pv_conn *c, int64_t *seq, unsigned char hash[PV_HASH_BYTES]);
/* Every entry from seq first on, in the order of the table's rows by seq. */
int pv_store_audit_scan(struct pv_conn *c, int64_t first,
                        int (*cb)(const struct pv_audit_row *r, void *arg), void *arg);
int64_t pv_store_audit_count(struct pv_conn *c);

struct pv_audit_filter {
    const char *subject, *actor; /* NULL: any */
    int64_t from_ms, to_ms;      /* 0: unbounded */
    int64_t after_seq;           /* entries after this sequence */
    int limit;
};

int pv_store_audit_query(struct pv_conn *c, const struct pv_audit_filter *f,
                         int (*cb)(const struct pv_audit_row *r, void *arg), void *arg);

/* Signed checkpoints: a historical one every so often, and the head, always current. */
struct pv_checkpoint {
    int64_t seq, ts_ms;
    unsigned char hash[PV_HASH_BYTES];
    unsigned char sig[PV_SIG_BYTES];
};

int pv_store_checkpoint_put(struct pv_conn *c, const struct pv_checkpoint *k);
int pv_store_checkpoint_scan(struct pv_conn *c, int (*cb)(const struct pv_checkpoint *k, void *arg),
                             void *arg);
int pv_store_head_put(struct pv_conn *c, const struct pv_checkpoint *k);
int pv_store_head_get(struct pv_conn *c, struct pv_checkpoint *out);

/* ---- who acts for whom (store/access.c) ------------------------------------------ */

#define PV_GRANT_REASON_SEALED_MAX (1024 + 64)
#define PV_GRANT_NOTE_SEALED_MAX (2048 + 64)

/* A guardian: a user who acts for a minor subject. */
struct pv_guardian {
    char subject_id[PV_ID_MAX];
    char user_id[PV_ID_MAX];
    char relationship[32]; /* parent, legal_guardian, ... */
    char verification[32]; /* how parental consent was verified; "" if it was not */
    int64_t created;
};

int pv_store_guardian_put(struct pv_conn *c, const struct pv_guardian *g);
/* 0 if user is a guardian of subject, PV_ENOTFOUND if not. */
int pv_store_guardian_get(struct pv_conn *c, const char *subject_id, const char *user_id,
                          struct pv_guardian *out);
/* 0 if a guardian of the subject gave verified parental consent, PV_ENOTFOUND if none did. */
int pv_store_guardian_consent(struct pv_conn *c, const char *subject_id);

/* A subject's status, between active and restricted (PV_ENOTFOUND for a subject in any
 * other), and their sealed birth date (PV_ENOTFOUND once erased). */
int pv_store_subject_set_status(struct pv_conn *c, const char *id, const char *status, int64_t now);
int pv_store_subject_set_birth_date(struct pv_conn *c, const char *id, const unsigned char *sealed,
                                    size_t len, int64_t now);
/*
 * Erase a subject: their records, index entries, assignments, guardians,
 * break-glass grants, visibility, their own user accounts and sessions, and
 * their data keys (so every copy of their sealed data becomes unreadable);
 * the subject row stays with status "erased" and no birth date.
 */
int pv_store_subject_erase(struct pv_conn *c, const char *id, int64_t now);

/* Profile visibility: a row while the subject's profile is viewable by providers. */
int pv_store_visibility_set(struct pv_conn *c, const char *subject_id, int visible, int64_t now);
/* 0 if visible, PV_ENOTFOUND if not. */
int pv_store_visibility_get(struct pv_conn *c, const char *subject_id);

/* A break-glass grant, which is also the review the privacy officer closes. */
struct pv_grant {
    char id[PV_ID_MAX];
    char subject_id[PV_ID_MAX];
    char user_id[PV_ID_MAX];
    int64_t opened, expires;
    unsigned char reason[PV_GRANT_REASON_SEALED_MAX]; /* sealed under the subject's key */
    size_t reason_len;
    char state[16];   /* open, closed */
    char finding[32]; /* when closed */
    unsigned char note[PV_GRANT_NOTE_SEALED_MAX];
    size_t note_len;
    char closed_by[PV_ID_MAX];
    int64_t closed_at;
};

int pv_store_grant_put(struct pv_conn *c, const struct pv_grant *g);
/* 0 if user holds an open grant on subject that has not expired at now, else PV_ENOTFOUND. */
int pv_store_grant_active(struct pv_conn *c, const char *subject_id, const char *user_id,
                          int64_t now);
int pv_store_grant_get(struct pv_conn *c, const char *id, struct pv_grant *out);
/* Grants in a state ("open", "closed"; NULL: all), oldest first, at most limit. */
int pv_store_grant_list(struct pv_conn *c, const char *state, int limit,
                        int (*cb)(const struct pv_grant *g, void *arg), void *arg);
/* Close an open grant with a finding (its access ends); PV_ENOTFOUND if none is open. */
int pv_store_grant_close(struct pv_conn *c, const char *id, const char *finding,
                         const unsigned char *note, size_t note_len, const char *closed_by,
                         int64_t now);

/* ---- credentials (store/credentials.c) ---------------------------------------------- */

/* A service API key; the key itself is never stored, only its hash. */
struct pv_apikey {
    char id[PV_ID_MAX];
    char name[32];
    unsigned char hash[PV_HASH_BYTES];
    char roles[1024];    /* comma-separated role names */
    char purposes[1024]; /* comma-separated purpose names */
    int64_t created;
    char created_by[PV_ID_MAX];
    int revoked;
};

int pv_store_apikey_put(struct pv_conn *c, const struct pv_apikey *k);
int pv_store_apikey_by_hash(struct pv_conn *c, const unsigned char hash[PV_HASH_BYTES],
                            struct pv_apikey *out);
int pv_store_apikey_list(struct pv_conn *c, int (*cb)(const struct pv_apikey *k, void *arg),
                         void *arg);
/* PV_ENOTFOUND if there is no such key or it is revoked already. */
int pv_store_apikey_revoke(struct pv_conn *c, const char *id);

#define PV_TOTP_SEALED_MAX (PV_TOTP_SECRET_BYTES + PV_SEAL_OVERHEAD)

/* A user's TOTP secret, sealed under the system key. */
struct pv_totp {
    char user_id[PV_ID_MAX];
    unsigned char sealed[PV_TOTP_SEALED_MAX];
    size_t sealed_len;
    int confirmed;     /* the user proved they hold it */
    int64_t last_step; /* the last time step used: codes of it or before are refused */
    int64_t created;
};

/* Store a new (unconfirmed) secret, replacing an unconfirmed one; PV_EEXIST if confirmed. */
int pv_store_totp_put(struct pv_conn *c, const struct pv_totp *t);
int pv_store_totp_get(struct pv_conn *c, const char *user_id, struct pv_totp *out);
/* Mark the secret confirmed (confirm) and record step as used, only if step > last_step:
 * PV_ECONFLICT if the step was used already (a replayed code). */
int pv_store_totp_use(struct pv_conn *c, const char *user_id, int64_t step, int confirm);
int pv_store_totp_delete(struct pv_conn *c, const char *user_id);

/* Record activity on a session (the idle timeout counts from it). */
int pv_store_session_touch(struct pv_conn *c, const unsigned char hash[PV_HASH_BYTES], int64_t now);
/* End every session of a user. */
int pv_store_session_delete_user(struct pv_conn *c, const char *user_id);
/* ---- the consent ledger (consents.c) -------------------------------------------- */

#define PV_EVIDENCE_SEALED_MAX 2304 /* 2,048 bytes of evidence text, sealed, JSON-quoted */

/*
 * One grant or withdrawal. The ledger is append-only: there is a put and
 * no update or delete (the SQLite schema refuses both with triggers).
 */
struct pv_consent_row {
    int64_t seq;        /* order of recording */
    char id[PV_ID_MAX]; /* "cns_..." */
    char subject_id[PV_ID_MAX];
    char kind[64];              /* the policy's consent kind */
    int granted;                /* 1: granted, 0: withdrawn */
    int64_t ts;                 /* milliseconds */
    char source[PV_SOURCE_MAX]; /* web, app, staff, phone, written, api, sms, link, gpc */
    char policy_version[40];    /* in force when recorded; for acceptance, the version accepted */
    char actor[PV_ID_MAX];      /* user id, or the channel the person used: "sms", "link" */
    unsigned char evidence[PV_EVIDENCE_SEALED_MAX]; /* sealed; evidence_len 0 if none */
    size_t evidence_len;
};

int pv_store_consent_put(struct pv_conn *c, const struct pv_consent_row *r);
/* A subject's entries oldest first; of one kind, or of all when kind is NULL. */
int pv_store_consent_list(struct pv_conn *c, const char *subject_id, const char *kind,
                          int (*cb)(const struct pv_consent_row *r, void *arg), void *arg);
/* The latest entry of each kind a subject has any of (evidence not read). */
int pv_store_consent_latest(struct pv_conn *c, const char *subject_id,
                            int (*cb)(const struct pv_consent_row *r, void *arg), void *arg);

/* Numbers that texted STOP (and START again), by the blind index of the number. */
int pv_store_sms_optout_put(struct pv_conn *c, const unsigned char digest[PV_HASH_BYTES],
                            int stopped, int64_t now);
/* *stopped: 1 if the number's latest keyword stopped it, else 0 (also when it never texted). */
int pv_store_sms_optout_get(struct pv_conn *c, const unsigned char digest[PV_HASH_BYTES],
                            int *stopped);

/* Confidential communications: the channels a person allows, and addresses of their own. */
#define PV_PREFS_SEALED_MAX 2304

struct pv_contact_prefs {
    char subject_id[PV_ID_MAX];
    unsigned channels; /* bit c: channel c allowed; 0: no choice made (all allowed) */
    unsigned char addresses[PV_PREFS_SEALED_MAX]; /* sealed JSON {channel: address}; may be empty */
    size_t addresses_len;
    int64_t ts;
    char actor[PV_ID_MAX];
};

/* Appended: the latest row is in force, earlier ones stay as history. */
int pv_store_contact_prefs_put(struct pv_conn *c, const struct pv_contact_prefs *p);
int pv_store_contact_prefs_get(struct pv_conn *c, const char *subject_id,
                               struct pv_contact_prefs *out);

/* ---- policy versions (consents.c) ------------------------------------------------ */

/* One version in force on this data directory, from in_force_at on. */
struct pv_policy_era {
    int64_t seq;
    char version[40];
    int64_t in_force_at; /* milliseconds */
};

int pv_store_policy_history_put(struct pv_conn *c, const char *version, int64_t in_force_at);
int pv_store_policy_history_list(struct pv_conn *c,
                                 int (*cb)(const struct pv_policy_era *e, void *arg), void *arg);
/* The text of a version once loaded (kept by pv_store_policy_put). */
int pv_store_policy_text_get(struct pv_conn *c, const char *version, struct pv_buf *out);
/* A subject was notified of a version. */
int pv_store_policy_notice_put(struct pv_conn *c, const char *subject_id, const char *version,
                               const char *channel, const char *actor, int64_t now);
int pv_store_policy_notice_list(struct pv_conn *c, const char *subject_id,
                                int (*cb)(const char *version, int64_t ts, const char *channel,
                                          void *arg),
                                void *arg);
/* ---- retention, closing and erasure (retention.c) ------------------------------ */

/* A snapshot of the data (keys 0) or the data keys (keys 1) into the new file dest;
 * progress (may be NULL) is told the bytes written so far of those expected. */
int pv_store_snapshot(struct pv_store *s, int keys, const char *dest,
                      void (*progress)(int64_t done, int64_t total, void *arg), void *arg);
/* A consistent copy of src_dir's data-key file into the new file dest. */
int pv_store_copy_keys(const char *src_dir, const char *dest);

int pv_store_subject_count(struct pv_conn *c);
/* Subjects with an id after after ("" from the start), at most limit, in id order. */
int pv_store_subject_scan(struct pv_conn *c, const char *after, int limit,
                          int (*cb)(const char *id, const char *status, void *arg), void *arg);
/* Close an active or restricted subject's account (PV_ENOTFOUND for a subject in any other). */
int pv_store_subject_close(struct pv_conn *c, const char *id, int64_t now);

/* When and by whom a subject's account was closed. */
int pv_store_closure_put(struct pv_conn *c, const char *subject_id, int64_t closed_at,
                         const char *closed_by);
/* PV_ENOTFOUND if the account was never closed. */
int pv_store_closure_get(struct pv_conn *c, const char *subject_id, int64_t *closed_at);

/*
 * Rows of a subject: records (usage 0) or usage events (usage 1), of every
 * collection, in creation order; cb sees each in turn.
 */
int pv_store_rows_of_subject(struct pv_conn *c, int usage, const char *subject_id,
                             int (*cb)(const struct pv_record *r, void *arg), void *arg);
/* One row by id (any collection); PV_ENOTFOUND if none. */
int pv_store_row_get(struct pv_conn *c, int usage, const char *subject_id, const char *id,
                     struct pv_record *out);
/* Replace a row's body and categories, keeping its times (retention trims fields). */
int pv_store_row_set_body(struct pv_conn *c, int usage, const struct pv_record *r,
                          const char *categories);
int pv_store_row_delete(struct pv_conn *c, int usage, const char *subject_id, const char *id);
/* How many records and usage events a subject has left. */
int pv_store_subject_rows(struct pv_conn *c, const char *subject_id, int64_t *n);
/* The creation time of the subject's newest record of collection; 0 if none. */
int pv_store_record_last_created(struct pv_conn *c, const char *subject_id, const char *collection,
                                 int64_t *ms);

/* A subject's blind-index entries under index (a category key; NULL: every index). */
int pv_store_index_delete(struct pv_conn *c, const char *subject_id, const char *index);
/* The user accounts linked to a subject: disabled, and signed out. */
int pv_store_user_disable_subject(struct pv_conn *c, const char *subject_id);

/* ---- legal holds (retention.c) ------------------------------------------------------ */

#define PV_HOLD_REASON_MAX 500
#define PV_HOLD_REASON_SEALED_MAX (PV_HOLD_REASON_MAX + PV_SEAL_OVERHEAD)

struct pv_hold {
    char id[PV_ID_MAX];
    char subject_id[PV_ID_MAX];
    unsigned char reason[PV_HOLD_REASON_SEALED_MAX]; /* sealed under the subject's key */
    size_t reason_len;
    char placed_by[PV_ID_MAX]; /* user id */
    int64_t placed_at;
    int64_t until;       /* ms; 0: until released */
    int64_t released_at; /* 0: in force unless until has passed */
    char released_by[PV_ID_MAX];
};

int pv_store_hold_put(struct pv_conn *c, const struct pv_hold *h);
int pv_store_hold_get(struct pv_conn *c, const char *subject_id, const char *id,
                      struct pv_hold *out);
int pv_store_hold_list(struct pv_conn *c, const char *subject_id,
                       int (*cb)(const struct pv_hold *h, void *arg), void *arg);
/* PV_ENOTFOUND if there is no such hold in force. */
int pv_store_hold_release(struct pv_conn *c, const char *subject_id, const char *id, const char *by,
                          int64_t now);
/* 0 if a hold on the subject is in force at now, PV_ENOTFOUND if none. */
int pv_store_hold_active(struct pv_conn *c, const char *subject_id, int64_t now);

/* ---- data keys: destruction and rotation (retention.c) ----------------------------- */

/* Destroy every data key of a subject: what they sealed can never be opened again. */
int pv_store_key_delete(struct pv_conn *c, const char *subject_id);
/* Keys not wrapped by master_version, at most limit (owner, key) in turn. */
int pv_store_key_scan_other(struct pv_conn *c, uint32_t master_version, int limit,
                            int (*cb)(const char *owner, const struct pv_subject_key *k, void *arg),
                            void *arg);
/* Every key, in owner order. */
int pv_store_key_scan(struct pv_conn *c,
                      int (*cb)(const char *owner, const struct pv_subject_key *k, void *arg),
                      void *arg);
/* Replace the wrapping of one key (same data-key version). */
int pv_store_key_rewrap(struct pv_conn *c, const char *owner, const struct pv_subject_key *k);

/* ---- usage data and de-identified rows (usage.c) ----------------------------------- */

/* Usage events are rows of their own table, shaped like records (collection "usage"). */
int pv_store_usage_put(struct pv_conn *c, const struct pv_record *r, const char *categories);
int pv_store_usage_list(struct pv_conn *c, const char *subject_id, const char *after, int limit,
                        int (*cb)(const struct pv_record *r, void *arg), void *arg);

/* A record kept apart from its person once retention ended (body sealed under "sys"). */
struct pv_deid {
    char id[PV_ID_MAX];
    char collection[64];
    char period[8]; /* YYYY-MM of the original record */
    struct pv_buf body;
};

int pv_store_deid_put(struct pv_conn *c, const struct pv_deid *d, const char *categories);
int pv_store_deid_list(struct pv_conn *c, const char *collection, const char *after, int limit,
                       int (*cb)(const struct pv_deid *d, void *arg), void *arg);

/* ---- aggregates (aggregates.c) --------------------------------------------------------- */

/*
 * Per month of creation (YYYY-MM), the count of records (usage events when
 * usage) of collection and of distinct subjects holding them, over subjects
 * whose data may be used (status active), in month order.
 */
int pv_store_aggregate_months(struct pv_conn *c, int usage, const char *collection,
                              int (*cb)(const char *month, int64_t records, int64_t subjects,
                                        void *arg),
                              void *arg);
/* Each record of collection of an active subject, ordered by subject. */
int pv_store_aggregate_each(struct pv_conn *c, int usage, const char *collection,
                            int (*cb)(const struct pv_record *r, void *arg), void *arg);

/* ---- individual rights (rights.c) ------------------------------------------------------- */

#define PV_REQUEST_TEXT_MAX 2000                             /* a reason, an explanation */
#define PV_REQUEST_TEXT_SEALED_MAX (2048 + PV_SEAL_OVERHEAD) /* ...sealed, JSON-quoted */
#define PV_REQUEST_DETAILS_SEALED_MAX (32 * 1024)            /* what was asked, sealed */
#define PV_REQUEST_RESULT_MAX 4096                           /* what completing did */

/*
 * A rights request. What may name or describe people (an agent and their
 * evidence, what was asked, the reasons given) is sealed under the
 * subject's key; the rest is ids, times, states and codes.
 */
struct pv_request {
    char id[PV_ID_MAX];         /* "req_..." */
    char subject_id[PV_ID_MAX]; /* whose right */
    char type[16];              /* access, amend, delete, ... (policy.h: pv_right_name) */
    char requester[16];         /* subject, guardian, agent */
    char filed_by[PV_ID_MAX];   /* the user or service key that filed it */
    char source[PV_SOURCE_MAX]; /* web, app, mail, email, phone, in_person */
    unsigned char agent[PV_REQUEST_TEXT_SEALED_MAX]; /* sealed {name, evidence}; agent_len 0 if
                                                        the requester is no agent */
    size_t agent_len;
    char collection[64];       /* amend: the record's collection; "" for other types */
    char record_id[PV_ID_MAX]; /* amend: the record; "" for other types */
    unsigned char details[PV_REQUEST_DETAILS_SEALED_MAX]; /* sealed JSON of what was asked */
    size_t details_len;
    int64_t received, due; /* milliseconds */
    char state[16];        /* received, verified, completed, denied */
    int64_t verified_at;   /* 0: not verified */
    char verified_by[PV_ID_MAX];
    char verification[32]; /* how the requester's identity (or authority) was checked */
    int64_t extended_at;   /* 0: never extended (a request is extended at most once) */
    char extended_by[PV_ID_MAX];
    unsigned char extension[PV_REQUEST_TEXT_SEALED_MAX]; /* sealed reason of the extension */
    size_t extension_len;
    int64_t closed_at; /* completed or denied; 0 while open */
    char closed_by[PV_ID_MAX];
    char outcome[32]; /* "completed", or the denial's reason code */
    unsigned char explanation[PV_REQUEST_TEXT_SEALED_MAX]; /* sealed: why denied, or the
                                                              answer to a complaint */
    size_t explanation_len;
    char result[PV_REQUEST_RESULT_MAX]; /* JSON, no personal value: what completing did */
};

int pv_store_request_put(struct pv_conn *c, const struct pv_request *r);
int pv_store_request_get(struct pv_conn *c, const char *id, struct pv_request *out);
/*
 * Write r's state and everything a transition sets, only if the stored
 * request is still in state from: PV_ECONFLICT if it is not (a transition
 * made meanwhile), PV_ENOTFOUND if there is no such request.
 */
int pv_store_request_update(struct pv_conn *c, const struct pv_request *r, const char *from);

struct pv_request_filter {
    const char *subject; /* NULL: every subject */
    const char *state;   /* NULL: any; "open": received or verified */
    const char *type;    /* NULL: any */
    int overdue;         /* 0: either; 1: open past due at now; 2: not so */
    int64_t now;
    const char *after; /* the last id of the previous page, or NULL */
    int limit;
};

/* Requests in order of receipt; cb sees each in turn (r is only valid during the call). */
int pv_store_request_list(struct pv_conn *c, const struct pv_request_filter *f,
                          int (*cb)(const struct pv_request *r, void *arg), void *arg);

/* One earlier value of a record's field, kept when an amendment replaced it. */
struct pv_history {
    int64_t seq;
    char subject_id[PV_ID_MAX];
    char record_id[PV_ID_MAX];
    char collection[64];
    char field[64];
    char category[256]; /* the field's category (the row goes when the record loses it) */
    int64_t ts;         /* when it was replaced */
    char actor[PV_ID_MAX];
    char request_id[PV_ID_MAX];
    const unsigned char *sealed; /* the value as it was sealed in the record; borrowed */
    size_t sealed_len;
};

int pv_store_history_put(struct pv_conn *c, const struct pv_history *h);
/* A subject's history, of one record or of all (record NULL), oldest first. */
int pv_store_history_list(struct pv_conn *c, const char *subject_id, const char *record_id,
                          int (*cb)(const struct pv_history *h, void *arg), void *arg);

/* A statement of disagreement with a denied amendment; it goes with every later disclosure of
 * its record. */
struct pv_disagreement {
    char id[PV_ID_MAX]; /* "dis_..." */
    char request_id[PV_ID_MAX];
    char subject_id[PV_ID_MAX];
    char collection[64];
    char record_id[PV_ID_MAX];
    int64_t ts;
    char actor[PV_ID_MAX];
    const unsigned char *statement; /* sealed; borrowed */
    size_t statement_len;
};

/* PV_EEXIST if the request has one already. */
int pv_store_disagreement_put(struct pv_conn *c, const struct pv_disagreement *d);
/* A subject's statements, of one record or of all (record NULL), oldest first. */
int pv_store_disagreement_list(struct pv_conn *c, const char *subject_id, const char *record_id,
                               int (*cb)(const struct pv_disagreement *d, void *arg), void *arg);

/* A release of a subject's data to a recipient. */
struct pv_disclosure {
    char id[PV_ID_MAX]; /* "dsc_..." */
    char subject_id[PV_ID_MAX];
    int64_t ts;
    char recipient[64];
    char recipient_kind[32];
    char purpose[64];
    int tpo;                /* for treatment, payment or health-care operations */
    char collection[64];    /* "" when only consent ledgers went */
    const char *records;    /* comma-separated record ids released */
    const char *categories; /* comma-separated category keys released */
    const char *consents;   /* comma-separated consent kinds whose ledger went */
    const char *statements; /* comma-separated statements of disagreement that went along */
    const unsigned char *description; /* sealed; description_len 0 if none */
    size_t description_len;
    char actor[PV_ID_MAX];
};

int pv_store_disclosure_put(struct pv_conn *c, const struct pv_disclosure *d);
/* A subject's disclosures made at or after since, oldest first (d valid during the call). */
int pv_store_disclosure_list(struct pv_conn *c, const char *subject_id, int64_t since,
                             int (*cb)(const struct pv_disclosure *d, void *arg), void *arg);

/* Delete every record of a subject's collection; *n: how many went. */
int pv_store_records_delete_all(struct pv_conn *c, const char *subject_id, const char *collection,
                                int64_t *n);
/* A deletion request: the person's confidential-communications choices and addresses go. */
int pv_store_contact_prefs_delete(struct pv_conn *c, const char *subject_id);

/* ---- breach and vendor register (transparency.c) ------------------------------------ */

/* Which entries count: NULL / 0 leave a condition out. */
struct pv_touched_filter {
    const char *actor;      /* user or service key id */
    const char *credential; /* session id, or "key:<name>" */
    int64_t from_ms, to_ms; /* the period, inclusive */
};

/* One subject whose data the entries reached, from the permitted entries naming them. */
struct pv_touched {
    const char *subject;
    int64_t first_ms, last_ms, entries;
    const char *actions;     /* comma-separated, distinct */
    const char *categories;  /* comma-separated lists, joined by commas (may repeat keys) */
    const char *credentials; /* comma-separated, distinct */
};

/*
 * Every subject a permitted audit entry matching f names, in id order, one
 * call each; entries of audit searches (action audit.*) reach no personal
 * value and do not count. A denied entry touched nothing.
 */
int pv_store_audit_touched(struct pv_conn *c, const struct pv_touched_filter *f,
                           int (*cb)(const struct pv_touched *t, void *arg), void *arg);
/* Per recipient with any disclosure: how many, to how many subjects, the latest time. */
int pv_store_disclosure_totals(struct pv_conn *c,
                               int (*cb)(const char *recipient, int64_t disclosures,
                                         int64_t subjects, int64_t last_ms, void *arg),
                               void *arg);

/* ---- public keys for end-to-end values (public_keys.c) ----------------------------- */

/* A user's registered X25519 public key (PV_BOX_PUBLIC_BYTES). */
struct pv_public_key {
    char user_id[PV_ID_MAX];
    unsigned char key[PV_BOX_PUBLIC_BYTES];
    int64_t created; /* first registered */
    int64_t updated; /* last replaced */
};

/* Register or replace the key of k->user_id (created kept on a replacement). */
int pv_store_public_key_put(struct pv_conn *c, const struct pv_public_key *k);
/* The key of user_id; PV_ENOTFOUND if none. */
int pv_store_public_key_get(struct pv_conn *c, const char *user_id, struct pv_public_key *out);
/*
 * The keys of the users around a subject, in user id order: the accounts linked to it, its
 * guardians and its assigned users (who among them may read what is for the vault to decide).
 */
int pv_store_public_key_around(struct pv_conn *c, const char *subject_id,
                               int (*cb)(const struct pv_public_key *k, void *arg), void *arg);

#endif
