/*
 * public_keys.c: the X25519 public keys users register so that clients can
 * seal end-to-end values for them. A public key is not a secret; it is stored
 * as it came, one per user, replaced in place (what an older key sealed stays
 * readable only with the older secret key, which the server never had).
 */
#include <string.h>

#include "store/store_int.h"

static struct pv_sql q_put =
    PV_SQL("INSERT INTO public_keys(user_id, public_key, created, updated) VALUES(?, ?, ?, ?)"
           " ON CONFLICT(user_id) DO UPDATE SET public_key = excluded.public_key,"
           " updated = excluded.updated");
static struct pv_sql q_get =
    PV_SQL("SELECT user_id, public_key, created, updated FROM public_keys WHERE user_id = ?");
/* Who is around a subject: its own accounts, its guardians, the users assigned to it. */
static struct pv_sql q_around =
    PV_SQL("SELECT user_id, public_key, created, updated FROM public_keys WHERE user_id IN"
           " (SELECT id FROM users WHERE subject_id = ?1 AND disabled = 0"
           " UNION SELECT user_id FROM guardians WHERE subject_id = ?1"
           " UNION SELECT user_id FROM assignments WHERE subject_id = ?1) ORDER BY user_id");

/* Fill k from the current row; PV_ESTORE if the row is not a key. */
static int
key_row(struct pv_stmt *st, struct pv_public_key *k)
{
    const void *b;
    size_t n = 0;
    int rc;

    memset(k, 0, sizeof *k);
    rc = pv_col_copy(st, 0, k->user_id, sizeof k->user_id);
    b = pv_col_blob(st, 1, &n);
    if (rc == 0 && (b == NULL || n != sizeof k->key))
        rc = PV_ESTORE;
    if (rc == 0)
        memcpy(k->key, b, n);
    k->created = pv_col_int(st, 2);
    k->updated = pv_col_int(st, 3);
    return rc;
}

int
pv_store_public_key_put(struct pv_conn *c, const struct pv_public_key *k)
{
    struct pv_stmt *st;

    PREP(c, &q_put, st);
    pv_stmt_text(st, 1, k->user_id);
    pv_stmt_blob(st, 2, k->key, sizeof k->key);
    pv_stmt_int(st, 3, k->created);
    pv_stmt_int(st, 4, k->updated);
    return pv_stmt_run(st);
}

int
pv_store_public_key_get(struct pv_conn *c, const char *user_id, struct pv_public_key *out)
{
    struct pv_public_key k;
    struct pv_stmt *st;
    int rc;

    memset(&k, 0, sizeof k);
    PREP(c, &q_get, st);
    pv_stmt_text(st, 1, user_id);
    rc = pv_stmt_step(st);
    if (rc == PV_ROW)
        rc = key_row(st, &k);
    else if (rc == 0)
        rc = PV_ENOTFOUND;
    pv_stmt_reset(st);
    if (rc == 0)
        *out = k;
    return rc;
}

int
pv_store_public_key_around(struct pv_conn *c, const char *subject_id,
                           int (*cb)(const struct pv_public_key *k, void *arg), void *arg)
{
    struct pv_public_key k;
    struct pv_stmt *st;
    int rc;

    PREP(c, &q_around, st);
    pv_stmt_text(st, 1, subject_id);
    while ((rc = pv_stmt_step(st)) == PV_ROW)
        if ((rc = key_row(st, &k)) != 0 || (rc = cb(&k, arg)) != 0)
            break;
    pv_stmt_reset(st);
    return rc;
}
