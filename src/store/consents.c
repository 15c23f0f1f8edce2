/*
 * consents.c: the consent ledger, numbers that texted STOP, confidential-
 * communications preferences, and the history of policy versions with the
 * notices people were sent. Every table here is appended to only: the row
 * in force is the latest one, and the earlier ones are the history a
 * person (or a regulator) may ask for.
 */
#include <string.h>

#include "store/store_int.h"

static struct pv_sql q_consent_put =
    PV_SQL("INSERT INTO consents(id, subject_id, kind, granted, ts, source, policy_version, actor,"
           " evidence) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
static struct pv_sql q_consent_list =
    PV_SQL("SELECT seq, id, subject_id, kind, granted, ts, source, policy_version, actor, evidence"
           " FROM consents WHERE subject_id = ? ORDER BY seq");
static struct pv_sql q_consent_list_kind =
    PV_SQL("SELECT seq, id, subject_id, kind, granted, ts, source, policy_version, actor, evidence"
           " FROM consents WHERE subject_id = ? AND kind = ? ORDER BY seq");
static struct pv_sql q_consent_latest =
    PV_SQL("SELECT seq, id, subject_id, kind, granted, ts, source, policy_version, actor, NULL"
           " FROM consents c WHERE subject_id = ? AND seq = (SELECT MAX(seq) FROM consents d"
           " WHERE d.subject_id = c.subject_id AND d.kind = c.kind) ORDER BY seq");
static struct pv_sql q_optout_put =
    PV_SQL("INSERT INTO sms_optouts(digest, stopped, ts) VALUES(?, ?, ?)");
static struct pv_sql q_optout_get =
    PV_SQL("SELECT stopped FROM sms_optouts WHERE digest = ? ORDER BY seq DESC LIMIT 1");
static struct pv_sql q_prefs_put =
    PV_SQL("INSERT INTO contact_prefs(subject_id, channels, addresses, ts, actor)"
           " VALUES(?, ?, ?, ?, ?)");
static struct pv_sql q_prefs_get =
    PV_SQL("SELECT channels, addresses, ts, actor FROM contact_prefs WHERE subject_id = ?"
           " ORDER BY seq DESC LIMIT 1");
static struct pv_sql q_history_put =
    PV_SQL("INSERT INTO policy_history(version, in_force_at) VALUES(?, ?)");
static struct pv_sql q_history_list =
    PV_SQL("SELECT seq, version, in_force_at FROM policy_history ORDER BY seq");
static struct pv_sql q_policy_text = PV_SQL("SELECT content FROM policies WHERE version = ?");
static struct pv_sql q_notice_put =
    PV_SQL("INSERT INTO policy_notices(subject_id, version, ts, channel, actor)"
           " VALUES(?, ?, ?, ?, ?)");
static struct pv_sql q_notice_list =
    PV_SQL("SELECT version, ts, channel FROM policy_notices WHERE subject_id = ? ORDER BY seq");

int
pv_store_consent_put(struct pv_conn *c, const struct pv_consent_row *r)
{
    struct pv_stmt *st;

    PREP(c, &q_consent_put, st);
    pv_stmt_text(st, 1, r->id);
    pv_stmt_text(st, 2, r->subject_id);
    pv_stmt_text(st, 3, r->kind);
    pv_stmt_int(st, 4, r->granted ? 1 : 0);
    pv_stmt_int(st, 5, r->ts);
    pv_stmt_text(st, 6, r->source);
    pv_stmt_text(st, 7, r->policy_version);
    pv_stmt_text(st, 8, r->actor);
    if (r->evidence_len)
        pv_stmt_blob(st, 9, r->evidence, r->evidence_len);
    else
        pv_stmt_text(st, 9, NULL);
    return pv_stmt_run(st);
}

/* Fill r from the current row of a consent query; 0 or PV_ESTORE. */
static int
consent_row(struct pv_stmt *st, struct pv_consent_row *r)
{
    const void *b;
    size_t n;
    int rc;

    memset(r, 0, sizeof *r);
    r->seq = pv_col_int(st, 0);
    rc = pv_col_copy(st, 1, r->id, sizeof r->id);
    if (rc == 0)
        rc = pv_col_copy(st, 2, r->subject_id, sizeof r->subject_id);
    if (rc == 0)
        rc = pv_col_copy(st, 3, r->kind, sizeof r->kind);
    r->granted = pv_col_int(st, 4) != 0;
    r->ts = pv_col_int(st, 5);
    if (rc == 0)
        rc = pv_col_copy(st, 6, r->source, sizeof r->source);
    if (rc == 0)
        rc = pv_col_copy(st, 7, r->policy_version, sizeof r->policy_version);
    if (rc == 0)
        rc = pv_col_copy(st, 8, r->actor, sizeof r->actor);
    if (rc == 0 && !pv_col_is_null(st, 9)) {
        b = pv_col_blob(st, 9, &n);
        if (n > sizeof r->evidence)
            return PV_ESTORE;
        memcpy(r->evidence, b, n);
        r->evidence_len = n;
    }
    return rc;
}

static int
consent_each(struct pv_stmt *st, int (*cb)(const struct pv_consent_row *r, void *arg), void *arg)
{
    struct pv_consent_row r;
    int rc;

    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        if ((rc = consent_row(st, &r)) != 0 || (rc = cb(&r, arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_consent_list(struct pv_conn *c, const char *subject_id, const char *kind,
                      int (*cb)(const struct pv_consent_row *r, void *arg), void *arg)
{
    struct pv_stmt *st;

    if (kind) {
        PREP(c, &q_consent_list_kind, st);
        pv_stmt_text(st, 2, kind);
    } else {
        PREP(c, &q_consent_list, st);
    }
    pv_stmt_text(st, 1, subject_id);
    return consent_each(st, cb, arg);
}

int
pv_store_consent_latest(struct pv_conn *c, const char *subject_id,
                        int (*cb)(const struct pv_consent_row *r, void *arg), void *arg)
{
    struct pv_stmt *st;

    PREP(c, &q_consent_latest, st);
    pv_stmt_text(st, 1, subject_id);
    return consent_each(st, cb, arg);
}

int
pv_store_sms_optout_put(struct pv_conn *c, const unsigned char digest[PV_HASH_BYTES], int stopped,
                        int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_optout_put, st);
    pv_stmt_blob(st, 1, digest, PV_HASH_BYTES);
    pv_stmt_int(st, 2, stopped ? 1 : 0);
    pv_stmt_int(st, 3, now);
    return pv_stmt_run(st);
}

int
pv_store_sms_optout_get(struct pv_conn *c, const unsigned char digest[PV_HASH_BYTES], int *stopped)
{
    struct pv_stmt *st;
    int rc, v = 0;

    PREP(c, &q_optout_get, st);
    pv_stmt_blob(st, 1, digest, PV_HASH_BYTES);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW) {
        v = pv_col_int(st, 0) != 0;
        rc = 0;
    }
    pv_stmt_reset(st);
    if (rc == 0)
        *stopped = v;
    return rc;
}

int
pv_store_contact_prefs_put(struct pv_conn *c, const struct pv_contact_prefs *p)
{
    struct pv_stmt *st;

    PREP(c, &q_prefs_put, st);
    pv_stmt_text(st, 1, p->subject_id);
    pv_stmt_int(st, 2, p->channels);
    if (p->addresses_len)
        pv_stmt_blob(st, 3, p->addresses, p->addresses_len);
    else
        pv_stmt_text(st, 3, NULL);
    pv_stmt_int(st, 4, p->ts);
    pv_stmt_text(st, 5, p->actor);
    return pv_stmt_run(st);
}

int
pv_store_contact_prefs_get(struct pv_conn *c, const char *subject_id, struct pv_contact_prefs *out)
{
    struct pv_contact_prefs p;
    struct pv_stmt *st;
    const void *b;
    size_t n;
    int rc;

    PREP(c, &q_prefs_get, st);
    pv_stmt_text(st, 1, subject_id);
    memset(&p, 0, sizeof p);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW) {
        rc = pv_strlcpy(p.subject_id, subject_id, sizeof p.subject_id) == 0 ? 0 : PV_EINVAL;
        p.channels = (unsigned)pv_col_int(st, 0);
        if (rc == 0 && !pv_col_is_null(st, 1)) {
            b = pv_col_blob(st, 1, &n);
            if (n > sizeof p.addresses)
                rc = PV_ESTORE;
            else {
                memcpy(p.addresses, b, n);
                p.addresses_len = n;
            }
        }
        p.ts = pv_col_int(st, 2);
        if (rc == 0)
            rc = pv_col_copy(st, 3, p.actor, sizeof p.actor);
    } else if (rc == 0) {
        rc = PV_ENOTFOUND;
    }
    pv_stmt_reset(st);
    if (rc == 0)
        *out = p;
    return rc;
}

int
pv_store_policy_history_put(struct pv_conn *c, const char *version, int64_t in_force_at)
{
    struct pv_stmt *st;

    PREP(c, &q_history_put, st);
    pv_stmt_text(st, 1, version);
    pv_stmt_int(st, 2, in_force_at);
    return pv_stmt_run(st);
}

int
pv_store_policy_history_list(struct pv_conn *c, int (*cb)(const struct pv_policy_era *e, void *arg),
                             void *arg)
{
    struct pv_policy_era e;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_history_list, st);
    while ((rc = pv_stmt_step(st)) == PV_ROW) {
        memset(&e, 0, sizeof e);
        e.seq = pv_col_int(st, 0);
        e.in_force_at = pv_col_int(st, 2);
        if ((rc = pv_col_copy(st, 1, e.version, sizeof e.version)) != 0 || (rc = cb(&e, arg)) != 0)
            break;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_policy_text_get(struct pv_conn *c, const char *version, struct pv_buf *out)
{
    struct pv_stmt *st;
    const void *b;
    size_t n;
    int rc;

    PREP(c, &q_policy_text, st);
    pv_stmt_text(st, 1, version);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW) {
        b = pv_col_blob(st, 0, &n);
        rc = pv_buf_append(out, b, n);
    } else if (rc == 0) {
        rc = PV_ENOTFOUND;
    }
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_policy_notice_put(struct pv_conn *c, const char *subject_id, const char *version,
                           const char *channel, const char *actor, int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_notice_put, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, version);
    pv_stmt_int(st, 3, now);
    pv_stmt_text(st, 4, channel);
    pv_stmt_text(st, 5, actor);
    return pv_stmt_run(st);
}

int
pv_store_policy_notice_list(struct pv_conn *c, const char *subject_id,
                            int (*cb)(const char *version, int64_t ts, const char *channel,
                                      void *arg),
                            void *arg)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_notice_list, st);
    pv_stmt_text(st, 1, subject_id);
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = cb(pv_col_text(st, 0), pv_col_int(st, 1), pv_col_text(st, 2), arg)) != 0)
            break;
    pv_stmt_reset(st);
    return rc;
}
