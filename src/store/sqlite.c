/*
 * sqlite.c: the embedded SQLite backend.
 *
 * Files in the data directory:
 *   phivault.db  subjects, records, users, sessions, the audit log ...
 *   keys.db      the wrapped data keys, attached to every connection as
 *                "keys". They live apart so that a backup of phivault.db
 *                carries no keys: destroying a subject's key in keys.db
 *                leaves their data unreadable in every backup too.
 *
 * WAL journal; synchronous=FULL (a commit is on disk when it returns);
 * secure_delete so freed pages are zeroed. Writes use BEGIN IMMEDIATE.
 * Readers are query_only. Every connection keeps its prepared statements in
 * a table indexed by the statement's slot.
 *
 * Row caches (cache.c): readers share the store's caches. A writer learns,
 * when it prepares a statement, which cached tables the statement writes
 * (SQLite's authorizer names every table a statement touches, triggers
 * included); stepping such a statement marks the transaction, and when the
 * transaction ends the kinds it wrote are dropped from the caches. Writes by
 * any other connection, in this process or another, move the database's
 * cache epoch (triggers on the cached tables), which pv_store_cache_sync()
 * reads at the start of each request.
 *
 * Checkpoints: a writer does not copy the WAL back into the database in its
 * own commits (SQLite's automatic checkpoint would, every 1000 pages, in
 * whichever commit crossed the line: a pause for every request of that
 * batch). Its WAL hook instead wakes the store's checkpoint thread, which
 * runs PASSIVE checkpoints on a connection of its own while the writer and
 * the readers go on.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "store/store_int.h"

struct sq_store;

struct sq_conn;

struct sq_stmt {
    struct pv_stmt base;
    sqlite3_stmt *st;
    struct sq_conn *conn;
    unsigned kinds; /* cache kinds whose tables the statement writes */
};

struct sq_conn {
    struct pv_conn base;
    struct sq_store *store;
    sqlite3 *db;
    int writer;
    unsigned preparing; /* cache kinds written by what is being prepared */
    unsigned dirty;     /* cache kinds the open transaction wrote */
    struct sq_stmt stmts[PV_SQL_SLOTS];
    struct sq_conn *next, *prev; /* the store's list of open connections */
};

#define CHECKPOINT_FRAMES 2000 /* WAL frames (8 MiB) that wake the checkpoint thread */

struct sq_store {
    struct pv_store base;
    char db_path[4096];
    char keys_path[4096];
    pthread_key_t tls; /* this thread's reader connection */
    pthread_mutex_t mu;
    struct sq_conn *conns;
    struct pv_cache *cache;
    /* the checkpoint thread; ckpt_mu guards the flags below */
    pthread_t ckpt_thread;
    int ckpt_started;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    int ckpt_wanted, ckpt_stop;
};

#define EPOCH_TRIGGER(t, op, when)                                                                 \
    "CREATE TRIGGER IF NOT EXISTS " t "_epoch_" op " AFTER " when " ON " t                         \
    " BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;"
#define EPOCH_TRIGGERS(t)                                                                          \
    EPOCH_TRIGGER(t, "i", "INSERT") EPOCH_TRIGGER(t, "u", "UPDATE") EPOCH_TRIGGER(t, "d", "DELETE")

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS policies(version TEXT PRIMARY KEY, effective TEXT NOT NULL,"
    " loaded_at INTEGER NOT NULL, content BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS subjects(id TEXT PRIMARY KEY, status TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, policy_version TEXT NOT NULL,"
    " accepted_at INTEGER NOT NULL, accepted_source TEXT NOT NULL, birth_date BLOB)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS blind_index(idx TEXT NOT NULL, digest BLOB NOT NULL,"
    " subject_id TEXT NOT NULL, PRIMARY KEY(idx, digest, subject_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS assignments(subject_id TEXT NOT NULL, user_id TEXT NOT NULL,"
    " created INTEGER NOT NULL, PRIMARY KEY(subject_id, user_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS records(id TEXT PRIMARY KEY, subject_id TEXT NOT NULL,"
    " collection TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    " categories TEXT NOT NULL, body BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS records_by_subject ON records(subject_id, collection, created,"
    " id);"
    "CREATE TABLE IF NOT EXISTS users(id TEXT PRIMARY KEY, name_index BLOB NOT NULL UNIQUE,"
    " name_sealed BLOB NOT NULL, role TEXT NOT NULL, subject_id TEXT, pw_hash TEXT NOT NULL,"
    " created INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS users_by_subject ON users(subject_id);"
    "CREATE TABLE IF NOT EXISTS sessions(token_hash BLOB PRIMARY KEY, id TEXT NOT NULL,"
    " user_id TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " actor TEXT NOT NULL, role TEXT NOT NULL, credential TEXT NOT NULL, action TEXT NOT NULL,"
    " subject TEXT NOT NULL, collection TEXT NOT NULL, record TEXT NOT NULL,"
    " categories TEXT NOT NULL, purpose TEXT NOT NULL, recipient TEXT NOT NULL,"
    " decision TEXT NOT NULL, reason TEXT NOT NULL, hash BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS audit_by_subject ON audit(subject, seq);"
    "CREATE INDEX IF NOT EXISTS audit_by_actor ON audit(actor, seq);"
    "CREATE TABLE IF NOT EXISTS audit_checkpoints(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " hash BLOB NOT NULL, sig BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_head(id INTEGER PRIMARY KEY CHECK (id = 1),"
    " seq INTEGER NOT NULL, ts INTEGER NOT NULL, hash BLOB NOT NULL, sig BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS keys.subject_keys(subject_id TEXT NOT NULL,"
    " version INTEGER NOT NULL, master_version INTEGER NOT NULL, wrapped BLOB NOT NULL,"
    " created INTEGER NOT NULL, PRIMARY KEY(subject_id, version)) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES('schema', '1') ON CONFLICT(key) DO NOTHING;"
    /* Who acts for whom: guardians, visibility, break-glass; credentials: keys, TOTP, activity. */
    "CREATE TABLE IF NOT EXISTS guardians(subject_id TEXT NOT NULL, user_id TEXT NOT NULL,"
    " relationship TEXT NOT NULL, verification TEXT NOT NULL, created INTEGER NOT NULL,"
    " PRIMARY KEY(subject_id, user_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS profile_visibility(subject_id TEXT PRIMARY KEY,"
    " since INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS break_glass(id TEXT PRIMARY KEY, subject_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL, opened INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " reason BLOB NOT NULL, state TEXT NOT NULL, finding TEXT NOT NULL, note BLOB,"
    " closed_by TEXT NOT NULL, closed_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS break_glass_by_grant ON break_glass(subject_id, user_id, expires);"
    "CREATE INDEX IF NOT EXISTS break_glass_by_state ON break_glass(state, opened);"
    "CREATE TABLE IF NOT EXISTS api_keys(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " key_hash BLOB NOT NULL UNIQUE, roles TEXT NOT NULL, purposes TEXT NOT NULL,"
    " created INTEGER NOT NULL, created_by TEXT NOT NULL, revoked INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS user_totp(user_id TEXT PRIMARY KEY, sealed BLOB NOT NULL,"
    " confirmed INTEGER NOT NULL, last_step INTEGER NOT NULL, created INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS session_seen(token_hash BLOB PRIMARY KEY,"
    " last_seen INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(user_id);"
    /* The consent ledger, append-only: the triggers refuse any change to a past entry. */
    "CREATE TABLE IF NOT EXISTS consents(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    " subject_id TEXT NOT NULL, kind TEXT NOT NULL, granted INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " source TEXT NOT NULL, policy_version TEXT NOT NULL, actor TEXT NOT NULL, evidence BLOB);"
    "CREATE INDEX IF NOT EXISTS consents_by_subject ON consents(subject_id, kind, seq);"
    "CREATE TRIGGER IF NOT EXISTS consents_no_update BEFORE UPDATE ON consents"
    " BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS consents_no_delete BEFORE DELETE ON consents"
    " BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;"
    "CREATE TABLE IF NOT EXISTS sms_optouts(seq INTEGER PRIMARY KEY, digest BLOB NOT NULL,"
    " stopped INTEGER NOT NULL, ts INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS sms_optouts_by_digest ON sms_optouts(digest, seq);"
    "CREATE TABLE IF NOT EXISTS contact_prefs(seq INTEGER PRIMARY KEY, subject_id TEXT NOT NULL,"
    " channels INTEGER NOT NULL, addresses BLOB, ts INTEGER NOT NULL, actor TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS contact_prefs_by_subject ON contact_prefs(subject_id, seq);"
    "CREATE TABLE IF NOT EXISTS policy_history(seq INTEGER PRIMARY KEY, version TEXT NOT NULL,"
    " in_force_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS policy_notices(seq INTEGER PRIMARY KEY, subject_id TEXT NOT NULL,"
    " version TEXT NOT NULL, ts INTEGER NOT NULL, channel TEXT NOT NULL, actor TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS policy_notices_by_subject ON policy_notices(subject_id, seq);"
    /* Retention: closed accounts, legal holds, usage data apart from health data, and what
       outlives a person in de-identified form. */
    "CREATE TABLE IF NOT EXISTS closures(subject_id TEXT PRIMARY KEY, closed_at INTEGER NOT NULL,"
    " closed_by TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS holds(id TEXT PRIMARY KEY, subject_id TEXT NOT NULL,"
    " reason BLOB NOT NULL, placed_by TEXT NOT NULL, placed_at INTEGER NOT NULL,"
    " until INTEGER NOT NULL, released_at INTEGER NOT NULL, released_by TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS holds_by_subject ON holds(subject_id, placed_at);"
    "CREATE TABLE IF NOT EXISTS usage_events(id TEXT PRIMARY KEY, subject_id TEXT NOT NULL,"
    " collection TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    " categories TEXT NOT NULL, body BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS usage_by_subject ON usage_events(subject_id, created, id);"
    "CREATE TABLE IF NOT EXISTS deidentified(id TEXT PRIMARY KEY, collection TEXT NOT NULL,"
    " period TEXT NOT NULL, categories TEXT NOT NULL, body BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS deidentified_by_collection ON deidentified(collection, id);"
    /* Individual rights: requests and their deadlines, the earlier values amendments replaced,
       statements of disagreement, and every disclosure. History and statements go with their
       record (and a field's history with the field's category), so retention reaches them. */
    "CREATE TABLE IF NOT EXISTS rights_requests(id TEXT PRIMARY KEY, subject_id TEXT NOT NULL,"
    " type TEXT NOT NULL, requester TEXT NOT NULL, filed_by TEXT NOT NULL, source TEXT NOT NULL,"
    " agent BLOB, collection TEXT NOT NULL, record_id TEXT NOT NULL, details BLOB,"
    " received INTEGER NOT NULL, due INTEGER NOT NULL, state TEXT NOT NULL,"
    " verified_at INTEGER NOT NULL, verified_by TEXT NOT NULL, verification TEXT NOT NULL,"
    " extended_at INTEGER NOT NULL, extended_by TEXT NOT NULL, extension BLOB,"
    " closed_at INTEGER NOT NULL, closed_by TEXT NOT NULL, outcome TEXT NOT NULL,"
    " explanation BLOB, result TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS rights_requests_by_subject ON rights_requests(subject_id,"
    " received, id);"
    "CREATE INDEX IF NOT EXISTS rights_requests_by_received ON rights_requests(received, id);"
    "CREATE TABLE IF NOT EXISTS record_history(seq INTEGER PRIMARY KEY,"
    " subject_id TEXT NOT NULL, record_id TEXT NOT NULL, collection TEXT NOT NULL,"
    " field TEXT NOT NULL, category TEXT NOT NULL, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
    " request_id TEXT NOT NULL, sealed BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS record_history_by_record ON record_history(record_id, seq);"
    "CREATE INDEX IF NOT EXISTS record_history_by_subject ON record_history(subject_id, seq);"
    "CREATE TABLE IF NOT EXISTS disagreements(id TEXT PRIMARY KEY,"
    " request_id TEXT NOT NULL UNIQUE, subject_id TEXT NOT NULL, collection TEXT NOT NULL,"
    " record_id TEXT NOT NULL, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
    " statement BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS disagreements_by_record ON disagreements(record_id, ts);"
    "CREATE INDEX IF NOT EXISTS disagreements_by_subject ON disagreements(subject_id, ts);"
    "CREATE TRIGGER IF NOT EXISTS record_history_gone AFTER DELETE ON records BEGIN"
    " DELETE FROM record_history WHERE record_id = OLD.id;"
    " DELETE FROM disagreements WHERE record_id = OLD.id; END;"
    "CREATE TRIGGER IF NOT EXISTS record_history_trimmed AFTER UPDATE OF categories ON records"
    " BEGIN DELETE FROM record_history WHERE record_id = NEW.id AND"
    " instr(',' || NEW.categories || ',', ',' || category || ',') = 0; END;"
    "CREATE TABLE IF NOT EXISTS disclosures(id TEXT PRIMARY KEY, subject_id TEXT NOT NULL,"
    " ts INTEGER NOT NULL, recipient TEXT NOT NULL, recipient_kind TEXT NOT NULL,"
    " purpose TEXT NOT NULL, tpo INTEGER NOT NULL, collection TEXT NOT NULL,"
    " records TEXT NOT NULL, categories TEXT NOT NULL, consents TEXT NOT NULL,"
    " statements TEXT NOT NULL, description BLOB, actor TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS disclosures_by_subject ON disclosures(subject_id, ts, id);"
    /* The row caches' epoch (store/cache.c): every change to a cached table, by any writer in
       any process, moves it in the same transaction. */
    "CREATE TABLE IF NOT EXISTS cache_epoch(id INTEGER PRIMARY KEY CHECK (id = 1),"
    " n INTEGER NOT NULL);"
    "INSERT INTO cache_epoch(id, n) VALUES(1, 0) ON CONFLICT(id) DO NOTHING;" EPOCH_TRIGGERS(
        "sessions") EPOCH_TRIGGERS("session_seen") EPOCH_TRIGGERS("users")
        EPOCH_TRIGGERS("assignments") EPOCH_TRIGGERS("subjects")
    /* End-to-end messages: each user's X25519 public key, registered by the user. A disabled
       or removed account (an erased person's) keeps no key anyone could seal for. */
    "CREATE TABLE IF NOT EXISTS public_keys(user_id TEXT PRIMARY KEY, public_key BLOB NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TRIGGER IF NOT EXISTS public_keys_user_disabled AFTER UPDATE OF disabled ON users"
    " WHEN NEW.disabled != 0 BEGIN DELETE FROM public_keys WHERE user_id = NEW.id; END;"
    "CREATE TRIGGER IF NOT EXISTS public_keys_user_removed AFTER DELETE ON users"
    " BEGIN DELETE FROM public_keys WHERE user_id = OLD.id; END;";

static const struct pv_store_ops *ops(void);
static void txn_ended(struct sq_conn *q);

/* Map an SQLite result code to pv_err, logging the code (never data). */
static int
map_rc(sqlite3 *db, int rc, const char *what)
{
    char code[16];

    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
        return 0;
    case SQLITE_ROW:
        return PV_ROW;
    case SQLITE_CONSTRAINT:
        return PV_EEXIST;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return PV_EBUSY;
    case SQLITE_NOMEM:
        return PV_ENOMEM;
    default:
        (void)snprintf(code, sizeof code, "%d", sqlite3_extended_errcode(db));
        pv_log(PV_LOG_ERROR, "store.sqlite", "op", what, "code", code, "error", sqlite3_errstr(rc),
               (char *)NULL);
        return PV_ESTORE;
    }
}

static int
exec(struct pv_conn *c, const char *sql)
{
    struct sq_conn *q = (struct sq_conn *)c;
    int rc;

    q->preparing = 0;
    rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    q->dirty |= q->preparing;
    if (sqlite3_get_autocommit(q->db))
        txn_ended(q); /* a statement outside BEGIN commits on its own */
    return map_rc(q->db, rc, "exec");
}

/* Writers: note which cached tables the statement being prepared writes. */
static int
authorizer(void *arg, int action, const char *a1, const char *a2, const char *db,
           const char *trigger)
{
    struct sq_conn *q = arg;

    if (action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE)
        q->preparing |= pv_cache_kinds_of_table(a1);
    return SQLITE_OK;
}

/* A transaction on a writer ended: what it wrote is no longer what readers cached. */
static void
txn_ended(struct sq_conn *q)
{
    if (q->dirty && q->store->cache)
        pv_cache_bump(q->store->cache, q->dirty);
    q->dirty = 0;
}

static void
conn_close(struct pv_conn *c)
{
    struct sq_conn *q = (struct sq_conn *)c;
    struct sq_store *s;

    if (q == NULL)
        return;
    s = q->store;
    pthread_mutex_lock(&s->mu);
    if (q->prev)
        q->prev->next = q->next;
    else
        s->conns = q->next;
    if (q->next)
        q->next->prev = q->prev;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < PV_SQL_SLOTS; i++)
        sqlite3_finalize(q->stmts[i].st);
    sqlite3_close_v2(q->db);
    free(q);
}

/* A writer's commit left frames in the WAL: past the mark, wake the checkpoint thread. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct sq_store *s = arg;

    if (!s->ckpt_started) {
        /* No thread (yet, or it could not start): checkpoint here, as SQLite itself would. */
        if (frames >= 1000)
            (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (frames >= CHECKPOINT_FRAMES) {
        pthread_mutex_lock(&s->ckpt_mu);
        s->ckpt_wanted = 1;
        pthread_cond_signal(&s->ckpt_cv);
        pthread_mutex_unlock(&s->ckpt_mu);
    }
    return SQLITE_OK;
}

static int
conn_setup(struct sq_conn *q)
{
    sqlite3_stmt *st = NULL;
    int rc;

    sqlite3_busy_timeout(q->db, 10000);
    rc = sqlite3_prepare_v2(q->db, "ATTACH DATABASE ?1 AS keys", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, q->store->keys_path, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return map_rc(q->db, rc, "attach");
    if (q->writer) {
        sqlite3_set_authorizer(q->db, authorizer, q);
        /* Replaces SQLite's automatic checkpoint (see the top of this file). */
        sqlite3_wal_hook(q->db, wal_hook, q->store);
        rc = exec(&q->base, "PRAGMA synchronous=FULL; PRAGMA keys.synchronous=FULL;"
                            "PRAGMA secure_delete=ON; PRAGMA keys.secure_delete=ON;"
                            "PRAGMA foreign_keys=OFF;");
        return rc;
    }
    q->base.cache = q->store->cache;
    return exec(&q->base, "PRAGMA query_only=1;");
}

static int
conn_open(struct pv_store *store, int writer, struct pv_conn **out)
{
    struct sq_store *s = (struct sq_store *)store;
    struct sq_conn *q = calloc(1, sizeof *q);
    int rc;

    if (q == NULL)
        return PV_ENOMEM;
    q->base.ops = ops();
    q->store = s;
    q->writer = writer;
    for (int i = 0; i < PV_SQL_SLOTS; i++) {
        q->stmts[i].base.ops = ops();
        q->stmts[i].conn = q;
    }
    rc = sqlite3_open_v2(s->db_path, &q->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = map_rc(q->db, rc, "open");
        sqlite3_close_v2(q->db);
        free(q);
        return rc ? rc : PV_ESTORE;
    }
    pthread_mutex_lock(&s->mu);
    q->next = s->conns;
    if (s->conns)
        s->conns->prev = q;
    s->conns = q;
    pthread_mutex_unlock(&s->mu);
    if ((rc = conn_setup(q)) != 0) {
        conn_close(&q->base);
        return rc;
    }
    *out = &q->base;
    return 0;
}

static void
tls_destroy(void *p)
{
    conn_close(p);
}

/* The checkpoint thread: a PASSIVE checkpoint of every database each time it is woken. */
static void *
checkpointer(void *arg)
{
    struct sq_store *s = arg;
    struct pv_conn *c = NULL;
    int rc;

    if (conn_open(&s->base, 1, &c) != 0)
        pv_log(PV_LOG_ERROR, "store.checkpointer", "error", "cannot open a connection",
               (char *)NULL);
    pthread_mutex_lock(&s->ckpt_mu);
    for (;;) {
        while (!s->ckpt_wanted && !s->ckpt_stop)
            pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
        if (s->ckpt_stop)
            break;
        s->ckpt_wanted = 0;
        pthread_mutex_unlock(&s->ckpt_mu);
        if (c != NULL) {
            rc = sqlite3_wal_checkpoint_v2(((struct sq_conn *)c)->db, NULL,
                                           SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
            if (rc != SQLITE_OK && rc != SQLITE_BUSY)
                map_rc(((struct sq_conn *)c)->db, rc, "checkpoint");
        }
        pthread_mutex_lock(&s->ckpt_mu);
    }
    pthread_mutex_unlock(&s->ckpt_mu);
    conn_close(c);
    return NULL;
}

static void
store_close(struct pv_store *store)
{
    struct sq_store *s = (struct sq_store *)store;

    if (s == NULL)
        return;
    if (s->ckpt_started) {
        pthread_mutex_lock(&s->ckpt_mu);
        s->ckpt_stop = 1;
        pthread_cond_signal(&s->ckpt_cv);
        pthread_mutex_unlock(&s->ckpt_mu);
        pthread_join(s->ckpt_thread, NULL);
    }
    pthread_mutex_destroy(&s->ckpt_mu);
    pthread_cond_destroy(&s->ckpt_cv);
    pthread_key_delete(s->tls);
    while (s->conns)
        conn_close(&s->conns->base);
    pthread_mutex_destroy(&s->mu);
    pv_cache_free(s->cache);
    free(s);
}

static int
store_open(const char *dir, struct pv_store **out)
{
    struct sq_store *s = calloc(1, sizeof *s);
    struct pv_conn *w = NULL;
    int rc;

    if (s == NULL)
        return PV_ENOMEM;
    s->base.ops = ops();
    if ((size_t)snprintf(s->db_path, sizeof s->db_path, "%s/phivault.db", dir) >=
            sizeof s->db_path ||
        (size_t)snprintf(s->keys_path, sizeof s->keys_path, "%s/keys.db", dir) >=
            sizeof s->keys_path) {
        free(s);
        return PV_EINVAL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->ckpt_mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    if (pv_cache_new(&s->cache) != 0 || pthread_key_create(&s->tls, tls_destroy) != 0) {
        pv_cache_free(s->cache);
        pthread_mutex_destroy(&s->mu);
        pthread_mutex_destroy(&s->ckpt_mu);
        pthread_cond_destroy(&s->ckpt_cv);
        free(s);
        return PV_ENOMEM;
    }
    rc = conn_open(&s->base, 1, &w);
    if (rc == 0)
        rc = exec(w, "PRAGMA journal_mode=WAL; PRAGMA keys.journal_mode=WAL;");
    if (rc == 0)
        rc = exec(w, schema);
    conn_close(w);
    if (rc == 0 && pthread_create(&s->ckpt_thread, NULL, checkpointer, s) == 0)
        s->ckpt_started = 1;
    if (rc != 0) {
        store_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

int
pv_store_reader(struct pv_store *store, struct pv_conn **out)
{
    struct sq_store *s = (struct sq_store *)store;
    struct pv_conn *c = pthread_getspecific(s->tls);
    int rc;

    if (c == NULL) {
        if ((rc = conn_open(store, 0, &c)) != 0)
            return rc;
        if (pthread_setspecific(s->tls, c) != 0) {
            conn_close(c);
            return PV_ENOMEM;
        }
    }
    *out = c;
    return 0;
}

int
pv_store_reader_busy(struct pv_store *store)
{
    struct sq_store *s = (struct sq_store *)store;
    struct sq_conn *q = pthread_getspecific(s->tls);
    sqlite3_stmt *st = NULL;

    if (q == NULL)
        return 0;
    while ((st = sqlite3_next_stmt(q->db, st)) != NULL)
        if (sqlite3_stmt_busy(st))
            return 1;
    return 0;
}

static int
begin(struct pv_conn *c)
{
    return exec(c, "BEGIN IMMEDIATE");
}

static int
commit(struct pv_conn *c)
{
    struct sq_conn *q = (struct sq_conn *)c;
    int rc = exec(c, "COMMIT");

    /* Dropped whether or not the commit succeeded: a stale entry must never survive it. */
    txn_ended(q);
    return rc;
}

static int
rollback(struct pv_conn *c)
{
    struct sq_conn *q = (struct sq_conn *)c;
    int rc = 0;

    if (!sqlite3_get_autocommit(q->db))
        rc = exec(c, "ROLLBACK");
    /* else SQLite already rolled back (e.g. after an I/O error) */
    txn_ended(q);
    return rc;
}

static int
prepare(struct pv_conn *c, struct pv_sql *sql, struct pv_stmt **out)
{
    struct sq_conn *q = (struct sq_conn *)c;
    int slot = pv_sql_slot(sql), rc;

    if (slot < 0)
        return PV_ENOMEM;
    if (q->stmts[slot].st == NULL) {
        q->preparing = 0;
        rc = sqlite3_prepare_v3(q->db, sql->text, -1, SQLITE_PREPARE_PERSISTENT, &q->stmts[slot].st,
                                NULL);
        if (rc != SQLITE_OK)
            return map_rc(q->db, rc, "prepare");
        q->stmts[slot].kinds = q->preparing;
    }
    *out = &q->stmts[slot].base;
    return 0;
}

#define ST(s) (((struct sq_stmt *)(s))->st)

static int
bind_int(struct pv_stmt *st, int i, int64_t v)
{
    return sqlite3_bind_int64(ST(st), i, v) == SQLITE_OK ? 0 : PV_ESTORE;
}

static int
bind_text(struct pv_stmt *st, int i, const char *v)
{
    int rc =
        v ? sqlite3_bind_text(ST(st), i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(ST(st), i);

    return rc == SQLITE_OK ? 0 : PV_ESTORE;
}

static int
bind_blob(struct pv_stmt *st, int i, const void *p, size_t n)
{
    return sqlite3_bind_blob64(ST(st), i, n ? p : "", n, SQLITE_TRANSIENT) == SQLITE_OK ? 0
                                                                                        : PV_ESTORE;
}

static int
step(struct pv_stmt *st)
{
    struct sq_stmt *s = (struct sq_stmt *)st;
    int rc;

    s->conn->dirty |= s->kinds;
    rc = sqlite3_step(s->st);
    if (s->kinds && sqlite3_get_autocommit(s->conn->db))
        txn_ended(s->conn); /* a statement outside BEGIN commits on its own */

    return map_rc(sqlite3_db_handle(ST(st)), rc, "step");
}

static int64_t
col_int(struct pv_stmt *st, int i)
{
    return sqlite3_column_int64(ST(st), i);
}

static const char *
col_text(struct pv_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(ST(st), i);

    return t ? (const char *)t : "";
}

static const void *
col_blob(struct pv_stmt *st, int i, size_t *n)
{
    const void *p = sqlite3_column_blob(ST(st), i);

    *n = (size_t)sqlite3_column_bytes(ST(st), i);
    return p;
}

static int
col_is_null(struct pv_stmt *st, int i)
{
    return sqlite3_column_type(ST(st), i) == SQLITE_NULL;
}

static void
reset(struct pv_stmt *st)
{
    struct sq_stmt *s = (struct sq_stmt *)st;

    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    if (s->kinds && sqlite3_get_autocommit(s->conn->db))
        txn_ended(s->conn); /* a statement outside BEGIN committed when it finished */
}

static int64_t
changes(struct pv_conn *c)
{
    return sqlite3_changes64(((struct sq_conn *)c)->db);
}

static int
checkpoint(struct pv_conn *c)
{
    struct sq_conn *q = (struct sq_conn *)c;
    int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_wal_checkpoint_v2(q->db, "keys", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return map_rc(q->db, rc, "checkpoint");
}

/*
 * VACUUM INTO writes a consistent snapshot in one read transaction, so
 * writers carry on; the copy holds live rows only, never freed pages.
 */
static int
vacuum_into(sqlite3 *db, const char *which, const char *dest)
{
    sqlite3_stmt *st = NULL;
    char sql[64];
    int rc;

    (void)snprintf(sql, sizeof sql, "VACUUM %s INTO ?1", which);
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, dest, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return map_rc(db, rc, "snapshot");
}

/*
 * How far a snapshot is. VACUUM INTO gives no count, but it copies the live
 * pages of the source (its pages less its free list) into a file that grows
 * as it goes, so the file's size against that total is the fraction done;
 * SQLite's progress handler looks every few thousand steps, at most ten
 * times a second.
 */
struct snap_progress {
    const char *dest;
    int64_t total, last_ms;
    void (*progress)(int64_t done, int64_t total, void *arg);
    void *arg;
};

static int
snap_tick(void *p)
{
    struct snap_progress *sp = p;
    int64_t now = pv_mono_ms();
    struct stat st;

    if (now - sp->last_ms >= 100 && stat(sp->dest, &st) == 0) {
        sp->last_ms = now;
        sp->progress(st.st_size < sp->total ? (int64_t)st.st_size : sp->total, sp->total, sp->arg);
    }
    return 0; /* carry on */
}

static int64_t
pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t n = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int
snapshot(struct pv_store *store, int keys, const char *dest,
         void (*progress)(int64_t done, int64_t total, void *arg), void *arg)
{
    struct snap_progress sp = {dest, 0, 0, progress, arg};
    struct pv_conn *c = NULL;
    sqlite3 *db;
    int rc;

    /* A connection of its own: query_only (the readers' setting) refuses VACUUM INTO. */
    if ((rc = conn_open(store, 1, &c)) != 0)
        return rc;
    db = ((struct sq_conn *)c)->db;
    if (progress) {
        sp.total =
            (pragma_int(db, keys ? "PRAGMA keys.page_count" : "PRAGMA main.page_count") -
             pragma_int(db, keys ? "PRAGMA keys.freelist_count" : "PRAGMA main.freelist_count")) *
            pragma_int(db, keys ? "PRAGMA keys.page_size" : "PRAGMA main.page_size");
        sqlite3_progress_handler(db, 4096, snap_tick, &sp);
    }
    rc = vacuum_into(db, keys ? "keys" : "main", dest);
    if (progress) {
        sqlite3_progress_handler(db, 0, NULL, NULL);
        if (rc == 0)
            progress(sp.total, sp.total, arg);
    }
    conn_close(c);
    return rc;
}

static int
copy_keys(const char *src_dir, const char *dest)
{
    char path[4200];
    sqlite3 *db = NULL;
    int rc;

    if ((size_t)snprintf(path, sizeof path, "%s/keys.db", src_dir) >= sizeof path)
        return PV_EINVAL;
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        rc = vacuum_into(db, "main", dest);
    } else {
        rc = map_rc(db, rc, "open");
        rc = rc ? rc : PV_EIO;
    }
    sqlite3_close_v2(db);
    return rc;
}

const struct pv_store_ops pv_store_sqlite = {
    .name = "sqlite",
    .open = store_open,
    .close = store_close,
    .conn_open = conn_open,
    .conn_close = conn_close,
    .exec = exec,
    .begin = begin,
    .commit = commit,
    .rollback = rollback,
    .prepare = prepare,
    .bind_int = bind_int,
    .bind_text = bind_text,
    .bind_blob = bind_blob,
    .step = step,
    .col_int = col_int,
    .col_text = col_text,
    .col_blob = col_blob,
    .col_is_null = col_is_null,
    .reset = reset,
    .changes = changes,
    .checkpoint = checkpoint,
    .snapshot = snapshot,
    .copy_keys = copy_keys,
};

static const struct pv_store_ops *
ops(void)
{
    return &pv_store_sqlite;
}
