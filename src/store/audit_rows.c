/* audit_rows.c: audit entries, checkpoints and the signed head. */
#include <string.h>

#include "store/store_int.h"

#define AUDIT_COLS                                                                                 \
    "seq, ts, actor, role, credential, action, subject, collection, record,"                       \
    " categories, purpose, recipient, decision, reason, hash"

static struct pv_sql q_insert = PV_SQL("INSERT INTO audit(" AUDIT_COLS ")"
                                       " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_last = PV_SQL("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
static struct pv_sql q_scan =
    PV_SQL("SELECT " AUDIT_COLS " FROM audit WHERE seq >= ? ORDER BY seq");
static struct pv_sql q_count = PV_SQL("SELECT count(*) FROM audit");
static struct pv_sql q_query =
    PV_SQL("SELECT " AUDIT_COLS " FROM audit WHERE seq > ?1"
           " AND (?2 IS NULL OR subject = ?2) AND (?3 IS NULL OR actor = ?3)"
           " AND (?4 = 0 OR ts >= ?4) AND (?5 = 0 OR ts <= ?5) ORDER BY seq LIMIT ?6");
static struct pv_sql q_cp_put =
    PV_SQL("INSERT INTO audit_checkpoints(seq, ts, hash, sig) VALUES(?, ?, ?, ?)"
           " ON CONFLICT(seq) DO NOTHING");
static struct pv_sql q_cp_scan =
    PV_SQL("SELECT seq, ts, hash, sig FROM audit_checkpoints ORDER BY seq");
static struct pv_sql q_head_put =
    PV_SQL("INSERT INTO audit_head(id, seq, ts, hash, sig) VALUES(1, ?, ?, ?, ?)"
           " ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, ts = excluded.ts,"
           " hash = excluded.hash, sig = excluded.sig");
static struct pv_sql q_head_get = PV_SQL("SELECT seq, ts, hash, sig FROM audit_head WHERE id = 1");

static const char *
nz(const char *s)
{
    return s ? s : "";
}

int
pv_store_audit_insert(struct pv_conn *c, const struct pv_audit_row *r)
{
    struct pv_stmt *st;

    PREP(c, &q_insert, st);
    pv_stmt_int(st, 1, r->seq);
    pv_stmt_int(st, 2, r->ts_ms);
    pv_stmt_text(st, 3, nz(r->actor));
    pv_stmt_text(st, 4, nz(r->role));
    pv_stmt_text(st, 5, nz(r->credential));
    pv_stmt_text(st, 6, nz(r->action));
    pv_stmt_text(st, 7, nz(r->subject));
    pv_stmt_text(st, 8, nz(r->collection));
    pv_stmt_text(st, 9, nz(r->record));
    pv_stmt_text(st, 10, nz(r->categories));
    pv_stmt_text(st, 11, nz(r->purpose));
    pv_stmt_text(st, 12, nz(r->recipient));
    pv_stmt_text(st, 13, nz(r->decision));
    pv_stmt_text(st, 14, nz(r->reason));
    pv_stmt_blob(st, 15, r->hash, sizeof r->hash);
    return pv_stmt_run(st);
}

int
pv_store_audit_last(struct pv_conn *c, int64_t *seq, unsigned char hash[PV_HASH_BYTES])
{
    struct pv_stmt *st;
    const void *b;
    size_t n;
    int rc;

    PREP(c, &q_last, st);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW) {
        b = pv_col_blob(st, 1, &n);
        if (n == PV_HASH_BYTES) {
            *seq = pv_col_int(st, 0);
            memcpy(hash, b, n);
            rc = 0;
        } else {
            rc = PV_ETAMPER;
        }
    } else if (rc == 0) {
        *seq = 0;
        memset(hash, 0, PV_HASH_BYTES);
    }
    pv_stmt_reset(st);
    return rc;
}

static int
row_to_audit(struct pv_stmt *st, struct pv_audit_row *r)
{
    const void *b;
    size_t n;

    r->seq = pv_col_int(st, 0);
    r->ts_ms = pv_col_int(st, 1);
    r->actor = pv_col_text(st, 2);
    r->role = pv_col_text(st, 3);
    r->credential = pv_col_text(st, 4);
    r->action = pv_col_text(st, 5);
    r->subject = pv_col_text(st, 6);
    r->collection = pv_col_text(st, 7);
    r->record = pv_col_text(st, 8);
    r->categories = pv_col_text(st, 9);
    r->purpose = pv_col_text(st, 10);
    r->recipient = pv_col_text(st, 11);
    r->decision = pv_col_text(st, 12);
    r->reason = pv_col_text(st, 13);
    b = pv_col_blob(st, 14, &n);
    memset(r->hash, 0, sizeof r->hash);
    if (b && n == sizeof r->hash)
        memcpy(r->hash, b, n);
    return 0;
}

static int
each_audit(struct pv_stmt *st, int (*cb)(const struct pv_audit_row *r, void *arg), void *arg)
{
    struct pv_audit_row r;
    int rc;

    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        row_to_audit(st, &r);
        if ((rc = cb(&r, arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_audit_scan(struct pv_conn *c, int64_t first,
                    int (*cb)(const struct pv_audit_row *r, void *arg), void *arg)
{
    struct pv_stmt *st;

    PREP(c, &q_scan, st);
    pv_stmt_int(st, 1, first);
    return each_audit(st, cb, arg);
}

int64_t
pv_store_audit_count(struct pv_conn *c)
{
    struct pv_stmt *st;
    int64_t n = -1;

    if (pv_stmt_prepare(c, &q_count, &st) != 0)
        return -1;
    if (pv_stmt_step(st) == PV_ROW)
        n = pv_col_int(st, 0);
    pv_stmt_reset(st);
    return n;
}

int
pv_store_audit_query(struct pv_conn *c, const struct pv_audit_filter *f,
                     int (*cb)(const struct pv_audit_row *r, void *arg), void *arg)
{
    struct pv_stmt *st;

    PREP(c, &q_query, st);
    pv_stmt_int(st, 1, f->after_seq);
    pv_stmt_text(st, 2, f->subject);
    pv_stmt_text(st, 3, f->actor);
    pv_stmt_int(st, 4, f->from_ms);
    pv_stmt_int(st, 5, f->to_ms);
    pv_stmt_int(st, 6, f->limit);
    return each_audit(st, cb, arg);
}

static int
put_checkpoint(struct pv_conn *c, struct pv_sql *q, const struct pv_checkpoint *k)
{
    struct pv_stmt *st;

    PREP(c, q, st);
    pv_stmt_int(st, 1, k->seq);
    pv_stmt_int(st, 2, k->ts_ms);
    pv_stmt_blob(st, 3, k->hash, sizeof k->hash);
    pv_stmt_blob(st, 4, k->sig, sizeof k->sig);
    return pv_stmt_run(st);
}

int
pv_store_checkpoint_put(struct pv_conn *c, const struct pv_checkpoint *k)
{
    return put_checkpoint(c, &q_cp_put, k);
}

int
pv_store_head_put(struct pv_conn *c, const struct pv_checkpoint *k)
{
    return put_checkpoint(c, &q_head_put, k);
}

/* 0 and *k filled, or PV_ETAMPER if the row's hash or signature is malformed. */
static int
row_to_checkpoint(struct pv_stmt *st, struct pv_checkpoint *k)
{
    const void *h, *s;
    size_t hn, sn;

    k->seq = pv_col_int(st, 0);
    k->ts_ms = pv_col_int(st, 1);
    h = pv_col_blob(st, 2, &hn);
    s = pv_col_blob(st, 3, &sn);
    if (hn != sizeof k->hash || sn != sizeof k->sig)
        return PV_ETAMPER;
    memcpy(k->hash, h, hn);
    memcpy(k->sig, s, sn);
    return 0;
}

int
pv_store_checkpoint_scan(struct pv_conn *c, int (*cb)(const struct pv_checkpoint *k, void *arg),
                         void *arg)
{
    struct pv_checkpoint k;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_cp_scan, st);
    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        if ((rc = row_to_checkpoint(st, &k)) != 0 || (rc = cb(&k, arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_head_get(struct pv_conn *c, struct pv_checkpoint *out)
{
    struct pv_checkpoint k;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_head_get, st);
    memset(&k, 0, sizeof k);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW)
        rc = row_to_checkpoint(st, &k);
    else if (rc == 0)
        rc = PV_ENOTFOUND;
    pv_stmt_reset(st);
    if (rc == 0)
        *out = k;
    return rc;
}
