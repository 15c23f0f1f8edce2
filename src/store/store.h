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
     * (keys 1), taken while others keep writing, as one new file at dest.
     */
    int (*snapshot)(struct pv_store *s, int keys, const char *dest);
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

#define PV_RECORD_BODY_MAX (1024 * 1024)

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

/* ---- retention, closing and erasure (retention.c) ------------------------------ */

/* A snapshot of the data (keys 0) or the data keys (keys 1) into the new file dest. */
int pv_store_snapshot(struct pv_store *s, int keys, const char *dest);
/* A consistent copy of src_dir's data-key file into the new file dest. */
int pv_store_copy_keys(const char *src_dir, const char *dest);

int pv_store_subject_count(struct pv_conn *c);
/* Subjects with an id after after ("" from the start), at most limit, in id order. */
int pv_store_subject_scan(struct pv_conn *c, const char *after, int limit,
                          int (*cb)(const char *id, const char *status, void *arg), void *arg);
/* Close an active or restricted subject's account (PV_ENOTFOUND for a subject in any other). */
int pv_store_subject_close(struct pv_conn *c, const char *id, int64_t now);
/*
 * Erase a subject: their records, usage events, legal holds, index entries,
 * assignments, their own user accounts and sessions, and their data keys (so
 * every copy of their sealed data becomes unreadable); the subject row stays
 * with status "erased" and no birth date.
 */
int pv_store_subject_erase(struct pv_conn *c, const char *id, int64_t now);

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

#endif
