/*
 * access.c: who acts for whom: guardians, a subject's status and birth date,
 * erasure, profile visibility and break-glass grants.
 */
#include <string.h>

#include "store/store_int.h"

static struct pv_sql q_guardian_put =
    PV_SQL("INSERT INTO guardians(subject_id, user_id, relationship, verification, created)"
           " VALUES(?, ?, ?, ?, ?)");
static struct pv_sql q_guardian_get =
    PV_SQL("SELECT relationship, verification, created FROM guardians"
           " WHERE subject_id = ? AND user_id = ?");
static struct pv_sql q_guardian_consent =
    PV_SQL("SELECT 1 FROM guardians WHERE subject_id = ? AND verification <> '' LIMIT 1");
/* Restriction moves a subject between active and restricted only (never out of erased). */
static struct pv_sql q_status = PV_SQL("UPDATE subjects SET status = ?, updated = ? WHERE id = ?"
                                       " AND status IN ('active', 'restricted')");
static struct pv_sql q_birth =
    PV_SQL("UPDATE subjects SET birth_date = ?, updated = ? WHERE id = ? AND status <> 'erased'");
static struct pv_sql q_vis_on =
    PV_SQL("INSERT INTO profile_visibility(subject_id, since) VALUES(?, ?)"
           " ON CONFLICT(subject_id) DO NOTHING");
static struct pv_sql q_vis_off = PV_SQL("DELETE FROM profile_visibility WHERE subject_id = ?");
static struct pv_sql q_vis_get = PV_SQL("SELECT 1 FROM profile_visibility WHERE subject_id = ?");
static struct pv_sql q_grant_put = PV_SQL(
    "INSERT INTO break_glass(id, subject_id, user_id, opened, expires, reason, state,"
    " finding, note, closed_by, closed_at) VALUES(?, ?, ?, ?, ?, ?, 'open', '', NULL, '', 0)");
static struct pv_sql q_grant_active =
    PV_SQL("SELECT 1 FROM break_glass WHERE subject_id = ? AND user_id = ? AND expires > ?"
           " AND state = 'open' LIMIT 1");
#define GRANT_COLS                                                                                 \
    "id, subject_id, user_id, opened, expires, reason, state, finding, note, closed_by, closed_at"
static struct pv_sql q_grant_get = PV_SQL("SELECT " GRANT_COLS " FROM break_glass WHERE id = ?");
static struct pv_sql q_grant_list =
    PV_SQL("SELECT " GRANT_COLS " FROM break_glass WHERE (?1 IS NULL OR state = ?1)"
           " ORDER BY opened, id LIMIT ?2");
static struct pv_sql q_grant_close =
    PV_SQL("UPDATE break_glass SET state = 'closed', finding = ?, note = ?, closed_by = ?,"
           " closed_at = ?4, expires = min(expires, ?4) WHERE id = ? AND state = 'open'");

/* Erasure: every row that holds or points at the subject's data, in one transaction. */
static struct pv_sql q_erase[] = {
    PV_SQL("DELETE FROM records WHERE subject_id = ?1"),
    PV_SQL("DELETE FROM usage_events WHERE subject_id = ?1"),
    PV_SQL("DELETE FROM holds WHERE subject_id = ?1"),
    PV_SQL("DELETE FROM closures WHERE subject_id = ?1"),
    PV_SQL("DELETE FROM blind_index WHERE subject_id = ?1"),
    PV_SQL("DELETE FROM assignments WHERE subject_id = ?1"),
    PV_SQL("DELETE FROM guardians WHERE subject_id = ?1"),
    PV_SQL("DELETE FROM profile_visibility WHERE subject_id = ?1"),
    PV_SQL("DELETE FROM break_glass WHERE subject_id = ?1"),
    PV_SQL("DELETE FROM session_seen WHERE token_hash IN (SELECT s.token_hash FROM sessions s"
           " JOIN users u ON u.id = s.user_id WHERE u.subject_id = ?1)"),
    PV_SQL("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE subject_id = ?1)"),
    PV_SQL("DELETE FROM user_totp WHERE user_id IN (SELECT id FROM users WHERE subject_id = ?1)"),
    PV_SQL("DELETE FROM users WHERE subject_id = ?1"),
    PV_SQL("DELETE FROM keys.subject_keys WHERE subject_id = ?1"),
    PV_SQL("UPDATE subjects SET status = 'erased', birth_date = NULL, updated = ?2"
           " WHERE id = ?1"),
};

int
pv_store_guardian_put(struct pv_conn *c, const struct pv_guardian *g)
{
    struct pv_stmt *st;

    PREP(c, &q_guardian_put, st);
    pv_stmt_text(st, 1, g->subject_id);
    pv_stmt_text(st, 2, g->user_id);
    pv_stmt_text(st, 3, g->relationship);
    pv_stmt_text(st, 4, g->verification);
    pv_stmt_int(st, 5, g->created);
    return pv_stmt_run(st);
}

int
pv_store_guardian_get(struct pv_conn *c, const char *subject_id, const char *user_id,
                      struct pv_guardian *out)
{
    struct pv_guardian g;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_guardian_get, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, user_id);
    memset(&g, 0, sizeof g);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW) {
        rc = pv_strlcpy(g.subject_id, subject_id, sizeof g.subject_id) ||
                     pv_strlcpy(g.user_id, user_id, sizeof g.user_id) ||
                     pv_col_copy(st, 0, g.relationship, sizeof g.relationship) ||
                     pv_col_copy(st, 1, g.verification, sizeof g.verification)
                 ? PV_ESTORE
                 : 0;
        g.created = pv_col_int(st, 2);
    } else if (rc == 0) {
        rc = PV_ENOTFOUND;
    }
    pv_stmt_reset(st);
    if (rc == 0)
        *out = g;
    return rc;
}

/* Run a statement that answers with a row or none: 0 for a row, PV_ENOTFOUND for none. */
static int
exists(struct pv_stmt *st)
{
    int rc = pv_stmt_step(st);

    pv_stmt_reset(st);
    return rc == PV_ROW ? 0 : rc == 0 ? PV_ENOTFOUND : rc;
}

int
pv_store_guardian_consent(struct pv_conn *c, const char *subject_id)
{
    struct pv_stmt *st;

    PREP(c, &q_guardian_consent, st);
    pv_stmt_text(st, 1, subject_id);
    return exists(st);
}

/* Run an update that must change a row: PV_ENOTFOUND if it changed none. */
static int
run_changed(struct pv_conn *c, struct pv_stmt *st)
{
    int rc = pv_stmt_run(st);

    return rc == 0 && pv_store_changes(c) == 0 ? PV_ENOTFOUND : rc;
}

int
pv_store_subject_set_status(struct pv_conn *c, const char *id, const char *status, int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_status, st);
    pv_stmt_text(st, 1, status);
    pv_stmt_int(st, 2, now);
    pv_stmt_text(st, 3, id);
    return run_changed(c, st);
}

int
pv_store_subject_set_birth_date(struct pv_conn *c, const char *id, const unsigned char *sealed,
                                size_t len, int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_birth, st);
    pv_stmt_blob(st, 1, sealed, len);
    pv_stmt_int(st, 2, now);
    pv_stmt_text(st, 3, id);
    return run_changed(c, st);
}

int
pv_store_subject_erase(struct pv_conn *c, const char *id, int64_t now)
{
    struct pv_stmt *st;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < PV_ARRAY_LEN(q_erase); i++) {
        PREP(c, &q_erase[i], st);
        pv_stmt_text(st, 1, id);
        if (i == PV_ARRAY_LEN(q_erase) - 1)
            pv_stmt_int(st, 2, now);
        rc = pv_stmt_run(st);
    }
    return rc;
}

int
pv_store_visibility_set(struct pv_conn *c, const char *subject_id, int visible, int64_t now)
{
    struct pv_stmt *st;

    if (visible) {
        PREP(c, &q_vis_on, st);
        pv_stmt_int(st, 2, now);
    } else {
        PREP(c, &q_vis_off, st);
    }
    pv_stmt_text(st, 1, subject_id);
    return pv_stmt_run(st);
}

int
pv_store_visibility_get(struct pv_conn *c, const char *subject_id)
{
    struct pv_stmt *st;

    PREP(c, &q_vis_get, st);
    pv_stmt_text(st, 1, subject_id);
    return exists(st);
}

int
pv_store_grant_put(struct pv_conn *c, const struct pv_grant *g)
{
    struct pv_stmt *st;

    PREP(c, &q_grant_put, st);
    pv_stmt_text(st, 1, g->id);
    pv_stmt_text(st, 2, g->subject_id);
    pv_stmt_text(st, 3, g->user_id);
    pv_stmt_int(st, 4, g->opened);
    pv_stmt_int(st, 5, g->expires);
    pv_stmt_blob(st, 6, g->reason, g->reason_len);
    return pv_stmt_run(st);
}

int
pv_store_grant_active(struct pv_conn *c, const char *subject_id, const char *user_id, int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_grant_active, st);
    pv_stmt_text(st, 1, subject_id);
    pv_stmt_text(st, 2, user_id);
    pv_stmt_int(st, 3, now);
    return exists(st);
}

static int
blob_copy(struct pv_stmt *st, int i, unsigned char *out, size_t cap, size_t *len)
{
    size_t n;
    const void *b = pv_col_blob(st, i, &n);

    if (n > cap)
        return PV_ESTORE;
    if (n)
        memcpy(out, b, n);
    *len = n;
    return 0;
}

static int
row_to_grant(struct pv_stmt *st, struct pv_grant *g)
{
    memset(g, 0, sizeof *g);
    if (pv_col_copy(st, 0, g->id, sizeof g->id) ||
        pv_col_copy(st, 1, g->subject_id, sizeof g->subject_id) ||
        pv_col_copy(st, 2, g->user_id, sizeof g->user_id) ||
        blob_copy(st, 5, g->reason, sizeof g->reason, &g->reason_len) ||
        pv_col_copy(st, 6, g->state, sizeof g->state) ||
        pv_col_copy(st, 7, g->finding, sizeof g->finding) ||
        blob_copy(st, 8, g->note, sizeof g->note, &g->note_len) ||
        pv_col_copy(st, 9, g->closed_by, sizeof g->closed_by))
        return PV_ESTORE;
    g->opened = pv_col_int(st, 3);
    g->expires = pv_col_int(st, 4);
    g->closed_at = pv_col_int(st, 10);
    return 0;
}

int
pv_store_grant_get(struct pv_conn *c, const char *id, struct pv_grant *out)
{
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_grant_get, st);
    pv_stmt_text(st, 1, id);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW)
        rc = row_to_grant(st, out);
    else if (rc == 0)
        rc = PV_ENOTFOUND;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_grant_list(struct pv_conn *c, const char *state, int limit,
                    int (*cb)(const struct pv_grant *g, void *arg), void *arg)
{
    struct pv_grant g;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_grant_list, st);
    pv_stmt_text(st, 1, state);
    pv_stmt_int(st, 2, limit);
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = row_to_grant(st, &g)) != 0 || (rc = cb(&g, arg)) != 0)
            break;
    pv_stmt_reset(st);
    return rc;
}

int
pv_store_grant_close(struct pv_conn *c, const char *id, const char *finding,
                     const unsigned char *note, size_t note_len, const char *closed_by, int64_t now)
{
    struct pv_stmt *st;

    PREP(c, &q_grant_close, st);
    pv_stmt_text(st, 1, finding);
    if (note_len)
        pv_stmt_blob(st, 2, note, note_len);
    else
        pv_stmt_text(st, 2, NULL);
    pv_stmt_text(st, 3, closed_by);
    pv_stmt_int(st, 4, now);
    pv_stmt_text(st, 5, id);
    return run_changed(c, st);
}
